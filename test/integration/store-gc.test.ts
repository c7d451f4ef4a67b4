// Layer-ref GC of the layered store (spec store §1.1, §2.3 step 7, §4): an update that replaces an
// image drops the layers only the old image used, unless `disableGc()`, after which
// `gcImageLayers` counts and removes exactly those; the GC roots `ostree/0|1/…`, `rpmostree/base/…`
// and `ostree/container/baseimage/…` keep the layers of the merge commit they point at, other refs
// do not.
import { cp } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeSizes } from '../../src/container/chunking.js';
import { encapsulate } from '../../src/container/encapsulate.js';
import { COMMIT_V0 } from '../../src/fixture/index.js';
import { OciDir } from '../../src/oci/layout.js';
import { ImageReference } from '../../src/ref/image-reference.js';
import type { Repo } from '../../src/repo/repo.js';
import type { ImageImporter } from '../../src/store/importer.js';
import { countLayerReferences, gcImageLayers, removeImages } from '../../src/store/maintenance.js';
import { listImages, queryImage, refForImage, refForLayer, type LayeredImageState } from '../../src/store/state.js';
import { chunkedExampleWork, cleanupTmp, freshRepo } from './encapsulate-util.js';
import { pullImage } from './store-util.js';
import { fsck } from './tar-util.js';

let work: string;
/** The chunked example OS, v0 and (after the fixture's update) v1: some layers shared, some not. */
let v0: string;
let v1: string;
let digests0: string[];
let digests1: string[];

beforeAll(async () => {
  const w = await chunkedExampleWork('store-gc-');
  work = w.work;
  v0 = w.chunked;
  await w.fx.update();
  v1 = path.join(work, 'v1');
  await encapsulate(w.repo, w.fx.ref, {}, { contentmeta: await computeSizes(w.repo, await w.fx.getObjectMeta()) }, ImageReference.parse(`oci:${v1}`));
  const layersOf = async (dir: string) => (await (await OciDir.open(dir)).readManifest()).manifest.layers.map((l) => l.digest);
  [digests0, digests1] = [await layersOf(v0), await layersOf(v1)];
}, 180_000);
afterAll(cleanupTmp);

/** Imports the image in `dir` under `oci:<dir>`; `setup` configures the importer. */
async function pull(repo: Repo, dir: string, setup?: (i: ImageImporter) => void): Promise<LayeredImageState> {
  return (await pullImage(repo, `ostree-unverified-image:oci:${dir}`, setup ? { setup } : {})).state;
}

/** The layer digests that have a blob ref in `repo`. */
async function storedLayers(repo: Repo, digests: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const d of digests) if ((await repo.resolveRev(refForLayer({ digest: d }), { allowNoent: true })) !== null) out.push(d);
  return out;
}

describe('an update replacing an image', () => {
  /** A repo holding v0 under `oci:<dir>`, then `dir` rewritten to v1 (an update of the same reference). */
  async function replaced(name: string, setup?: (i: ImageImporter) => void): Promise<{ repo: Repo; dir: string; state: LayeredImageState }> {
    const repo = await freshRepo();
    const dir = path.join(work, name);
    await cp(v0, dir, { recursive: true });
    await pull(repo, dir);
    expect(await storedLayers(repo, digests0)).toEqual(digests0);
    await cp(v1, dir, { recursive: true, force: true });
    return { repo, dir, state: await pull(repo, dir, setup) };
  }

  it('the two versions share some layers and not others (what the cases below rely on)', () => {
    expect(digests0.filter((d) => digests1.includes(d)).length).toBeGreaterThan(0);
    expect(digests0.filter((d) => !digests1.includes(d)).length).toBeGreaterThan(0);
  });

  it('by default drops the layers only the replaced image used', async () => {
    const { repo, dir, state } = await replaced('default-gc');
    expect(state.manifest.layers.map((l) => l.digest)).toEqual(digests1);
    expect(await storedLayers(repo, digests0)).toEqual(digests0.filter((d) => digests1.includes(d)));
    expect(await storedLayers(repo, digests1)).toEqual(digests1);
    expect(await countLayerReferences(repo)).toBe(digests1.length);
    expect(await gcImageLayers(repo)).toBe(0);
    expect((await queryImage(repo, `oci:${dir}`))!.mergeCommit).toBe(state.mergeCommit);
  });

  it('disableGc keeps them, with their commits; gcImageLayers then counts and removes exactly those', async () => {
    const { repo, dir, state } = await replaced('disabled-gc', (i) => i.disableGc());
    const onlyOld = digests0.filter((d) => !digests1.includes(d));
    expect(await storedLayers(repo, digests0)).toEqual(digests0);
    expect(await storedLayers(repo, digests1)).toEqual(digests1);
    expect(await countLayerReferences(repo)).toBe(new Set([...digests0, ...digests1]).size);
    // The kept refs still name complete layer commits.
    for (const d of onlyOld) expect(await repo.hasObject('commit', await repo.resolveRev(refForLayer({ digest: d })))).toBe(true);

    expect(await gcImageLayers(repo)).toBe(onlyOld.length);
    expect(await storedLayers(repo, digests0)).toEqual(digests0.filter((d) => digests1.includes(d)));
    expect(await storedLayers(repo, digests1)).toEqual(digests1);
    expect(await gcImageLayers(repo)).toBe(0);
    expect((await queryImage(repo, `oci:${dir}`))!.mergeCommit).toBe(state.mergeCommit);
    expect(await fsck(repo.path)).toMatch(/no errors found/);
  });
});

