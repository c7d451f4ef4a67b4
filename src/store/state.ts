// What the layered store holds and how it is read back (spec store §1.1, §1.3, §2.5): refs of
// images and layer blobs, and the state of an image reconstructed from its merge commit alone,
// so every query works offline.
import { ContextError, withContext } from '../errors.js';
import { IMAGE_PREFIX, LAYER_PREFIX, META_CONFIG, META_MANIFEST, META_MANIFEST_DIGEST, CACHED_CONFIG, CACHED_MANIFEST, CACHED_MANIFEST_DIGEST } from '../container/constants.js';
import { versionForConfig } from '../container/version.js';
import { parseImageConfiguration, parseImageManifest, type Descriptor, type ImageConfiguration, type ImageManifest } from '../oci/types.js';
import type { ImageReference } from '../ref/image-reference.js';
import { prefixEscapeForRef, unprefixUnescapeRef } from '../ref/refescape.js';
import type { Repo } from '../repo/repo.js';
import type { VariantDict } from '../repo/variant.js';

/** A newer manifest seen by prepare() but not imported yet (spec §1.3.5). */
export interface CachedUpdate {
  manifest: ImageManifest;
  config: ImageConfiguration;
  manifestDigest: string;
}

/** A stored image: its merge commit and what it was made from (spec §2.5). */
export interface LayeredImageState {
  /** Commit of the first manifest layer (the ostree commit; for a generic image its first layer). */
  baseCommit: string;
  mergeCommit: string;
  manifestDigest: string;
  manifest: ImageManifest;
  configuration: ImageConfiguration;
  cachedUpdate: CachedUpdate | null;
  /** Signature verification text of a fresh import through an ostree remote; null when queried. */
  verifyText: string | null;
}

/** The ref of a layer blob: `ostree/container/blob/<escaped digest>`. */
export function refForLayer(layer: Pick<Descriptor, 'digest'>): string {
  return prefixEscapeForRef(LAYER_PREFIX, layer.digest);
}

/** The ref of a stored image: `ostree/container/image/<escaped imgref text form>`. */
export function refForImage(imgref: ImageReference | string): string {
  return prefixEscapeForRef(IMAGE_PREFIX, imgref.toString());
}

/** The version label of a stored image's configuration. */
export function imageVersion(state: Pick<LayeredImageState, 'configuration'>): string | undefined {
  return versionForConfig(state.configuration);
}

/** What an image without a configuration key (or with legacy `null`) reads as. */
function defaultConfiguration(): ImageConfiguration {
  return { architecture: '', os: '', rootfs: { type: 'layers', diff_ids: [] } };
}

function stringValue(dict: VariantDict | null, key: string): string | undefined {
  const v = dict?.get(key);
  return v && v.type === 's' && typeof v.value === 'string' ? v.value : undefined;
}

/** The manifest digest a merge commit records (`ostree.manifest-digest`). */
export function manifestDigestFromCommit(metadata: VariantDict): string {
  const digest = stringValue(metadata, META_MANIFEST_DIGEST);
  if (digest === undefined) throw new Error(`Missing ${META_MANIFEST_DIGEST} metadata on merge commit`);
  return digest;
}

/** The manifest a merge commit records (`ostree.manifest`). */
export function manifestFromCommit(metadata: VariantDict, commit: string): ImageManifest {
  const json = stringValue(metadata, META_MANIFEST);
  if (json === undefined) throw new ContextError('Reading manifest data from commit', new Error(`Failed to find ${META_MANIFEST} metadata key`));
  return parseImageManifest(json, `commit ${commit}`);
}

function configFromCommit(metadata: VariantDict, commit: string): ImageConfiguration {
  const json = stringValue(metadata, META_CONFIG);
  if (json === undefined || json === 'null') return defaultConfiguration();
  return parseImageConfiguration(json, `commit ${commit}`);
}

/** The cached pending update in a merge commit's detached metadata (spec §1.3.5 reading rules). */
function cachedUpdateFrom(detached: VariantDict | null, commit: string): CachedUpdate | null {
  const manifestDigest = stringValue(detached, CACHED_MANIFEST_DIGEST);
  // Other tools may own the detached metadata: no digest key, no cached update.
  if (manifestDigest === undefined) return null;
  const manifest = stringValue(detached, CACHED_MANIFEST);
  if (manifest === undefined) throw new Error(`Expected cached manifest ${CACHED_MANIFEST}`);
  const config = stringValue(detached, CACHED_CONFIG);
  if (config === undefined) throw new Error(`Expected cached manifest ${CACHED_CONFIG}`);
  return {
    manifestDigest,
    manifest: parseImageManifest(manifest, `cached update of ${commit}`),
    config: parseImageConfiguration(config, `cached update of ${commit}`),
  };
}

/** The state of the image whose merge commit is `commit`, from the repo alone. */
export async function queryImageCommit(repo: Repo, commit: string): Promise<LayeredImageState> {
  const { metadata } = await repo.loadCommit(commit);
  const manifestDigest = manifestDigestFromCommit(metadata);
  const manifest = manifestFromCommit(metadata, commit);
  const configuration = configFromCommit(metadata, commit);
  const first = manifest.layers[0];
  if (!first) throw new Error('No layers found');
  const baseRef = refForLayer(first);
  const baseCommit = await repo.resolveRev(baseRef, { allowNoent: true });
  if (baseCommit === null) throw new Error(`Missing base image ref ${baseRef}`);
  const cachedUpdate = await queryCachedUpdate(repo, commit);
  return { baseCommit, mergeCommit: commit, manifestDigest, manifest, configuration, cachedUpdate, verifyText: null };
}

/** The update cached on merge commit `commit` (its detached metadata), or null. */
export async function queryCachedUpdate(repo: Repo, commit: string): Promise<CachedUpdate | null> {
  return cachedUpdateFrom(await repo.readCommitDetachedMetadata(commit), commit);
}

/** The stored image `imgref`, or null when the store does not hold it. */
export async function queryImage(repo: Repo, imgref: ImageReference | string): Promise<LayeredImageState | null> {
  return withContext(`Querying image ${imgref.toString()}`, async () => {
    const commit = await repo.resolveRev(refForImage(imgref), { allowNoent: true });
    return commit === null ? null : queryImageCommit(repo, commit);
  });
}

/** A ref of the store: its full name, the name it escapes (an image reference, a layer digest), its commit. */
export interface StoreRef {
  ref: string;
  name: string;
  commit: string;
}

/**
 * The store's refs under `prefix` (the image or the layer prefix). libostree writes a ref file by
 * linking it under a temporary name in the ref's directory (`tmplink.XXXXXX`; `tmp.XXXXXX` in older
 * releases) and renaming that over the ref; a process killed in between leaves the temporary name,
 * which lists as a ref but is no escaped name: skipped, and left alone (it may be another
 * process's ref update under way).
 */
export async function listStoreRefs(repo: Repo, prefix: string): Promise<StoreRef[]> {
  const out: StoreRef[] = [];
  for (const [ref, commit] of await repo.listRefs(prefix)) {
    let name: string;
    try {
      name = unprefixUnescapeRef(prefix, ref);
    } catch {
      continue;
    }
    out.push({ ref, name, commit });
  }
  return out;
}

/** The stored images' references (text forms such as `docker://…`, `oci:/…`), sorted. */
export async function listImages(repo: Repo): Promise<string[]> {
  return (await listStoreRefs(repo, IMAGE_PREFIX)).map((r) => r.name).sort();
}
