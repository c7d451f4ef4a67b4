// Derived layers (store spec §3): the in-process job against the spec's vectors and upstream's
// tests, with the ostree CLI as the independent checker (and as the reference importer).
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { ostreeCli } from '../../src/fixture/index.js';
import { importDerivedLayer, normalizeLayerPath } from '../../src/store/derived.js';
import { catFile, cliRepo, fifoPipe, fileChecksum, fixture, listCommit, repoTmpLeftovers, TAR, tempFile, upstreamCommit, VERSION } from './store-util.js';
import { type LayerEntry, layerTar } from '../helpers/tar.js';
import { cleanupTmp, fsck, repoSnapshot } from './tar-util.js';

afterAll(cleanupTmp);

const GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('path normalisation (spec §3.2 vectors)', () => {
  const remapDefault = {};
  const nonusr = { allowNonusr: true };
  it('keeps, remaps and filters as upstream in both modes', () => {
    const valid: [string, string][] = [
      ['/usr/bin/blah', './usr/bin/blah'],
      ['usr/bin/blah', './usr/bin/blah'],
      ['usr///share/.//blah', './usr/share/blah'],
      ['var/lib/blah', './usr/share/factory/var/lib/blah'],
      ['./var/lib/blah', './usr/share/factory/var/lib/blah'],
      ['dev', './dev'],
      ['/proc', './proc'],
      ['./', '.'],
      ['etc/foo', './usr/etc/foo'],
    ];
    for (const [input, out] of valid) {
      expect(normalizeLayerPath(input, remapDefault), input).toEqual({ path: out });
      expect(normalizeLayerPath(input, nonusr), input).toEqual({ path: out });
    }
    for (const [input, out] of [
      ['boot', './boot'],
      ['opt/puppet/blah', './opt/puppet/blah'],
    ]) {
      expect(normalizeLayerPath(input!, remapDefault)).toHaveProperty('filtered');
      expect(normalizeLayerPath(input!, nonusr)).toEqual({ path: out });
    }
    expect(normalizeLayerPath('/run/blah')).toEqual({ filtered: 'blah' });
    expect(normalizeLayerPath('/sys/foo')).toEqual({ filtered: 'foo' });
    expect(normalizeLayerPath('/dev/somedev')).toEqual({ filtered: 'somedev' });
    expect(normalizeLayerPath('opt/x')).toEqual({ filtered: 'opt' });
    expect(normalizeLayerPath('.wh.opt')).toEqual({ filtered: '.wh.opt' });
    // Filtered before the walk reaches `..`: upstream returns at the first deciding component.
    expect(normalizeLayerPath('opt/../usr')).toEqual({ filtered: 'opt' });
    expect(normalizeLayerPath('var/lib/foo', { allowNonusr: true, retainVar: true })).toEqual({ path: './var/lib/foo' });
    for (const cfg of [remapDefault, nonusr]) {
      expect(() => normalizeLayerPath('usr/foo/../../bar', cfg)).toThrow('Invalid path: usr/foo/../../bar');
      expect(() => normalizeLayerPath('/usr/..', cfg)).toThrow('Invalid path: usr/..');
    }
  });
});

