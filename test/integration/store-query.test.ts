// What prepare() counts as already stored, and the state of a stored image read back from its
// merge commit alone (spec store §2.2, §2.5, §9.3): the manifest-digest and config-digest clauses
// of "already present", queryImageCommit / queryImage on good and damaged merge commits, listImages;
// the maintenance calls on good and malformed records (removeImages, the filtered-content warning,
// clearCachedUpdate).
import { cp, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CACHED_MANIFEST_DIGEST, META_CONFIG, META_FILTERED, META_MANIFEST, META_MANIFEST_DIGEST } from '../../src/container/constants.js';
import { COMMIT_V0 } from '../../src/fixture/index.js';
import { OciDir } from '../../src/oci/layout.js';
import { ImageReference, OstreeImageReference } from '../../src/ref/image-reference.js';
import type { Repo } from '../../src/repo/repo.js';
import type { TypedVariant } from '../../src/repo/variant.js';
import { ImageImporter } from '../../src/store/importer.js';
import { clearCachedUpdate, imageFilteredContentWarning, removeImages } from '../../src/store/maintenance.js';
import { imageVersion, listImages, queryImage, queryImageCommit, refForImage, refForLayer, type LayeredImageState } from '../../src/store/state.js';
import { editOciImage } from '../helpers/sysroot.js';
import { chunkedExampleWork, cleanupTmp, freshRepo } from './encapsulate-util.js';
import { pullImage } from './store-util.js';

let work: string;
let chunked: string;
/** One repo holding the chunked image as `oci:<chunked>`. */
let repo: Repo;
let state: LayeredImageState;

const unverified = (dir: string) => OstreeImageReference.parse(`ostree-unverified-image:oci:${dir}`);

const pull = async (r: Repo, dir: string): Promise<LayeredImageState> => (await pullImage(r, `ostree-unverified-image:oci:${dir}`)).state;

beforeAll(async () => {
  ({ work, chunked } = await chunkedExampleWork('store-query-', { labels: { foo: 'bar' } }));
  repo = await freshRepo();
  state = await pull(repo, chunked);
}, 180_000);
afterAll(cleanupTmp);

describe('already present', () => {
  /** A repo holding `oci:<dir>` (the chunked image), then `dir` replaced by `edit` of it. */
  async function storedThenEdited(name: string, edit: Parameters<typeof editOciImage>[2]): Promise<{ r: Repo; dir: string; before: LayeredImageState }> {
    const r = await freshRepo();
    const dir = path.join(work, name);
    await cp(chunked, dir, { recursive: true });
    const before = await pull(r, dir);
    await editOciImage(chunked, `${dir}.new`, edit);
    await rm(dir, { recursive: true });
    await cp(`${dir}.new`, dir, { recursive: true });
    return { r, dir, before };
  }

  it('the same manifest digest: present, no cached update written', async () => {
    const r = await freshRepo();
    const before = await pull(r, chunked);
    const again = await new ImageImporter(r, unverified(chunked)).prepare();
    expect(again).toEqual({ kind: 'already-present', state: { ...before, verifyText: null } });
    expect(await r.readCommitDetachedMetadata(before.mergeCommit)).toBeNull();
  });

  it('the same config under another manifest digest: present (spec §9.3), no cached update written', async () => {
    const { r, dir, before } = await storedThenEdited('same-config', (_oci, m) => {
      m.annotations = { ...m.annotations, 'org.example.rebuilt': 'yes' };
    });
    const { manifest, descriptor } = await (await OciDir.open(dir)).readManifest();
    expect(descriptor.digest).not.toBe(before.manifestDigest);
    expect(manifest.config.digest).toBe(before.manifest.config.digest);
    const again = await new ImageImporter(r, unverified(dir)).prepare();
    expect(again.kind).toBe('already-present');
    if (again.kind === 'already-present') expect(again.state.manifestDigest).toBe(before.manifestDigest);
    expect(await r.readCommitDetachedMetadata(before.mergeCommit)).toBeNull();
  });

  it('another config: ready, the pending update cached on the stored image', async () => {
    const { r, dir, before } = await storedThenEdited('other-config', (_oci, _m, c) => {
      c.config = { ...c.config, Labels: { ...c.config?.Labels, 'org.example.rebuilt': 'yes' } };
    });
    const imp = new ImageImporter(r, unverified(dir));
    const again = await imp.prepare();
    expect(again.kind).toBe('ready');
    await imp.close();
    if (again.kind !== 'ready') return;
    // Every layer is already stored: nothing to fetch, only a new merge commit.
    expect(again.prepared.layersToFetch()).toEqual([]);
    expect(again.prepared.formatLayerStatus()).toBeNull();
    expect(again.prepared.previousState?.mergeCommit).toBe(before.mergeCommit);
    const cached = (await queryImage(r, `oci:${dir}`))!.cachedUpdate!;
    expect(cached.manifestDigest).toBe(again.prepared.manifestDigest);
    expect(cached.manifest).toEqual(again.prepared.manifest);
    expect(cached.config.config?.Labels?.['org.example.rebuilt']).toBe('yes');
    expect((await r.readCommitDetachedMetadata(before.mergeCommit))!.get(CACHED_MANIFEST_DIGEST)).toEqual({ type: 's', value: again.prepared.manifestDigest });
  });
});

