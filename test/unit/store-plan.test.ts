// The plan of an import without a registry (store/plan.ts, store/prepared.ts): which image an
// offline prepare() plans, its refusals naming what is missing, the bootable checks, and what a
// plan reports about its layers. Plain documents; a real (empty) repo where planImport reads one.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostOciArch } from '../../src/oci/platform.js';
import type { Descriptor, ImageConfiguration, ImageManifest } from '../../src/oci/types.js';
import { ImageReference } from '../../src/ref/image-reference.js';
import { Repo } from '../../src/repo/repo.js';
import { CACHED_CONFIG, CACHED_MANIFEST, CACHED_MANIFEST_DIGEST, META_CONFIG, META_MANIFEST, META_MANIFEST_DIGEST } from '../../src/container/constants.js';
import { ostreeCli } from '../../src/fixture/index.js';
import { recordReusedLayers, storedLayersByDiffId } from '../../src/store/layer-reuse.js';
import { planImport, planOffline } from '../../src/store/plan.js';
import { PreparedImport, type ManifestLayerState } from '../../src/store/prepared.js';
import { refForImage, refForLayer, type CachedUpdate, type LayeredImageState } from '../../src/store/state.js';

const sha = (c: string) => `sha256:${c.repeat(64)}`;
const layer = (c: string, size: number): Descriptor => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(c), size });
const manifest = (configDigest: string, layers: Descriptor[]): ImageManifest => ({
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: 10 },
  layers,
});
const config = (o: Partial<ImageConfiguration> = {}): ImageConfiguration => ({ architecture: hostOciArch(), os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, ...o });
const stored = (m: ImageManifest, digest: string, cachedUpdate: CachedUpdate | null = null): LayeredImageState => ({
  baseCommit: 'a'.repeat(64),
  mergeCommit: 'b'.repeat(64),
  manifestDigest: digest,
  manifest: m,
  configuration: config(),
  cachedUpdate,
  verifyText: null,
});
const state = (l: Descriptor, commit: string | null): ManifestLayerState => ({ layer: l, ostreeRef: refForLayer(l), commit });

const L1 = layer('1', 1000);
const L2 = layer('2', 500);
const L3 = layer('3', 20);
const OLD = sha('d');
const NEW = sha('e');
const imgref = (name: string) => ImageReference.parse(`docker://${name}`);

describe('planOffline', () => {
  const previous = stored(manifest(sha('c'), [L1]), OLD);
  const update: CachedUpdate = { manifest: manifest(sha('f'), [L1, L2, L3]), config: config(), manifestDigest: NEW };
  const withUpdate = { ...previous, cachedUpdate: update };
  const planned = (commits: (string | null)[]) => async (u: CachedUpdate) =>
    new PreparedImport(u.manifestDigest, u.manifest, u.config, withUpdate, null, [], u.manifest.layers.map((l, i) => state(l, commits[i] ?? null)));
  const never = () => Promise.reject(new Error('not to be planned'));

  it('plans the recorded update when all its layers are stored', async () => {
    const r = await planOffline(withUpdate, imgref('quay.io/a/b:1'), planned(['c1', 'c2', 'c3']));
    expect(r.kind).toBe('ready');
    expect(r.kind === 'ready' && r.prepared.manifestDigest).toBe(NEW);
  });

  it('plans the update pinned by its digest', async () => {
    const r = await planOffline(withUpdate, imgref(`quay.io/a/b@${NEW}`), planned(['c1', 'c2', 'c3']));
    expect(r.kind === 'ready' && r.prepared.manifestDigest).toBe(NEW);
  });

  it('refuses an update with layers missing, naming their count, size and digests', async () => {
    await expect(planOffline(withUpdate, imgref('quay.io/a/b:1'), planned(['c1', null, null]))).rejects.toThrow(
      `Offline: 2 layers (520 bytes) of the update ${NEW} of docker://quay.io/a/b:1 are not stored: ${L2.digest}, ${L3.digest}`,
    );
  });

  it('keeps the stored image when the update is the stored manifest, or only a new manifest of the same configuration', async () => {
    for (const u of [{ ...update, manifestDigest: OLD }, { ...update, manifest: manifest(sha('c'), [L1]) }]) {
      const r = await planOffline({ ...previous, cachedUpdate: u }, imgref('quay.io/a/b:1'), never);
      expect(r).toEqual({ kind: 'already-present', state: { ...previous, cachedUpdate: u } });
    }
  });

  it('keeps the stored image pinned by its own digest, even with an update recorded', async () => {
    const r = await planOffline(withUpdate, imgref(`quay.io/a/b@${OLD}`), never);
    expect(r.kind).toBe('already-present');
  });

  it('keeps the stored image without an update', async () => {
    expect(await planOffline(previous, imgref('quay.io/a/b:1'), never)).toEqual({ kind: 'already-present', state: previous });
  });

  it('takes only a whole digest at the end of the name as pinned', async () => {
    const r = await planOffline(previous, imgref(`quay.io/a/b@${NEW}0`), never);
    expect(r.kind).toBe('already-present');
  });

  it('refuses a digest that is neither the stored image nor its update', async () => {
    const other = sha('9');
    await expect(planOffline(withUpdate, imgref(`quay.io/a/b@${other}`), never)).rejects.toThrow(
      `Offline: docker://quay.io/a/b@${other} is stored as ${OLD}, not ${other}, and no update of it was downloaded; its manifest must be fetched`,
    );
  });

  it('refuses an image that is not stored', async () => {
    await expect(planOffline(null, imgref('quay.io/a/b:1'), never)).rejects.toThrow(
      'Offline: docker://quay.io/a/b:1 is not stored and no update of it was downloaded; its manifest must be fetched',
    );
  });
});

