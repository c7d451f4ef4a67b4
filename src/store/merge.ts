// The merge commit of a layered image (spec §2.3 D), computed by the addon (native/store/merge.cc):
// base and derived layers checked out over each other with whiteouts applied, SELinux labels
// from the merged policy, written as one commit whose parent is the base commit. Its metadata is
// what today's upstream writes for the same image, so a host moving between the two tools keeps
// its merge commits (test/fixtures/upstream-2026/).
import { META_CONFIG, META_FILTERED, META_MANIFEST, META_MANIFEST_DIGEST } from '../container/constants.js';
import { native, withCancellable, type NativeCancellable } from '../native.js';
import { canonicalJson } from '../oci/canonical-json.js';
import type { ImageConfiguration, ImageManifest } from '../oci/types.js';
import type { Repo } from '../repo/repo.js';
import type { TypedVariant, VariantDict } from '../repo/variant.js';
import { nativeRepo } from '../tar/native.js';

export interface MergeOptions {
  /** Base commit, also the merge commit's parent (null for a generic image). */
  base: string | null;
  /** Derived-layer commits in manifest order. */
  layers: string[];
  /** Commit metadata (`a{sv}`), as for Repo.writeCommit. */
  metadata: VariantDict | Record<string, TypedVariant>;
  /** Unix seconds. */
  timestamp: number;
  signal?: AbortSignal;
}

interface MergeNative {
  writeMergeCommit(
    repo: object,
    opts: Omit<MergeOptions, 'signal'>,
    c: NativeCancellable | undefined,
  ): Promise<string>;
}

/**
 * Writes the merge commit inside the caller's open transaction and returns its checksum (no
 * ref is set). An archive repository is refused: the merge needs hardlink checkouts.
 */
export async function writeMergeCommit(repo: Repo, opts: MergeOptions): Promise<string> {
  const { signal, ...rest } = opts;
  return withCancellable(signal, (c) => native<MergeNative>().writeMergeCommit(nativeRepo(repo), rest, c));
}

// The fields upstream's document types (oci-spec 0.10) know: upstream parses the manifest and the
// configuration into them and writes them back, so any other field is dropped and `null` reads
// as absent. `true`: kept as it is; `'set'`: a Go map[string]struct{} (every value `{}`).
type Shape = { [key: string]: true | 'set' | Shape | [Shape] };
const PLATFORM: Shape = { architecture: true, os: true, 'os.version': true, 'os.features': true, variant: true, features: true };
const DESCRIPTOR: Shape = { mediaType: true, digest: true, size: true, urls: true, annotations: true, platform: PLATFORM, artifactType: true, data: true };
const MANIFEST: Shape = { schemaVersion: true, mediaType: true, artifactType: true, config: DESCRIPTOR, layers: [DESCRIPTOR], subject: DESCRIPTOR, annotations: true };
const CONFIG: Shape = {
  created: true, author: true, architecture: true, os: true, 'os.version': true, 'os.features': true, variant: true,
  config: { User: true, ExposedPorts: 'set', Env: true, Entrypoint: true, Cmd: true, Volumes: 'set', WorkingDir: true, Labels: true, StopSignal: true },
  rootfs: { type: true, diff_ids: true },
  history: [{ created: true, author: true, created_by: true, comment: true, empty_layer: true }],
};

function project(value: unknown, shape: Shape[string]): unknown {
  if (shape === true || value === null || typeof value !== 'object') return value;
  if (shape === 'set') return Object.fromEntries(Object.keys(value).map((k) => [k, {}]));
  if (Array.isArray(shape)) return Array.isArray(value) ? value.map((v) => project(v, shape[0]!)) : value;
  const out: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(shape)) {
    const v = (value as Record<string, unknown>)[k];
    if (v !== undefined && v !== null) out[k] = project(v, s);
  }
  return out;
}

/** A document as upstream stores it: its known fields (above) as canonical JSON. */
function upstreamJson(doc: object, shape: Shape): string {
  return canonicalJson(project(doc, shape));
}

/**
 * The merge commit's metadata, as upstream writes it: keys in sorted order, manifest and
 * configuration as canonical JSON, `ostree.importer.version` upstream's version. Where we differ:
 * `ostree.tar-filtered` (layer digest → path → count) is added when a derived layer had content
 * filtered out, so the warning can be given again from the store; upstream stopped writing it.
 */
export function mergeCommitMetadata(
  image: { manifestDigest: string; manifest: ImageManifest; config: ImageConfiguration },
  importerVersion: string,
  filtered: Map<string, Map<string, number>>,
): Map<string, TypedVariant> {
  const entries: [string, TypedVariant][] = [
    [META_MANIFEST_DIGEST, { type: 's', value: image.manifestDigest }],
    [META_MANIFEST, { type: 's', value: upstreamJson(image.manifest, MANIFEST) }],
    [META_CONFIG, { type: 's', value: upstreamJson(image.config, CONFIG) }],
    ['ostree.importer.version', { type: 's', value: importerVersion }],
  ];
  if (filtered.size > 0) entries.push([META_FILTERED, { type: 'a{sa{su}}', value: filtered }]);
  return new Map(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
