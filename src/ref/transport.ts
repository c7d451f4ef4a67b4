// Image transports understood by ostree-container (a closed set; spec references §1.1).

/**
 * A backend/transport for OCI/Docker images. The value of each member is its
 * serializable name (`transportSerializableName`), which always re-parses to the same member.
 */
export const Transport = {
  /** A remote registry; displayed as `docker://`, parsed from `registry:` or `docker://`. */
  Registry: 'registry',
  /** An OCI image layout directory (`oci:`). */
  OciDir: 'oci',
  /** A tar of an OCI image layout (`oci-archive:`). */
  OciArchive: 'oci-archive',
  /** A `docker save` tarball (`docker-archive:`). */
  DockerArchive: 'docker-archive',
  /** Local containers/storage (podman) (`containers-storage:`). */
  ContainerStorage: 'containers-storage',
  /** A plain directory of manifest + blobs (`dir:`). */
  Dir: 'dir',
} as const;
export type Transport = (typeof Transport)[keyof typeof Transport];

const byToken: ReadonlyMap<string, Transport> = new Map<string, Transport>([
  ['registry', Transport.Registry],
  ['docker', Transport.Registry],
  ['oci', Transport.OciDir],
  ['oci-archive', Transport.OciArchive],
  ['docker-archive', Transport.DockerArchive],
  ['containers-storage', Transport.ContainerStorage],
  ['dir', Transport.Dir],
]);

/** Parses a transport token (the text before the first `:`); exact and case-sensitive. */
export function parseTransport(token: string): Transport {
  const t = byToken.get(token);
  if (t === undefined) throw new Error(`Unknown transport '${token}'`);
  return t;
}

/** The name used when storing a transport as text; `parseTransport` accepts it back. */
export function transportSerializableName(t: Transport): string {
  return t;
}

/**
 * The prefix written before the image name when formatting a reference for skopeo.
 * Registry is `docker://` because containers/image does not understand `registry:`.
 */
export function transportPrefix(t: Transport): string {
  return t === Transport.Registry ? 'docker://' : `${t}:`;
}
