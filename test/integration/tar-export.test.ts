// Tar export (spec §1) of the example OS and of a tree with long names and a large file, checked
// with independent readers: GNU tar extracts it, `ostree fsck` checks the embedded
// bare-split-xattrs repo, gzip/zstd CLIs decompress it.
import { constants as fsc } from 'node:fs';
import { mkdir, open, readdir, readFile, rm, stat, writeFile, symlink, link } from 'node:fs/promises';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { gunzipSync, inflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMIT_V0, CONTENTS_CHECKSUM_V0, TESTREF, cliShowCommit, ostreeCli, type ExampleOs } from '../../src/fixture/index.js';
import { Chunking, Repo, tar } from '../../src/index.js';
import {
  cleanupTmp, execFileP, exampleOs, fsck, openRepo, parseTar, sha256File, tmpdir, OBJ, objPath, type RawEntry,
} from './tar-util.js';

const ARPING = 'b048a4f451e9fdfaaec911c1fe07d5d1d39be02f932b827c25458d3b15ae589e';
const EMPTY = '21270f911f1a1db58379515e0dcfa8309d8904ce278280861db236ea7001346e';
const PKGDB = '790c7e29372cd7d6c26b67a0c92647c060a6ba5a61e20113034c9affc2d85ae5';
const HARDLINK = '75535ce3946cbb9a33fe840d37c77ac760276ac13e50fe49b672c6c162024dd5';

let fx: ExampleOs;
let repo: object;
let work: string;
beforeAll(async () => {
  fx = await exampleOs();
  repo = await openRepo(fx.repoPath);
  work = await tmpdir('tar-export-');
});
afterAll(cleanupTmp);

async function fullExport(name: string, compression: tar.LayerCompression = 'none') {
  const out = path.join(work, name);
  const r = await tar.exportCommit(repo, TESTREF, out, { compression });
  return { out, r };
}

