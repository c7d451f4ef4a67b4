// Layered (derived) images through the store's importer (spec store §2.3 B–D, §7
// test_container_write_derive, test_container_var_content, test_non_ostree): our chunked example
// OS with tar layers appended (files added, changed and whiteouted, an opaque directory, /etc and
// /var content, hardlinks, filtered paths), upgrades that fetch one layer, GC, copy and reexport;
// upstream's podman-built OCI archives; a generic (non-ostree) image.
import { cp } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unencapsulate } from '../../src/container/unencapsulate.js';
import { COMMIT_V0, createNonOstreeExampleImage, type ExampleOs } from '../../src/fixture/index.js';
import { digestOf } from '../../src/oci/digest.js';
import { MediaType } from '../../src/oci/media-types.js';
import { native } from '../../src/native.js';
import { ImageReference, OstreeImageReference } from '../../src/ref/image-reference.js';
import type { Repo } from '../../src/repo/repo.js';
import { copy } from '../../src/store/copy.js';
import { exportImage } from '../../src/store/export.js';
import { ImageImporter } from '../../src/store/importer.js';
import { countLayerReferences, gcImageLayers, imageFilteredContentWarning, removeImages } from '../../src/store/maintenance.js';
import type { PreparedImport } from '../../src/store/prepared.js';
import { listImages, queryImage, type LayeredImageState } from '../../src/store/state.js';
import { editOciImage } from '../helpers/sysroot.js';
import { chunkedExampleWork, cleanupTmp, freshRepo, tmpdir } from './encapsulate-util.js';
import { catFile, fileChecksum, fixture, listCommit } from './store-util.js';
import { type LayerEntry, layerTar } from '../helpers/tar.js';
import { fsck } from './tar-util.js';


let fx: ExampleOs;
let src: Repo;
let work: string;
let chunked: string;

/** A copy of `from` (an OCI dir) at `to` with gzip layers of `layers` appended. */
async function appendLayers(from: string, to: string, layers: { entries: LayerEntry[]; createdBy: string }[]): Promise<void> {
  await editOciImage(from, to, async (oci, manifest, config) => {
    for (const l of layers) {
      const tar = await layerTar(l.entries);
      const blob = await oci.writeBlob(gzipSync(tar));
      manifest.layers.push({ mediaType: MediaType.ImageLayerGzip, ...blob });
      config.rootfs.diff_ids.push(digestOf(tar));
      config.history = [...(config.history ?? []), { created: config.created, created_by: l.createdBy }];
    }
  });
}

/** First derived layer: every kind of change upstream's merge must handle. */
const LAYER1: LayerEntry[] = [
  { name: 'usr/bin/newderivedfile', data: 'newderivedfile v0' },
  { name: 'usr/bin/newderivedfile3', data: 'newderivedfile3 v0' },
  { name: 'usr/bin/bash', data: 'bash from a derived layer', mode: 0o755 },
  { name: 'usr/bin/.wh.arping', data: '' },
  { name: 'usr/lib/modules/5.10.18-200.x86_64/', type: 'directory' },
  { name: 'usr/lib/modules/5.10.18-200.x86_64/.wh..wh..opq', data: '' },
  { name: 'usr/lib/modules/5.10.18-200.x86_64/derived-kernel-note', data: 'replaced' },
  { name: 'etc/derived.conf', data: 'derived config' },
  { name: 'var/lib/foo', data: 'junk var data' },
  { name: 'usr/share/derived/hl-a', data: 'hardlinked content' },
  { name: 'usr/share/derived/hl-b', type: 'link', linkname: 'usr/share/derived/hl-a' },
  { name: 'run/somefile', data: 'run state' },
];
/** The upgrade: one more layer. */
const LAYER2: LayerEntry[] = [
  { name: 'usr/bin/newderivedfile', data: 'newderivedfile v1' },
  { name: 'usr/bin/newderivedfile2', data: 'newderivedfile2 v0' },
  { name: 'usr/bin/.wh.newderivedfile3', data: '' },
];

beforeAll(async () => {
  ({ fx, repo: src, work, chunked } = await chunkedExampleWork('store-layered-'));
}, 120_000);
afterAll(cleanupTmp);

const unverified = (ref: string) => OstreeImageReference.parse(`ostree-unverified-image:${ref}`);

async function prepareReady(imp: ImageImporter): Promise<PreparedImport> {
  const r = await imp.prepare();
  if (r.kind !== 'ready') throw new Error(`expected a ready import, got ${r.kind}`);
  return r.prepared;
}

async function pull(repo: Repo, ref: string, setup: (i: ImageImporter) => void = () => undefined): Promise<{ state: LayeredImageState; prepared: PreparedImport }> {
  const imp = new ImageImporter(repo, unverified(ref));
  setup(imp);
  const prepared = await prepareReady(imp);
  return { state: await imp.import(prepared), prepared };
}

