// What the store reads from a repository and an image besides layers: the GKeyFile subset
// (store/keyfile.ts), whether a base's root is transient from its own prepare-root.conf
// (store/prepare-root.ts), and the free space a pull may use, less libostree's reserve
// (store/free-space.ts). A real repo in a temp dir; commits made by the ostree CLI.
import { mkdir, mkdtemp, rm, statfs, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ostreeCli } from '../../src/fixture/index.js';
import { formatSize } from '../../src/format.js';
import { Repo } from '../../src/repo/repo.js';
import { checkFreeSpace, freeBytes } from '../../src/store/free-space.js';
import { parseIniBoolean, parseIniFile } from '../../src/store/keyfile.js';
import { rootIsTransient } from '../../src/store/prepare-root.js';

let dir: string;
let repoPath: string;
let repo: Repo;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'store-config-'));
  repoPath = path.join(dir, 'repo');
  repo = await Repo.create(repoPath, 'bare-user');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('parseIniFile', () => {
  it('reads groups of key=value lines, trimmed; skips comments, blank lines and keys outside a group', () => {
    const conf = parseIniFile(
      ['top=ignored', '', '  # a comment', '[root]', ' transient = true ', '#commented=yes', '=novalue', 'noequals', '  [composefs]  ', 'enabled=maybe=x', '[root]', 'transient=false', 'other='].join('\n'),
    );
    expect([...conf.keys()]).toEqual(['root', 'composefs']);
    expect([...conf.get('root')!]).toEqual([
      ['transient', 'false'],
      ['other', ''],
    ]);
    expect([...conf.get('composefs')!]).toEqual([['enabled', 'maybe=x']]);
    expect([...parseIniFile('[g]\nkey =  spaced value').get('g')!]).toEqual([['key', 'spaced value']]);
  });

  it('takes only a whole bracketed line as a group', () => {
    const conf = parseIniFile('[root] x\n[]\n[ok]\na=1\nb=[c]');
    expect([...conf.keys()]).toEqual(['ok']);
    expect([...conf.get('ok')!]).toEqual([
      ['a', '1'],
      ['b', '[c]'],
    ]);
  });
});

describe('parseIniBoolean', () => {
  it('knows GKeyFile booleans and nothing else', () => {
    expect(['true', '1', 'false', '0', 'yes', 'TRUE', '', undefined].map(parseIniBoolean)).toEqual([true, true, false, false, undefined, undefined, undefined, undefined]);
  });
});

describe('rootIsTransient', () => {
  /** A commit of a tree holding `files` (path → content; a trailing `/` makes a directory). */
  async function commit(files: Record<string, string>): Promise<string> {
    const tree = await mkdtemp(path.join(dir, 'tree-'));
    await mkdir(path.join(tree, 'usr'));
    for (const [p, content] of Object.entries(files)) {
      const full = path.join(tree, p);
      if (p.endsWith('/')) {
        await mkdir(full, { recursive: true });
        continue;
      }
      await mkdir(path.dirname(full), { recursive: true });
      await writeFile(full, content);
    }
    return (await ostreeCli(repoPath, ['commit', '--orphan', `--tree=dir=${tree}`])).trim();
  }
  const USR = 'usr/lib/ostree/prepare-root.conf';
  const ETC = 'etc/ostree/prepare-root.conf';

  it('is false without a prepare-root.conf', async () => {
    expect(await rootIsTransient(repo, await commit({}))).toBe(false);
  });

  it('is true for [root] transient set to a GKeyFile true', async () => {
    expect(await rootIsTransient(repo, await commit({ [USR]: '[root]\ntransient=true\n' }))).toBe(true);
    expect(await rootIsTransient(repo, await commit({ [USR]: '[root]\ntransient=1\n' }))).toBe(true);
    expect(await rootIsTransient(repo, await commit({ [USR]: '[root]\ntransient=yes\n' }))).toBe(false);
    expect(await rootIsTransient(repo, await commit({ [USR]: '[other]\ntransient=true\n' }))).toBe(false);
  });

  it('is true for composefs enabled in any of its "on" spellings, not otherwise', async () => {
    for (const on of ['yes', 'true', '1', 'maybe', 'signed', 'verity', ' Signed ']) {
      expect(await rootIsTransient(repo, await commit({ [USR]: `[composefs]\nenabled=${on}\n` })), on).toBe(true);
    }
    for (const off of ['no', 'false', '0', 'on']) {
      expect(await rootIsTransient(repo, await commit({ [USR]: `[composefs]\nenabled=${off}\n` })), off).toBe(false);
    }
    expect(await rootIsTransient(repo, await commit({ [USR]: '[root]\ntransient=false\n[other]\nenabled=yes\n' }))).toBe(false);
  });

  it("reads /etc's file before /usr/lib's, and /usr/lib's when /etc's is not a file", async () => {
    expect(await rootIsTransient(repo, await commit({ [ETC]: '[composefs]\nenabled=no\n', [USR]: '[root]\ntransient=true\n' }))).toBe(false);
    expect(await rootIsTransient(repo, await commit({ [ETC]: '[root]\ntransient=true\n', [USR]: '' }))).toBe(true);
    expect(await rootIsTransient(repo, await commit({ [`${ETC}/`]: '', [USR]: '[composefs]\nenabled=yes\n' }))).toBe(true);
  });
});

