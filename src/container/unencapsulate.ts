// unencapsulate(): an encapsulated ostree container image → the ostree commit in a repo
// (spec tar-and-encapsulation §5). Layer bytes go from the proxy's blob pipe straight into the
// native importer; this module decides which layers to import and how to verify them.
import { closeSync } from 'node:fs';
import os from 'node:os';
import { withContext } from '../errors.js';
import type { Descriptor, ImageManifest } from '../oci/types.js';
import { mergeDefaultContainerProxyOpts, mergeDefaultContainerProxyOptsWithIsolation } from '../proxy/auth.js';
import type { ImageProxyConfig } from '../proxy/config.js';
import { joinFetch, type ImageProxy, type OpenedImage } from '../proxy/image-proxy.js';
import { requireSecureContainerPolicy } from '../proxy/policy.js';
import { ImageProxyPool } from '../proxy/pool.js';
import type { OstreeImageReference } from '../ref/image-reference.js';
import { prefixEscapeForRef } from '../ref/refescape.js';
import { Transport } from '../ref/transport.js';
import type { Repo } from '../repo/repo.js';
import { DOCKER_TYPE_LAYER_TAR, IMAGE_PREFIX, LAYER_PREFIX, META_MANIFEST, META_MANIFEST_DIGEST } from './constants.js';
import { MediaType } from '../oci/media-types.js';
import { parseManifestLayout, parseOstreeManifestLayout } from './manifest-layout.js';
import { importTar, importTarObjects, type TarImportResult } from '../tar/import.js';

/** Layer media types an ostree layer may have (spec references §2). */
const LAYER_MEDIA_TYPES: readonly string[] = [
  MediaType.ImageLayerGzip,
  MediaType.ImageLayerZstd,
  MediaType.ImageLayer,
  DOCKER_TYPE_LAYER_TAR,
  MediaType.DockerLayerGzip,
];

export interface UnencapsulateOpts {
  /** How to run the skopeo image proxy; auth defaults are applied on top. */
  proxyConfig?: ImageProxyConfig;
  /** Layers fetched and imported at once (one skopeo proxy each); default min(4, CPUs). */
  parallelism?: number;
  signal?: AbortSignal;
  /** Called as each ostree layer starts and finishes importing. */
  progress?: (event: { type: 'layer-started' | 'layer-completed'; layer: Descriptor }) => void;
}

export interface Import {
  /** The imported commit checksum. */
  ostreeCommit: string;
  /** The image's manifest digest. */
  imageDigest: string;
  /** libostree's signature verification text, when an ostree remote verified the commit. */
  verifyText?: string;
}

