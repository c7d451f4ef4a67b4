// A full disk (issue 8, part 6): importing into a repository on a 32 MiB tmpfs (mounted here as
// root, unmounted afterwards) fails with an Error whose .code is ENOSPC — both when libostree
// refuses to eat into its min-free-space reserve (50% here, so it trips before the disk is full)
// and when write(2) itself reports ENOSPC (reserve 0) — and leaves the repository as it was: `ostree fsck` clean, refs
// unchanged, no objects, nothing left in tmp/, the filesystem's usage back where it started.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, statfs, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encapsulate } from '../../src/container/encapsulate.js';
import { unencapsulate } from '../../src/container/unencapsulate.js';
import { ImageReference, OstreeImageReference } from '../../src/ref/image-reference.js';
import { Repo } from '../../src/repo/repo.js';
import { exportCommit } from '../../src/tar/export.js';
import { importTar } from '../../src/tar/import.js';
import { cleanupTmp, execFileP, fsck, repoSnapshot, tmpdir } from './tar-util.js';

const ostree = (repo: string, ...args: string[]) => execFileP('ostree', [`--repo=${repo}`, ...args]);

let work: string;
let tarPath: string;
let ociDir: string;

beforeAll(async () => {
  // 40 MiB that does not compress, in 4 MiB files: more than the filesystem holds.
  work = await tmpdir('disk-full-');
  const tree = path.join(work, 'tree');
  await mkdir(path.join(tree, 'usr/share/big'), { recursive: true });
  for (let i = 0; i < 10; i++) await writeFile(path.join(tree, `usr/share/big/f${i}`), randomBytes(4 << 20));
  const src = path.join(work, 'src');
  await ostree(src, 'init', '--mode=bare-user');
  await ostree(src, 'commit', '-b', 'big', `--tree=dir=${tree}`, '--no-xattrs');
  const repo = await Repo.open(src);
  tarPath = path.join(work, 'big.tar');
  await exportCommit(repo, 'big', tarPath);
  ociDir = path.join(work, 'oci');
  await encapsulate(repo, 'big', {}, {}, ImageReference.parse(`oci:${ociDir}`));
}, 300_000);
afterAll(cleanupTmp);

let mounted: string | undefined;
afterEach(async () => {
  if (!mounted) return;
  // lazily: the Repo objects of the test still hold the repository's directory open
  await execFileP('umount', ['--lazy', mounted]);
  await rm(mounted, { recursive: true, force: true });
  mounted = undefined;
});

/** A 32 MiB tmpfs holding a bare-user repo with one small commit under ref `keep`. */
async function smallDiskRepo(reservePercent: number): Promise<string> {
  const mnt = await mkdtemp(path.join(work, 'mnt-'));
  await execFileP('mount', ['-t', 'tmpfs', '-o', 'size=32m', 'tmpfs', mnt]).catch((e: Error) => {
    throw new Error(`mounting a tmpfs needs root (CI runs as root): ${e.message}`);
  });
  mounted = mnt;
  const repo = path.join(mnt, 'repo');
  await ostree(repo, 'init', '--mode=bare-user');
  await ostree(repo, 'config', 'set', 'core.min-free-space-percent', String(reservePercent));
  const small = path.join(mnt, 'small');
  await mkdir(small);
  await writeFile(path.join(small, 'hello'), 'hello\n');
  await ostree(repo, 'commit', '-b', 'keep', `--tree=dir=${small}`);
  await rm(small, { recursive: true });
  return repo;
}

/** Everything below the repo's tmp/, recursively. */
async function tmpEntries(repo: string): Promise<string[]> {
  return (await readdir(path.join(repo, 'tmp'), { recursive: true })).sort();
}

async function usedBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return (s.blocks - s.bfree) * s.bsize;
}

async function expectFullDiskLeavesRepoAlone(repoPath: string, importIt: (repo: Repo) => Promise<unknown>) {
  const before = {
    refs: (await ostree(repoPath, 'refs')).stdout,
    files: await repoSnapshot(repoPath),
    tmp: await tmpEntries(repoPath),
    used: await usedBytes(repoPath),
  };
  const repo = await Repo.open(repoPath);
  const err = await importIt(repo).then(
    () => new Error('the import succeeded on a full disk'),
    (e: unknown) => e as Error & { code?: string },
  );
  expect(err).toBeInstanceOf(Error);
  expect({ code: err.code, message: err.message }).toEqual({
    code: 'ENOSPC',
    message: expect.stringMatching(/No space left on device$|min-free-space-percent '50%' would be exceeded/),
  });
  await fsck(repoPath);
  expect((await ostree(repoPath, 'refs')).stdout).toBe(before.refs);
  expect(await repoSnapshot(repoPath)).toEqual(before.files);
  expect(await tmpEntries(repoPath)).toEqual(before.tmp);
  // tmpfs counts every page: what the import wrote is all gone again
  expect(Math.abs((await usedBytes(repoPath)) - before.used)).toBeLessThanOrEqual(64 * 1024);
  return err;
}

describe('a full disk', () => {
  for (const reserve of [50, 0]) {
    const how = reserve ? "libostree's min-free-space reserve" : 'write(2) failing (no reserve)';
    it(`tar import: ENOSPC through ${how}, repository unchanged`, async () => {
      const err = await expectFullDiskLeavesRepoAlone(await smallDiskRepo(reserve), (repo) => importTar(repo, tarPath));
      expect(err.message).toMatch(reserve ? /min-free-space-percent '50%' would be exceeded/ : /No space left on device$/);
    });

    it(`unencapsulate: ENOSPC through ${how}, repository unchanged`, async () => {
      const imgref = OstreeImageReference.parse(`ostree-unverified-image:oci:${ociDir}`);
      // Past the free-space check (which refuses up front), as when the disk fills meanwhile.
      const err = await expectFullDiskLeavesRepoAlone(await smallDiskRepo(reserve), (repo) => unencapsulate(repo, imgref, { spaceCheck: false }));
      expect(err.message).toMatch(/^Importing: Layer sha256:[0-9a-f]{64}: /);
    });
  }
});