describe('a derived image built on our chunked image', () => {
  it('imports with whiteouts, an opaque dir, etc/var remaps, hardlinks and filtered paths; upgrades fetch one layer; GC', async () => {
    const dir = path.join(work, 'derived');
    await appendLayers(chunked, dir, [{ entries: LAYER1, createdBy: 'derived layer 1' }]);
    const ref = `oci:${dir}`;
    await expect(unencapsulate(await freshRepo(), unverified(ref))).rejects.toThrow('Image has 1 non-ostree layers');

    const repo = await freshRepo();
    const { state, prepared } = await pull(repo, ref);
    expect(prepared.layers).toHaveLength(1);
    expect(state.baseCommit).toBe(COMMIT_V0);
    const m = state.mergeCommit;
    expect(await catFile(repo.path, m, '/usr/bin/newderivedfile')).toBe('newderivedfile v0');
    expect(await catFile(repo.path, m, '/usr/bin/bash')).toBe('bash from a derived layer');
    expect(await catFile(repo.path, m, '/usr/bin/hardlink-a')).toBe('testlink');
    const listing = await listCommit(repo.path, m);
    expect(listing.has('/usr/bin/arping')).toBe(false);
    expect(listing.has('/usr/bin/.wh.arping')).toBe(false);
    expect(listing.has('/usr/lib/modules/5.10.18-200.x86_64/vmlinuz')).toBe(false);
    expect(await catFile(repo.path, m, '/usr/lib/modules/5.10.18-200.x86_64/derived-kernel-note')).toBe('replaced');
    expect(await catFile(repo.path, m, '/usr/etc/derived.conf')).toBe('derived config');
    expect(await catFile(repo.path, m, '/usr/etc/someconfig.conf')).toBe('someconfig');
    // /var content: the factory directory before libostree 2024.3 (Debian 12), kept as /var from
    // then on (Debian 13); the importer asks the installed libostree.
    const [kept, absent] = native().ostreeCheckVersion(2024, 3) ? ['/var/lib/foo', '/usr/share/factory/var/lib/foo'] : ['/usr/share/factory/var/lib/foo', '/var/lib/foo'];
    expect(await catFile(repo.path, m, kept)).toBe('junk var data');
    expect(listing.has(absent)).toBe(false);
    expect(await fileChecksum(repo.path, m, '/usr/share/derived/hl-b')).toBe(await fileChecksum(repo.path, m, '/usr/share/derived/hl-a'));
    expect(listing.has('/run/somefile')).toBe(false);
    expect(await imageFilteredContentWarning(repo, ref)).toBe('Image contains non-ostree compatible file paths: somefile: 1');
    const filtered = (await repo.loadCommit(m)).metadata.get('ostree.tar-filtered');
    expect(filtered).toEqual({ type: 'a{sa{su}}', value: new Map([[prepared.layers[0]!.layer.digest, new Map([['somefile', 1]])]]) });
    expect(await fsck(repo.path)).toMatch(/no errors found/);
    expect((await new ImageImporter(repo, unverified(ref)).prepare()).kind).toBe('already-present');

    // Upgrade: one more layer on top; only it is fetched, the base and layer 1 are reused.
    await appendLayers(dir, `${dir}.v2`, [{ entries: LAYER2, createdBy: 'derived layer 2' }]);
    await cp(`${dir}.v2`, dir, { recursive: true, force: true });
    const imp = new ImageImporter(repo, unverified(ref));
    const up = await prepareReady(imp);
    expect(up.layersToFetch().map((l) => l.createdBy)).toEqual(['derived layer 2']);
    const v2 = await imp.import(up);
    expect(v2.baseCommit).toBe(COMMIT_V0);
    expect(v2.mergeCommit).not.toBe(m);
    expect(await catFile(repo.path, v2.mergeCommit, '/usr/bin/newderivedfile')).toBe('newderivedfile v1');
    expect(await catFile(repo.path, v2.mergeCommit, '/usr/bin/newderivedfile2')).toBe('newderivedfile2 v0');
    expect((await listCommit(repo.path, v2.mergeCommit)).has('/usr/bin/newderivedfile3')).toBe(false);
    // The reused layer's filtered counts carry over to the new merge commit.
    expect(await imageFilteredContentWarning(repo, ref)).toBe('Image contains non-ostree compatible file paths: somefile: 1');

    // Copy to an archive repo; reexport and re-import give the same tree.
    const archive = await freshRepo('archive');
    await copy(repo, ref, archive, 'docker://quay.io/exampleos/centos:stream9');
    await copy(repo, ref, archive);
    expect(await listImages(archive)).toEqual(['docker://quay.io/exampleos/centos:stream9', ref].sort());
    expect(await fsck(archive.path)).toMatch(/no errors found/);
    const out = path.join(work, 'reexported-derived');
    await exportImage(repo, ImageReference.parse(ref), ImageReference.parse(`oci:${out}`));
    const again = await freshRepo();
    const re = await pull(again, `oci:${out}`);
    expect(re.state.manifest.layers).toHaveLength(v2.manifest.layers.length);
    expect(await again.contentChecksum(re.state.mergeCommit)).toBe(await repo.contentChecksum(v2.mergeCommit));

    // GC: removing the image frees every layer ref.
    const n = await countLayerReferences(repo);
    expect(n).toBe(v2.manifest.layers.length);
    await removeImages(repo, [ref]);
    expect(await gcImageLayers(repo)).toBe(n);
    expect([...(await repo.listRefs()).keys()]).toEqual([]);
  });

  // (What disableGc keeps when an image is replaced: store-gc.test.ts.)
  it('a base image and a derived image share the base layers (upstream\'s test_container_chunked GC sequence)', async () => {
    const repo = await freshRepo();
    const dir = path.join(work, 'derived-gc');
    await appendLayers(chunked, dir, [{ entries: LAYER2, createdBy: 'only layer' }]);
    const base = await pull(repo, `oci:${chunked}`);
    await pull(repo, `oci:${dir}`, (i) => i.disableGc());
    expect(await listImages(repo)).toHaveLength(2);
    expect(await gcImageLayers(repo)).toBe(0);
    await removeImages(repo, [`oci:${chunked}`]);
    await removeImages(repo, [`oci:${dir}`]);
    expect(await gcImageLayers(repo)).toBe(base.prepared.allLayers().length + 1);
    expect(await countLayerReferences(repo)).toBe(0);
  });

  it('/var content is kept as /var with libostree >= 2024.3 (setOstreeVersion)', async () => {
    const dir = path.join(work, 'var');
    await appendLayers(chunked, dir, [{ entries: [{ name: 'var/lib/foo', data: 'junk var data' }], createdBy: 'var' }]);
    const old = await freshRepo();
    const a = await pull(old, `oci:${dir}`, (i) => i.setOstreeVersion(2023, 11));
    expect(await catFile(old.path, a.state.mergeCommit, '/usr/share/factory/var/lib/foo')).toBe('junk var data');
    expect((await listCommit(old.path, a.state.mergeCommit)).has('/var/lib/foo')).toBe(false);
    const fresh = await freshRepo();
    const b = await pull(fresh, `oci:${dir}`, (i) => i.setOstreeVersion(2024, 3));
    expect(await catFile(fresh.path, b.state.mergeCommit, '/var/lib/foo')).toBe('junk var data');
    expect((await listCommit(fresh.path, b.state.mergeCommit)).has('/usr/share/factory/var/lib/foo')).toBe(false);
    expect(await imageFilteredContentWarning(fresh, `oci:${dir}`)).toBeNull();
  });
});