describe('free space', () => {
  const GiB = 2 ** 30;
  /** freeBytes with the file system's available bytes read before and after (others write meanwhile). */
  async function measured(): Promise<{ free: number; lo: number; hi: number; total: number }> {
    const a = await statfs(repoPath);
    const free = await freeBytes(repo);
    const b = await statfs(repoPath);
    const slack = 256 * 2 ** 20;
    return { free, lo: Math.min(a.bavail, b.bavail) * a.bsize - slack, hi: Math.max(a.bavail, b.bavail) * a.bsize + slack, total: a.blocks * a.bsize };
  }
  async function config(size: string | null, percent: string | null): Promise<void> {
    await repo.setConfig('core', 'min-free-space-size', size);
    await repo.setConfig('core', 'min-free-space-percent', percent);
  }
  afterAll(() => config(null, null));

  it('keeps back 3% of the file system by default', async () => {
    await config(null, null);
    const m = await measured();
    const reserve = Math.floor((m.total * 3) / 100);
    expect(m.free).toBeGreaterThanOrEqual(Math.max(0, m.lo - reserve));
    expect(m.free).toBeLessThanOrEqual(Math.max(0, m.hi - reserve));
  });

  it('keeps back core.min-free-space-percent', async () => {
    await config(null, '1');
    const m = await measured();
    const reserve = Math.floor(m.total / 100);
    expect(m.free).toBeGreaterThanOrEqual(Math.max(0, m.lo - reserve));
    expect(m.free).toBeLessThanOrEqual(Math.max(0, m.hi - reserve));
  });

  it('keeps back core.min-free-space-size in MB, GB or TB, before the percent', async () => {
    for (const [size, bytes] of [
      ['1GB', GiB],
      ['512MB', 512 * 2 ** 20],
      ['1TB', 2 ** 40],
    ] as const) {
      await config(size, '0');
      const m = await measured();
      expect(m.free, size).toBeGreaterThanOrEqual(Math.max(0, m.lo - bytes));
      expect(m.free, size).toBeLessThanOrEqual(Math.max(0, m.hi - bytes));
    }
  });

  it('keeps nothing back for a percent that is not a number', async () => {
    await config(null, 'many');
    const m = await measured();
    expect(m.free).toBeGreaterThanOrEqual(m.lo);
    expect(m.free).toBeLessThanOrEqual(m.hi);
  });

  it('refuses, with both sizes, what does not fit, and lets what fits through', async () => {
    await config('1TB', null);
    expect(await freeBytes(repo)).toBe(0);
    await expect(checkFreeSpace(repo, 1500, 'the layers of x')).rejects.toThrow(`Not enough free space in ${repoPath} for the layers of x: needs ${formatSize(1500)}, ${formatSize(0)} free`);
    await expect(checkFreeSpace(repo, 0, 'nothing')).resolves.toBeUndefined();
    await config(null, '0');
    await expect(checkFreeSpace(repo, 1500, 'the layers of x')).resolves.toBeUndefined();
  });
});