describe('planImport', () => {
  let dir: string;
  let repo: Repo;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'store-plan-'));
    repo = await Repo.create(path.join(dir, 'repo'), 'bare-user');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const image = (cfg: ImageConfiguration) => ({ digest: NEW, manifest: manifest(sha('f'), [L1]), config: { ...cfg, rootfs: { type: 'layers', diff_ids: [sha('7')] } }, previous: null });

  it('refuses an image without a bootable label when asked to', async () => {
    await expect(planImport(repo, image(config()), { bootable: true, verifyCommit: false })).rejects.toThrow('Target image does not have ostree.bootable label');
    await expect(planImport(repo, image(config({ config: { Labels: { other: '1' } } })), { bootable: true, verifyCommit: false })).rejects.toThrow(
      'Target image does not have ostree.bootable label',
    );
  });

  it('takes either bootable label, and refuses another architecture', async () => {
    for (const label of ['ostree.bootable', 'containers.bootc']) {
      const p = await planImport(repo, image(config({ config: { Labels: { [label]: '1' } } })), { bootable: true, verifyCommit: false });
      expect(p.allLayers().map((l) => l.commit)).toEqual([null]);
    }
    const arch = hostOciArch() === 's390x' ? 'riscv64' : 's390x';
    await expect(planImport(repo, image(config({ architecture: arch, config: { Labels: { 'ostree.bootable': '1' } } })), { bootable: true, verifyCommit: false })).rejects.toThrow(
      `Image has architecture ${arch}; expected ${hostOciArch()}`,
    );
  });

  it('plans a non-bootable image when not asked to check', async () => {
    const p = await planImport(repo, image(config({ architecture: 'other' })), { bootable: false, verifyCommit: false });
    expect(p.layers.map((l) => [l.layer.digest, l.ostreeRef, l.commit])).toEqual([[L1.digest, refForLayer(L1), null]]);
  });
});

