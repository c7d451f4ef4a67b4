// Repo binding, checkout and maintenance: checkout modes, union, whiteouts, subpath, the devino
// cache shared by checkout and commit, markCommitPartial, prune. Checked with the `ostree` CLI.
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DevInoCache, Repo } from '../../src/index.js';
import { ostreeCli } from '../../src/fixture/ostree-cli.js';

const TS = '2020-01-01T00:00:00Z';
let tmp: string;
let repo: Repo;
let base: string; // usr/bin/{bash,sh->bash}, usr/lib/a
let overlay: string; // usr/lib/b, usr/lib/.wh.a (whiteout for a)
const ostree = (r: Repo, ...args: string[]) => ostreeCli(r.path, args);

async function fsckClean(r: Repo): Promise<void> {
  expect(await ostree(r, 'fsck')).not.toMatch(/corrupt|missing/i);
}

async function listRecursive(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.map(String).sort();
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'repo-checkout-'));
  const a = path.join(tmp, 'a');
  await mkdir(path.join(a, 'usr/bin'), { recursive: true });
  await mkdir(path.join(a, 'usr/lib'), { recursive: true });
  await writeFile(path.join(a, 'usr/bin/bash'), 'bash');
  await chmod(path.join(a, 'usr/bin/bash'), 0o755);
  await symlink('bash', path.join(a, 'usr/bin/sh'));
  await writeFile(path.join(a, 'usr/lib/a'), 'a');
  const b = path.join(tmp, 'b');
  await mkdir(path.join(b, 'usr/lib'), { recursive: true });
  await writeFile(path.join(b, 'usr/lib/b'), 'b');
  await writeFile(path.join(b, 'usr/lib/.wh.a'), '');
  repo = await Repo.create(path.join(tmp, 'repo'), 'bare-user');
  base = (await ostree(repo, 'commit', '-b', 'base', `--tree=dir=${a}`, '--timestamp', TS)).trim();
  overlay = (await ostree(repo, 'commit', '-b', 'overlay', `--tree=dir=${b}`, '--timestamp', TS)).trim();
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('checkout', () => {
  it('user mode by ref gives the same tree as ostree checkout -U', async () => {
    const ours = path.join(tmp, 'co-user');
    const theirs = path.join(tmp, 'co-cli');
    await repo.checkout('base', ours, { mode: 'user' });
    await ostree(repo, 'checkout', '-U', 'base', theirs);
    expect(await listRecursive(ours)).toEqual(await listRecursive(theirs));
    expect(await readFile(path.join(ours, 'usr/bin/bash'), 'utf8')).toBe('bash');
    expect((await stat(path.join(ours, 'usr/bin/bash'))).mode & 0o777).toBe(0o755);
    expect(await readlink(path.join(ours, 'usr/bin/sh'))).toBe('bash');
  });

  it('union-files overlays a second commit; whiteouts remove files', async () => {
    const dest = path.join(tmp, 'co-union');
    await repo.checkout(base, dest, { mode: 'user' });
    await repo.checkout(overlay, dest, { mode: 'user', overwrite: 'union-files', processWhiteouts: true });
    expect(await listRecursive(path.join(dest, 'usr/lib'))).toEqual(['b']);
    const noWhiteouts = path.join(tmp, 'co-union-raw');
    await repo.checkout(base, noWhiteouts, { mode: 'user' });
    await repo.checkout(overlay, noWhiteouts, { mode: 'user', overwrite: 'union-files' });
    expect(await listRecursive(path.join(noWhiteouts, 'usr/lib'))).toEqual(['.wh.a', 'a', 'b']);
  });

  it('mode none from a bare repo keeps ownership, as ostree checkout does (root)', async () => {
    const bare = await Repo.create(path.join(tmp, 'bare'), 'bare');
    const c = (
      await ostree(bare, 'commit', '-b', 'owned', `--tree=dir=${path.join(tmp, 'a')}`, '--owner-uid=1234', '--owner-gid=5678', '--timestamp', TS)
    ).trim();
    const ours = path.join(tmp, 'co-none');
    const theirs = path.join(tmp, 'co-none-cli');
    await bare.checkout(c, ours, { mode: 'none' });
    await ostree(bare, 'checkout', c, theirs);
    for (const p of ['usr/bin/bash', 'usr/lib/a', 'usr/bin/sh']) {
      const [a, b] = [await lstat(path.join(ours, p)), await lstat(path.join(theirs, p))];
      expect([a.uid, a.gid, a.mode], p).toEqual([1234, 5678, b.mode]);
      expect([b.uid, b.gid]).toEqual([1234, 5678]);
    }
  });

  it('subpath checks out one directory', async () => {
    const dest = path.join(tmp, 'co-sub');
    await repo.checkout(base, dest, { mode: 'user', subpath: '/usr/bin' });
    expect(await listRecursive(dest)).toEqual(['bash', 'sh']);
  });

  it('refuses to overwrite without a union mode, and an unknown commit', async () => {
    const dest = path.join(tmp, 'co-user');
    await expect(repo.checkout(base, dest, { mode: 'user' })).rejects.toThrow(/File exists/);
    await expect(repo.checkout('nope', path.join(tmp, 'x'), { mode: 'user' })).rejects.toThrow("Refspec 'nope' not found");
    await expect(repo.checkout('b'.repeat(64), path.join(tmp, 'y'), { mode: 'user' })).rejects.toThrow(/No such metadata object/);
  });

  it('a devino cache lets a commit of a hardlinked checkout reuse objects without re-hashing', async () => {
    const cache = new DevInoCache();
    const dest = path.join(tmp, 'co-devino');
    await repo.checkout(base, dest, { mode: 'user', devinoCache: cache });
    // user-mode checkouts of a bare-user repo hardlink file objects
    expect((await lstat(path.join(dest, 'usr/bin/bash'))).nlink).toBeGreaterThan(1);
    const info = await repo.loadCommit(base);
    // raw transaction calls (not withTransaction) to see the commit's devino statistics
    await repo.prepareTransaction();
    const root = await repo
      .writeTree({ directories: [{ source: dest }], modifier: { devinoCache: cache } })
      .catch(async (e: unknown) => {
        await repo.abortTransaction();
        throw e;
      });
    const stats = await repo.commitTransaction();
    expect(stats.devinoCacheHits).toBeGreaterThan(0);
    expect(stats.contentObjectsWritten).toBe(0);
    expect(root.contents).toBe(info.rootContents);
  });
});