/** A commit with the merge commit's tree and `metadata`. */
async function commitWith(metadata: Map<string, TypedVariant>): Promise<string> {
  const info = await repo.loadCommit(state.mergeCommit);
  return repo.withTransaction(() => repo.writeCommit({ root: { contents: info.rootContents, metadata: info.rootMetadata }, metadata, timestamp: 0 }));
}
const s = (value: string): TypedVariant => ({ type: 's', value });
/** The metadata of a merge commit of `state`'s image. */
const mergeMetadata = () => new Map([[META_MANIFEST_DIGEST, s(state.manifestDigest)], [META_MANIFEST, s(JSON.stringify(state.manifest))], [META_CONFIG, s(JSON.stringify(state.configuration))]]);

describe('queryImageCommit', () => {
  it('reads the state from the merge commit alone, as queryImage does by reference', async () => {
    const byCommit = await queryImageCommit(repo, state.mergeCommit);
    expect(byCommit).toEqual({ ...state, verifyText: null });
    expect(await queryImage(repo, `oci:${chunked}`)).toEqual(byCommit);
    expect(await queryImage(repo, ImageReference.parse(`oci:${chunked}`))).toEqual(byCommit);
    expect(byCommit.baseCommit).toBe(COMMIT_V0);
    expect(byCommit.configuration.config?.Labels?.foo).toBe('bar');
    expect(imageVersion(byCommit)).toBe('42.0');
    expect(await queryImage(repo, 'oci:/not/stored')).toBeNull();
    expect(await listImages(repo)).toEqual([`oci:${chunked}`]);
    expect((await repo.listRefs('ostree/container/image')).get(refForImage(`oci:${chunked}`))).toBe(state.mergeCommit);
  });

  it('a commit without the keys of a merge commit, or naming no stored base layer: specific errors', async () => {
    await expect(queryImageCommit(repo, COMMIT_V0)).rejects.toThrow(`Missing ${META_MANIFEST_DIGEST} metadata on merge commit`);
    const noManifest = await commitWith(new Map([[META_MANIFEST_DIGEST, s(state.manifestDigest)]]));
    await expect(queryImageCommit(repo, noManifest)).rejects.toThrow(`Reading manifest data from commit: Failed to find ${META_MANIFEST} metadata key`);
    const badManifest = await commitWith(new Map([[META_MANIFEST_DIGEST, s(state.manifestDigest)], [META_MANIFEST, s('{"schemaVersion": 2')]]));
    await expect(queryImageCommit(repo, badManifest)).rejects.toThrow(`commit ${badManifest}`);
    const noLayers = await commitWith(new Map([[META_MANIFEST_DIGEST, s(state.manifestDigest)], [META_MANIFEST, s(JSON.stringify({ ...state.manifest, layers: [] }))]]));
    await expect(queryImageCommit(repo, noLayers)).rejects.toThrow('No layers found');
    const stranger = { ...state.manifest, layers: [{ ...state.manifest.layers[0]!, digest: `sha256:${'0'.repeat(64)}` }] };
    const unstored = await commitWith(new Map([[META_MANIFEST_DIGEST, s(state.manifestDigest)], [META_MANIFEST, s(JSON.stringify(stranger))]]));
    await expect(queryImageCommit(repo, unstored)).rejects.toThrow(`Missing base image ref ${refForLayer({ digest: `sha256:${'0'.repeat(64)}` })}`);
    // A key of another type than a string does not count (an object path is a string in JS).
    const wrongType = await commitWith(new Map([...mergeMetadata(), [META_MANIFEST_DIGEST, { type: 'o', value: '/sha256' }]]));
    await expect(queryImageCommit(repo, wrongType)).rejects.toThrow(`Missing ${META_MANIFEST_DIGEST} metadata on merge commit`);
    const badConfig = await commitWith(new Map([...mergeMetadata(), [META_CONFIG, s('{"architecture"')]]));
    await expect(queryImageCommit(repo, badConfig)).rejects.toThrow(`commit ${badConfig}`);
    // By reference, the context names the image.
    await repo.setRefImmediate(refForImage('oci:/broken'), COMMIT_V0);
    await expect(queryImage(repo, 'oci:/broken')).rejects.toThrow(`Querying image oci:/broken: Missing ${META_MANIFEST_DIGEST} metadata on merge commit`);
    await repo.deleteRef(refForImage('oci:/broken'));
  });

  it('a merge commit without a configuration (or with upstream\'s legacy null) reads as an empty one', async () => {
    const empty = { architecture: '', os: '', rootfs: { type: 'layers', diff_ids: [] } };
    for (const config of [undefined, 'null']) {
      const md = new Map([[META_MANIFEST_DIGEST, s(state.manifestDigest)], [META_MANIFEST, s(JSON.stringify(state.manifest))]]);
      if (config !== undefined) md.set(META_CONFIG, s(config));
      const q = await queryImageCommit(repo, await commitWith(md));
      expect(q.configuration).toEqual(empty);
      expect(q.manifest).toEqual(state.manifest);
      expect(q.baseCommit).toBe(COMMIT_V0);
      expect(imageVersion(q)).toBeUndefined();
    }
  });

  it('a cached update is read from the detached metadata; other tools\' keys are not one', async () => {
    const c = await commitWith(new Map([[META_MANIFEST_DIGEST, s(state.manifestDigest)], [META_MANIFEST, s(JSON.stringify(state.manifest))], [META_CONFIG, s(JSON.stringify(state.configuration))]]));
    await repo.writeCommitDetachedMetadata(c, new Map([['org.example.other', s('x')]]));
    expect((await queryImageCommit(repo, c)).cachedUpdate).toBeNull();
    const update = { ...state.manifest, annotations: { next: '1' } };
    await repo.writeCommitDetachedMetadata(
      c,
      new Map([
        [CACHED_MANIFEST_DIGEST, s('sha256:feed')],
        ['ostree-ext.cached.manifest', s(JSON.stringify(update))],
        ['ostree-ext.cached.config', s(JSON.stringify(state.configuration))],
      ]),
    );
    expect((await queryImageCommit(repo, c)).cachedUpdate).toEqual({ manifestDigest: 'sha256:feed', manifest: update, config: state.configuration });
    await repo.writeCommitDetachedMetadata(c, new Map([[CACHED_MANIFEST_DIGEST, s('sha256:feed')], ['ostree-ext.cached.manifest', s(JSON.stringify(update))]]));
    await expect(queryImageCommit(repo, c)).rejects.toThrow('Expected cached manifest ostree-ext.cached.config');
    // Unparsable cached documents name the commit they were cached on.
    for (const [key, bad] of [['ostree-ext.cached.manifest', '{"schemaVersion"'], ['ostree-ext.cached.config', '[']]) {
      const d = new Map([[CACHED_MANIFEST_DIGEST, s('sha256:feed')], ['ostree-ext.cached.manifest', s(JSON.stringify(update))], ['ostree-ext.cached.config', s(JSON.stringify(state.configuration))]]);
      d.set(key, s(bad));
      await repo.writeCommitDetachedMetadata(c, d);
      await expect(queryImageCommit(repo, c), key).rejects.toThrow(`cached update of ${c}`);
    }
  });

  it('listImages: the references in their own sorted order, not their escaped one', async () => {
    const r = await freshRepo();
    // Escaped, `.` becomes `_2E_`, which sorts after `0`: the text forms sort the other way.
    for (const name of ['oci:/x/a0', 'oci:/x/a.']) await r.setRefImmediate(refForImage(name), COMMIT_V0);
    expect([...(await r.listRefs('ostree/container/image')).keys()]).toEqual([refForImage('oci:/x/a0'), refForImage('oci:/x/a.')]);
    expect(await listImages(r)).toEqual(['oci:/x/a.', 'oci:/x/a0']);
  });
});