describe('GC roots', () => {
  it('ostree/0|1/…, rpmostree/base/… and ostree/container/baseimage/… keep the layers of the merge commit they name; other refs do not', async () => {
    const repo = await freshRepo();
    const state = await pull(repo, v0);
    await removeImages(repo, [`oci:${v0}`]);
    const roots = ['ostree/1/1/0', 'ostree/0/0/0', 'rpmostree/base/0', 'ostree/container/baseimage/bootc/host'];
    for (const root of roots) {
      await repo.setRefImmediate(root, state.mergeCommit);
      expect(await gcImageLayers(repo), root).toBe(0);
      expect(await storedLayers(repo, digests0), root).toEqual(digests0);
      await repo.deleteRef(root);
    }
    // A root naming a commit that is not a merge commit (no manifest) roots nothing and is no
    // error; a ref outside the root prefixes roots nothing even when it names a merge commit.
    await repo.setRefImmediate('rpmostree/base/1', COMMIT_V0);
    await repo.setRefImmediate('ostree/container/baseimagex', state.mergeCommit);
    await repo.setRefImmediate('exampleos/keep', state.mergeCommit);
    expect(await gcImageLayers(repo)).toBe(digests0.length);
    expect(await countLayerReferences(repo)).toBe(0);
    expect([...(await repo.listRefs()).keys()].sort()).toEqual(['exampleos/keep', 'ostree/container/baseimagex', 'rpmostree/base/1']);
  });

  it('the temporary names libostree writes ref files under, left by a kill (`tmplink.XXXXXX`), are neither layers nor images: listed, counted and collected past', async () => {
    const repo = await freshRepo();
    await pull(repo, v0);
    // What a process killed between libostree's link and rename of a ref file leaves in the ref's
    // directory (a kill -9 of a pull in CI: its rerun's GC failed with "Invalid character .").
    const layerRef = refForLayer({ digest: digests0[0]! });
    const imageRef = refForImage(`oci:${v0}`);
    const leftovers = ['ostree/container/blob/tmplink.Ab12Cd', 'ostree/container/blob/tmp.Xy34Zw', 'ostree/container/image/tmplink.Qr56St'];
    for (const [i, left] of leftovers.entries()) await repo.setRefImmediate(left, (await repo.resolveRev(i < 2 ? layerRef : imageRef))!);
    expect(await listImages(repo)).toEqual([`oci:${v0}`]);
    expect(await countLayerReferences(repo)).toBe(digests0.length);
    expect(await gcImageLayers(repo)).toBe(0);
    // Not ours to delete: another process's ref update may be under way.
    for (const left of leftovers) expect(await repo.resolveRev(left, { allowNoent: true })).not.toBeNull();
    await pull(repo, v1);
    expect(await listImages(repo)).toEqual([`oci:${v0}`, `oci:${v1}`].sort());
    expect(await storedLayers(repo, digests1)).toEqual(digests1);
  });

  it('an image ref whose commit has no manifest fails the GC and deletes nothing', async () => {
    const repo = await freshRepo();
    await pull(repo, v0);
    await repo.setRefImmediate('ostree/container/image/broken', COMMIT_V0);
    await expect(gcImageLayers(repo)).rejects.toThrow('Pruning image layers: Reading manifest data from commit: Failed to find ostree.manifest metadata key');
    expect(await storedLayers(repo, digests0)).toEqual(digests0);
  });
});