describe('partial commits and prune', () => {
  it('markCommitPartial sets and clears the partial state', async () => {
    await repo.markCommitPartial(base);
    expect((await repo.loadCommit(base)).partial).toBe(true);
    await expect(stat(path.join(repo.path, 'state', `${base}.commitpartial`))).resolves.toBeTruthy();
    await repo.markCommitPartial(base, false);
    expect((await repo.loadCommit(base)).partial).toBe(false);
    await expect(stat(path.join(repo.path, 'state', `${base}.commitpartial`))).rejects.toThrow(/ENOENT/);
  });

  it('prune --refs-only agrees with the CLI and deletes only unreachable objects', async () => {
    const r = await Repo.create(path.join(tmp, 'prune'), 'bare-user');
    const dir = path.join(tmp, 'p');
    await mkdir(dir);
    await writeFile(path.join(dir, 'kept'), 'kept');
    const kept = (await ostree(r, 'commit', '-b', 'kept', `--tree=dir=${dir}`, '--timestamp', TS)).trim();
    await writeFile(path.join(dir, 'dropped'), 'dropped');
    const dropped = (await ostree(r, 'commit', '-b', 'dropped', `--tree=dir=${dir}`, '--timestamp', TS, '-s', 'x')).trim();
    await r.deleteRef('dropped');
    const dry = await r.prune({ refsOnly: true, noPrune: true });
    const cli = await ostree(r, 'prune', '--refs-only', '--no-prune');
    expect(cli).toContain(`Total objects: ${dry.objectsTotal}`);
    expect(cli).toContain(`Would delete: ${dry.objectsPruned} objects, freeing`);
    expect(await r.hasObject('commit', dropped)).toBe(true);
    const done = await r.prune({ refsOnly: true });
    expect(done.objectsPruned).toBe(dry.objectsPruned);
    expect(done.objectsPruned).toBeGreaterThan(0);
    expect(await r.hasObject('commit', dropped)).toBe(false);
    expect(await r.hasObject('commit', kept)).toBe(true);
    await fsckClean(r);
  });
});
