// Which chunk layers encapsulate makes: from a content mapping, from the commit (automatic
// chunking, here on a small real commit without package databases), or none; the option clashes.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packChunks, type ObjectMetaSized } from '../../src/container/chunking.js';
import { AUTO_MAX_LAYERS, planLayers, type ChunkingSummary } from '../../src/container/layer-plan.js';
import { Repo } from '../../src/repo/repo.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'layer-plan-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let repo: Repo;
let commit: string;
/** Files of the commit with a `user.component` each (a layer of their own). */
const TAGGED = 130;

beforeAll(async () => {
  // Three small unowned files in one directory (one group, or three components at a 1-byte threshold).
  const root = path.join(work, 'root');
  mkdirSync(path.join(root, 'usr/u'), { recursive: true });
  for (const n of ['a', 'b', 'c']) writeFileSync(path.join(root, 'usr/u', n), n.repeat(100));
  repo = await Repo.create(path.join(work, 'repo'), 'bare-user');
  const r = repo;
  commit = await r.withTransaction(async () => {
    const entries = [];
    for (let i = 0; i < TAGGED; i++) {
      const checksum = await r.writeRegularFile(Buffer.from(`file ${i}`), { xattrs: [[Buffer.from('user.component\0'), Buffer.from(`c${i}`)]] });
      entries.push({ path: `/usr/c${i}`, kind: 'file' as const, checksum });
    }
    return r.writeCommit({ root: await r.writeTree({ directories: [{ source: root }], entries }), parent: null, timestamp: 1700000000 });
  });
});

function meta(n: number): ObjectMetaSized {
  const sizes = Array.from({ length: n }, (_, i) => ({ identifier: `p${i}-1`, name: `p${i}`, srcid: `p${i}`, change_time_offset: 0, change_frequency: i, size: 1000 * (n - i) }));
  return { map: new Map(sizes.map((s, i) => [i.toString(16).padStart(64, '0'), s.identifier])), sizes };
}

describe('layer plans', () => {
  it('packs a given content mapping with the budget and the previous build', async () => {
    const contentmeta = meta(10);
    const prior = { layers: [{}, { annotations: { 'ostree.components': 'p0,p1' } }, { annotations: { 'ostree.components': '' } }] };
    const got = await planLayers(repo, commit, { contentmeta, maxLayers: 5, priorBuild: prior });
    expect(got).toEqual({ meta: contentmeta, plan: packChunks(contentmeta, 5, prior) });
    expect(got!.plan).not.toEqual(packChunks(contentmeta, 5));
    expect(got!.plan).not.toEqual(packChunks(contentmeta, undefined, prior));
  });

  it('makes none without a mapping or automatic chunking', async () => {
    expect(await planLayers(repo, commit, {})).toBeUndefined();
    expect(await planLayers(repo, commit, { maxLayers: 5 })).toBeUndefined();
  });

  it('refuses options that do not go together', async () => {
    await expect(planLayers(repo, commit, { chunking: 'auto', contentmeta: meta(2) })).rejects.toThrow(
      /^Automatic chunking and a content mapping \(contentmeta\) cannot be combined$/,
    );
    await expect(planLayers(repo, commit, { chunking: 'manual' as 'auto' })).rejects.toThrow(/^Unknown chunking mode: manual$/);
    await expect(planLayers(repo, commit, { bigFileThreshold: 1 })).rejects.toThrow(/^bigFileThreshold needs automatic chunking$/);
  });

  it('finds the components in the commit, within the budget (128 by default), and reports them', async () => {
    const summaries: ChunkingSummary[] = [];
    const onChunking = (s: ChunkingSummary) => summaries.push(s);
    // 130 components with a layer of their own and the group need 132 layers (with the reserved last one).
    expect(AUTO_MAX_LAYERS).toBe(128);
    await expect(planLayers(repo, commit, { chunking: 'auto', onChunking })).rejects.toThrow(
      /^Automatic chunking: 130 components with a layer of their own \(user\.component\) need more than 127 layers$/,
    );
    const grouped = await planLayers(repo, commit, { chunking: 'auto', maxLayers: 132, onChunking });
    expect(summaries).toEqual([{ databases: [], components: TAGGED + 1, layers: 132 }]);
    expect(grouped!.plan.bins).toHaveLength(132);
    const apart = await planLayers(repo, commit, { chunking: 'auto', bigFileThreshold: 1, maxLayers: 140, onChunking });
    // Three more components, merged again for their size (tiny ones cost more as layers of their own).
    expect(summaries[1]).toEqual({ databases: [], components: TAGGED + 3, layers: 132 });
    expect(apart!.meta.sizes).toHaveLength(TAGGED + 3);
    // The previous build's layout is kept: c0 and c1 in their (shared) layer.
    const prior = { layers: [{}, { annotations: { 'ostree.components': 'c0,c1' } }, { annotations: { 'ostree.components': '' } }] };
    const kept = await planLayers(repo, commit, { chunking: 'auto', maxLayers: 132, priorBuild: prior });
    expect(kept!.plan.bins[0]!.map((c) => c.name)).toEqual(['c0', 'c1']);
    expect(grouped!.plan.bins[0]!.map((c) => c.name)).not.toEqual(['c0', 'c1']);
  });

  it('stops when its signal is aborted, in the context of automatic chunking', async () => {
    const signal = AbortSignal.abort();
    await expect(planLayers(repo, commit, { chunking: 'auto', signal })).rejects.toThrow(/^Automatic chunking: .*abort/i);
  });
});
