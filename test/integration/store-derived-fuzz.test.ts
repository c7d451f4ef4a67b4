// Untrusted layers through the derived-layer job: random entry lists (paths with `..`, `etc`,
// `var`, object-store paths, links to anything, names reused as files and directories) and random
// byte damage. Every input must either commit or fail with an Error — never take the process
// down (libostree's importer asserts on some malformed hardlinks) — and a failure leaves the repo
// and its tmp/ as they were.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { importDerivedLayer } from '../../src/store/derived.js';
import { cliRepo, repoTmpLeftovers, TAR, tempFile } from './store-util.js';
import { type LayerEntry, layerTar } from '../helpers/tar.js';
import { cleanupTmp, fixChecksum, fsck, repoSnapshot } from './tar-util.js';

afterAll(cleanupTmp);

const OBJ = 'sysroot/ostree/repo/objects/ab/cdef.file';
const component = fc.constantFrom('usr', 'etc', 'var', 'run', 'opt', 'bin', 'a', 'b', '..', '.', '', 'sysroot', '.wh.a', '.wh..wh..opq');
const pathArb = fc.oneof(
  fc.array(component, { minLength: 1, maxLength: 4 }).map((c) => c.join('/')),
  fc.constantFrom(OBJ, `/${OBJ}`, 'usr/a', 'usr/a/b', 'etc/a', 'var/a', '/usr/a', './usr/a'),
);
const entryArb: fc.Arbitrary<LayerEntry> = fc.record({
  name: pathArb,
  type: fc.constantFrom('file', 'directory', 'symlink', 'link') as fc.Arbitrary<LayerEntry['type']>,
  data: fc.constantFrom('', 'x', 'hello'),
  mtime: fc.constantFrom(0, 42),
  linkname: pathArb,
});

function forType(e: LayerEntry): LayerEntry {
  if (e.type === 'file') return { ...e, linkname: undefined };
  return { ...e, data: undefined, linkname: e.type === 'directory' ? undefined : e.linkname };
}

describe('derived layers from untrusted tars', () => {
  it('random entry lists commit or fail cleanly', async () => {
    const { path: rp, repo } = await cliRepo();
    let ok = 0;
    let failed = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(entryArb, { minLength: 1, maxLength: 8 }), fc.boolean(), async (entries, nonusr) => {
        const tar = await layerTar(entries.map(forType)).catch(() => null);
        if (!tar) return; // tar-stream refuses some names itself
        const before = await repoSnapshot(rp);
        try {
          await importDerivedLayer(repo, await tempFile(tar), { mediaType: TAR, importerVersion: 'fuzz', allowNonusr: nonusr, ref: 'fuzz' });
          ok++;
          await repo.setRefImmediate('fuzz', null);
        } catch (e) {
          expect(e).toBeInstanceOf(Error);
          expect(await repoSnapshot(rp)).toEqual(before);
          failed++;
        }
        expect(await repoTmpLeftovers(rp)).toEqual([]);
      }),
      { numRuns: 100, seed: 1234 },
    );
    expect(ok).toBeGreaterThan(10);
    expect(failed).toBeGreaterThan(10);
    await fsck(rp);
  });

  it('damaged bytes of a valid layer commit or fail cleanly', async () => {
    const { path: rp, repo } = await cliRepo();
    const good = await layerTar([
      { name: 'usr/', type: 'directory' },
      { name: 'usr/bin/a', data: 'a'.repeat(700), pax: { 'SCHILY.xattr.user.x': 'y' } },
      { name: 'usr/bin/b', type: 'link', linkname: 'usr/bin/a' },
      { name: 'usr/bin/c', type: 'symlink', linkname: 'a' },
      { name: OBJ, data: 'obj', mtime: 5 },
      { name: 'usr/bin/d', type: 'link', linkname: OBJ, mtime: 5 },
      { name: 'etc/e', data: 'e' },
    ]);
    // Header blocks, so damage can be given a valid checksum and reach past the tar reader.
    const headers: number[] = [];
    for (let off = 0; off + 512 <= good.length && good[off] !== 0; ) {
      headers.push(off);
      const size = parseInt(good.subarray(off + 124, off + 136).toString('latin1').replace(/\0.*$/, '').trim() || '0', 8);
      off += 512 + Math.ceil(size / 512) * 512;
    }
    expect(headers.length).toBeGreaterThan(7);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ at: fc.nat({ max: good.length - 1 }), value: fc.nat({ max: 255 }) }), { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        async (edits, fix) => {
          const bad = Buffer.from(good);
          for (const { at, value } of edits) bad[at] = value;
          if (fix) for (const h of headers) fixChecksum(bad.subarray(h, h + 512));
          try {
            await importDerivedLayer(repo, await tempFile(bad), { mediaType: TAR, importerVersion: 'fuzz' });
          } catch (e) {
            expect(e).toBeInstanceOf(Error);
          }
          expect(await repoTmpLeftovers(rp)).toEqual([]);
        },
      ),
      { numRuns: 150, seed: 4321 },
    );
    await fsck(rp);
  });
});
