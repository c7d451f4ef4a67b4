// A test's own $TMPDIR: temp-file checks list a directory no other test file writes to.
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';

/**
 * Runs `fn` with `$TMPDIR` (read by os.tmpdir(), our big-file temp dirs and child processes such
 * as skopeo) set to a fresh directory under `parent`; restores `$TMPDIR` and removes the
 * directory afterwards.
 */
export async function withOwnTmpdir<T>(parent: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(parent, 'tmpdir-'));
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  try {
    return await fn(dir);
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
    await rm(dir, { recursive: true, force: true });
  }
}
