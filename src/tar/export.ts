// Tar export (spec §1): full exports, commit layers and content chunk layers, written by native
// workers straight into fds/files, several layers at once.
import { withCancellable } from '../native.js';
import {
  nativeRepo,
  target,
  tarNative,
  type LayerCompression,
  type LayerResult,
  type LayerTarget,
  type NativeLayerSpec,
  type ObjectAssignment,
  type RepoHandle,
} from './native.js';

/** One content object of a chunk: its checksum and its absolute tree paths, in tree-walk order. */
export interface ChunkObjectSpec {
  checksum: string;
  paths: string[];
}

/** @inline */
interface LayerBase {
  /** Where the blob goes: an fd (not closed) or a file path (created; renamed into place once every layer of the call is written, so a failed or cancelled call leaves none). */
  output: LayerTarget;
  /** Default `gzip`. */
  compression?: LayerCompression;
  /** Codec level instead of the default (gzip 6, gzip-fast 1, zstd 3): libdeflate 1-12 (zlib 1-9) or zstd 1-19. */
  level?: number;
  /**
   * gzip by zlib in one stream, on one thread, instead of the parallel encoder: the bytes upstream
   * ostree-ext writes (flate2 over zlib) when both use the same zlib.
   */
  zlib?: boolean;
}

/** What to write into one layer. */
export type LayerSpec =
  /** Everything for `rev` in one stream (`exportCommit`). */
  | (LayerBase & { kind: 'full'; rev: string })
  /** The commit layer: prelude, structure-only walk, then the remainder objects. */
  | (LayerBase & { kind: 'commit'; rev: string; objects?: ChunkObjectSpec[] })
  /** A content chunk layer: repo skeleton and the objects (here or from `assign`). */
  | (LayerBase & { kind: 'chunk'; objects?: ChunkObjectSpec[] });

export interface ExportLayersOptions {
  signal?: AbortSignal;
  /** Layers written at once (default and cap: the budget, `concurrency()`; half of it for zstd, two at least). */
  parallel?: number;
  /** zstd workers per layer, at most (default: the budget's share; gzip blocks share the budget's pool). The output does not depend on it. */
  threads?: number;
  /** Objects of a commit's tree assigned to layers by checksum, instead of per-layer `objects`. */
  assign?: ObjectAssignment;
}

// Chunk objects are written in ascending checksum order (spec §1.4.6) whatever order the
// caller's map had.
function sortedObjects(objects: ChunkObjectSpec[] | undefined): ChunkObjectSpec[] | undefined {
  if (!objects) return undefined;
  return [...objects].sort((a, b) => (a.checksum < b.checksum ? -1 : a.checksum > b.checksum ? 1 : 0));
}

/**
 * Writes `layers` (in parallel on native threads) and resolves with one result per layer, in
 * the same order. If any layer fails the others are stopped and the first error is thrown.
 */
export async function exportLayers(repo: RepoHandle, layers: LayerSpec[], opts: ExportLayersOptions = {}): Promise<LayerResult[]> {
  const specs: NativeLayerSpec[] = layers.map((l, i) => {
    const objects = l.kind === 'full' ? undefined : sortedObjects(l.objects);
    return {
      kind: l.kind,
      ...(l.kind === 'chunk' ? {} : { rev: l.rev }),
      ...(objects ? { objects } : {}),
      compression: l.compression ?? 'gzip',
      ...(l.level === undefined ? {} : { level: l.level }),
      ...(l.zlib === undefined ? {} : { zlib: l.zlib }),
      ...target(l.output, `layers[${i}].output`),
    };
  });
  const threads = opts.threads === undefined ? {} : { threads: opts.threads };
  const parallel = opts.parallel === undefined ? {} : { parallel: opts.parallel };
  const assign = opts.assign === undefined ? {} : { assign: opts.assign };
  return withCancellable(opts.signal, (c) =>
    tarNative().exportLayers(nativeRepo(repo), specs, { ...threads, ...parallel, ...assign }, c),
  );
}

export interface ExportCommitOptions {
  /** Default `none` (a plain tar, like upstream's `export_commit`). */
  compression?: LayerCompression;
  signal?: AbortSignal;
}

/** Writes the whole commit `rev` as one ostree-ext tar (format version 1) to `output`. */
export async function exportCommit(
  repo: RepoHandle,
  rev: string,
  output: LayerTarget,
  opts: ExportCommitOptions = {},
): Promise<LayerResult> {
  const [r] = await exportLayers(repo, [{ kind: 'full', rev, output, compression: opts.compression ?? 'none' }], {
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  return r!;
}
