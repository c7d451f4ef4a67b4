// Tar-level updateDetachedMetadata (spec §6): rewrite a commit layer with new, no, or tampered
// detached metadata, then import it with GPG verification through a remote.
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMIT_V0, TESTREF, gpgKeyFile, type ExampleOs } from '../../src/fixture/index.js';
import { tar } from '../../src/index.js';
import { LAYER_MT, addVerifyingRemote, cleanupTmp, exampleOs, newRepo, openRepo, objPath, parseTar, tmpdir, entry, buildTar } from './tar-util.js';

const GZ = LAYER_MT.gzip;
const COMMITMETA = objPath(COMMIT_V0, 'commitmeta');

let fx: ExampleOs;
let work: string;
let layer: string;
let detached: Buffer;
beforeAll(async () => {
  fx = await exampleOs();
  work = await tmpdir('tar-detached-');
  layer = path.join(work, 'commit.gz');
  const src = await openRepo(fx.repoPath);
  // a commit layer with the whole tree as remainder, gzip like upstream
  await tar.exportLayers(src, [{ kind: 'commit', rev: TESTREF, objects: [], output: layer, compression: 'gzip' }]);
  detached = parseTar(gunzipSync(await readFile(layer))).find((e) => e.name === COMMITMETA)!.data;
});
afterAll(cleanupTmp);

async function verifyingRepo() {
  const { path: p } = await newRepo();
  await addVerifyingRemote(p, 'myremote', gpgKeyFile(fx.gpgHome));
  return openRepo(p);
}

describe('updateDetachedMetadata (tar level)', () => {
  it('rewrites with the same metadata: identical tar, still verifies', async () => {
    const out = path.join(work, 'same.gz');
    const r = await tar.updateDetachedMetadata(layer, out, detached, { inputMediaType: GZ, compression: 'gzip' });
    expect(r.commit).toBe(COMMIT_V0);
    expect(gunzipSync(await readFile(out)).equals(gunzipSync(await readFile(layer)))).toBe(true);
    const imported = await tar.importTar(await verifyingRepo(), out, { mediaType: GZ, remote: 'myremote' });
    expect(imported.verifyText).toMatch(/Good signature/);
    expect(imported.diffId).toBe(r.diffId);
  });

  it('strips the signature: import with a remote fails with Expected commitmeta object', async () => {
    const out = path.join(work, 'none.tar');
    const r = await tar.updateDetachedMetadata(layer, out, undefined, { inputMediaType: GZ });
    expect(r.mediaType).toBe('application/vnd.oci.image.layer.v1.tar');
    const names = parseTar(await readFile(out)).map((e) => e.name);
    expect(names).not.toContain(COMMITMETA);
    expect(names[271]).toMatch(/\.dirmeta$/);
    await expect(tar.importTar(await verifyingRepo(), out, { remote: 'myremote' })).rejects.toThrow('Expected commitmeta object, not DirMeta');
    // without a remote the stripped layer still imports
    const { repo } = await newRepo();
    expect((await tar.importTar(repo, out)).commit).toBe(COMMIT_V0);
  });

  it('tampered metadata fails verification with BAD signature', async () => {
    const bad = Buffer.from(detached);
    bad[Math.floor(bad.length / 2)]! ^= 0xff;
    const out = path.join(work, 'bad.tar');
    await tar.updateDetachedMetadata(layer, out, bad, { inputMediaType: GZ });
    const entries = parseTar(await readFile(out));
    expect(entries.find((e) => e.name === COMMITMETA)!.data.equals(bad)).toBe(true);
    expect(entries.filter((e) => e.name === COMMITMETA).length).toBe(1);
    await expect(tar.importTar(await verifyingRepo(), out, { remote: 'myremote' })).rejects.toThrow(/BAD signature/);
  });

  it('errors: no commit, nothing after the commit', async () => {
    const noCommit = path.join(work, 'nocommit.tar');
    await writeFile(noCommit, buildTar([entry('sysroot/ostree/repo/config', 'x')]));
    await expect(tar.updateDetachedMetadata(noCommit, path.join(work, 'o1'), undefined)).rejects.toThrow(/^Missing commit object$/);
    const entries = parseTar(gunzipSync(await readFile(layer)));
    const ci = entries.findIndex((e) => e.name.endsWith('.commit'));
    const onlyCommit = path.join(work, 'onlycommit.tar');
    await writeFile(onlyCommit, buildTar(entries.slice(0, ci + 1)));
    await expect(tar.updateDetachedMetadata(onlyCommit, path.join(work, 'o2'), undefined)).rejects.toThrow(/^Expected metadata object after commit$/);
    await expect(stat(path.join(work, 'o2'))).rejects.toThrow(/ENOENT/);
  });
});
