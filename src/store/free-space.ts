// The free-space check before a pull fetches anything (as bootc's check_disk_space_ostree): the
// compressed sizes of the layers to fetch against the free space of the repository's file
// system, less the reserve libostree keeps for itself (core.min-free-space-size, else
// core.min-free-space-percent, default 3%).
import { statfs } from 'node:fs/promises';
import { formatSize } from '../format.js';
import type { Repo } from '../repo/repo.js';

const SIZE_UNITS: Record<string, number> = { MB: 2 ** 20, GB: 2 ** 30, TB: 2 ** 40 };

/** Bytes libostree refuses to write into, given the file system's total. */
async function reservedBytes(repo: Repo, totalBytes: number): Promise<number> {
  const size = await repo.getConfig('core', 'min-free-space-size');
  const m = size !== null ? /^\s*(\d+)\s*(MB|GB|TB)\s*$/.exec(size) : null;
  if (m) return Number(m[1]) * SIZE_UNITS[m[2]!]!;
  const percent = Number((await repo.getConfig('core', 'min-free-space-percent')) ?? 3);
  return Number.isFinite(percent) ? Math.floor((totalBytes * percent) / 100) : 0;
}

/** Bytes a pull may write into `repo` before libostree or the file system refuses. */
export async function freeBytes(repo: Repo): Promise<number> {
  const st = await statfs(repo.path);
  const avail = st.bavail * st.bsize;
  return Math.max(0, avail - (await reservedBytes(repo, st.blocks * st.bsize)));
}

/** Refuses, with both numbers, when `needed` bytes for `what` do not fit into `repo`. */
export async function checkFreeSpace(repo: Repo, needed: number, what: string): Promise<void> {
  const free = await freeBytes(repo);
  if (needed > free) throw new Error(`Not enough free space in ${repo.path} for ${what}: needs ${formatSize(needed)}, ${formatSize(free)} free`);
}
