// Behaviours of the native derived-layer filter (native/store/filter.cc) no other test pinned:
// entry types it does not handle (and old spellings of a regular file), empty link targets, non-UTF-8 names (each refused naming the
// entry, the repository untouched), which PAX records reach libostree, and v7 (pre-POSIX) headers.
// Crafted byte by byte where tar-stream would not write such an entry.
import { afterAll, describe, expect, it } from 'vitest';
import { importDerivedLayer } from '../../src/store/derived.js';
import { layerTar } from '../helpers/tar.js';
import { cliRepo, listCommit, catFile, repoTmpLeftovers, TAR, tempFile, VERSION } from './store-util.js';
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
