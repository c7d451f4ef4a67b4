// The layered image store (spec store §1–§4, §7 test_container_chunked and friends): prepare and
// import of encapsulated ostree images from oci: directories, refs, query, cached updates,
// removal and layer GC, parallel vs sequential imports.
import { cp } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeSizes } from '../../src/container/chunking.js';
import { hostOciArch } from '../../src/oci/platform.js';
import type { ImageConfiguration, ImageManifest } from '../../src/oci/types.js';
import { encapsulate } from '../../src/container/encapsulate.js';
import { COMMIT_V0, type ExampleOs } from '../../src/fixture/index.js';
import { ImageReference, OstreeImageReference } from '../../src/ref/image-reference.js';
import { Repo } from '../../src/repo/repo.js';
import { ImageImporter } from '../../src/store/importer.js';
import { clearCachedUpdate, countLayerReferences, gcImageLayers, imageFilteredContentWarning, removeImage, removeImages } from '../../src/store/maintenance.js';
import type { PreparedImport } from '../../src/store/prepared.js';
import type { ImportProgress } from '../../src/store/progress.js';
import { listImages, queryImage, type LayeredImageState } from '../../src/store/state.js';
import { editOciImage } from '../helpers/sysroot.js';
import { chunkedExampleWork, cleanupTmp, freshRepo } from './encapsulate-util.js';
import { fsck } from './tar-util.js';

let fx: ExampleOs;
let src: Repo;
let work: string;
/** The chunked example OS image (commit layer + chunk layers). */
let chunked: string;

beforeAll(async () => {
  ({ fx, repo: src, work, chunked } = await chunkedExampleWork('store-', { labels: { foo: 'bar', test: 'value' } }));
});
afterAll(cleanupTmp);

/** A copy of the chunked image with `edit` applied to its manifest and config. */
async function variant(name: string, edit: (m: ImageManifest, c: ImageConfiguration) => void): Promise<OstreeImageReference> {
  return unverified(await editOciImage(chunked, path.join(work, name), (_oci, m, c) => edit(m, c)));
}

const unverified = (dir: string) => OstreeImageReference.parse(`ostree-unverified-image:oci:${dir}`);

async function prepareReady(imp: ImageImporter): Promise<PreparedImport> {
  const r = await imp.prepare();
  if (r.kind !== 'ready') throw new Error(`expected a ready import, got ${r.kind}`);
  return r.prepared;
}

/** prepare() + import(), returning the state and the progress events seen. */
async function pull(repo: Repo, dir: string, setup: (imp: ImageImporter) => void = () => undefined): Promise<{ state: LayeredImageState; prepared: PreparedImport; events: ImportProgress[] }> {
  const events: ImportProgress[] = [];
  const imp = new ImageImporter(repo, unverified(dir)).onProgress((e) => events.push(e));
  setup(imp);
  const prepared = await prepareReady(imp);
  return { state: await imp.import(prepared), prepared, events };
}