describe('importDerivedLayer', () => {
  it('test_tar_write: etc is remapped, var moved to the factory, run content filtered', async () => {
    const { path: rp, repo } = await cliRepo();
    const tar = await layerTar([
      { name: './etc/', type: 'directory' },
      { name: './etc/someconfig.conf', data: 'some config' },
      { name: './var/', type: 'directory' },
      { name: './var/log/', type: 'directory' },
      { name: './var/log/foo.log', data: 'foolog' },
      { name: './var/log/bar.log', data: 'barlog' },
      { name: './run/', type: 'directory' },
      { name: './run/somefile', data: 'somestate' },
    ]);
    const file = await tempFile(tar);
    const r = await importDerivedLayer(repo, file, { mediaType: TAR, importerVersion: VERSION, ref: 'test' });
    expect(r.filtered).toEqual({ somefile: 1 });
    expect(r.diffId).toBe(sha256(tar));
    expect(r.digest).toBe(sha256(tar));
    expect(r.size).toBe(tar.length);
    expect(r.uncompressedSize).toBe(tar.length);
    expect(await repo.resolveRev('test')).toBe(r.commit);
    const ls = await listCommit(rp, 'test');
    expect(await catFile(rp, 'test', '/usr/etc/someconfig.conf')).toBe('some config');
    expect(await catFile(rp, 'test', '/usr/share/factory/var/log/foo.log')).toBe('foolog');
    expect(ls.has('/run')).toBe(true);
    expect(ls.has('/run/somefile')).toBe(false);
    expect(ls.has('/etc')).toBe(false);
    expect(ls.has('/var')).toBe(false);
    // Commit metadata: only the importer version; no parent, no subject or body, no bindings.
    const info = await repo.loadCommit(r.commit);
    expect([...info.metadata.keys()]).toEqual(['ostree.importer.version']);
    expect(info.metadata.get('ostree.importer.version')).toEqual({ type: 's', value: VERSION });
    expect(info.parent).toBeNull();
    expect(info.subject).toBe('');
    expect(info.body).toBe('');
    expect(Math.abs(info.timestamp - Date.now() / 1000)).toBeLessThan(600);

    // retainVar keeps /var where it is (libostree ≥ 2024.3 semantics).
    const kept = await importDerivedLayer(repo, file, { mediaType: TAR, importerVersion: VERSION, retainVar: true });
    expect(await catFile(rp, kept.commit, '/var/log/bar.log')).toBe('barlog');
    await fsck(rp);
    expect(await repoTmpLeftovers(rp)).toEqual([]);
  });

  it('tar_filter: a top-level file outside usr is dropped and counted; allowNonusr keeps it', async () => {
    const { path: rp, repo } = await cliRepo();
    const file = await tempFile(
      await layerTar([
        { name: 'etc/systemd/system/foo.service', data: 'fooservice' },
        { name: 'blah', data: 'blah' },
        { name: 'opt/a', data: 'a' },
        { name: 'opt/b', data: 'b' },
      ]),
    );
    const strict = await importDerivedLayer(repo, file, { mediaType: TAR, importerVersion: VERSION });
    expect(strict.filtered).toEqual({ blah: 1, opt: 2 });
    expect(Object.keys(strict.filtered)).toEqual(['blah', 'opt']);
    expect(await catFile(rp, strict.commit, '/usr/etc/systemd/system/foo.service')).toBe('fooservice');
    // Parents missing from the tar are created 0/0/0755.
    expect((await listCommit(rp, strict.commit)).get('/usr/etc/systemd')).toMatch(/^d00755 0 0 /);
    const loose = await importDerivedLayer(repo, file, { mediaType: TAR, importerVersion: VERSION, allowNonusr: true });
    expect(loose.filtered).toEqual({});
    expect(await catFile(rp, loose.commit, '/blah')).toBe('blah');
    expect(await catFile(rp, loose.commit, '/opt/b')).toBe('b');
  });

  it('test_tar_write_tar_layer: the hlinks fixture (spec §3.6) with the stronger checks', async () => {
    const { path: rp, repo } = await cliRepo();
    const plain = gunzipSync(await readFile(fixture('hlinks.tar.gz')));
    const r = await importDerivedLayer(repo, await tempFile(plain), { mediaType: TAR, importerVersion: VERSION, ref: 'test' });
    expect(r.filtered).toEqual({});
    const dir = '/usr/lib/python3.10/site-packages/setuptools/_distutils/command/__pycache__';
    const a = await fileChecksum(rp, 'test', `${dir}/register.cpython-310.opt-1.pyc`);
    const b = await fileChecksum(rp, 'test', `${dir}/register.cpython-310.pyc`);
    expect(a).toBe('cf567346f6557bb2009fefb20dab55db7e9d884f7e31473842988e4d6bddd7f2');
    expect(b).toBe(a);
    const ls = await listCommit(rp, 'test');
    expect(ls.get(`${dir}/register.cpython-310.pyc`)).toMatch(/^-00644 1000 1000\s+8640 /);
    const links = [...ls.entries()].filter(([p, l]) => p.startsWith('/usr/lib/.build-id/') && l.startsWith('l'));
    expect(links).toHaveLength(90);
    expect(ls.get('/usr/lib')).toMatch(/^d00755 1000 1000 /);

    // The same tar through `ostree commit` gives the same commit (same timestamp and metadata).
    const ts = 1_700_000_000;
    const ours = await importDerivedLayer(repo, await tempFile(plain), { mediaType: GZIP.replace('+gzip', ''), importerVersion: VERSION, timestamp: ts });
    const theirs = await upstreamCommit(rp, await tempFile(plain), ts);
    expect(ours.commit).toBe(theirs);
    await fsck(rp);
  });

  it('equals `ostree commit` of the same filtered tar: xattrs, hardlinks, symlinks, long names, owners, modes', async () => {
    const { path: rp, repo } = await cliRepo();
    const long = `usr/share/${'d'.repeat(120)}/${'f'.repeat(150)}`;
    const entries: LayerEntry[] = [
      { name: './', type: 'directory', mode: 0o755 },
      { name: './usr/', type: 'directory', mode: 0o755 },
      { name: './usr/bin/', type: 'directory', mode: 0o750, uid: 7, gid: 8 },
      { name: './usr/bin/tool', data: 'tool', mode: 0o4755, pax: { 'SCHILY.xattr.user.foo': 'bar' } },
      { name: './usr/bin/tool2', type: 'link', linkname: './usr/bin/tool' },
      { name: './usr/bin/sh', type: 'symlink', linkname: '../../some/where/ünïcode' },
      { name: `./${long}`, data: 'long', uid: 1000, gid: 1001, mode: 0o600 },
      { name: './usr/lib/empty', data: '' },
      { name: './usr/lib/empty-link', type: 'link', linkname: './usr/lib/empty' },
      { name: './usr/etc/', type: 'directory', mode: 0o700, pax: { 'SCHILY.xattr.user.dir': 'x' } },
    ];
    const tar = await layerTar(entries);
    const ts = 1_600_000_000;
    const ours = await importDerivedLayer(repo, await tempFile(tar), { mediaType: TAR, importerVersion: VERSION, timestamp: ts });
    const theirs = await upstreamCommit(rp, await tempFile(tar), ts);
    expect(ours.commit).toBe(theirs);
    expect(ours.filtered).toEqual({});
    const x = await ostreeCli(rp, ['ls', '-X', ours.commit, '/usr/bin/tool']);
    expect(x).toContain("'user.foo', [byte 0x62, 0x61, 0x72]");
    expect(await fileChecksum(rp, ours.commit, '/usr/bin/tool2')).toBe(await fileChecksum(rp, ours.commit, '/usr/bin/tool'));
    const ls = await listCommit(rp, ours.commit);
    expect(ls.get('/usr/bin/sh')).toContain('-> ../../some/where/ünïcode');
    expect(ls.get('/usr/bin')).toMatch(/^d00750 7 8 /);
    expect(ls.get('/usr/bin/tool')).toMatch(/^-04755 0 0 /);
    expect(ls.get(`/${long}`)).toMatch(/^-00600 1000 1001 /);
  });

  it('identical empty files (imported as hardlinks to one): the commit `ostree commit` makes, in every order', async () => {
    const { path: rp, repo } = await cliRepo();
    const kinds: Partial<LayerEntry>[] = [{}, { mode: 0o600 }, { uid: 7, gid: 8 }, { pax: { 'SCHILY.xattr.user.a': 'b' } }, { mode: 0o4755, uid: 1 }];
    const entries: LayerEntry[] = [{ name: 'usr/', type: 'directory' }, { name: 'usr/share/', type: 'directory' }];
    for (let i = 0; i < 300; i++) entries.push({ name: `usr/share/e${i}`, data: '', ...kinds[i % kinds.length] });
    entries.push(
      { name: 'usr/share/e0', data: 'the first one replaced' },
      { name: 'usr/share/e5', data: '' , mode: 0o600 },
      { name: 'usr/share/e10', type: 'symlink', linkname: 'e11' },
      { name: 'usr/share/l1', type: 'link', linkname: 'usr/share/e20' },
      { name: 'usr/share/e25', type: 'link', linkname: 'usr/share/e1' },
      { name: 'usr/share/e30', data: 'now with data' },
      { name: 'usr/share/new/e', data: '' },
      { name: 'usr/share/l2', type: 'link', linkname: 'usr/share/later' },
      { name: 'usr/share/later', data: '' },
      { name: 'usr/share/e40', data: '', pax: { 'SCHILY.xattr.user.a': 'b', mtime: '5' } },
    );
    const tar = await layerTar(entries);
    const ts = 1_600_000_000;
    const ours = await importDerivedLayer(repo, await tempFile(tar), { mediaType: TAR, importerVersion: VERSION, timestamp: ts });
    const theirs = await upstreamCommit(rp, await tempFile(tar), ts);
    expect(ours.commit).toBe(theirs);
    expect(await catFile(rp, ours.commit, '/usr/share/e0')).toBe('the first one replaced');
    expect(await catFile(rp, ours.commit, '/usr/share/e30')).toBe('now with data');
    expect(await catFile(rp, ours.commit, '/usr/share/e299')).toBe('');
    await fsck(rp);
  });

  it('gzip, zstd and plain inputs commit the same tree; digests are of the blob as read', async () => {
    const { path: rp, repo } = await cliRepo();
    const tar = await layerTar([{ name: 'usr/bin/x', data: 'x'.repeat(100_000) }]);
    const gz = gzipSync(tar);
    const ts = 1;
    const plain = await importDerivedLayer(repo, await tempFile(tar), { mediaType: TAR, importerVersion: VERSION, timestamp: ts });
    const gzr = await importDerivedLayer(repo, await tempFile(gz), { mediaType: GZIP, importerVersion: VERSION, timestamp: ts });
    expect(gzr.commit).toBe(plain.commit);
    expect(gzr.diffId).toBe(sha256(tar));
    expect(gzr.digest).toBe(sha256(gz));
    expect(gzr.size).toBe(gz.length);
    expect(gzr.uncompressedSize).toBe(tar.length);
    const { execFileSync } = await import('node:child_process');
    const zst = execFileSync('zstd', ['-q', '-c'], { input: tar });
    const zr = await importDerivedLayer(repo, await tempFile(zst), { mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', importerVersion: VERSION, timestamp: ts });
    expect(zr.commit).toBe(plain.commit);
    expect(zr.digest).toBe(sha256(zst));
    const docker = await importDerivedLayer(repo, await tempFile(gz), { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', importerVersion: VERSION, timestamp: ts });
    expect(docker.commit).toBe(plain.commit);
    await fsck(rp);
  });

  it('etc hardlinks (test_container_etc_hardlinked_*): targets follow etc to usr/etc; store-path links are dropped', async () => {
    for (const abs of [false, true]) {
      const { path: rp, repo } = await cliRepo();
      const store = `${abs ? '/' : ''}sysroot/ostree/repo/objects/b3/2cc1c5bc9b0c5d8e5e4b7a7f0de4f1f4d2b1f7a0e1c3d5f7b9a1c3e5f7a9b1c3.file`;
      const tar = await layerTar([
        { name: 'etc/foo', data: 'foo' },
        { name: 'etc/bar', type: 'link', linkname: 'etc/foo' },
        { name: 'etc/dnf.conf', data: 'dnf' },
        { name: store, type: 'link', linkname: 'etc/dnf.conf', mtime: 42 },
      ]);
      const r = await importDerivedLayer(repo, await tempFile(tar), { mediaType: TAR, importerVersion: VERSION });
      expect(await fileChecksum(rp, r.commit, '/usr/etc/bar')).toBe(await fileChecksum(rp, r.commit, '/usr/etc/foo'));
      expect(await catFile(rp, r.commit, '/usr/etc/dnf.conf')).toBe('dnf');
      expect(r.filtered).toEqual({ sysroot: 1 });
      expect((await listCommit(rp, r.commit)).has('/sysroot')).toBe(false);
    }
  });

  it('var hardlinks: the target is remapped with the file (upstream QUIRK fixed)', async () => {
    const { path: rp, repo } = await cliRepo();
    const tar = await layerTar([
      { name: 'var/lib/a', data: 'var data' },
      { name: 'var/lib/b', type: 'link', linkname: '/var/lib/a' },
    ]);
    const file = await tempFile(tar);
    const r = await importDerivedLayer(repo, file, { mediaType: TAR, importerVersion: VERSION });
    const dir = '/usr/share/factory/var/lib';
    expect(await fileChecksum(rp, r.commit, `${dir}/b`)).toBe(await fileChecksum(rp, r.commit, `${dir}/a`));
    const kept = await importDerivedLayer(repo, file, { mediaType: TAR, importerVersion: VERSION, retainVar: true, allowNonusr: true });
    expect(await catFile(rp, kept.commit, '/var/lib/b')).toBe('var data');
  });

  it('hardlinks into the object store (test_container_write_derive_sysroot_hardlink)', async () => {
    const { path: rp, repo } = await cliRepo();
    const obj = 'sysroot/ostree/repo/objects/07/3a9ab2c8b1ad5d2c1fd9b1a7d3e3ad7a3d5b6c7e8f9a0b1c2d3e4f5a6b7c8d9e.file';
    const tar = await layerTar([
      { name: 'sysroot/', type: 'directory' },
      { name: obj, data: 'hello', mtime: 1_700_000_000, mode: 0o755, pax: { 'SCHILY.xattr.user.cap': 'x' } },
      { name: 'usr/bin/bash', type: 'link', linkname: obj, mtime: 1_700_000_000 },
      { name: 'usr/bin/bash-hardlinked', type: 'link', linkname: obj, mtime: 1_700_000_000 },
      // An unknown modified object: the link is dropped.
      { name: 'usr/bin/gone', type: 'link', linkname: obj.replace('07/3a', '08/3a'), mtime: 5 },
    ]);
    const r = await importDerivedLayer(repo, await tempFile(tar), { mediaType: TAR, importerVersion: VERSION });
    expect(await catFile(rp, r.commit, '/usr/bin/bash')).toBe('hello');
    expect(await catFile(rp, r.commit, '/usr/bin/bash-hardlinked')).toBe('hello');
    expect(await fileChecksum(rp, r.commit, '/usr/bin/bash-hardlinked')).toBe(await fileChecksum(rp, r.commit, '/usr/bin/bash'));
    const ls = await listCommit(rp, r.commit, { xattrs: true });
    expect(ls.get('/usr/bin/bash')).toMatch(/^-00755 /);
    expect(ls.get('/usr/bin/bash')).toContain("'user.cap'");
    expect(ls.has('/usr/bin/gone')).toBe(false);
    expect(ls.has('/sysroot')).toBe(false);
    expect(r.filtered).toEqual({ sysroot: 1 });
    await fsck(rp);
    expect(await repoTmpLeftovers(rp)).toEqual([]);
  });

  it('whiteouts stay plain entries (applied by the merge); a top-level whiteout is filtered', async () => {
    const { path: rp, repo } = await cliRepo();
    const tar = await layerTar([
      { name: 'usr/share/.wh.gone', data: '' },
      { name: 'usr/lib/opaque/.wh..wh..opq', data: '' },
      { name: '.wh.opt', data: '' },
    ]);
    const r = await importDerivedLayer(repo, await tempFile(tar), { mediaType: TAR, importerVersion: VERSION });
    const ls = await listCommit(rp, r.commit);
    expect(ls.has('/usr/share/.wh.gone')).toBe(true);
    expect(ls.has('/usr/lib/opaque/.wh..wh..opq')).toBe(true);
    expect(r.filtered).toEqual({ '.wh.opt': 1 });
  });

  it('reads a pipe as a skopeo blob would arrive (gzip, written while the job runs)', async () => {
    const { path: rp, repo } = await cliRepo();
    const { randomBytes } = await import('node:crypto');
    const files = Array.from({ length: 200 }, (_, i) => ({ name: `usr/share/f${i}`, data: randomBytes(5000) }));
    const tar = await layerTar(files);
    const gz = gzipSync(tar, { level: 1 });
    const p = await fifoPipe();
    try {
      const seen: number[] = [];
      const job = importDerivedLayer(repo, p.readFd, {
        mediaType: GZIP,
        importerVersion: VERSION,
        ref: 'piped',
        onProgress: (n) => seen.push(n),
        progressIntervalMs: 10,
      });
      for (let off = 0; off < gz.length; off += 65536) {
        await new Promise((r) => setTimeout(r, 5));
        p.write(gz.subarray(off, off + 65536));
      }
      p.closeWrite();
      const r = await job;
      expect(r.digest).toBe(sha256(gz));
      expect(r.diffId).toBe(sha256(tar));
      expect(await fileChecksum(rp, 'piped', '/usr/share/f199')).toMatch(/^[0-9a-f]{64}$/);
      expect((await listCommit(rp, 'piped')).get('/usr/share/f199')).toMatch(/^-00644 0 0\s+5000 /);
      // Bytes read of the blob as it arrived: increasing, several steps, ending at its size.
      expect(seen.length).toBeGreaterThan(2);
      expect([...seen].sort((x, y) => x - y)).toEqual(seen);
      expect(seen.at(-1)).toBe(gz.length);
      expect(Math.max(...seen)).toBeLessThanOrEqual(gz.length);
    } finally {
      p.close();
    }
  });

  it('an empty layer commits an empty root', async () => {
    const { path: rp, repo } = await cliRepo();
    const r = await importDerivedLayer(repo, await tempFile(Buffer.alloc(1024)), { mediaType: TAR, importerVersion: VERSION });
    const ls = await listCommit(rp, r.commit);
    expect([...ls.keys()]).toEqual(['/']);
    expect(ls.get('/')).toMatch(/^d00755 0 0 /);
  });

  it('SELinux from a base without a policy labels nothing and does not fail', async () => {
    const { path: rp, repo } = await cliRepo();
    const base = await importDerivedLayer(repo, await tempFile(await layerTar([{ name: 'usr/bin/a', data: 'a' }])), { mediaType: TAR, importerVersion: VERSION });
    const r = await importDerivedLayer(repo, await tempFile(await layerTar([{ name: 'usr/bin/b', data: 'b' }])), {
      mediaType: TAR,
      importerVersion: VERSION,
      base: base.commit,
      selinux: true,
    });
    expect(await ostreeCli(rp, ['ls', '-X', r.commit, '/usr/bin/b'])).toContain('@a(ayay) []');
    expect(await repoTmpLeftovers(rp)).toEqual([]);
  });
});

describe('importDerivedLayer: transactions', () => {
  it("'caller' writes inside the caller's transaction (ref included); checks instead of crashing", async () => {
    const { path: rp, repo } = await cliRepo();
    const file = await tempFile(await layerTar([{ name: 'usr/bin/x', data: 'x' }]));
    const opts = { mediaType: TAR, importerVersion: VERSION, ref: 'blob/x', transaction: 'caller' as const };
    // No transaction open: a clear error (libostree would abort the process on the ref).
    await expect(importDerivedLayer(repo, file, opts)).rejects.toThrow("importDerivedLayer (transaction 'caller'): no transaction is open");
    expect(() => repo.transactionSetRef('x', null)).toThrow('no transaction is open');

    await repo.prepareTransaction();
    await expect(importDerivedLayer(repo, file, { ...opts, transaction: 'own' })).rejects.toThrow("importDerivedLayer (transaction 'own'): another transaction is in progress");
    await importDerivedLayer(repo, file, opts);
    await repo.abortTransaction();
    expect(await repo.resolveRev('blob/x', { allowNoent: true })).toBeNull();

    await repo.prepareTransaction();
    const [a, b] = await Promise.all([
      importDerivedLayer(repo, file, opts),
      importDerivedLayer(repo, await tempFile(await layerTar([{ name: 'usr/bin/y', data: 'y' }])), { ...opts, ref: 'blob/y' }),
    ]);
    await repo.commitTransaction();
    expect(await repo.resolveRev('blob/x')).toBe(a.commit);
    expect(await repo.resolveRev('blob/y')).toBe(b.commit);
    await fsck(rp);
  });
});

describe('importDerivedLayer: bad input loses nothing', () => {
  async function expectNothingWritten(rp: string, before: string[]): Promise<void> {
    expect(await repoSnapshot(rp)).toEqual(before);
    expect(await repoTmpLeftovers(rp)).toEqual([]);
    await fsck(rp);
  }

  it('an input that is neither a file descriptor nor a path is refused by name, before any work', async () => {
    const { path: rp, repo } = await cliRepo();
    const before = await repoSnapshot(rp);
    const opts = { mediaType: TAR, importerVersion: VERSION };
    for (const bad of [-1, 1.5, '']) {
      await expect(importDerivedLayer(repo, bad, opts)).rejects.toThrow(new TypeError('input must be a file descriptor or a path'));
    }
    await expectNothingWritten(rp, before);
  });

  it('`..` → Invalid path; corrupt gzip; unknown media type; bad hardlinks; abort', async () => {
    const { path: rp, repo } = await cliRepo();
    const before = await repoSnapshot(rp);
    const opts = { mediaType: TAR, importerVersion: VERSION, ref: 'test' };
    const dotdot = await layerTar([{ name: 'usr/a', data: 'a'.repeat(300_000) }, { name: 'usr/foo/../../bar', data: 'x' }]);
    await expect(importDerivedLayer(repo, await tempFile(dotdot), opts)).rejects.toThrow(/^Invalid path: usr\/foo\/\.\.\/\.\.\/bar$/);
    await expectNothingWritten(rp, before);

    const gz = gzipSync(await layerTar([{ name: 'usr/a', data: 'a'.repeat(300_000) }]));
    gz[gz.length - 6] = gz[gz.length - 6]! ^ 0xff; // CRC
    await expect(importDerivedLayer(repo, await tempFile(gz), { ...opts, mediaType: GZIP })).rejects.toThrow(/gzip|crc|CRC|checksum/i);
    await expectNothingWritten(rp, before);
    const cut = gzipSync(await layerTar([{ name: 'usr/a', data: Buffer.alloc(500_000, 7) }])).subarray(0, 300);
    await expect(importDerivedLayer(repo, await tempFile(cut), { ...opts, mediaType: GZIP })).rejects.toThrow('Decompressing gzip: unexpected end of stream (truncated layer?)');
    await expectNothingWritten(rp, before);

    await expect(importDerivedLayer(repo, await tempFile(gz), { ...opts, mediaType: 'application/x-foo' })).rejects.toThrow('Unhandled layer type: application/x-foo');

    for (const [bad, error] of [
      [[{ name: 'usr/a', type: 'link' as const, linkname: 'usr/../../etc/shadow' }], 'Invalid hardlink target: usr/../../etc/shadow'],
      [[{ name: 'usr/a', type: 'link' as const, linkname: 'usr/missing' }], 'Hardlink ./usr/a: target usr/missing is not a file in the layer'],
      [[{ name: 'usr/d', type: 'directory' as const }, { name: 'usr/a', type: 'link' as const, linkname: 'usr/d' }], 'Hardlink ./usr/a: target usr/d is a directory'],
      [[{ name: 'usr/f', data: 'f' }, { name: 'usr/f/g', data: 'g' }], 'Invalid layer: ./usr/f/g is below the non-directory usr/f'],
      [[{ name: 'usr/f', data: 'f' }, { name: 'usr/f', type: 'directory' as const }], 'Invalid layer: ./usr/f is both a directory and a non-directory'],
      [[{ name: 'usr/dev', type: 'character-device' as const }], 'Unsupported file type for path "usr/dev"'],
    ] as [LayerEntry[], string][]) {
      await expect(importDerivedLayer(repo, await tempFile(await layerTar(bad)), opts), JSON.stringify(bad)).rejects.toThrow(error);
      await expectNothingWritten(rp, before);
    }

    // libostree refuses an entry while the blob has not ended (its tar has, then 300 KB of padding
    // arrive and the download stalls with the pipe open): the job still settles, with
    // libostree's error, instead of waiting for the rest of a blob it no longer needs.
    const open = await fifoPipe();
    try {
      const t0 = Date.now();
      const job = importDerivedLayer(repo, open.readFd, opts);
      open.write(Buffer.concat([await layerTar([{ name: 'usr/a', data: 'a' }, { name: 'usr/dev', type: 'character-device' }]), Buffer.alloc(300_000)]));
      await expect(job).rejects.toThrow(/Unsupported file type/);
      expect(Date.now() - t0).toBeLessThan(30_000);
    } finally {
      open.close();
    }
    await expectNothingWritten(rp, before);

    // Aborted while waiting on a pipe that never ends.
    const p = await fifoPipe();
    try {
      p.write((await layerTar([{ name: 'usr/a', data: 'a' }])).subarray(0, 1024));
      const ac = new AbortController();
      const job = importDerivedLayer(repo, p.readFd, { ...opts, signal: ac.signal });
      setTimeout(() => ac.abort(), 300);
      await expect(job).rejects.toThrow(/cancel/i);
    } finally {
      p.close();
    }
    await expectNothingWritten(rp, before);
    expect(await repo.resolveRev('test', { allowNoent: true })).toBeNull();
  });
});
