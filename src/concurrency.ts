// The data plane's one budget: how many threads the native jobs of this process may keep busy.
import { native } from './native.js';

interface NativeScheduler {
  concurrency(n?: number): number;
}

/** Environment variable read once, when the addon loads, for the default budget. */
export const CONCURRENCY_ENV = 'OSTREE_CONTAINER_CONCURRENCY';

/**
 * Reads (no argument) or sets the number of CPU threads that imports, exports and the other
 * native jobs of this process may keep busy at once, all together: compression threads, layers
 * written in parallel and object writers draw on the same budget. The default is the number of
 * CPUs this process may run on, or `OSTREE_CONTAINER_CONCURRENCY` when set. Jobs already running
 * keep the threads they have; output bytes never depend on the budget.
 * Long jobs wait on their own threads, never on libuv's pool, so they do not hold up the host
 * program's `fs`, `dns` or `crypto` calls.
 * @param n an integer from 1 to 1024
 * @returns the budget now in force
 */
export function concurrency(n?: number): number {
  if (n !== undefined && (!Number.isInteger(n) || n < 1 || n > 1024)) {
    throw new RangeError(`concurrency must be an integer from 1 to 1024, got ${String(n)}`);
  }
  return native<NativeScheduler>().concurrency(n);
}

/** The CLI's check of the environment variable: a bad value is an error, not silently ignored. */
export function concurrencyFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env[CONCURRENCY_ENV];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isInteger(n) || n < 1 || n > 1024) {
    throw new Error(`${CONCURRENCY_ENV} must be an integer from 1 to 1024, got '${raw}'`);
  }
  return concurrency(n);
}