describe('full export of the example OS', () => {
  let out: string;
  let entries: RawEntry[];
  let result: tar.LayerResult;
  beforeAll(async () => {
    ({ out, r: result } = await fullExport('full.tar'));
    entries = parseTar(await readFile(out));
  });

  it('reports the commit, digests and sizes of the blob', async () => {
    const hex = await sha256File(out);
    expect(result).toEqual({
      commit: COMMIT_V0,
      diffId: `sha256:${hex}`,
      digest: `sha256:${hex}`,
      size: (await stat(out)).size,
      uncompressedSize: (await stat(out)).size,
      mediaType: 'application/vnd.oci.image.layer.v1.tar',
    });
  });

  it('follows the prelude order of spec §1.4.1', () => {
    const names = entries.map((e) => e.name);
    expect(names[0]).toBe('./');
    expect(names.slice(1, 5)).toEqual(['sysroot', 'sysroot/ostree', 'sysroot/ostree/repo', 'sysroot/ostree/repo/objects']);
    expect(names[5]).toBe(`${OBJ}00`);
    expect(names[260]).toBe(`${OBJ}ff`);
    expect(names.slice(261, 269)).toEqual(
      ['extensions', 'refs', 'refs/heads', 'refs/mirrors', 'refs/remotes', 'state', 'tmp', 'tmp/cache'].map((d) => `sysroot/ostree/repo/${d}`),
    );
    expect(names[269]).toBe('sysroot/ostree/repo/config');
    expect(entries[269]!.data.toString()).toBe('[core]\nrepo_version=1\nmode=bare-split-xattrs\n');
    expect(names[270]).toBe(`${OBJ}61/6069c200463abca9c1d3adc65b948f1f1d3ddd42bc2c8ea3308535a0e44c24.commit`);
    expect(names[271]).toBe(`${OBJ}61/6069c200463abca9c1d3adc65b948f1f1d3ddd42bc2c8ea3308535a0e44c24.commitmeta`);
    expect(names[272]).toBe(`${OBJ}60/a960ec9a1b088a76c8e465c0876a4841ab32ea609dcbab76a02aeed0f11839.dirmeta`);
    expect(names[273]).toBe(`${OBJ}7c/dc830f88e37bc9516624cb275a2998b990ffe4fb15a6fac4c7245b68b1461a.dirtree`);
    expect(names.at(-1)).toBe('var/tmp');
    expect(new Set(names).size).toBe(names.length);
  });

  it('encodes headers like tar-rs (GNU magic, mtime 0, octal + NUL, 7-digit checksum)', () => {
    for (const e of entries) {
      const h = e.header;
      expect(h.subarray(257, 265).toString('latin1')).toBe('ustar  \0');
      expect(h.subarray(136, 148).toString('latin1')).toBe('00000000000\0');
      expect(h[155]).toBe(0);
      expect(h.subarray(100, 108).toString('latin1')).toMatch(/^[0-7]{7}\0$/);
      expect(h.subarray(265, 512).every((c) => c === 0)).toBe(true);
    }
    const root = entries[0]!;
    expect(root.header.subarray(100, 108).toString()).toBe('0000755\0');
    // tar-rs never clears a name field: the first OS path of an object comes from the object's
    // header and keeps its name past the path's NUL; later paths of it in the walk start blank.
    const field = (under: string, over: string) => Buffer.concat([Buffer.from(`${over}\0`), Buffer.from(under.slice(over.length + 1)), Buffer.alloc(100)]).subarray(0, 100);
    const name = (n: string) => entries.find((e) => e.name === n)!.header.subarray(0, 100);
    expect(name('usr/bin/hardlink-a')).toEqual(field(objPath(HARDLINK, 'file'), 'usr/bin/hardlink-a'));
    expect(name('usr/bin/hardlink-b')).toEqual(field('', 'usr/bin/hardlink-b'));
    expect(name('usr/lib/emptyfile')).toEqual(field(objPath(EMPTY, 'file'), 'usr/lib/emptyfile'));
  });

  it('has the entries of upstream test_tar_export_structure', () => {
    const byName = new Map(entries.map((e) => [e.name, e]));
    const want: [string, string, number][] = [
      ['sysroot/ostree/repo', '5', 0o755],
      [`${OBJ}00`, '5', 0o755],
      [`${OBJ}23`, '5', 0o755],
      [`${OBJ}bc`, '5', 0o755],
      ['sysroot/ostree/repo/tmp/cache', '5', 0o755],
      ['sysroot/ostree/repo/config', '0', 0o644],
      ['boot', '5', 0o755],
      ['usr', '5', 0o755],
      ['usr/lib/emptyfile', '0', 0o644],
      ['usr/lib64/emptyfile2', '0', 0o644],
      ['usr/bin/bash', '1', 0o755],
      ['usr/bin/hardlink-a', '1', 0o644],
      ['usr/bin/hardlink-b', '1', 0o644],
      ['var/tmp', '5', 0o1777],
      [`${OBJ}b0/48a4f451e9fdfaaec911c1fe07d5d1d39be02f932b827c25458d3b15ae589e.file`, '0', 0o755],
      ['usr/lib/pkgdb/pkgdb', '1', 0o644],
      ['usr/lib/sysimage/pkgdb', '1', 0o644],
    ];
    for (const [name, type, mode] of want) {
      const e = byName.get(name);
      expect(e, name).toBeDefined();
      expect([name, e!.type, parseInt(e!.header.subarray(100, 108).toString(), 8)]).toEqual([name, type, mode]);
    }
    // /usr/etc is written as etc; no usr/etc path
    expect(byName.get('etc')?.type).toBe('5');
    expect(byName.get('etc/polkit.conf')?.type).toBe('1');
    expect([...byName.keys()].some((n) => n.startsWith('usr/etc'))).toBe(false);
  });

  it('writes each object\'s xattrs in its .file-xattrs-link file, and the PAX capability record (spec §1.8)', () => {
    const i = entries.findIndex((e) => e.name === objPath(ARPING, 'file'));
    const obj = entries[i]!;
    expect(obj.ext.subarray(0, 512).subarray(257, 265).toString('latin1')).toBe('ustar\x0000');
    expect(obj.ext.subarray(512, 512 + 67).toString('latin1')).toBe('67 SCHILY.xattr.security.capability=0sAAAAAgAgAAAAAAAAAAAAAAAAAAA=\n');
    // Upstream since 2025: a regular file per object, no hardlinks to a shared .file-xattrs.
    const link = entries[i - 1]!;
    expect(link.name).toBe(`${OBJ}b0/48a4f451e9fdfaaec911c1fe07d5d1d39be02f932b827c25458d3b15ae589e.file-xattrs-link`);
    expect([link.type, link.linkname, link.data.length]).toEqual(['0', '', 97]);
    expect(createHash('sha256').update(link.data).digest('hex')).toBe('709747743f0b846d0968d305942bfbc7129d5522a47fc30518e7356edacfe7f8');
    expect(entries.filter((e) => e.name.endsWith('.file-xattrs'))).toEqual([]);
    const links = entries.filter((e) => e.name.endsWith('.file-xattrs-link'));
    expect(links.length).toBe(entries.filter((e) => e.name.endsWith('.file')).length);
    expect(links.every((e) => e.type === '0')).toBe(true);
    // usr_t labels only in the xattrs files, not as PAX records
    expect(entries.filter((e) => e.pax.size > 0).map((e) => e.name)).toEqual([obj.name]);
    // empty objects get plain empty files at their OS paths, others hardlinks
    expect(entries.filter((e) => e.name === objPath(EMPTY, 'file')).length).toBe(1);
    expect(entries.find((e) => e.name === 'usr/lib/emptyfile')!.linkname).toBe('');
    expect(entries.filter((e) => e.name === objPath(PKGDB, 'file')).length).toBe(1);
    expect(entries.find((e) => e.name === 'usr/bin/arping')!.linkname).toBe(obj.name);
    expect(entries.find((e) => e.name === `${OBJ}a9/1bf662a5b2669d1391270c10d916e2135b4cd9b0faa18dccf76f50712e739b.file`)!.linkname)
      .toBe('var/opt');
  });

  it('extracts with GNU tar into a repo that ostree fsck accepts (bare-split-xattrs)', async () => {
    const dest = path.join(work, 'extract');
    await mkdir(dest);
    await execFileP('tar', ['-C', dest, '--xattrs', '-xf', out]);
    const r = path.join(dest, 'sysroot/ostree/repo');
    expect(await fsck(r)).toMatch(/no errors found/);
    expect((await cliShowCommit(r, COMMIT_V0)).contentChecksum).toBe(CONTENTS_CHECKSUM_V0);
    expect(await readFile(path.join(dest, 'usr/bin/bash'), 'utf8')).toBe('the-bash-shell');
    expect(await readFile(path.join(dest, 'etc/someconfig.conf'), 'utf8')).toBe('someconfig');
    expect((await stat(path.join(dest, 'var/tmp'))).mode & 0o7777).toBe(0o1777);
    const detached = await ostreeCli(r, ['show', '--print-detached-metadata-key=my-detached-key', COMMIT_V0]);
    expect(detached.trim()).toBe("'my-detached-value'");
  });

  it('is byte-identical across runs, codecs agree on the diff_id, thread count does not matter', async () => {
    const again = await fullExport('full2.tar');
    expect(await sha256File(again.out)).toBe(await sha256File(out));
    for (const c of ['gzip', 'gzip-fast', 'zstd'] as const) {
      const a = path.join(work, `a.${c}`);
      const b = path.join(work, `b.${c}`);
      const [ra] = await tar.exportLayers(repo, [{ kind: 'full', rev: TESTREF, output: a, compression: c }], { threads: 1 });
      const [rb] = await tar.exportLayers(repo, [{ kind: 'full', rev: TESTREF, output: b, compression: c }], { threads: 2 });
      expect(ra!.diffId).toBe(result.diffId);
      expect(rb).toEqual(ra);
      expect(await sha256File(a)).toBe(ra!.digest.slice(7));
      expect(await sha256File(b)).toBe(ra!.digest.slice(7));
    }
    // independent decompressors
    const gz = await readFile(path.join(work, 'a.gzip'));
    expect(gz.subarray(0, 10)).toEqual(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]));
    expect(gunzipSync(gz).equals(await readFile(out))).toBe(true);
    expect((await readFile(path.join(work, 'a.gzip-fast')))[8]).toBe(4);
    const { stdout } = await execFileP('sh', ['-c', `zstd -dc ${path.join(work, 'a.zstd')} | sha256sum`]);
    expect(`sha256:${stdout.split(' ')[0]}`).toBe(result.diffId);
  });
});