describe('maintenance', () => {
  it('removeImages names every missing image, after removing the others', async () => {
    const r = await freshRepo();
    await r.setRefImmediate(refForImage('oci:/present'), COMMIT_V0);
    await expect(removeImages(r, ['oci:/a', 'oci:/present', 'oci:/b'])).rejects.toThrow(/^Missing images: oci:\/a, oci:\/b$/);
    expect(await listImages(r)).toEqual([]);
  });

  it('the filtered-content warning: summed per key over the layers, keys sorted; none without (or with a malformed) record', async () => {
    const warningOf = async (metadata: Map<string, TypedVariant>) => {
      await repo.setRefImmediate(refForImage('oci:/filtered'), await commitWith(metadata));
      return imageFilteredContentWarning(repo, 'oci:/filtered');
    };
    const record = new Map([
      ['sha256:one', new Map([['zeta', 1], ['alpha', 2]])],
      ['sha256:two', new Map([['alpha', 1], ['mid', 4]])],
    ]);
    expect(await warningOf(new Map([...mergeMetadata(), [META_FILTERED, { type: 'a{sa{su}}', value: record }]]))).toBe(
      'Image contains non-ostree compatible file paths: alpha: 3 mid: 4 zeta: 1',
    );
    expect(await warningOf(mergeMetadata())).toBeNull();
    expect(await warningOf(new Map([...mergeMetadata(), [META_FILTERED, s('not a record')]]))).toBeNull();
    expect(await warningOf(new Map([...mergeMetadata(), [META_FILTERED, { type: 'a{sv}', value: new Map([['sha256:one', s('junk')]]) }]]))).toBeNull();
    await repo.deleteRef(refForImage('oci:/filtered'));
  });

  it('clearCachedUpdate: a missing image is an error naming it; an image without detached metadata is left as it is', async () => {
    await expect(clearCachedUpdate(repo, 'oci:/missing')).rejects.toThrow(/^Clearing cached update oci:\/missing: /);
    expect(await repo.readCommitDetachedMetadata(state.mergeCommit)).toBeNull();
    await clearCachedUpdate(repo, `oci:${chunked}`);
    expect(await repo.readCommitDetachedMetadata(state.mergeCommit)).toBeNull();
  });
});
