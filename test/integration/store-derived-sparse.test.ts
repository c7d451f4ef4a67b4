// GNU sparse files in derived layers (issue 18): GNU tar's own output in its four sparse formats
// (PAX 1.0, the default with --sparse --format=pax; PAX 0.0 and 0.1; old GNU type `S`) is
// expanded into the real files, byte for byte what GNU tar extracts, and commits what
// `ostree commit --tree=tar=` (libarchive, upstream's importer) makes of the same tar where
// libarchive gets it right (it fails on a file of holes only, and Debian 12's on some files of
// many extents: those are left out of that comparison). Malformed
// maps are refused with the reason, losing nothing; the ostree-format importer refuses sparse
// files (that format never has them).
import { execFileSync } from 'node:child_process';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importDerivedLayer } from '../../src/store/derived.js';
import { importTar } from '../../src/tar/import.js';
import { cliRepo, listCommit, repoTmpLeftovers, TAR, upstreamCommit, VERSION } from './store-util.js';
import { buildTar, cleanupTmp, entry, fixChecksum, fsck, gnuHeader, openRepo, paxExt, paxRecords, repoSnapshot, tmpdir } from './tar-util.js';

afterAll(cleanupTmp);

/** Sparse files as a user makes them: holes by truncate and seek, data in a few places. */
async function sparseTree(dir: string): Promise<Record<string, Buffer>> {
  const files: Record<string, [number, [number, string][]]> = {
    'usr/share/sparse': [1024 * 1024, [[3 * 4096, 'A'.repeat(5000)], [700_000, 'B'.repeat(10)]]],
    'usr/share/hole-at-end': [3 * 1024 * 1024, [[0, 'C'.repeat(100)]]],
    'usr/share/only-holes': [65_536, []],
    'usr/share/hole-first': [65_536, [[32_768, 'E'.repeat(10)]]],
    'usr/share/many-extents': [2 * 1024 * 1024, Array.from({ length: 40 }, (_, i): [number, string] => [i * 50_000 + 4096, `extent ${i}`])],
    'usr/lib/not-sparse': [10_000, [[0, 'D'.repeat(10_000)]]],
  };
  const out: Record<string, Buffer> = {};
  for (const [name, [size, writes]] of Object.entries(files)) {
    const p = path.join(dir, name);
    await mkdir(path.dirname(p), { recursive: true });
    const f = await open(p, 'w');
    for (const [at, text] of writes) await f.write(text, at);
    await f.truncate(size);
    await f.close();
    out[`/${name}`] = await readFile(p);
  }
  return out;
}

const FORMATS: [string, string[]][] = [
  ['PAX 1.0 (tar --sparse --format=pax)', ['--format=pax']],
  ['PAX 0.0', ['--format=pax', '--sparse-version=0.0']],
  ['PAX 0.1', ['--format=pax', '--sparse-version=0.1']],
  ['old GNU S (--format=gnu)', ['--format=gnu']],
];

