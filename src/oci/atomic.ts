// Durable file replacement inside one directory: temp file, fsync, rename, fsync the directory.
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/** A fresh, unused file name in `dir` for a temp file (`.tmp-<tag>-<random>`). */
export function tempName(dir: string, tag: string): string {
  return path.join(dir, `.tmp-${tag}-${randomBytes(8).toString('hex')}`);
}

/** fsyncs a directory so a rename inside it survives a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsyncs a regular file by path. */
export async function fsyncFile(file: string): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes `data` to `dest` atomically and durably (mode 0644); the temp file is removed on failure. */
export async function writeFileAtomic(dest: string, data: string | Uint8Array): Promise<void> {
  const dir = path.dirname(dest);
  const tmp = tempName(dir, path.basename(dest));
  try {
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, dest);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(dir);
}

