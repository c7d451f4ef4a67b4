// Resource bounds of the derived-layer import (issue 18): hostile layers of at most a few MB,
// each built to cost memory or time (a 150 KB path of 75,000 components, deep paths, 2 MiB of
// PAX records on each of 400 object-store files, hardlinks with long paths, many directories, a
// million entries, 100,000 hardlinks to one file, a sparse file of holes), imported one after the
// other in a child process that measures its peak RSS (VmHWM, reset before each) above its size
// before the import. Each fails with the error naming its limit, stays under the bound, ends in
// seconds and leaves the repo as it was; layers within the limits import under the same bounds
// (400,000 empty files; 400 entries with 2 MiB of dropped PAX records each).
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { importDerivedLayer } from '../../src/store/derived.js';
import { runNativeChild } from '../helpers/native-child.js';
import { cliRepo, repoTmpLeftovers, TAR, tempFile } from './store-util.js';
import { layerTar } from '../helpers/tar.js';
import { buildTar, cleanupTmp, entry, execFileP, fsck, paxExt, paxRecords, repoSnapshot, tmpdir, withMtime } from './tar-util.js';

afterAll(cleanupTmp);

const GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
const MiB = 1024 * 1024;
// Run under scripts/test-asan.sh (not in its default list: the derived fuzz harnesses check these
// bounds under ASan), the child's RSS holds ASan's shadow, redzones and 256 MiB quarantine, which
// multiply libostree's small allocations: the bound there only catches runaway growth.
const ASAN = !!process.env.OSTREE_CONTAINER_ASAN;
const MAX_GROWTH = (ASAN ? 1024 : 128) * MiB;
const MAX_SECONDS = ASAN ? 300 : 60;

/** A gzip member; a layer is members concatenated (big repeated parts are compressed once). */
const gz = (data: Buffer) => gzipSync(data, { level: 9 });
const END = Buffer.alloc(1024);
const tarOf = (e: Parameters<typeof buildTar>[0]) => buildTar(e).subarray(0, -1024);
const objectPath = (i: number) => `sysroot/ostree/repo/objects/${(i % 256).toString(16).padStart(2, '0')}/${i.toString(16).padStart(62, '0')}.file`;

interface Layer {
  name: string;
  mediaType: string;
  data: Buffer;
  /** The error it fails with, or null when it imports. */
  error: RegExp | null;
}

