// unencapsulate(): an encapsulated ostree container image → the ostree commit in a repo
// (spec tar-and-encapsulation §5, store §2.3). The store's importer with no refs written: its
// prepare() and its base step, all layers in one transaction (all or nothing).
import type { ImageManifest } from '../oci/types.js';
import type { ImageProxyConfig } from '../proxy/config.js';
import type { OstreeImageReference } from '../ref/image-reference.js';
import type { Repo } from '../repo/repo.js';
import { ImageImporter } from '../store/importer.js';
import type { ProgressListener } from '../store/progress.js';
import { refForImage } from '../store/state.js';
import { META_MANIFEST, META_MANIFEST_DIGEST } from './constants.js';

export interface UnencapsulateOpts {
  /** How to run the skopeo image proxy; auth defaults are applied on top. */
  proxyConfig?: ImageProxyConfig;
  /** Layers imported at once (fetching has its own bound, `DEFAULT_FETCH_CONCURRENCY`); default min(4, CPUs). */
  parallelism?: number;
  signal?: AbortSignal;
  /** false: do not compare the layers with the repository's free space before fetching. */
  spaceCheck?: boolean;
  /** Typed progress: each ostree layer's start, bytes and completion. */
  progress?: ProgressListener;
}

export interface Import {
  /** The imported commit checksum. */
  ostreeCommit: string;
  /** The image's manifest digest. */
  imageDigest: string;
  /** libostree's signature verification text, when an ostree remote verified the commit. */
  verifyText?: string;
}

/**
 * Refuses an image the layered store already holds (importing it again would be a no-op there).
 * Reads only the digests, so a store entry too damaged for the store's own query still counts.
 */
async function checkNotStored(repo: Repo, imgref: OstreeImageReference, digest: string, manifest: ImageManifest): Promise<void> {
  const ref = refForImage(imgref.imgref);
  const stored = await repo.resolveRev(ref, { allowNoent: true });
  if (stored === null) return;
  const meta = (await repo.loadCommit(stored)).metadata;
  const storedDigest = meta.get(META_MANIFEST_DIGEST)?.value;
  const storedManifest = meta.get(META_MANIFEST)?.value;
  let storedConfig: string | undefined;
  try {
    storedConfig = typeof storedManifest === 'string' ? (JSON.parse(storedManifest) as ImageManifest).config?.digest : undefined;
  } catch {
    storedConfig = undefined;
  }
  if (storedDigest === digest || storedConfig === manifest.config.digest) {
    throw new Error(`Image ${imgref.imgref.toString()} is already present in the store (${ref}); use the store to access it`);
  }
}

/**
 * Fetches an encapsulated ostree image and imports its commit (and the chunk layers' objects)
 * into `repo`. No ref is written. Images with non-ostree (derived) layers are refused. With an
 * `ostree-remote-image:` reference the commit's detached signature is verified through that
 * ostree remote.
 */
export async function unencapsulate(repo: Repo, imgref: OstreeImageReference, opts: UnencapsulateOpts = {}): Promise<Import> {
  opts.signal?.throwIfAborted();
  const importer = new ImageImporter(repo, imgref, opts.proxyConfig ?? {});
  if (opts.parallelism !== undefined) importer.setParallelism(opts.parallelism);
  if (opts.progress) importer.onProgress(opts.progress);
  if (opts.spaceCheck === false) importer.disableSpaceCheck();
  try {
    const prepared = await importer.prepare();
    if (prepared.kind === 'already-present') {
      throw new Error(`Image ${imgref.imgref.toString()} is already present in the store (${refForImage(imgref.imgref)}); use the store to access it`);
    }
    const p = prepared.prepared;
    await checkNotStored(repo, imgref, p.manifestDigest, p.manifest);
    if (p.layers.length > 0) throw new Error(`Image has ${p.layers.length} non-ostree layers`);
    const { commit, verifyText } = await importer.importBaseOnly(p, opts.signal ? { signal: opts.signal } : {});
    return { ostreeCommit: commit, imageDigest: p.manifestDigest, ...(verifyText !== null ? { verifyText } : {}) };
  } finally {
    await importer.close().catch(() => undefined);
  }
}
