// Behaviours of the native store code no other test pinned (test/MUTATION.md lists who pins what).
// The derived-layer filter (native/store/filter.cc): entry types it does not handle (and old
// spellings of a regular file), empty link targets, non-UTF-8 names (each refused naming the
// entry, the repository untouched), which PAX records reach libostree, v7 (pre-POSIX) headers;
// crafted byte by byte where tar-stream would not write such an entry. The merge
// (native/store/merge.cc): whiteouts and opaque directories across derived layers, directory
// whiteouts, a name that changes kind between layers.
import { afterAll, describe, expect, it } from 'vitest';
import { native } from '../../src/native.js';
import { importDerivedLayer } from '../../src/store/derived.js';
import { writeMergeCommit } from '../../src/store/merge.js';
import type { Repo } from '../../src/repo/repo.js';
import { type LayerEntry, layerTar } from '../helpers/tar.js';
import { catFile, cliRepo, listCommit, repoTmpLeftovers, TAR, tempFile, VERSION } from './store-util.js';
import { buildTar, cleanupTmp, entry, fixChecksum, fsck, parseTar, repoSnapshot } from './tar-util.js';

afterAll(cleanupTmp);

const opts = { mediaType: TAR, importerVersion: VERSION, ref: 'layer' };

describe('refused entries', () => {
  const latin1Name = Buffer.from('usr/share/caf\xe9', 'latin1').toString('latin1');
  for (const [what, tar, error] of [
    ['an entry type it does not handle (V, a GNU volume label)', () => buildTar([entry('usr/bin/x', 'data', { type: 'V' })]), 'Unsupported tar entry type Unknown for ./usr/bin/x'],
    ['a symlink with an empty target', () => buildTar([entry('usr/bin/l', '', { type: '2' })]), 'Invalid empty symlink ./usr/bin/l'],
    ['a hardlink with an empty target', () => buildTar([entry('usr/bin/h', '', { type: '1' })]), 'Invalid empty hardlink ./usr/bin/h'],
    ['a name that is not UTF-8', () => buildTar([entry(latin1Name, 'x')]), 'Invalid non-UTF-8 path: usr/share/caf\ufffd'],
  ] as const) {
    it(`${what}: refused naming it; nothing written`, async () => {
      const { path: rp, repo } = await cliRepo();
      const before = await repoSnapshot(rp);
      await expect(importDerivedLayer(repo, await tempFile(tar()), opts)).rejects.toThrow(error);
      expect(await repoSnapshot(rp)).toEqual(before);
      expect(await repoTmpLeftovers(rp)).toEqual([]);
      expect(await repo.resolveRev('layer', { allowNoent: true })).toBeNull();
      await fsck(rp);
    });
  }
});

describe('what is passed on', () => {
  it('ownership from PAX uid/gid records (beyond the octal fields) and xattrs reach the commit; other records are dropped without error', async () => {
    const { path: rp, repo } = await cliRepo();
    const tar = await layerTar([
      { name: 'usr/bin/big-owner', data: 'x', pax: { uid: '3000000', gid: '3000001', comment: 'dropped', 'org.example.unknown': 'dropped' } },
      { name: 'usr/bin/labelled', data: 'y', pax: { 'SCHILY.xattr.user.example': 'value' } },
    ]);
    const r = await importDerivedLayer(repo, await tempFile(tar), opts);
    const ls = await listCommit(rp, r.commit, { xattrs: true });
    expect(ls.get('/usr/bin/big-owner')).toMatch(/^-00644 3000000 3000001 +1 /);
    expect(ls.get('/usr/bin/labelled')).toMatch(/user\.example/);
    expect(await catFile(rp, r.commit, '/usr/bin/big-owner')).toBe('x');
  });

  it('the other spellings of a regular file (type NUL of old tars, 7 contiguous) are committed as regular files', async () => {
    const { path: rp, repo } = await cliRepo();
    const r = await importDerivedLayer(repo, await tempFile(buildTar([entry('usr/bin/nul', 'nul', { type: '\0' }), entry('usr/bin/seven', 'seven', { type: '7' })])), opts);
    expect(await catFile(rp, r.commit, '/usr/bin/nul')).toBe('nul');
    expect(await catFile(rp, r.commit, '/usr/bin/seven')).toBe('seven');
    expect((await listCommit(rp, r.commit)).get('/usr/bin/seven')).toMatch(/^-00644 0 0 +5 /);
  });

  it('v7 (pre-POSIX) headers are read and committed like ustar ones', async () => {
    const { path: rp, repo } = await cliRepo();
    const entries = parseTar(await layerTar([{ name: 'usr/share/old', data: 'from a v7 tar' }, { name: 'usr/share/dir/', type: 'directory' }]));
    for (const e of entries) {
      // No magic, version, owner names or prefix: a 1979 header.
      e.header.fill(0, 257, 512);
      fixChecksum(e.header);
    }
    const r = await importDerivedLayer(repo, await tempFile(buildTar(entries)), opts);
    expect(await catFile(rp, r.commit, '/usr/share/old')).toBe('from a v7 tar');
    expect((await listCommit(rp, r.commit)).get('/usr/share/dir')).toMatch(/^d00755 0 0 /);
  });
});