describe('ostree image import', () => {
  it('first prepare, import, refs, query; a second prepare finds it present', async () => {
    const repo = await freshRepo();
    const imp = new ImageImporter(repo, unverified(chunked));
    const prepared = await prepareReady(imp);
    expect(prepared.ostreeCommitLayer?.commit).toBeNull();
    expect(prepared.ostreeLayers.length).toBeGreaterThan(0);
    expect(prepared.layers).toEqual([]);
    expect(prepared.version()).toBe('42.0');
    expect(prepared.previousState).toBeNull();
    expect(prepared.manifestDiff()).toBeNull();
    const n = prepared.allLayers().length;
    expect(prepared.formatLayerStatus()).toMatch(new RegExp(`^layers already present: 0; layers needed: ${n} \\(\\d+(\\.\\d)?\\skB\\)$`));
    const hist = prepared.layersWithHistory();
    expect(hist[0]!.history.created_by).toMatch(/^ostree export of commit [0-9a-f]{64}$/);
    expect(prepared.layersToFetch()).toHaveLength(n);

    const state = await imp.import(prepared);
    expect(state.baseCommit).toBe(COMMIT_V0);
    expect(state.manifestDigest).toBe(prepared.manifestDigest);
    expect(state.manifest).toEqual(prepared.manifest);
    expect(state.configuration).toEqual(prepared.config);
    expect(state.cachedUpdate).toBeNull();
    // The merge commit has the base's content; the base as parent, the image's creation time;
    // upstream's metadata keys in sorted order (nothing was filtered: no ostree.tar-filtered).
    const merge = await repo.loadCommit(state.mergeCommit);
    expect(merge.parent).toBe(COMMIT_V0);
    expect(merge.timestamp).toBe(Math.floor(Date.parse(prepared.config.created!) / 1000));
    expect([...merge.metadata.keys()]).toEqual(['ostree.container.image-config', 'ostree.importer.version', 'ostree.manifest', 'ostree.manifest-digest']);
    expect(merge.metadata.get('ostree.manifest-digest')?.value).toBe(prepared.manifestDigest);
    expect(merge.metadata.get('ostree.importer.version')).toEqual({ type: 's', value: '0.15.3' });
    expect(await repo.lookupPath(state.mergeCommit, '/usr/lib/modules/5.10.18-200.x86_64/vmlinuz')).not.toBeNull();

    expect(await listImages(repo)).toEqual([`oci:${chunked}`]);
    expect(await countLayerReferences(repo)).toBe(n);
    expect(await queryImage(repo, ImageReference.parse(`oci:${chunked}`))).toEqual({ ...state, verifyText: null });
    expect(await imageFilteredContentWarning(repo, `oci:${chunked}`)).toBeNull();
    expect(await fsck(repo.path)).toMatch(/no errors found/);

    const again = await new ImageImporter(repo, unverified(chunked)).prepare();
    expect(again.kind).toBe('already-present');
    if (again.kind === 'already-present') {
      expect(again.state.mergeCommit).toBe(state.mergeCommit);
      expect(again.state.cachedUpdate).toBeNull();
    }
  });

  it('parallel and sequential imports write the same merge commit; progress events are ordered and bounded', async () => {
    const one = await pull(await freshRepo(), chunked, (i) => i.setParallelism(1));
    const four = await pull(await freshRepo(), chunked, (i) => i.setParallelism(4));
    expect(four.state.mergeCommit).toBe(one.state.mergeCommit);
    for (const { events, prepared } of [one, four]) {
      const started = events.filter((e) => e.type === 'layer-started');
      const completed = events.filter((e) => e.type === 'layer-completed');
      expect(started).toHaveLength(prepared.allLayers().length);
      expect(completed).toHaveLength(started.length);
      const seen = new Set<number>();
      for (const e of events) {
        if (e.type === 'layer-started') seen.add(e.layerIndex);
        if (e.type === 'layer-progress') {
          expect(seen.has(e.layerIndex)).toBe(true);
          expect(e.fetched).toBeLessThanOrEqual(e.total);
        }
        if (e.type === 'layer-completed') expect(seen.has(e.layerIndex)).toBe(true);
        if (e.type === 'progress') expect(e.fetched).toBeLessThanOrEqual(e.total);
      }
      const last = events.filter((e) => e.type === 'progress').at(-1);
      const total = prepared.manifest.layers.reduce((n, l) => n + l.size, 0);
      expect(last).toEqual({ type: 'progress', fetched: total, total });
    }
  });

  it('an archive repo is refused as the import target', async () => {
    const repo = await freshRepo('archive');
    await expect(new ImageImporter(repo, unverified(chunked)).prepare()).rejects.toThrow(
      /^Cannot import into archive repository .*; use a bare or bare-user repository/,
    );
    expect(await countLayerReferences(repo)).toBe(0);
  });

  it('requireBootable: architecture and label', async () => {
    const mips = await variant('mips', (_m, c) => {
      c.architecture = 'mips64le';
    });
    await expect(new ImageImporter(await freshRepo(), mips).requireBootable().prepare()).rejects.toThrow(`Image has architecture mips64le; expected ${hostOciArch()}`);
    const unbootable = await variant('unbootable', (_m, c) => {
      delete c.config!.Labels!['ostree.bootable'];
      delete c.config!.Labels!['containers.bootc'];
    });
    await expect(new ImageImporter(await freshRepo(), unbootable).requireBootable().prepare()).rejects.toThrow('Target image does not have ostree.bootable label');
    // Without requireBootable both import.
    for (const ref of [mips, unbootable]) {
      const imp = new ImageImporter(await freshRepo(), ref);
      await imp.import(await prepareReady(imp));
    }
  });
});

