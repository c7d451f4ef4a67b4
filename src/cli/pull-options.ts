// The options of the commands that pull into the store (`image pull`, `image deploy`): how many
// layers are fetched at once, offline use, the free-space check, machine-readable progress.
import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_FETCH_CONCURRENCY } from '../store/fetch-concurrency.js';
import type { PullSettings } from '../store/importer.js';

export interface PullCliOptions {
  fetchConcurrency?: number;
  offline?: boolean;
  /** false with `--no-space-check`. */
  spaceCheck: boolean;
  progressFd?: number;
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

/** bootc's rule: a descriptor of our own, never stdin, stdout or stderr. */
function progressFd(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a file descriptor number');
  if (n <= 2) throw new InvalidArgumentError(`Cannot use fd ${n} for progress JSON`);
  return n;
}

export function addPullOptions(cmd: Command): Command {
  return cmd
    .option('--fetch-concurrency <n>', `layers fetched at once (network; imports stay within the CPU budget; from a registry, one skopeo proxy each) (default: ${DEFAULT_FETCH_CONCURRENCY})`, positiveInt)
    .option('--offline', 'never contact the network: use the stored image, or apply an update fetched earlier (e.g. with image pull --download-only); fail naming what is missing')
    .option('--no-space-check', 'do not compare the layers to fetch with the free space of the repository first')
    .option('--progress-fd <fd>', "write bootc's progress-v0 JSON lines (Start, ProgressBytes, ProgressSteps) to this open file descriptor", progressFd);
}

/** The library settings the options name. */
export function pullSettingsOf(o: PullCliOptions): PullSettings {
  return {
    ...(o.fetchConcurrency !== undefined ? { fetchConcurrency: o.fetchConcurrency } : {}),
    ...(o.offline ? { offline: true } : {}),
    spaceCheck: o.spaceCheck,
  };
}