describe('images built elsewhere', () => {
  for (const [archive, added] of [
    ['exampleos-derive.ociarchive', 'anewfile'],
    ['exampleos-derive-v2.ociarchive', 'anewfile2'],
  ] as const) {
    it(`upstream's ${archive} (podman build on upstream's encapsulation) imports with its added file`, async () => {
      const repo = await freshRepo();
      const ref = `oci-archive:${fixture(`upstream/${archive}`)}`;
      const { state, prepared } = await pull(repo, ref);
      // Written before ostree.final-diffid existed: every layer counts as derived (spec §2.2), the
      // base layer's checkout (hardlinks into its object store) included (§3.4).
      expect(prepared.ostreeCommitLayer).toBeNull();
      expect(prepared.layers).toHaveLength(2);
      expect((await catFile(repo.path, state.mergeCommit, `/usr/share/${added}`)).length).toBeGreaterThan(0);
      expect((await listCommit(repo.path, state.mergeCommit)).has('/usr/bin/bash')).toBe(true);
      expect(await listImages(repo)).toEqual([ref]);
      expect(await fsck(repo.path)).toMatch(/no errors found/);
    });
  }

  it('a generic (non-ostree) image imports as derived layers only', async () => {
    const img = await createNonOstreeExampleImage({ dir: await tmpdir('generic-') });
    const repo = await freshRepo();
    const { state, prepared } = await pull(repo, img.imageReference);
    expect(prepared.ostreeCommitLayer).toBeNull();
    expect(prepared.layers).toHaveLength(1);
    expect(state.manifestDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(state.baseCommit).toBe(prepared.layers[0]!.commit ?? (await repo.resolveRev(prepared.layers[0]!.ostreeRef)));
    expect(await catFile(repo.path, state.mergeCommit, '/usr/bin/bash')).toBe('the-bash-shell');
    expect((await queryImage(repo, img.imageReference))!.mergeCommit).toBe(state.mergeCommit);
    await expect(unencapsulate(await freshRepo(), unverified(img.imageReference))).rejects.toThrow('Image has 1 non-ostree layers');
  });
});