describe('updates, cached updates, removal and GC', () => {
  it('an update is cached by prepare, fetches only new layers, and GC keeps the blob-ref count', async () => {
    const repo = await freshRepo();
    const dir = path.join(work, 'updating');
    await cp(chunked, dir, { recursive: true });
    const first = await pull(repo, dir);
    const nLayers = await countLayerReferences(repo);

    await fx.update();
    const metaV1 = await computeSizes(src, await fx.getObjectMeta());
    await encapsulate(src, fx.ref, { labels: { foo: 'bar', test: 'value' } }, { contentmeta: metaV1 }, ImageReference.parse(`oci:${dir}`));

    const imp = new ImageImporter(repo, unverified(dir));
    const prepared = await prepareReady(imp);
    expect(prepared.previousState?.mergeCommit).toBe(first.state.mergeCommit);
    const cached = await queryImage(repo, `oci:${dir}`);
    expect(cached?.cachedUpdate?.manifestDigest).toBe(prepared.manifestDigest);
    const diff = prepared.manifestDiff()!;
    expect(diff.added.length).toBeGreaterThan(0);
    const toFetch = prepared.layersToFetch();
    expect(toFetch.length).toBeLessThan(prepared.allLayers().length);
    expect(toFetch.length).toBe(diff.added.length);

    const state = await imp.import(prepared);
    expect(state.mergeCommit).not.toBe(first.state.mergeCommit);
    expect(state.cachedUpdate).toBeNull();
    expect(await countLayerReferences(repo)).toBe(nLayers);
    expect(await listImages(repo)).toEqual([`oci:${dir}`]);

    // Clearing a cached update keeps other detached metadata.
    const again = new ImageImporter(repo, unverified(chunked));
    await prepareReady(again);
    await again.close();
    expect(await listImages(repo)).toEqual([`oci:${dir}`]);

    await removeImages(repo, [`oci:${dir}`]);
    await removeImages(repo, []);
    await expect(removeImages(repo, [`oci:${dir}`, 'oci:/nonexistent'])).rejects.toThrow(/^Missing images: oci:/);
    expect(await gcImageLayers(repo)).toBe(nLayers);
    expect(await countLayerReferences(repo)).toBe(0);
    expect([...(await repo.listRefs()).keys()]).toEqual([]);
    expect(await fsck(repo.path)).toMatch(/no errors found/);
  });

  it('clearCachedUpdate removes only the cached keys', async () => {
    const repo = await freshRepo();
    const dir = path.join(work, 'cached');
    await cp(chunked, dir, { recursive: true });
    const { state } = await pull(repo, dir);
    const d = new Map([['other-key', { type: 's', value: 'kept' }]]);
    d.set('ostree-ext.cached.manifest-digest', { type: 's', value: 'sha256:00' });
    d.set('ostree-ext.cached.manifest', { type: 's', value: JSON.stringify(state.manifest) });
    d.set('ostree-ext.cached.config', { type: 's', value: JSON.stringify(state.configuration) });
    await repo.writeCommitDetachedMetadata(state.mergeCommit, d);
    expect((await queryImage(repo, `oci:${dir}`))?.cachedUpdate?.manifestDigest).toBe('sha256:00');
    await clearCachedUpdate(repo, `oci:${dir}`);
    expect((await queryImage(repo, `oci:${dir}`))?.cachedUpdate).toBeNull();
    expect([...(await repo.readCommitDetachedMetadata(state.mergeCommit))!.keys()]).toEqual(['other-key']);
    // Only a digest key without the manifest is an error.
    await repo.writeCommitDetachedMetadata(state.mergeCommit, new Map([['ostree-ext.cached.manifest-digest', { type: 's', value: 'x' }]]));
    await expect(queryImage(repo, `oci:${dir}`)).rejects.toThrow('Expected cached manifest ostree-ext.cached.manifest');
  });

  it('setTarget names the image ref; removeImage is idempotent', async () => {
    const repo = await freshRepo();
    const target = OstreeImageReference.parse('ostree-unverified-registry:quay.io/exampleos/blah:latest');
    const { state } = await pull(repo, chunked, (i) => i.setTarget(target));
    expect(await listImages(repo)).toEqual(['docker://quay.io/exampleos/blah:latest']);
    expect((await repo.listRefs('ostree/container/image')).get('ostree/container/image/docker_3A__2F__2F_quay_2E_io/exampleos/blah_3A_latest')).toBe(state.mergeCommit);
    // "Already present" is checked against the source, so importing it again re-merges (spec §9.2).
    const again = new ImageImporter(repo, unverified(chunked)).setTarget(target);
    expect((await again.prepare()).kind).toBe('ready');
    await again.close();
    expect(await removeImage(repo, 'docker://quay.io/exampleos/blah:latest')).toBe(true);
    expect(await removeImage(repo, 'docker://quay.io/exampleos/blah:latest')).toBe(false);
  });

  it('noImgref: layers are written and kept by the GC, no image ref', async () => {
    const repo = await freshRepo();
    const { state, prepared } = await pull(repo, chunked, (i) => i.setNoImgref());
    expect(await listImages(repo)).toEqual([]);
    expect(await countLayerReferences(repo)).toBe(prepared.allLayers().length);
    expect(await repo.hasObject('commit', state.mergeCommit)).toBe(true);
    // A later GC without a root for it drops them.
    expect(await gcImageLayers(repo)).toBe(prepared.allLayers().length);
  });
});
