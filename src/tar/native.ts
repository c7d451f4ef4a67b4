// The slice of the addon the tar entry points use (native/layer/export_js.cc, layer/import_js.cc,
// layer/rewrite.cc). Layer bytes never cross into JS: these take file descriptors or paths.
import { native, type NativeCancellable } from '../native.js';

type C = NativeCancellable | undefined;

/** Layer compression: gzip level 6, gzip level 1, zstd level 3, or a plain tar. */
export type LayerCompression = 'gzip' | 'gzip-fast' | 'zstd' | 'none';

export interface NativeChunkObject {
  checksum: string;
  paths: string[];
}

export interface NativeLayerSpec {
  kind: 'full' | 'commit' | 'chunk';
  rev?: string;
  objects?: NativeChunkObject[];
  compression: LayerCompression;
  level?: number;
  zlib?: boolean;
  fd?: number;
  path?: string;
}

/**
 * Content objects of `rev`'s tree handed out to layers by checksum: the exporter walks the tree
 * once and gives each object, with every tree path it has, to its layer. Compact (a few bytes
 * per object) where per-object `objects` arrays cost hundreds.
 */
export interface ObjectAssignment {
  rev: string;
  /** 32 raw bytes per object. */
  checksums: Uint8Array;
  /** The layer index of each object of `checksums`; a chunk or commit layer without `objects`. */
  layers: Uint32Array;
  /** Where tree objects not listed go; without it they are an error ("Content mapping does not cover …"). */
  defaultLayer?: number;
}

/** What one written layer blob is. */
export interface LayerResult {
  /** `sha256:` of the uncompressed tar (the config's rootfs diff_id). */
  diffId: string;
  /** `sha256:` of the blob as written (compressed). */
  digest: string;
  /** Blob size in bytes. */
  size: number;
  uncompressedSize: number;
  mediaType: string;
  /** The commit checksum, for full exports and commit layers. */
  commit?: string;
}

export interface NativeImportOptions {
  fd?: number;
  path?: string;
  mediaType: string;
  mode: 'commit' | 'objects';
  remote?: string;
  finish?: boolean;
  transaction?: 'own' | 'caller';
  /** From `progressCounter()`; element 0: input bytes read so far, published by the job. */
  progress?: BigUint64Array;
}

/**
 * What one imported layer was and what it wrote.
 * @inline
 */
export interface NativeImportResult {
  /** Commit checksum (commit mode; object-set mode only with `finish`). */
  commit?: string;
  objectsWritten: number;
  objectsReused: number;
  bytesWritten: number;
  /** Signature verification text, when a remote verified the commit. */
  verifyText?: string;
  /** `sha256:` of the uncompressed tar. */
  diffId: string;
  /** `sha256:` of the input as read. */
  digest: string;
  size: number;
  uncompressedSize: number;
}

export interface NativeRewriteOptions {
  input: { fd: number } | { path: string };
  inputMediaType: string;
  output: { fd: number } | { path: string };
  compression: LayerCompression;
  threads?: number;
}

export interface TarNative {
  exportLayers(
    repo: object,
    layers: NativeLayerSpec[],
    opts: { threads?: number; parallel?: number; assign?: ObjectAssignment },
    c: C,
  ): Promise<LayerResult[]>;
  importLayer(repo: object, opts: NativeImportOptions, c: C): Promise<NativeImportResult>;
  rewriteDetachedMetadata(opts: NativeRewriteOptions, detached: Uint8Array | null, c: C): Promise<LayerResult & { commit: string }>;
  /** A one-element counter the layer jobs publish their progress into; its memory is the addon's. */
  progressCounter(): BigUint64Array;
}

export const tarNative = (): TarNative => native<TarNative>();

/**
 * A repository as the tar functions accept it: the `Repo` wrapper (its `native` handle is
 * used) or the native handle itself.
 */
export type RepoHandle = { readonly native: object } | object;

export function nativeRepo(repo: RepoHandle): object {
  const n = (repo as { native?: unknown }).native;
  return typeof n === 'object' && n !== null ? n : repo;
}

/** A file descriptor (written/read, never closed) or a path. */
export type LayerTarget = number | string;

export function target(t: LayerTarget, what: string): { fd: number } | { path: string } {
  if (typeof t === 'number') {
    if (!Number.isInteger(t) || t < 0) throw new TypeError(`${what} must be a file descriptor or a path`);
    return { fd: t };
  }
  if (typeof t === 'string' && t.length > 0) return { path: t };
  throw new TypeError(`${what} must be a file descriptor or a path`);
}

/** Progress of a layer job: the input (compressed) bytes read so far. */
export interface ByteProgressOptions {
  /** Called at most every `progressIntervalMs` (default 100) while the count changes, and once with the total at the end. */
  onProgress?: (bytesRead: number) => void;
  progressIntervalMs?: number;
}

/**
 * Runs a native layer job that publishes its byte count into `slot` (a counter from the addon,
 * whose memory outlives the job whatever happens to the array), reporting the count to
 * `onProgress` on a timer: no callback crosses threads.
 */
export async function withByteProgress<R>(o: ByteProgressOptions, job: (slot: BigUint64Array | undefined) => Promise<R>): Promise<R> {
  const { onProgress } = o;
  if (!onProgress) return job(undefined);
  const slot = tarNative().progressCounter();
  let reported = -1;
  const report = () => {
    const n = Number(Atomics.load(slot, 0));
    if (n !== reported) onProgress((reported = n));
  };
  const timer = setInterval(report, o.progressIntervalMs ?? 100);
  try {
    const r = await job(slot);
    report();
    return r;
  } finally {
    clearInterval(timer);
  }
}
