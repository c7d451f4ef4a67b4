// Store maintenance (spec store §4): removing images, garbage-collecting layer refs, the
// filtered-content warning and clearing a cached update. Objects are never pruned here.
import { withContext } from '../errors.js';
import { BASE_IMAGE_PREFIX, CACHED_CONFIG, CACHED_MANIFEST, CACHED_MANIFEST_DIGEST, IMAGE_PREFIX, LAYER_PREFIX, META_FILTERED } from '../container/constants.js';
import type { ImageManifest } from '../oci/types.js';
import type { ImageReference } from '../ref/image-reference.js';
import type { Repo } from '../repo/repo.js';
import { listStoreRefs, manifestFromCommit, queryCachedUpdate, refForImage } from './state.js';

/** Deletes the image ref of `imgref` (layers untouched); false when it did not exist. */
export async function removeImage(repo: Repo, imgref: ImageReference | string): Promise<boolean> {
  const ref = refForImage(imgref);
  if ((await repo.resolveRev(ref, { allowNoent: true })) === null) return false;
  await repo.deleteRef(ref);
  return true;
}

/** Removes every image listed; the missing ones are reported after the others are removed. */
export async function removeImages(repo: Repo, imgrefs: readonly (ImageReference | string)[]): Promise<void> {
  const missing: string[] = [];
  for (const imgref of imgrefs) if (!(await removeImage(repo, imgref))) missing.push(imgref.toString());
  // Upstream joins the names without a separator; ", " is readable and keeps the prefix.
  if (missing.length > 0) throw new Error(`Missing images: ${missing.join(', ')}`);
}

/** Refs whose commits may be image merge commits and so keep their layers (spec §4 GC roots). */
const GC_ROOT_PREFIXES = ['ostree/0', 'ostree/1', 'rpmostree/base', BASE_IMAGE_PREFIX];

/** Layer digests of the manifest recorded by `commit`; none when it is not a merge commit. */
async function layersOfCommit(repo: Repo, commit: string, required: boolean): Promise<string[]> {
  const { metadata } = await repo.loadCommit(commit);
  if (!required && !metadata.has('ostree.manifest-digest')) return [];
  return manifestFromCommit(metadata, commit).layers.map((l) => l.digest);
}

/**
 * Deletes every layer ref (`ostree/container/blob/…`) no stored image (nor the update recorded
 * beside it), deployment or base-image ref uses; returns how many were deleted. Must not run
 * inside a transaction.
 */
export async function gcImageLayers(repo: Repo, opts: { keep?: ImageManifest } = {}): Promise<number> {
  return withContext('Pruning image layers', async () => {
    // `keep`: an image just imported without an image ref (spec §9.1: its layers stay).
    const referenced = new Set<string>(opts.keep?.layers.map((l) => l.digest) ?? []);
    for (const { commit } of await listStoreRefs(repo, IMAGE_PREFIX)) {
      for (const d of await layersOfCommit(repo, commit, true)) referenced.add(d);
      // An update fetched ahead (ImageImporter.download()) keeps its layers until applied.
      const pending = await queryCachedUpdate(repo, commit).catch(() => null);
      for (const l of pending?.manifest.layers ?? []) referenced.add(l.digest);
    }
    for (const prefix of GC_ROOT_PREFIXES) {
      for (const commit of (await repo.listRefs(prefix)).values()) {
        for (const d of await layersOfCommit(repo, commit, false)) referenced.add(d);
      }
    }
    let pruned = 0;
    for (const { ref, name } of await listStoreRefs(repo, LAYER_PREFIX)) {
      if (referenced.has(name)) continue;
      await repo.deleteRef(ref);
      pruned++;
    }
    return pruned;
  });
}

/** The number of layer refs in the store. */
export async function countLayerReferences(repo: Repo): Promise<number> {
  return (await listStoreRefs(repo, LAYER_PREFIX)).length;
}

/**
 * The warning for paths dropped from an image's derived layers (spec §3.3), or null. Requires
 * the image ref (libostree's `Refspec … not found` otherwise).
 */
export async function imageFilteredContentWarning(repo: Repo, imgref: ImageReference | string): Promise<string | null> {
  return filteredContentWarning(repo, await repo.resolveRev(refForImage(imgref)));
}

/** imageFilteredContentWarning for the image whose merge commit is `commit` (no image ref needed). */
export async function filteredContentWarning(repo: Repo, commit: string): Promise<string | null> {
  const filtered = (await repo.loadCommit(commit)).metadata.get(META_FILTERED);
  if (!filtered || !(filtered.value instanceof Map)) return null;
  const totals = new Map<string, number>();
  for (const perLayer of filtered.value.values()) {
    if (!(perLayer instanceof Map)) continue;
    for (const [key, n] of perLayer) totals.set(String(key), (totals.get(String(key)) ?? 0) + Number(n));
  }
  if (totals.size === 0) return null;
  // Upstream prints in hash order; sorted keys make the text stable.
  const lines = [...totals].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, n]) => ` ${k}: ${n}`);
  return `Image contains non-ostree compatible file paths:${lines.join('')}`;
}

/** Drops the cached pending update of a stored image; other detached metadata is kept. */
export async function clearCachedUpdate(repo: Repo, imgref: ImageReference | string): Promise<void> {
  await withContext(`Clearing cached update ${imgref.toString()}`, async () => {
    const commit = await repo.resolveRev(refForImage(imgref));
    const detached = await repo.readCommitDetachedMetadata(commit);
    if (!detached) return;
    let changed = false;
    for (const key of [CACHED_MANIFEST_DIGEST, CACHED_MANIFEST, CACHED_CONFIG]) changed = detached.delete(key) || changed;
    if (changed) await repo.writeCommitDetachedMetadata(commit, detached);
  });
}