describe('derived layers: GNU sparse files', () => {
  let src: string;
  let expected: Record<string, Buffer>;
  beforeAll(async () => {
    src = path.join(await tmpdir('sparse-'), 'src');
    expected = await sparseTree(src);
  });

  it.each(FORMATS)('%s: expanded byte for byte as GNU tar extracts it, the commit `ostree commit` makes', async (_name, args) => {
    const dir = await tmpdir('sparse-');
    const layer = path.join(dir, 'layer.tar');
    execFileSync('tar', ['--sparse', ...args, '--owner=0', '--group=0', '--mtime=@0', '-C', src, '-cf', layer, 'usr']);
    // GNU tar stored the files sparse (the layer is far smaller than their sizes).
    expect((await readFile(layer)).length).toBeLessThan(400_000);
    const out = path.join(dir, 'extracted');
    await mkdir(out);
    execFileSync('tar', ['-C', out, '-xf', layer]);

    const { path: rp, repo } = await cliRepo();
    const ts = 1_700_000_000;
    const ours = await importDerivedLayer(repo, layer, { mediaType: TAR, importerVersion: VERSION, timestamp: ts });
    const ls = await listCommit(rp, ours.commit);
    expect([...ls.keys()].filter((p) => p.includes('GNUSparseFile'))).toEqual([]);
    for (const [p, data] of Object.entries(expected)) {
      const gnu = await readFile(path.join(out, p));
      expect(gnu.equals(data), `GNU tar extracts ${p}`).toBe(true);
      const committed = execFileSync('ostree', ['cat', `--repo=${rp}`, ours.commit, p], { maxBuffer: 16 << 20 });
      expect(committed.length, p).toBe(gnu.length);
      expect(committed.equals(gnu), p).toBe(true);
    }
    await fsck(rp);

    const few = path.join(dir, 'upstream-expands.tar');
    const fewFiles = ['usr/share/sparse', 'usr/share/hole-at-end', 'usr/share/hole-first', 'usr/lib/not-sparse'];
    execFileSync('tar', ['--sparse', ...args, '--owner=0', '--group=0', '--mtime=@0', '-C', src, '-cf', few, ...fewFiles]);
    const mine = await importDerivedLayer(repo, few, { mediaType: TAR, importerVersion: VERSION, timestamp: ts });
    const theirs = await upstreamCommit(rp, few, ts);
    expect(mine.commit).toBe(theirs);
  });

  it('every format commits the same tree', async () => {
    const { repo } = await cliRepo();
    const commits = new Set<string>();
    for (const [, args] of FORMATS) {
      const layer = path.join(await tmpdir('sparse-'), 'layer.tar');
      execFileSync('tar', ['--sparse', ...args, '--owner=0', '--group=0', '--mtime=@0', '-C', src, '-cf', layer, 'usr']);
      commits.add((await importDerivedLayer(repo, layer, { mediaType: TAR, importerVersion: VERSION, timestamp: 1 })).commit);
    }
    expect(commits.size).toBe(1);
  });

  it('malformed sparse entries are refused with the reason; nothing is written', async () => {
    const { path: rp, repo } = await cliRepo();
    const before = await repoSnapshot(rp);
    const v1 = (map: string, data: Buffer, realsize: string, major = '1') => ({
      ...entry('usr/GNUSparseFile.7/f', Buffer.concat([Buffer.from(map.padEnd(512, '\0')), data])),
      ext: paxExt(paxRecords([['GNU.sparse.major', major], ['GNU.sparse.minor', '0'], ['GNU.sparse.name', 'usr/f'], ['GNU.sparse.realsize', realsize]])),
    });
    const v0 = (records: [string, string][], data: string) => ({ ...entry('usr/f', data), ext: paxExt(paxRecords(records)) });
    const cases: [string, ReturnType<typeof entry>, RegExp][] = [
      ['extents out of order', v1('2\n4096\n512\n0\n512\n', Buffer.alloc(1024, 1), '8192'), /\(PAX 1\.0\) at offset \d+: extents overlap or are out of order$/],
      ['extent past the real size', v1('1\n8000\n512\n', Buffer.alloc(512, 1), '8192'), /: an extent ends beyond the real size 8192$/],
      ['map names more data than stored', v1('1\n0\n4096\n', Buffer.alloc(512, 1), '8192'), /: the map names 4096 bytes of data but the entry stores 512$/],
      ['map cut short', { ...entry('usr/GNUSparseFile.7/f', Buffer.from('3\n0\n')), ext: paxExt(paxRecords([['GNU.sparse.major', '1'], ['GNU.sparse.minor', '0'], ['GNU.sparse.realsize', '10']])) }, /: the map is cut short$/],
      ['map not numbers', v1('1\n0x10\n512\n', Buffer.alloc(512, 1), '8192'), /: the map is not decimal numbers on lines$/],
      ['unknown version', v1('0\n', Buffer.alloc(0), '0', '2'), /^Invalid GNU sparse file usr\/f \(PAX 1\.0\) at offset \d+: unsupported version 2\.0$/],
      ['0.1 odd map', v0([['GNU.sparse.size', '100'], ['GNU.sparse.map', '0,10,50']], 'x'.repeat(10)), /\(PAX 0\.1\) at offset \d+: an odd number of map entries$/],
      ['0.0 offset without numbytes', v0([['GNU.sparse.size', '100'], ['GNU.sparse.offset', '0']], ''), /\(PAX 0\.0\) at offset \d+: an offset without its numbytes$/],
      ['0.0 numblocks wrong', v0([['GNU.sparse.size', '100'], ['GNU.sparse.numblocks', '2'], ['GNU.sparse.offset', '0'], ['GNU.sparse.numbytes', '10']], 'x'.repeat(10)), /: GNU\.sparse\.numblocks is 2 but the map has 1 extents$/],
      ['unknown record', v0([['GNU.sparse.size', '100'], ['GNU.sparse.frobnicate', '1']], ''), /^Invalid GNU sparse records at offset \d+: unexpected GNU\.sparse\.frobnicate$/],
      ['sparse records on a directory', { ...entry('usr/d/', '', { type: '5' }), ext: paxExt(paxRecords([['GNU.sparse.size', '0'], ['GNU.sparse.map', '0,0']])) }, /: sparse records on a Directory entry$/],
    ];
    // An old GNU header whose map says 4096 bytes of data while the entry stores 512.
    const old = gnuHeader({ name: 'usr/old', type: 'S', size: 512 });
    old.write('00000000000\0', 386, 'latin1');
    old.write('00000010000\0', 398, 'latin1');
    old.write('00000020000\0', 483, 'latin1');
    fixChecksum(old);
    cases.push(['old GNU map against its data', { ...entry('usr/old', Buffer.alloc(512, 1)), header: old }, /^Invalid GNU sparse file usr\/old \(old GNU\) at offset \d+: the map names 4096 bytes of data but the entry stores 512$/]);
    for (const [name, e, error] of cases) {
      const layer = path.join(await tmpdir('sparse-'), 'layer.tar');
      await writeFile(layer, buildTar([entry('usr/a', 'a'.repeat(100_000)), e]));
      await expect(importDerivedLayer(repo, layer, { mediaType: TAR, importerVersion: VERSION, ref: 'x' }), name).rejects.toThrow(error);
      expect(await repoSnapshot(rp), name).toEqual(before);
      expect(await repoTmpLeftovers(rp)).toEqual([]);
    }
  });

  it('the ostree-format importer refuses a sparse file instead of storing its map', async () => {
    const layer = path.join(await tmpdir('sparse-'), 'layer.tar');
    execFileSync('tar', ['--sparse', '--format=pax', '--owner=0', '--group=0', '--mtime=@0', '-C', src, '-cf', layer, 'usr']);
    const { path: rp } = await cliRepo();
    const before = await repoSnapshot(rp);
    await expect(importTar(await openRepo(rp), layer)).rejects.toThrow(
      /^Importing commit: Unsupported GNU sparse file usr\/share\/[a-z-]+ \(PAX 1\.0\) at offset \d+: sparse files are not part of this tar format$/,
    );
    expect(await repoSnapshot(rp)).toEqual(before);
  });
});
