// Images upstream ostree-ext wrote from the example OS commit (test/fixtures/upstream-2026: today's
// bootc-dev/bootc; test/fixtures/upstream-0.15.3: the last ostree-rs-ext): our layers for the same
// commit and contentmeta are upstream's 2026 layers byte for byte (same diff_ids, and the same
// config bytes; with `upstreamGzip`, the same blobs and manifest); both formats import, through
// unencapsulate and the store; contentmeta upstream panics on is refused with an error.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentMetaToSized, parseContentMetaFile } from '../../src/container/chunking.js';
import { encapsulate, type Compression } from '../../src/container/encapsulate.js';
import { unencapsulate } from '../../src/container/unencapsulate.js';
import { COMMIT_V0, CONTENTS_CHECKSUM_V0, type ExampleOs } from '../../src/fixture/index.js';
import { OciDir } from '../../src/oci/layout.js';
import type { ImageConfiguration } from '../../src/oci/types.js';
import { ImageReference, OstreeImageReference } from '../../src/ref/image-reference.js';
import { escapeRef } from '../../src/ref/refescape.js';
import { Repo, vardictFromBytes } from '../../src/repo/repo.js';
import { ImageImporter } from '../../src/store/importer.js';
import { runCli } from '../helpers/cli.js';
import { cleanupTmp, exampleOs, freshRepo, tmpdir } from './encapsulate-util.js';
import { execFileP, fsck, objPath, parseTar } from './tar-util.js';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures');
const CONTENTMETA = path.join(FIXTURES, 'upstream-2026/exampleos-contentmeta.json');

interface Image {
  dir: string;
  config: ImageConfiguration;
  configBytes: Buffer;
  layers: Buffer[];
}

async function readImage(dir: string): Promise<Image> {
  const oci = await OciDir.open(dir);
  const { manifest } = await oci.readManifest();
  const configBytes = await readFile(oci.blobPath(manifest.config.digest));
  const layers = await Promise.all(manifest.layers.map((l) => readFile(oci.blobPath(l.digest))));
  return { dir, config: JSON.parse(configBytes.toString()) as ImageConfiguration, configBytes, layers };
}

let work: string;
let fx: ExampleOs;
let repo: Repo;
const upstream: Record<string, Image> = {};
beforeAll(async () => {
  work = await tmpdir('upstream-fixtures-');
  for (const [set, name, dir] of [
    ['upstream-2026', 'exampleos-up26-single', 'up26-single'],
    ['upstream-2026', 'exampleos-up26-chunked', 'up26-chunked'],
    ['upstream-0.15.3', 'exampleos-up-single', 'up-single'],
    ['upstream-0.15.3', 'exampleos-up-chunked', 'up-chunked'],
  ] as const) {
    await execFileP('sh', ['-c', `zstd -dc '${path.join(FIXTURES, set, `${name}.oci.tar.zst`)}' | tar -x -C '${work}'`]);
    upstream[dir] = await readImage(path.join(work, dir));
  }
  ({ fx, repo } = await exampleOs());
  expect(fx.commit).toBe(COMMIT_V0);
  // The example OS's GPG signature carries the moment it was made: take the one upstream's images
  // hold, so that the commit layer's input is the same.
  const commitLayer = parseTar(gunzipSync(upstream['up26-single']!.layers[0]!));
  const meta = commitLayer.find((e) => e.name === objPath(COMMIT_V0, 'commitmeta'))!;
  await repo.writeCommitDetachedMetadata(COMMIT_V0, vardictFromBytes(meta.data));
});
afterAll(cleanupTmp);

async function contentmeta() {
  return contentMetaToSized(parseContentMetaFile(await readFile(CONTENTMETA, 'utf8')));
}

async function ours(name: string, chunked: boolean, compression: Compression, upstreamGzip = false): Promise<Image & { digest: string }> {
  const dir = path.join(work, name);
  const meta = chunked ? await contentmeta() : undefined;
  const opts = { compression, upstreamGzip, ...(meta ? { contentmeta: meta.meta, maxLayers: meta.maxLayers } : {}) };
  const digest = await encapsulate(repo, fx.ref, {}, opts, ImageReference.parse(`oci:${dir}`));
  return { ...(await readImage(dir)), digest };
}