describe('layers', () => {
  it('writes chunk and commit layers in parallel, each self-contained, identical to sequential output', async () => {
    const all = new Map<string, string[]>();
    for (const line of (await ostreeCli(fx.repoPath, ['ls', '-RC', TESTREF])).trim().split('\n')) {
      const m = /^([-l])\S+ \d+ \d+ +\d+ ([0-9a-f]{64}) (\S+)/.exec(line);
      if (m) all.set(m[2]!, [...(all.get(m[2]!) ?? []), m[3]!]);
    }
    const objects = [...all].map(([checksum, paths]) => ({ checksum, paths }));
    const chunk1 = objects.filter((o) => o.paths.some((p) => p.startsWith('/usr/bin/')));
    const rest = objects.filter((o) => !chunk1.includes(o));
    const specs = (dir: string): tar.LayerSpec[] => [
      { kind: 'chunk', objects: chunk1, output: path.join(dir, 'c1'), compression: 'gzip' },
      { kind: 'chunk', objects: [], output: path.join(dir, 'c2'), compression: 'zstd' },
      { kind: 'commit', rev: TESTREF, objects: rest, output: path.join(dir, 'commit'), compression: 'gzip' },
    ];
    const d1 = await tmpdir();
    const d2 = await tmpdir();
    const par = await tar.exportLayers(repo, specs(d1));
    const seq = await tar.exportLayers(repo, specs(d2), { parallel: 1 });
    expect(par).toEqual(seq);
    expect(par[2]!.commit).toBe(COMMIT_V0);
    expect(par[1]!.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+zstd');

    const c1 = parseTar(gunzipSync(await readFile(path.join(d1, 'c1'))));
    expect(c1[0]!.name).toBe('sysroot');
    expect(c1.some((e) => e.name.endsWith('.commit') || e.name.endsWith('.dirtree'))).toBe(false);
    const objNames = c1.filter((e) => e.name.endsWith('.file')).map((e) => e.name);
    expect(objNames).toEqual([...objNames].sort());
    expect(c1.find((e) => e.name === 'usr/bin/hardlink-b')?.type).toBe('1');
    const commitLayer = parseTar(gunzipSync(await readFile(path.join(d1, 'commit'))));
    const firstFile = commitLayer.findIndex((e) => e.name.endsWith('.file'));
    const varTmp = commitLayer.findIndex((e) => e.name === 'var/tmp');
    // structure-only walk, var/tmp, then the remainder objects with their paths
    expect(firstFile).toBeGreaterThan(varTmp);
    expect(commitLayer.find((e) => e.name === 'usr/lib/pkgdb/pkgdb')?.type).toBe('1');
    expect(commitLayer.some((e) => e.name === 'usr/bin/bash')).toBe(false);
    expect(commitLayer.find((e) => e.name === 'etc/polkit.conf')?.type).toBe('1');
    // every object carries its own xattrs, whichever layer it is in
    for (const layer of [c1, commitLayer]) {
      const files = layer.filter((e) => e.name.endsWith('.file')).map((e) => e.name.replace(/\.file$/, '.file-xattrs-link'));
      expect(layer.filter((e) => e.name.endsWith('.file-xattrs-link') && e.type === '0').map((e) => e.name)).toEqual(files);
    }
  });

  it('assign: the exporter places objects by checksum with their tree paths, as explicit lists would', async () => {
    // explicit lists as encapsulate built them before: the JS tree walk, paths in walk order
    const walk = await Chunking.create(await Repo.open(fx.repoPath), COMMIT_V0);
    const all = [...walk.remainder.content].map(([checksum, o]) => ({ checksum, paths: o.paths }));
    const inBin = (o: { paths: string[] }) => o.paths[0]!.startsWith('/usr/bin/');
    const chunk1 = all.filter(inBin);
    const rest = all.filter((o) => !inBin(o));
    const explicit = (dir: string): tar.LayerSpec[] => [
      { kind: 'chunk', objects: chunk1, output: path.join(dir, 'c1'), compression: 'gzip' },
      { kind: 'chunk', objects: [], output: path.join(dir, 'c2'), compression: 'zstd' },
      { kind: 'commit', rev: TESTREF, objects: rest, output: path.join(dir, 'commit'), compression: 'gzip' },
    ];
    const bare = (dir: string) => explicit(dir).map(({ objects: _, ...l }) => l as tar.LayerSpec);
    const raw = (objs: { checksum: string }[]) => Buffer.concat(objs.map((o) => Buffer.from(o.checksum, 'hex')));
    const want = await tar.exportLayers(repo, explicit(await tmpdir()), { parallel: 1 });
    const listed = [...rest, ...chunk1]; // any order
    const everyObject = await tar.exportLayers(repo, bare(await tmpdir()), {
      assign: { rev: TESTREF, checksums: raw(listed), layers: Uint32Array.from(listed, (o) => (inBin(o) ? 0 : 2)) },
    });
    expect(everyObject).toEqual(want);
    const byDefault = await tar.exportLayers(repo, bare(await tmpdir()), {
      // objects the tree lacks are ignored
      assign: { rev: TESTREF, checksums: raw([...chunk1, { checksum: 'e'.repeat(64) }]), layers: new Uint32Array(chunk1.length + 1), defaultLayer: 2 },
    });
    expect(byDefault).toEqual(want);
    // a checksum listed twice (its paths split) is written once, as if listed once with both
    const linked = chunk1.find((o) => o.paths.length > 1)!;
    const split = chunk1.flatMap((o) => (o === linked ? o.paths.map((p) => ({ checksum: o.checksum, paths: [p] })) : [o]));
    const splitDir = await tmpdir();
    const [bySplit] = await tar.exportLayers(repo, [{ kind: 'chunk', objects: split, output: path.join(splitDir, 'c1'), compression: 'gzip' }]);
    expect(bySplit).toEqual(want[0]);

    // tree objects nobody takes: an error before any layer is written
    const d = await tmpdir();
    const first = [...rest].sort((a, b) => (a.checksum < b.checksum ? -1 : 1))[0]!;
    await expect(
      tar.exportLayers(repo, bare(d), { assign: { rev: TESTREF, checksums: raw(chunk1), layers: new Uint32Array(chunk1.length) } }),
    ).rejects.toThrow(
      `Content mapping does not cover ${rest.length} content object(s) of the commit, e.g. ${first.checksum} (${first.paths[0]})`,
    );
    expect(await readdir(d)).toEqual([]);

    const bad = (assign: unknown, layers = bare(d)) => tar.exportLayers(repo, layers, { assign: assign as tar.ObjectAssignment });
    const one = { rev: TESTREF, checksums: raw(chunk1.slice(0, 1)), layers: new Uint32Array(1) };
    await expect(bad({ ...one, checksums: [1, 2] })).rejects.toThrow(/^assign\.checksums must be a Uint8Array$/);
    await expect(bad({ ...one, layers: [0] })).rejects.toThrow(/^assign\.layers must be a Uint32Array$/);
    await expect(bad({ ...one, checksums: new Uint8Array(31) })).rejects.toThrow(/^assign\.checksums must hold 32 bytes per entry of assign\.layers$/);
    await expect(bad({ ...one, layers: Uint32Array.of(3) })).rejects.toThrow(/^assign\.layers must be the index of a commit or chunk layer$/);
    await expect(bad({ ...one, defaultLayer: 0 }, explicit(d))).rejects.toThrow(/^assign\.layers: layers\[0\] has its own objects$/);
    await expect(bad({ ...one, defaultLayer: 0 }, [{ kind: 'full', rev: TESTREF, output: path.join(d, 'f') }])).rejects.toThrow(
      /^assign\.layers must be the index of a commit or chunk layer$/,
    );
    await expect(bad({ ...one, rev: undefined })).rejects.toThrow(/^assign\.rev is required$/);
    expect(await readdir(d)).toEqual([]);
  });

  it('layers share compressors (threads, zstd contexts) without changing the bytes of any layer', async () => {
    const d = await tmpdir();
    const spec = (name: string, compression: tar.LayerCompression, kind: 'full' | 'commit' = 'full'): tar.LayerSpec => ({
      kind, rev: TESTREF, output: path.join(d, name), compression,
    });
    const alone = await Promise.all(
      (['zstd', 'gzip'] as const).map(async (c) => (await tar.exportLayers(repo, [spec(`alone-${c}`, c)]))[0]!.digest),
    );
    // one thread writes the layers in turn, each reusing what the previous one left
    const run = await tar.exportLayers(
      repo,
      [spec('z1', 'zstd'), spec('g1', 'gzip'), spec('zc', 'zstd', 'commit'), spec('z2', 'zstd'), spec('gc', 'gzip', 'commit'), spec('g2', 'gzip')],
      { parallel: 1, threads: 2 },
    );
    expect([run[0]!.digest, run[1]!.digest, run[3]!.digest, run[5]!.digest]).toEqual([alone[0], alone[1], alone[0], alone[1]]);
  });

  it('removes the output file and reports the error when a layer fails', async () => {
    const d = await tmpdir();
    const bad = 'f'.repeat(64);
    await expect(
      tar.exportLayers(repo, [
        { kind: 'chunk', objects: [{ checksum: bad, paths: ['/x'] }], output: path.join(d, 'bad') },
        { kind: 'full', rev: 'no/such/ref', output: path.join(d, 'bad2') },
      ]),
    ).rejects.toThrow(/Couldn't find file object 'f{64}'|Refspec 'no\/such\/ref' not found/);
    await expect(stat(path.join(d, 'bad'))).rejects.toThrow(/ENOENT/);
    await expect(stat(path.join(d, 'bad2'))).rejects.toThrow(/ENOENT/);
    await expect(tar.exportCommit(repo, 'no/such/ref', path.join(d, 'x'))).rejects.toThrow(/Refspec 'no\/such\/ref' not found/);
    // the first failure stops the layers not yet started; none leaves a file behind
    const many: tar.LayerSpec[] = [
      { kind: 'chunk', objects: [{ checksum: bad, paths: ['/x'] }], output: path.join(d, 'm0') },
      ...[1, 2, 3].map((i): tar.LayerSpec => ({ kind: 'full', rev: TESTREF, output: path.join(d, `m${i}`), compression: 'gzip' })),
    ];
    await expect(tar.exportLayers(repo, many, { parallel: 1 })).rejects.toThrow(/Couldn't find file object 'f{64}'/);
    for (const i of [0, 1, 2, 3]) await expect(stat(path.join(d, `m${i}`))).rejects.toThrow(/ENOENT/);
    await expect(tar.exportLayers(repo, [{ kind: 'chunk', objects: [], output: path.join(d, 'y'), compression: 'lz4' as never }]))
      .rejects.toThrow(/Unknown compression 'lz4'/);
  });

  it('writes into a pipe, and an abort ends an export whose reader stalls', async () => {
    const d = await tmpdir();
    const fifo = path.join(d, 'fifo');
    await execFileP('mkfifo', [fifo]);
    // a reading end that drains the pipe: the bytes equal a file export
    const reader = await open(fifo, fsc.O_RDONLY | fsc.O_NONBLOCK);
    const writer = await open(fifo, fsc.O_WRONLY);
    const chunks: Buffer[] = [];
    const drain = (async () => {
      const buf = Buffer.alloc(1 << 16);
      for (;;) {
        try {
          const { bytesRead } = await reader.read(buf, 0, buf.length, null);
          if (bytesRead === 0) break;
          chunks.push(Buffer.from(buf.subarray(0, bytesRead)));
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    })();
    const piped = await tar.exportCommit(repo, TESTREF, writer.fd, { compression: 'gzip' });
    await writer.close(); // the reader then sees EOF
    await drain;
    await reader.close();
    const [file] = await tar.exportLayers(repo, [{ kind: 'full', rev: TESTREF, output: path.join(d, 'f.gz'), compression: 'gzip' }]);
    expect(piped).toEqual(file);
    expect(Buffer.concat(chunks).equals(await readFile(path.join(d, 'f.gz')))).toBe(true);
    // nobody reads: the pipe fills up, and only the abort ends the export
    const stalled = await open(fifo, fsc.O_RDWR);
    try {
      const ac = new AbortController();
      const p = tar.exportCommit(repo, TESTREF, stalled.fd, { signal: ac.signal });
      await new Promise((r) => setTimeout(r, 300));
      ac.abort();
      await expect(p).rejects.toThrow(/Operation was cancelled/);
    } finally {
      await stalled.close();
    }
  });

  it('stops on abort and removes the partial file', async () => {
    const d = await tmpdir();
    const ac = new AbortController();
    ac.abort();
    await expect(tar.exportCommit(repo, TESTREF, path.join(d, 'x'), { signal: ac.signal })).rejects.toThrow(/abort/i);
    await expect(stat(path.join(d, 'x'))).rejects.toThrow(/ENOENT/);
  });
});

describe('a tree with long names, hardlinks and a large file', () => {
  it('round-trips through GNU tar and ostree fsck; names > 100 bytes use GNU L entries', async () => {
    const d = await tmpdir();
    const tree = path.join(d, 'tree');
    const long = `usr/share/${'x'.repeat(120)}/${'y'.repeat(40)}`;
    await mkdir(path.join(tree, path.dirname(long)), { recursive: true });
    await mkdir(path.join(tree, 'usr/etc'), { recursive: true });
    await writeFile(path.join(tree, long), 'long');
    await writeFile(path.join(tree, 'usr/share/big'), Buffer.alloc(3 << 20, 7));
    // mixed content over several 1 MiB gzip blocks
    const mixed = Array.from({ length: 256 }, (_, i) => (i % 3 ? randomBytes(4096) : Buffer.from(`line ${i} `.repeat(400))));
    await writeFile(path.join(tree, 'usr/share/mixed'), Buffer.concat(mixed));
    // incompressible: stored deflate blocks across 1 MiB gzip block boundaries
    await writeFile(path.join(tree, 'usr/share/random'), randomBytes(5 << 19));
    await link(path.join(tree, 'usr/share/big'), path.join(tree, 'usr/share/big2'));
    await symlink(`../${'t'.repeat(150)}`, path.join(tree, 'usr/share/longlink'));
    // long names whose first 100 bytes end in a `.` component or inside a UTF-8 character
    const dotCut = `usr/share/${'d'.repeat(88)}/.hidden-${'h'.repeat(20)}`;
    const utf8Cut = `usr/share/${'e'.repeat(89)}\u00e9-${'u'.repeat(20)}`;
    await mkdir(path.join(tree, path.dirname(dotCut)));
    await writeFile(path.join(tree, dotCut), 'dot');
    await writeFile(path.join(tree, utf8Cut), 'utf8');
    await writeFile(path.join(tree, 'usr/etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
    // the commit's own (empty, as in real OS commits) /sysroot is not walked: the skeleton provides
    // it, and other empty dirs carry the empty dirtree (spec §1.4.2 QUIRK)
    await mkdir(path.join(tree, 'sysroot'));
    await mkdir(path.join(tree, 'boot'));
    await mkdir(path.join(tree, 'usr/share/empty'));
    const r = path.join(d, 'repo');
    await ostreeCli(r, ['init', '--mode=bare-user']);
    // uid/gid ≥ 2097152 do not fit 7 octal digits: GNU base-256
    const commit = (
      await ostreeCli(r, ['commit', '-b', 'long', '--no-xattrs', '--owner-uid=3000000', '--owner-gid=3000001', `--tree=dir=${tree}`])
    ).trim();
    const out = path.join(d, 'long.tar');
    await tar.exportCommit(await openRepo(r), 'long', out);
    const entries = parseTar(await readFile(out));
    const e = entries.find((x) => x.name === long)!;
    expect(e.ext.subarray(0, 13).toString()).toBe('././@LongLink');
    expect(e.header.subarray(0, 100).toString()).toBe(long.slice(0, 100));
    // The field of a long name or target holds what tar-rs leaves there (spec §1.10): a name is
    // re-copied component by component from its first 100 bytes (cut back to whole UTF-8
    // characters; a trailing `.` component dropped), a target keeps the components that fit.
    const nameField = (n: string) => entries.find((x) => x.name === Buffer.from(n).toString('latin1'))!.header.subarray(0, 100);
    expect(nameField(dotCut)).toEqual(Buffer.from(`${dotCut.slice(0, 98)}\0\0`));
    expect(nameField(utf8Cut)).toEqual(Buffer.concat([Buffer.from(utf8Cut).subarray(0, 99), Buffer.alloc(1)]));
    const sym = entries.find((x) => x.linkname === `../${'t'.repeat(150)}`)!;
    expect(sym.type).toBe('2');
    expect(sym.ext.subarray(156, 157).toString()).toBe('K');
    expect(sym.header.subarray(157, 257)).toEqual(Buffer.concat([Buffer.from('../'), Buffer.alloc(97)]));
    expect(sym.header.subarray(108, 116)).toEqual(Buffer.from([0x80, 0, 0, 0, 0, 0x2d, 0xc6, 0xc0]));
    expect(sym.header.subarray(116, 124)).toEqual(Buffer.from([0x80, 0, 0, 0, 0, 0x2d, 0xc6, 0xc1]));
    expect(entries.filter((x) => x.name === 'sysroot').length).toBe(1);
    // and back: the reader takes base-256 numbers
    const back = path.join(d, 'back');
    await ostreeCli(back, ['init', '--mode=bare-user']);
    expect((await tar.importTar(await openRepo(back), out)).commit).toBe(commit);
    expect(await ostreeCli(back, ['ls', commit, '/usr/share/big'])).toMatch(/^-00644 3000000 3000001 +3145728 \/usr\/share\/big/);
    expect(await fsck(back)).toMatch(/no errors found/);
    // gzip: one member (upstream's reader stops after the first), same bytes for any thread count
    const [g1] = await tar.exportLayers(await openRepo(r), [{ kind: 'full', rev: 'long', output: path.join(d, 'g1'), compression: 'gzip' }], { threads: 1 });
    const [g2] = await tar.exportLayers(await openRepo(r), [{ kind: 'full', rev: 'long', output: path.join(d, 'g2'), compression: 'gzip' }], { threads: 2 });
    expect(g2).toEqual(g1);
    const gz = await readFile(path.join(d, 'g1'));
    expect(inflateRawSync(gz.subarray(10, -8)).equals(await readFile(out))).toBe(true);
    expect(gz.readUInt32LE(gz.length - 4)).toBe(g1!.uncompressedSize % 2 ** 32);
    // gzip as upstream writes it: the system zlib in one stream (what Python's zlib module, also
    // the system's, writes), the same diff_id; zlib takes levels 1-9 only, and only for gzip.
    const [z] = await tar.exportLayers(await openRepo(r), [{ kind: 'full', rev: 'long', output: path.join(d, 'z'), compression: 'gzip', zlib: true }]);
    expect(z!.diffId).toBe(g1!.diffId);
    const zb = await readFile(path.join(d, 'z'));
    expect(zb.subarray(0, 10)).toEqual(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]));
    const py = 'import sys, zlib\nc = zlib.compressobj(6, zlib.DEFLATED, -15, 8, 0)\nd = open(sys.argv[1], "rb").read()\nsys.stdout.write((c.compress(d) + c.flush()).hex())';
    const { stdout: deflated } = await execFileP('python3', ['-c', py, out], { maxBuffer: 64 << 20 });
    expect(zb.subarray(10, -8).equals(Buffer.from(deflated, 'hex'))).toBe(true);
    expect(gunzipSync(zb).equals(await readFile(out))).toBe(true);
    const zlibSpec = (o: object) => tar.exportLayers(repo, [{ kind: 'full', rev: TESTREF, output: path.join(d, 'bad'), ...o } as tar.LayerSpec]);
    await expect(zlibSpec({ compression: 'gzip', zlib: true, level: 10 })).rejects.toThrow('layers[0].level must be an integer from 1 to 9 for gzip');
    await expect(zlibSpec({ compression: 'zstd', zlib: true })).rejects.toThrow('layers[0].zlib must be a boolean, true only for gzip');
    const x = path.join(d, 'x');
    await mkdir(x);
    await execFileP('tar', ['-C', x, '-xf', out]);
    expect(await fsck(path.join(x, 'sysroot/ostree/repo'))).toMatch(/no errors found/);
    expect((await ostreeCli(path.join(x, 'sysroot/ostree/repo'), ['rev-parse', commit])).trim()).toBe(commit);
    expect(await readFile(path.join(x, long), 'utf8')).toBe('long');
    expect(await readFile(path.join(x, dotCut), 'utf8')).toBe('dot');
    expect(await readFile(path.join(x, utf8Cut), 'utf8')).toBe('utf8');
    expect((await stat(path.join(x, 'usr/share/big'))).ino).toBe((await stat(path.join(x, 'usr/share/big2'))).ino);
    expect(await readFile(path.join(x, 'etc/passwd'), 'utf8')).toMatch(/^root/);
    await rm(x, { recursive: true });
  });
});
