// OCI media types (names as in the Rust crate oci-spec's `MediaType`).

export const MediaType = {
  ImageIndex: 'application/vnd.oci.image.index.v1+json',
  ImageManifest: 'application/vnd.oci.image.manifest.v1+json',
  ImageConfig: 'application/vnd.oci.image.config.v1+json',
  ImageLayer: 'application/vnd.oci.image.layer.v1.tar',
  ImageLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ImageLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  /** Docker schema 2 manifest, as some registries still serve. */
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

/** The `oci-layout` file content of image layout version 1.0.0. */
export const OCI_LAYOUT_VERSION = '1.0.0';

/** OCI annotation naming a manifest in an image layout's index (its tag). */
export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';
/** OCI annotation (and ostree-container label) for the image version. */
export const ANNOTATION_VERSION = 'org.opencontainers.image.version';