describe('our images of the example OS commit and upstream 2026', () => {
  it.each([
    ['single', false],
    ['chunked', true],
  ] as const)('%s: the same layers (uncompressed: the same bytes) and the same config bytes', async (kind, chunked) => {
    const up = upstream[`up26-${kind}`]!;
    const mine = await ours(`ours-${kind}`, chunked, 'none');
    expect(mine.config.rootfs.diff_ids).toEqual(up.config.rootfs.diff_ids);
    expect(mine.layers.map((l) => l.length)).toEqual(up.layers.map((l) => gunzipSync(l).length));
    for (const [i, l] of mine.layers.entries()) expect(l.equals(gunzipSync(up.layers[i]!)), `layer ${i}`).toBe(true);
    // The config names layers by diff_id and takes every time from the commit: byte-identical.
    expect(mine.configBytes.toString()).toBe(up.configBytes.toString());
    const gz = await ours(`ours-${kind}-gzip`, chunked, 'gzip');
    expect(gz.config.rootfs.diff_ids).toEqual(up.config.rootfs.diff_ids);
  });

  it.each(['single', 'chunked'] as const)('%s, gzip as upstream writes it (system zlib, one stream): the same image, byte for byte', async (kind) => {
    const up = upstream[`up26-${kind}`]!;
    const mine = await ours(`ours-${kind}-upstream-gzip`, kind === 'chunked', 'gzip', true);
    for (const [i, l] of mine.layers.entries()) expect(l.equals(up.layers[i]!), `layer ${i}`).toBe(true);
    const index = JSON.parse(await readFile(path.join(up.dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    expect(mine.digest).toBe(index.manifests[0]!.digest);
  });

  it('0.15.3 layers differ exactly where the format changed (xattrs files, names)', async () => {
    // The reserved empty layer never had xattrs: unchanged since 0.15.3.
    const old = upstream['up-chunked']!.config.rootfs.diff_ids;
    const now = upstream['up26-chunked']!.config.rootfs.diff_ids;
    expect(old.at(-1)).toBe(now.at(-1));
    expect(old.slice(0, -1).filter((d, i) => d === now[i])).toEqual([]);
  });
});

describe('both formats import', () => {
  it.each(['up26-single', 'up26-chunked', 'up-single', 'up-chunked'])('%s: unencapsulate and the store', async (dir) => {
    const imgref = OstreeImageReference.parse(`ostree-unverified-image:oci:${upstream[dir]!.dir}`);
    const dest = await freshRepo();
    expect((await unencapsulate(dest, imgref)).ostreeCommit).toBe(COMMIT_V0);
    expect(await dest.contentChecksum(COMMIT_V0)).toBe(CONTENTS_CHECKSUM_V0);
    expect(await fsck(dest.path)).toMatch(/no errors found/);

    const store = await freshRepo();
    const imp = new ImageImporter(store, imgref);
    const r = await imp.prepare();
    if (r.kind !== 'ready') throw new Error(`expected a ready import, got ${r.kind}`);
    const state = await imp.import(r.prepared);
    expect(state.baseCommit).toBe(COMMIT_V0);
    expect(await store.contentChecksum(state.baseCommit)).toBe(CONTENTS_CHECKSUM_V0);
    expect((await store.listRefs()).get(`ostree/container/image/${escapeRef(imgref.imgref.toString())}`)).toBe(state.mergeCommit);
    expect(await fsck(store.path)).toMatch(/no errors found/);
  });
});

describe('contentmeta upstream panics on', () => {
  it('is refused with an error naming what is wrong', async () => {
    const file = JSON.parse(await readFile(CONTENTMETA, 'utf8')) as { layers: Record<string, string>; mapping: Record<string, string> };
    const run = async (name: string, doc: unknown) => {
      const p = path.join(work, `${name}.json`);
      await writeFile(p, JSON.stringify(doc));
      return runCli('encapsulate', '--repo', fx.repoPath, fx.ref, `oci:${work}/refused-${name}`, '--contentmeta', p);
    };
    const [dropped, ...kept] = Object.keys(file.mapping);
    const missing = await run('missing', { ...file, mapping: Object.fromEntries(kept.map((k) => [k, file.mapping[k]])) });
    expect(missing).toEqual({
      code: 1,
      stdout: '',
      stderr: expect.stringMatching(new RegExp(`^error: Exporting layers: Content mapping does not cover 1 content object\\(s\\) of the commit, e.g. ${dropped} \\(/\\S+\\)\n$`)),
    });
    const empty = await run('empty', { ...file, layers: { ...file.layers, nothing: 'Nothing' } });
    expect(empty).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'error: Chunk layer "nothing" has the same content as the final chunk layer "Reserved for new packages" (components without content objects?); such an image cannot be imported\n',
    });
  });
});
