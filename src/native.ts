// Typed loader of the C++ addon (built by node-gyp, or taken from prebuilds/).
// Each concept's TypeScript module declares the slice of the addon it uses.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const require = createRequire(import.meta.url);
const loadBinding = require('node-gyp-build') as (dir: string) => unknown;

/** Package root: one level above src/ (when run from source) or lib/ (when built). */
export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface NativeCancellable {
  cancel(): void;
  readonly cancelled: boolean;
}

export interface NativeCore {
  formatSize(bytes: number | bigint): string;
  /** Whether the libostree loaded now is at least `year`.`release` (`ostree_check_version`). */
  ostreeCheckVersion(year: number, release: number): boolean;
  /** The libostree headers the addon was compiled against; a prebuild may run with another release. */
  libostreeBuilt: { version: string; year: number; release: number };
  Cancellable: new () => NativeCancellable;
}

// Loaded lazily so pure-TypeScript modules (references, OCI, chunking) work without the addon.
let cached: unknown;
export function native<T = NativeCore>(): T & NativeCore {
  if (!cached) cached = loadBinding(packageRoot);
  return cached as T & NativeCore;
}

/**
 * A native Cancellable tied to an AbortSignal for the duration of `fn`.
 * The listener is removed when `fn` settles, so signals may be reused.
 */
export async function withCancellable<R>(
  signal: AbortSignal | undefined,
  fn: (c: NativeCancellable | undefined) => Promise<R>,
): Promise<R> {
  if (!signal) return fn(undefined);
  signal.throwIfAborted();
  const c = new (native().Cancellable)();
  const onAbort = () => c.cancel();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await fn(c);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
