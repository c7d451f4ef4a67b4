// Stored layers found by their content, whatever their compression (upstream bootc's
// ostree-ext does the same): an image's configuration pairs each manifest layer with its diff_id
// (the digest of the uncompressed tar), so the stored images' merge commits, and the updates
// recorded beside them (cached by prepare(), or fetched with `download()`), tell which stored
// layer commit holds which diff_id. A layer with a known diff_id is not fetched again, recompressed
// or not; the import gives its blob ref to the stored commit. Diff_ids are checked on import
// (pipeline.ts), so the index names what the commits hold.
import type { ImageConfiguration, ImageManifest } from '../oci/types.js';
import type { Repo } from '../repo/repo.js';
import { listImages, queryImage, refForLayer } from './state.js';
import type { PreparedImport } from './prepared.js';

/** diff_id → the commit of a stored layer with that content. */
export type DiffIdIndex = Map<string, string>;

async function addImage(repo: Repo, index: DiffIdIndex, manifest: ImageManifest, config: ImageConfiguration): Promise<void> {
  const diffIds = config.rootfs?.diff_ids ?? [];
  for (const [i, layer] of manifest.layers.entries()) {
    const diffId = diffIds[i];
    if (diffId === undefined || index.has(diffId)) continue;
    const commit = await repo.resolveRev(refForLayer(layer), { allowNoent: true });
    if (commit !== null) index.set(diffId, commit);
  }
}

/** The diff_ids of every stored image and recorded update whose layer commits are in `repo`. */
export async function storedLayersByDiffId(repo: Repo): Promise<DiffIdIndex> {
  const index: DiffIdIndex = new Map();
  for (const name of await listImages(repo)) {
    // An image too damaged to read is skipped, as the store's own query skips it.
    const state = await queryImage(repo, name).catch(() => null);
    if (!state) continue;
    await addImage(repo, index, state.manifest, state.configuration);
    if (state.cachedUpdate) await addImage(repo, index, state.cachedUpdate.manifest, state.cachedUpdate.config);
  }
  return index;
}

/**
 * Blob refs for the layers of `prepared` that are stored under another digest (found by diff_id),
 * set in one transaction, so that the image's GC roots name them.
 */
export async function recordReusedLayers(repo: Repo, prepared: PreparedImport): Promise<void> {
  const missing: { ref: string; commit: string }[] = [];
  for (const l of prepared.allLayers()) {
    if (l.commit !== null && (await repo.resolveRev(l.ostreeRef, { allowNoent: true })) === null) missing.push({ ref: l.ostreeRef, commit: l.commit });
  }
  if (missing.length === 0) return;
  await repo.withTransaction(async () => {
    for (const { ref, commit } of missing) repo.transactionSetRef(ref, commit);
  });
}