describe('layers found by diff_id', () => {
  // A store made by hand with the ostree CLI: layer commits under their blob refs, merge commits
  // recording manifest, configuration and digest under image refs, an update cached beside one.
  let dir: string;
  let repoPath: string;
  let repo: Repo;
  const commits: Record<string, string> = {};
  const D = (c: string) => sha(c);
  const X = { a1: layer('1', 10), a2: layer('2', 10), u: layer('5', 10), b1: layer('6', 10) };
  async function commit(args: string[]): Promise<string> {
    return (await ostreeCli(repoPath, ['commit', `--tree=dir=${path.join(dir, 'empty')}`, ...args])).trim();
  }
  async function storeImage(name: string, m: ImageManifest, diffIds: string[], o: { layers?: boolean } = {}): Promise<string> {
    for (const l of o.layers === false ? [] : m.layers) commits[l.digest] = await commit(['-b', refForLayer(l), `--subject=${l.digest}`]);
    const cfg = JSON.stringify(config({ rootfs: { type: 'layers', diff_ids: diffIds } }));
    const meta = [`${META_MANIFEST}=${JSON.stringify(m)}`, `${META_CONFIG}=${cfg}`, `${META_MANIFEST_DIGEST}=${sha(name.at(-1)!)}`];
    return commit(['-b', refForImage(name), ...meta.map((x) => `--add-metadata-string=${x}`)]);
  }
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'store-reuse-'));
    repoPath = path.join(dir, 'repo');
    await mkdir(path.join(dir, 'empty'));
    repo = await Repo.create(repoPath, 'bare-user');
    // a: two layers, and an update whose layer is stored; b: a layer of a's first diff_id under
    // another commit (the first image wins); c: a layer whose blob ref is gone; d: damaged;
    // e: a layer without a diff_id.
    const a = await storeImage('docker://x/a', manifest(sha('c'), [X.a1, X.a2]), [D('a'), D('b')]);
    commits[X.u.digest] = await commit(['-b', refForLayer(X.u)]);
    const update = manifest(sha('f'), [X.u]);
    await repo.writeCommitDetachedMetadata(
      a,
      new Map([
        [CACHED_MANIFEST_DIGEST, { type: 's', value: NEW }],
        [CACHED_MANIFEST, { type: 's', value: JSON.stringify(update) }],
        [CACHED_CONFIG, { type: 's', value: JSON.stringify(config({ rootfs: { type: 'layers', diff_ids: [D('c')] } })) }],
      ]),
    );
    await storeImage('docker://x/b', manifest(sha('c'), [X.b1]), [D('a')]);
    await storeImage('docker://x/c', manifest(sha('c'), [X.a2, layer('7', 10)]), [D('b'), D('d')], { layers: false });
    // e: fewer diff_ids than layers (the second layer's is unknown).
    await storeImage('docker://x/e', manifest(sha('c'), [X.b1, X.u]), [D('f')], { layers: false });
    await commit(['-b', refForImage('docker://x/d'), '--add-metadata-string=ostree.manifest-digest=x']);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('indexes the stored images and their recorded updates, first image first, skipping the damaged', async () => {
    expect([...(await storedLayersByDiffId(repo))]).toEqual([
      [D('a'), commits[X.a1.digest]],
      [D('b'), commits[X.a2.digest]],
      [D('c'), commits[X.u.digest]],
      [D('f'), commits[X.b1.digest]],
    ]);
  });

  const N = { n1: layer('a', 10), n2: layer('b', 10), n3: layer('e', 10) };
  const newImage = (labels?: Record<string, string>) => ({
    digest: NEW,
    manifest: manifest(sha('9'), [N.n1, X.a2, N.n2, N.n3]),
    config: config({ rootfs: { type: 'layers', diff_ids: [D('a'), D('9'), D('c'), D('e')] }, ...(labels ? { config: { Labels: labels } } : {}) }),
    previous: null,
  });

  it('plans a layer stored by digest, or by diff_id, else to fetch; records blob refs for those found by diff_id', async () => {
    const p = await planImport(repo, newImage(), { bootable: false, verifyCommit: false });
    expect(p.allLayers().map((l) => l.commit)).toEqual([commits[X.a1.digest], commits[X.a2.digest], commits[X.u.digest], null]);
    await recordReusedLayers(repo, p);
    const refs = await Promise.all([N.n1, X.a2, N.n2, N.n3].map((l) => repo.resolveRev(refForLayer(l), { allowNoent: true })));
    expect(refs).toEqual([commits[X.a1.digest], commits[X.a2.digest], commits[X.u.digest], null]);
    for (const l of [N.n1, N.n2]) await repo.setRefImmediate(refForLayer(l), null);
  });

  it('through an ostree remote, takes only the very commit layer blob, not one of its diff_id', async () => {
    const img = newImage({ 'ostree.final-diffid': D('a') });
    const verified = await planImport(repo, img, { bootable: false, verifyCommit: true });
    expect(verified.ostreeCommitLayer!.commit).toBeNull();
    expect(verified.layers.map((l) => l.commit)).toEqual([commits[X.a2.digest], commits[X.u.digest], null]);
    const unverified = await planImport(repo, img, { bootable: false, verifyCommit: false });
    expect(unverified.ostreeCommitLayer!.commit).toBe(commits[X.a1.digest]);
  });
});