/** Refuses an image the layered store already holds (importing it again would be a no-op there). */
async function checkNotStored(repo: Repo, imgref: OstreeImageReference, digest: string, manifest: ImageManifest): Promise<void> {
  const ref = prefixEscapeForRef(IMAGE_PREFIX, imgref.imgref.toString());
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

type LayerSource = Pick<Descriptor, 'digest' | 'size' | 'mediaType'>;

/**
 * How to fetch each manifest layer. containers-storage keeps layers uncompressed and serves
 * them under their diff_ids, so there the proxy's layer info (by position) replaces the manifest
 * descriptor; elsewhere the descriptor is fetched as is.
 */
async function layerSources(
  proxy: ImageProxy,
  image: OpenedImage,
  imgref: OstreeImageReference,
  manifest: ImageManifest,
): Promise<(layer: Descriptor) => LayerSource> {
  if (imgref.imgref.transport !== Transport.ContainerStorage) return (layer) => layer;
  const info = await proxy.getLayerInfo(image);
  if (!info) throw new Error('skopeo too old to pull from containers-storage');
  return (layer) => {
    const i = manifest.layers.indexOf(layer);
    const source = info[i];
    if (!source) throw new Error(`blobid position ${i} exceeds diffid count ${info.length}`);
    return source;
  };
}

/**
 * Fetches an encapsulated ostree image and imports its commit (and the chunk layers' objects)
 * into `repo`. No ref is written. Images with non-ostree (derived) layers are refused. With an
 * `ostree-remote-image:` reference the commit's detached signature is verified through that
 * ostree remote.
 */
export async function unencapsulate(repo: Repo, imgref: OstreeImageReference, opts: UnencapsulateOpts = {}): Promise<Import> {
  opts.signal?.throwIfAborted();
  if (imgref.sigverify.type === 'ContainerPolicy') await requireSecureContainerPolicy();
  const remote = imgref.sigverify.type === 'OstreeRemote' ? imgref.sigverify.remote : undefined;
  const config =
    imgref.imgref.transport === Transport.ContainerStorage
      ? await mergeDefaultContainerProxyOptsWithIsolation(opts.proxyConfig ?? {}, undefined)
      : await mergeDefaultContainerProxyOpts(opts.proxyConfig ?? {});
  const pool = await ImageProxyPool.open(imgref.imgref.toString(), {
    size: opts.parallelism ?? Math.min(4, os.availableParallelism()),
    config,
    enforcePolicy: imgref.sigverify.type === 'ContainerPolicy',
  });
  let failed = false;
  // Aborted by the caller's signal or by the first failing layer.
  const stop = new AbortController();
  const forward = () => stop.abort(opts.signal?.reason);
  opts.signal?.addEventListener('abort', forward, { once: true });
  try {
    const { proxy, image } = pool.primary;
    const { digest, manifest } = await withContext('Fetching manifest', () => proxy.fetchManifest(image));
    await checkNotStored(repo, imgref, digest, manifest);
    const imageConfig = await withContext('Fetching config', () => proxy.fetchConfig(image));
    const parsed = parseManifestLayout(manifest, imageConfig);
    // Without the label every layer counts as derived, so this comes first (upstream's order).
    if (parsed.derivedLayers.length > 0) throw new Error(`Image has ${parsed.derivedLayers.length} non-ostree layers`);
    const layout = parseOstreeManifestLayout(manifest, imageConfig);

    const blobRef = (layer: Descriptor) => prefixEscapeForRef(LAYER_PREFIX, layer.digest);
    const sourceOf = await layerSources(proxy, image, imgref, manifest);
    for (const layer of [layout.commitLayer, ...layout.chunkLayers]) {
      const { mediaType } = sourceOf(layer);
      if (!LAYER_MEDIA_TYPES.includes(mediaType)) throw new Error(`Unhandled layer type: ${mediaType}`);
    }
    const fetchInto = async (layer: Descriptor, mode: 'objects' | 'commit'): Promise<TarImportResult> =>
      withContext(`Layer ${layer.digest}`, async () => {
        opts.progress?.({ type: 'layer-started', layer });
        const source = sourceOf(layer);
        const blob = await pool.getBlobFd(source.digest, source.size);
        let open = true;
        const close = () => {
          if (open) closeSync(blob.fd);
          open = false;
        };
        try {
          const o = { mediaType: source.mediaType, transaction: 'caller' as const, signal: stop.signal };
          // A failed import stops reading: close the pipe at once so the proxy's writer gets
          // EPIPE and FinishPipe can answer instead of waiting for a reader forever.
          const imported = Promise.resolve()
            .then(() => (mode === 'commit' ? importTar(repo, blob.fd, { ...o, ...(remote !== undefined ? { remote } : {}) }) : importTarObjects(repo, blob.fd, o)))
            .catch((e: unknown) => {
              close();
              throw e;
            });
          const result = await joinFetch(imported, blob.finish());
          opts.progress?.({ type: 'layer-completed', layer });
          return result;
        } finally {
          close();
        }
      });

    // One transaction for all layers, imported in parallel (one proxy per blob in flight);
    // layers the store already holds are skipped.
    const result = await withContext('Importing', () =>
      repo.withTransaction(async () => {
        const stored = async (layer: Descriptor) => repo.resolveRev(blobRef(layer), { allowNoent: true });
        const todo = [];
        for (const layer of layout.chunkLayers) if ((await stored(layer)) === null) todo.push(layer);
        const storedCommit = await stored(layout.commitLayer);
        // Started together (and only now) so every rejection is observed; the first failure
        // cancels the other imports and is the one reported.
        let first: { error: unknown } | undefined;
        const run = (layer: Descriptor, mode: 'objects' | 'commit') =>
          fetchInto(layer, mode).catch((error: unknown) => {
            first ??= { error };
            stop.abort();
            throw error;
          });
        const settled = await Promise.allSettled([
          storedCommit === null ? run(layout.commitLayer, 'commit') : Promise.resolve({ commit: storedCommit } as TarImportResult),
          ...todo.map((layer) => run(layer, 'objects')),
        ]);
        if (first) throw first.error;
        return (settled[0] as PromiseFulfilledResult<TarImportResult>).value;
      }, opts.signal ? { signal: opts.signal } : {}),
    );
    if (!result.commit) throw new Error('Importing: commit layer produced no commit');
    return {
      ostreeCommit: result.commit,
      imageDigest: digest,
      ...(result.verifyText !== undefined ? { verifyText: result.verifyText } : {}),
    };
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    opts.signal?.removeEventListener('abort', forward);
    // A failed import may leave proxies mid-transfer; their shutdown errors are not the story.
    const closing = pool.close();
    if (failed) await closing.catch(() => undefined);
    else await closing;
  }
}
