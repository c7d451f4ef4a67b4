// The merge commit of a layered image (spec §2.3 D), computed by the addon (native/store/merge.cc):
// base and derived layers checked out over each other with whiteouts applied, SELinux labels
// from the merged policy, written as one commit.
import { native, withCancellable, type NativeCancellable } from '../native.js';
import type { Repo } from '../repo/repo.js';
import type { TypedVariant, VariantDict } from '../repo/variant.js';
import { nativeRepo } from '../tar/native.js';

export interface MergeOptions {
  /** Base commit (null for a generic image). */
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
