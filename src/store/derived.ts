// Derived (non-ostree) layers of the store (spec §3): a layer blob → filtered tree → commit,
// written in-process by the addon (native/layer/derived.cc) on a worker thread.
import { native, withCancellable, type NativeCancellable } from '../native.js';
import type { Repo } from '../repo/repo.js';
import { nativeRepo, target, withByteProgress, type ByteProgressOptions, type LayerTarget } from '../tar/native.js';

export interface DerivedLayerOptions extends ByteProgressOptions {
  /** Layer media type: gzip, zstd or plain tar (OCI and Docker names); others fail with `Unhandled layer type: <type>`. */
  mediaType: string;
  /** Base commit: with `selinux`, its usr/etc/selinux policy labels the layer. */
  base?: string | null;
  selinux?: boolean;
  /** Keep top-level content other than usr, etc and var (spec §3.2; the base's rootIsTransient). */
  allowNonusr?: boolean;
  /** false (default): var/… is committed as usr/share/factory/var/… (libostree < 2024.3). */
  retainVar?: boolean;
  /** Commit metadata `ostree.importer.version`. */
  importerVersion: string;
  /** Set to the new commit in the same transaction (the blob ref). */
  ref?: string;
  /** `own` (default): prepare and commit a transaction; `caller`: write inside the caller's open one. */
  transaction?: 'own' | 'caller';
  /** Commit timestamp in Unix seconds; default now (as upstream's `ostree commit`). */
  timestamp?: number;
  signal?: AbortSignal;
}

export interface DerivedLayerResult {
  commit: string;
  /** Filtered path key → number of entries dropped (spec §3.3); keys sorted. */
  filtered: Record<string, number>;
  /** `sha256:` of the uncompressed tar. */
  diffId: string;
  /** `sha256:` of the blob as read. */
  digest: string;
  size: number;
  uncompressedSize: number;
}

/** Where spec §3.2 puts one layer path: committed at `path`, or dropped and counted under `filtered`. */
export type NormalizedLayerPath = { path: string } | { filtered: string };

interface DerivedNative {
  importDerivedLayer(
    repo: object,
    opts: Omit<DerivedLayerOptions, 'signal' | 'onProgress' | 'progressIntervalMs'> & { progress?: BigUint64Array } & ({ fd: number } | { path: string }),
    c: NativeCancellable | undefined,
  ): Promise<DerivedLayerResult>;
  normalizeLayerPath(path: string, opts: { allowNonusr?: boolean; retainVar?: boolean }): NormalizedLayerPath;
}

/**
 * Imports one derived layer: decompresses `input` by media type, filters and normalises its
 * paths, and commits the result. A failed or aborted import writes no ref and leaves no temp
 * files; with its own transaction, the transaction is aborted.
 */
export async function importDerivedLayer(repo: Repo, input: LayerTarget, opts: DerivedLayerOptions): Promise<DerivedLayerResult> {
  const { signal, onProgress, progressIntervalMs, ...rest } = opts;
  return withByteProgress({ onProgress, progressIntervalMs }, (progress) =>
    withCancellable(signal, (c) =>
      native<DerivedNative>().importDerivedLayer(nativeRepo(repo), { ...rest, ...target(input, 'input'), progress }, c),
    ),
  );
}

/** Spec §3.2 for one path (throws `Invalid path: <path>` on `..`). */
export function normalizeLayerPath(path: string, opts: { allowNonusr?: boolean; retainVar?: boolean } = {}): NormalizedLayerPath {
  return native<DerivedNative>().normalizeLayerPath(path, opts);
}
