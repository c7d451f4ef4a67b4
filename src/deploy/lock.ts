// SysrootLock (spec §5.4): hold the sysroot lock for the duration of an operation, telling the
// user once when another process holds it.
import { SYSROOT_LOCK_RETRY_MS, type Sysroot } from './sysroot.js';

export const SYSROOT_LOCK_WAITING = 'Waiting for sysroot lock...';

export interface SysrootLockOptions {
  signal?: AbortSignal;
  /** Where the waiting message goes (default: stderr). */
  onWait?: () => void;
  retryMs?: number;
}

export class SysrootLock {
  private held: boolean;

  private constructor(
    readonly sysroot: Sysroot,
    private readonly owned: boolean,
  ) {
    this.held = true;
  }

  /**
   * Takes the lock of `sysroot`, printing `Waiting for sysroot lock...` to stderr on the first
   * failed attempt and retrying every 3 s.
   */
  static async acquire(sysroot: Sysroot, opts: SysrootLockOptions = {}): Promise<SysrootLock> {
    await sysroot.lock({
      signal: opts.signal,
      retryMs: opts.retryMs ?? SYSROOT_LOCK_RETRY_MS,
      onWait: opts.onWait ?? (() => process.stderr.write(`${SYSROOT_LOCK_WAITING}\n`)),
    });
    return new SysrootLock(sysroot, true);
  }

  /** Wraps a lock someone else took: release() leaves it held. */
  static fromAssumedLocked(sysroot: Sysroot): SysrootLock {
    return new SysrootLock(sysroot, false);
  }

  /** Releases the lock (once; later calls do nothing). */
  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    if (this.owned) await this.sysroot.unlock();
  }
}

/** Runs `fn` with the sysroot lock held, releasing it afterwards whatever happens. */
export async function withSysrootLock<R>(
  sysroot: Sysroot,
  fn: (lock: SysrootLock) => Promise<R>,
  opts: SysrootLockOptions = {},
): Promise<R> {
  const lock = await SysrootLock.acquire(sysroot, opts);
  try {
    return await fn(lock);
  } finally {
    await lock.release();
  }
}