describe('the merge across derived layers', () => {
  async function layer(repo: Repo, entries: LayerEntry[]): Promise<string> {
    return (await importDerivedLayer(repo, await tempFile(await layerTar(entries)), { mediaType: TAR, importerVersion: VERSION })).commit;
  }
  const merge = (repo: Repo, layers: string[]) => repo.withTransaction(() => writeMergeCommit(repo, { base: null, layers, metadata: {}, timestamp: 1 }));

  it('whiteouts and opaque directories of a later layer apply to earlier layers; a deleted name can come back', async () => {
    const { path: rp, repo } = await cliRepo();
    const one = await layer(repo, [
      { name: 'usr/share/d/a', data: 'a' },
      { name: 'usr/share/d/sub/b', data: 'b' },
      { name: 'usr/share/o/old', data: 'old' },
      { name: 'usr/share/f', data: 'f' },
      { name: 'usr/share/back', data: 'v1' },
    ]);
    const two = await layer(repo, [
      { name: 'usr/share/.wh.d', data: '' }, // a whole directory
      { name: 'usr/share/o/', type: 'directory' },
      { name: 'usr/share/o/.wh..wh..opq', data: '' },
      { name: 'usr/share/o/new', data: 'new' },
      { name: 'usr/share/.wh.back', data: '' },
      { name: 'usr/share/.wh.never-existed', data: '' },
    ]);
    const three = await layer(repo, [{ name: 'usr/share/back', data: 'v3' }]);
    const ls = await listCommit(rp, await merge(repo, [one, two, three]));
    expect([...ls.keys()].filter((p) => p.startsWith('/usr/share')).sort()).toEqual([
      '/usr/share', '/usr/share/back', '/usr/share/f', '/usr/share/o', '/usr/share/o/new',
    ]);
    const m = await merge(repo, [one, two, three]);
    expect(await catFile(rp, m, '/usr/share/back')).toBe('v3');
    // Without the third layer, the whiteout wins.
    expect((await listCommit(rp, await merge(repo, [one, two]))).has('/usr/share/back')).toBe(false);
  });

  it('a name that changes kind between layers: a file replaces a directory (whited out or not); a directory over a file is refused, naming the layer', async () => {
    const { path: rp, repo } = await cliRepo();
    const dir = await layer(repo, [{ name: 'usr/share/x/inside', data: 'in a dir' }]);
    for (const file of [
      await layer(repo, [{ name: 'usr/share/.wh.x', data: '' }, { name: 'usr/share/x', data: 'now a file' }]),
      await layer(repo, [{ name: 'usr/share/x', data: 'now a file' }]),
    ]) {
      const m = await merge(repo, [dir, file]);
      expect(await catFile(rp, m, '/usr/share/x')).toBe('now a file');
      expect((await listCommit(rp, m)).has('/usr/share/x/inside')).toBe(false);
    }
    // A directory over a file: libostree's union checkout (upstream's too) refused it until
    // ostreedev/ostree#3214 ("checkout: Always replace existing content", 2024); since then the
    // directory replaces the file, as overlayfs would.
    const file = await layer(repo, [{ name: 'usr/share/x', data: 'a file first' }]);
    if (native().ostreeCheckVersion(2024, 5)) {
      const m = await merge(repo, [file, dir]);
      expect(await catFile(rp, m, '/usr/share/x/inside')).toBe('in a dir');
    } else {
      await expect(merge(repo, [file, dir])).rejects.toMatchObject({
        message: `Checking out layer ${dir}: opendir(x): Not a directory`,
        code: 'ENOTDIR',
      });
    }
    expect(await repoTmpLeftovers(rp)).toEqual([]);
  });
});