describe('PreparedImport', () => {
  const prevManifest = manifest(sha('c'), [L1]);
  const history = [{ created_by: 'base' }, { created_by: '' }, { comment: 'no created_by' }];
  const p = (prev: LayeredImageState | null, h = history, commit: ManifestLayerState | null = state(L1, 'c1')) =>
    new PreparedImport(NEW, manifest(sha('f'), [L1, L2, L3]), config({ history: h }), prev, commit, [state(L2, null)], [state(L3, null)]);

  it('lists its layers in manifest order, those to fetch with their history', () => {
    const x = p(null);
    expect(x.allLayers().map((l) => l.layer.digest)).toEqual([L1.digest, L2.digest, L3.digest]);
    expect(x.layersToFetch()).toEqual([
      { layer: state(L2, null), createdBy: '' },
      { layer: state(L3, null), createdBy: '' },
    ]);
    expect(p(null, [{}, { created_by: 'two' }, { created_by: 'three' }]).layersToFetch().map((l) => l.createdBy)).toEqual(['two', 'three']);
    expect(p(null, []).layersToFetch().map((l) => l.createdBy)).toEqual(['', '']);
    expect(x.layersWithHistory().map((l) => [l.layer.layer.digest, l.history])).toEqual([
      [L1.digest, history[0]],
      [L2.digest, history[1]],
      [L3.digest, history[2]],
    ]);
  });

  it('without a commit layer (a generic image) lists only the others', () => {
    expect(p(null, history, null).allLayers().map((l) => l.layer.digest)).toEqual([L2.digest, L3.digest]);
  });

  it('refuses a history shorter than the layers, or none', () => {
    expect(() => p(null, history.slice(0, 2)).layersWithHistory()).toThrow('Truncated history');
    expect(() => new PreparedImport(NEW, manifest(sha('f'), [L1]), config(), null, state(L1, null), [], []).layersWithHistory()).toThrow('Truncated history');
  });

  it('reports the layers present and needed, or nothing when none is needed', () => {
    expect(p(null).formatLayerStatus()).toBe('layers already present: 1; layers needed: 2 (520 bytes)');
    const all = new PreparedImport(NEW, manifest(sha('f'), [L1]), config(), null, state(L1, 'c1'), [], []);
    expect(all.formatLayerStatus()).toBeNull();
    expect(all.layersToFetch()).toEqual([]);
  });

  it('names the previous image, and its diff, only when there is one', () => {
    const none = p(null);
    expect([none.previousManifestDigest, none.previousImageid, none.manifestDiff()]).toEqual([null, null, null]);
    const prev = p(stored(prevManifest, OLD));
    expect([prev.previousManifestDigest, prev.previousImageid]).toEqual([OLD, sha('c')]);
    const diff = prev.manifestDiff()!;
    expect(diff.added.map((l) => l.digest)).toEqual([L2.digest, L3.digest]);
    expect(diff.removed).toEqual([]);
  });

  it('has the version label, and no deprecation warning', () => {
    const x = new PreparedImport(NEW, manifest(sha('f'), []), config({ config: { Labels: { version: '42.1' } } }), null, null, [], []);
    expect(x.version()).toBe('42.1');
    expect(p(null).version()).toBeUndefined();
    expect(x.deprecatedWarning()).toBeNull();
  });
});