function hostileLayers(): Layer[] {
  const longPath = 'usr/' + 'a/'.repeat(75_000);
  const bigPax = gz(paxExt(paxRecords([['SCHILY.xattr.user.big', Buffer.alloc(MiB - 2048, 0x79)]])));
  const deepDir = 'usr/' + `${'n'.repeat(200)}/`.repeat(19);
  return [
    {
      name: '150 KB path of 75,000 components',
      mediaType: GZIP,
      data: gz(buildTar([entry(longPath, 'x')])),
      error: new RegExp(`^Tar entry at offset \\d+: path of ${longPath.length} bytes exceeds the limit of 4096 bytes: usr/a/a/a/a/a/a`),
    },
    {
      name: 'path 302 names deep',
      mediaType: TAR,
      data: buildTar([entry('usr/' + 'a/'.repeat(300) + 'f', 'x')]),
      error: /^Tar entry at offset \d+: path 302 names deep exceeds the limit of 256: usr\/a\/a\//,
    },
    {
      name: 'path of 1102 components',
      mediaType: TAR,
      data: buildTar([entry('usr/' + './'.repeat(1100) + 'f', 'x')]),
      error: /^Tar entry at offset \d+: path with 1102 components exceeds the limit of 1024: usr\/\.\/\.\//,
    },
    {
      name: 'hardlink target of 5000 bytes',
      mediaType: TAR,
      data: buildTar([entry('usr/f', 'x'), entry('usr/l', '', { type: '1', linkname: 'usr/' + 'b'.repeat(4996) })]),
      error: /^Tar entry at offset \d+: hardlink target of 5000 bytes exceeds the limit of 4096 bytes: usr\/bbbb/,
    },
    {
      name: '400 object-store files with 2 MiB of PAX records each, parked for hardlinks',
      mediaType: GZIP,
      data: Buffer.concat([...Array.from({ length: 400 }, (_, i) => [bigPax, bigPax, gz(tarOf([withMtime(entry(objectPath(i), 'o'), 5)]))]).flat(), gz(END)]),
      error: /^Layer has more than 64 MiB of headers and PAX records on object-store files waiting for a hardlink \(at sysroot\/ostree\/repo\/objects\//,
    },
    {
      name: '30,000 hardlinks with 4000-byte paths',
      mediaType: GZIP,
      data: gz(
        buildTar([
          ...Array.from({ length: 30 }, (_, t) => entry(`usr/t${t}`, `t${t}`)),
          ...Array.from({ length: 30_000 }, (_, i) => entry(`${deepDir}l${i}`, '', { type: '1', linkname: `usr/t${i % 30}` })),
        ]),
      ),
      error: /^Layer too large to import: its tree would take more than 120 MiB of memory \(\d+ paths so far, at \.\/usr\/nnnn/,
    },
    {
      name: '100,000 hardlinks to one file',
      mediaType: GZIP,
      data: gz(buildTar([entry('usr/t', 't'), ...Array.from({ length: 100_000 }, (_, i) => entry(`usr/l/${i}`, '', { type: '1', linkname: 'usr/t' }))])),
      error: /^Layer has too many hardlinks to the same files \(libostree's importer takes the square of their number in time\): at \.\/usr\/l\/14142, hardlink 14143 to usr\/t$/,
    },
    {
      name: '60,000 directories',
      mediaType: GZIP,
      data: gz(buildTar(Array.from({ length: 60_000 }, (_, i) => entry(`usr/share/d${i}/`, '', { type: '5', mode: 0o755 })))),
      error: /^Layer too large to import: its tree would take more than 120 MiB of memory \(\d+ paths so far, at \.\/usr\/share\/d\d+\/?\)$/,
    },
    {
      name: '1,000,001 entries (filtered)',
      mediaType: GZIP,
      data: Buffer.concat([...Array<Buffer>(1001).fill(gz(tarOf(Array.from({ length: 1000 }, () => entry('opt/x'))))), gz(END)]),
      error: /^Layer has more than 1000000 entries \(at offset 512000000\)$/,
    },
    {
      name: '10,001 distinct filtered names',
      mediaType: GZIP,
      data: gz(buildTar(Array.from({ length: 10_001 }, (_, i) => entry(`opt${i}/x`)))),
      error: /^Layer filters entries under more than 10000 distinct names \(at opt10000\)$/,
    },
    {
      name: 'sparse file of 1 TiB of holes',
      mediaType: TAR,
      data: buildTar([
        {
          ...entry('usr/GNUSparseFile.1/bomb', Buffer.concat([Buffer.from('1\n0\n512\n'), Buffer.alloc(504), Buffer.alloc(512, 0x7a)])),
          ext: paxExt(paxRecords([['GNU.sparse.major', '1'], ['GNU.sparse.minor', '0'], ['GNU.sparse.name', 'usr/bomb'], ['GNU.sparse.realsize', String(2 ** 40)]])),
        },
      ]),
      error: /^Invalid GNU sparse file usr\/bomb \(PAX 1\.0\) at offset \d+: its holes \(1099511627264 bytes\) take the layer's sparse holes past the limit of 1073741824 bytes$/,
    },
  ];
}

describe('derived layers: resource bounds', () => {
  it('hostile layers of a few MB fail with the limit they break, in bounded memory and time; the repo is unchanged', async () => {
    const layers = hostileLayers();
    const dir = await tmpdir('limits-');
    const files = await Promise.all(
      layers.map(async (l, i) => {
        expect(l.data.length, l.name).toBeLessThan(8 * MiB);
        const f = path.join(dir, `layer-${i}`);
        await writeFile(f, l.data);
        return f;
      }),
    );
    // Layers within the limits: 400 entries with 2 MiB of PAX comments each (dropped records), and
    // the 400,000 empty files of bench/derived-entries.js.
    const comments = gz(paxExt(paxRecords([['comment', Buffer.alloc(MiB - 2048, 0x63)]])));
    const fine = path.join(dir, 'fine');
    await writeFile(fine, Buffer.concat([...Array.from({ length: 400 }, (_, i) => [comments, comments, gz(tarOf([entry(`usr/share/f${i}`, 'f')]))]).flat(), gz(END)]));
    const entries = path.join(dir, 'entries');
    await execFileP(process.execPath, [path.join(import.meta.dirname, '../../bench/derived-entries.js'), entries, '--entries', '400000']);
    const warmup = await tempFile(await layerTar([{ name: 'usr/bin/w', data: 'w' }]));

    const { path: rp, repo } = await cliRepo();
    const { path: okRepo } = await cliRepo();
    // The child's warm-up import, done here first: the snapshot then already holds its objects.
    await importDerivedLayer(repo, warmup, { mediaType: TAR, importerVersion: 'limits', timestamp: 0 });
    const before = await repoSnapshot(rp);
    // One child per layer: a process's RSS stays up after a large import, which would hide the
    // next one's growth.
    const measureImport = async (file: string, mediaType: string, repoPath: string) => {
      const run = await runNativeChild(
        `
        const fs = await import('node:fs');
        const status = (k) => Number(new RegExp(k + ':\\\\s+(\\\\d+)').exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
        const repo = await addon.Repo.open(process.env.REPO);
        // Threads, libostree and the codecs loaded before the idle size is taken.
        await addon.importDerivedLayer(repo, { path: process.env.WARMUP, mediaType: '${TAR}', importerVersion: 'limits', timestamp: 0 });
        await probe('import', async () => {
          fs.writeFileSync('/proc/self/clear_refs', '5');  // resets VmHWM
          const idle = status('VmRSS');
          const t0 = Date.now();
          let error = null;
          try {
            await addon.importDerivedLayer(repo, { path: process.env.LAYER, mediaType: process.env.MEDIA_TYPE, importerVersion: 'limits', ref: 'limits' });
          } catch (e) {
            error = e.message;
          }
          return { error, grew: status('VmHWM') - idle, seconds: (Date.now() - t0) / 1000 };
        });
        `,
        { timeoutMs: 600_000, env: { REPO: repoPath, WARMUP: warmup, LAYER: file, MEDIA_TYPE: mediaType } },
      );
      expect(run.signal, run.stderr).toBeNull();
      expect(run.status, run.stderr).toBe(0);
      const r = run.results.import;
      expect(r && 'ok' in r, JSON.stringify(r)).toBe(true);
      return (r as { ok: { error: string | null; grew: number; seconds: number } }).ok;
    };
    const report: string[] = [];
    const cases: [string, string, string, RegExp | null, string][] = [
      ...layers.map((l, i): [string, string, string, RegExp | null, string] => [l.name, files[i]!, l.mediaType, l.error, rp]),
      ['fine: 2 MiB of PAX comments per entry', fine, GZIP, null, okRepo],
      ['fine: 400,000 empty files', entries, GZIP, null, okRepo],
    ];
    for (const [name, file, mediaType, expected, repoPath] of cases) {
      const { error, grew, seconds } = await measureImport(file, mediaType, repoPath);
      report.push(`${name}: ${(grew / MiB).toFixed(0)} MiB, ${seconds.toFixed(1)} s, ${error ?? 'imported'}`);
      if (expected) expect(error, name).toMatch(expected);
      else expect(error, name).toBeNull();
      expect(grew, `${name}: peak RSS above idle`).toBeLessThan(MAX_GROWTH);
      expect(seconds, `${name}: seconds`).toBeLessThan(MAX_SECONDS);
    }
    console.log(report.join('\n'));
    expect(await repoSnapshot(rp)).toEqual(before);
    expect(await repoTmpLeftovers(rp)).toEqual([]);
    await fsck(rp);
  }, 1_200_000);
});
