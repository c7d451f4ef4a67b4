// Fetching layers into the repo (spec store §2.3 A/B, DESIGN §7): a blob pipe from a pool of
// skopeo proxies straight into a native importer, several layers at once. Each layer is either
// its own transaction on its own repo handle, its blob ref set in that transaction (the store:
// a layer is kept exactly when it completed), or part of one shared transaction the caller
// commits (unencapsulate: all or nothing, no refs).
import { closeSync } from 'node:fs';
import { withContext } from '../errors.js';
import { DOCKER_TYPE_LAYER_TAR } from '../container/constants.js';
import { MediaType } from '../oci/media-types.js';
import type { Descriptor, ImageManifest } from '../oci/types.js';
import { joinFetch, type ImageProxy, type OpenedImage } from '../proxy/image-proxy.js';
import type { ImageProxyPool } from '../proxy/pool.js';
import { Transport } from '../ref/transport.js';
import { Repo } from '../repo/repo.js';
import type { LayerKind, ProgressTracker } from './progress.js';

/** Layer media types an ostree layer may have (spec references §2). */
export const OSTREE_LAYER_MEDIA_TYPES: readonly string[] = [
  MediaType.ImageLayerGzip,
  MediaType.ImageLayerZstd,
  MediaType.ImageLayer,
  DOCKER_TYPE_LAYER_TAR,
  MediaType.DockerLayerGzip,
];

/** What is actually fetched for a manifest layer. */
export type LayerSource = Pick<Descriptor, 'digest' | 'size' | 'mediaType'>;

/**
 * How to fetch each manifest layer (by manifest index). containers-storage keeps layers
 * uncompressed and serves them under their diff_ids, so there the proxy's layer info replaces the
 * manifest descriptor; elsewhere the descriptor is fetched as is.
 */
export async function layerSources(
  proxy: ImageProxy,
  image: OpenedImage,
  transport: Transport,
  manifest: ImageManifest,
): Promise<(index: number) => LayerSource> {
  if (transport !== Transport.ContainerStorage) return (i) => manifest.layers[i]!;
  const info = await proxy.getLayerInfo(image);
  if (!info) throw new Error('skopeo too old to pull from containers-storage');
  return (i) => {
    const source = info[i];
    if (!source) throw new Error(`blobid position ${i} exceeds diffid count ${info.length}`);
    return source;
  };
}

/** What every importer returns about the bytes it read. */
interface ImportedBlob {
  digest: string;
  size: number;
}

/** Imports one blob given as a pipe fd into `repo`, inside a transaction open on `repo`. */
export type LayerImport<R extends ImportedBlob> = (repo: Repo, fd: number, source: LayerSource, signal: AbortSignal) => Promise<R>;

/**
 * Extra handles on one repository, for transactions side by side (libostree has one
 * transaction per handle). Opened on demand, reused, at most as many as layers in flight.
 */
export class RepoHandles {
  private readonly idle: Repo[] = [];

  constructor(private readonly repo: Repo) {}

  async use<T>(fn: (handle: Repo) => Promise<T>): Promise<T> {
    const handle = this.idle.pop() ?? (await Repo.open(this.repo.path));
    try {
      return await fn(handle);
    } finally {
      this.idle.push(handle);
    }
  }
}

/**
 * At most as many layers in flight (fetched and imported) as slots, started in the order
 * asked. The proxy pool alone does not bound this: a proxy is free again once it has written a
 * blob into the pipe, while the import may still be reading it.
 */
export class LayerSlots {
  private readonly waiting: (() => void)[] = [];

  constructor(private free: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}

export interface LayerFetchContext {
  repo: Repo;
  handles: RepoHandles;
  pool: ImageProxyPool;
  slots: LayerSlots;
  sourceOf: (index: number) => LayerSource;
  /** Aborted by the caller or by the first failing layer. */
  signal: AbortSignal;
  progress: ProgressTracker;
}

/**
 * Streams layer `index` into `run`: the pipe is closed as soon as the importer stops reading
 * (so the proxy's writer gets EPIPE and FinishPipe answers), and the proxy's verdict is joined
 * with the importer's. The blob must hash to what the source names.
 */
async function fetchInto<R extends ImportedBlob>(ctx: LayerFetchContext, into: Repo, index: number, run: LayerImport<R>): Promise<R> {
  const source = ctx.sourceOf(index);
  const blob = await ctx.pool.getBlobFd(source.digest, source.size);
  let open = true;
  const close = () => {
    if (open) closeSync(blob.fd);
    open = false;
  };
  try {
    await ctx.progress.fetching(index, source.size, blob.proxyPid);
    const imported = Promise.resolve()
      .then(() => run(into, blob.fd, source, ctx.signal))
      .catch((e: unknown) => {
        close();
        throw e;
      });
    const result = await joinFetch(imported, blob.finish());
    if (result.digest !== source.digest) throw new Error(`Corrupted blob: expected digest ${source.digest}, got ${result.digest}`);
    if (source.size >= 0 && result.size !== source.size) throw new Error(`Corrupted blob ${source.digest}: expected ${source.size} bytes, got ${result.size}`);
    return result;
  } finally {
    close();
  }
}

/**
 * Fetches and imports layer `index` of the manifest. `ref` set: in a transaction of its own on
 * a fresh handle of the repo (so layers run side by side), committed together with
 * `ref → commit`. `ref` null: in the transaction the caller holds open on `ctx.repo`.
 * Layers take their slot in the order this is called (nothing is awaited before).
 */
export async function fetchLayer<R extends ImportedBlob & { commit?: string }>(
  ctx: LayerFetchContext,
  layer: Descriptor,
  index: number,
  kind: LayerKind,
  context: string,
  ref: string | null,
  run: LayerImport<R>,
): Promise<R> {
  return withContext(context, async () => {
    ctx.signal.throwIfAborted();
    ctx.progress.started(kind, layer, index);
    try {
      const result = await ctx.slots.run(async () => {
        ctx.signal.throwIfAborted();
        if (ref === null) return fetchInto(ctx, ctx.repo, index, run);
        return ctx.handles.use((own) =>
          own.withTransaction(async () => {
            const r = await fetchInto(ctx, own, index, run);
            if (!r.commit) throw new Error('the layer import produced no commit');
            own.transactionSetRef(ref, r.commit);
            return r;
          }),
        );
      });
      ctx.progress.completed(kind, layer, index, result.size);
      return result;
    } catch (e) {
      ctx.progress.failed(index);
      throw e;
    }
  });
}
