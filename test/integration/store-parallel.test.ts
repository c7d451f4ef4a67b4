// Layers in flight side by side (spec store §2.3, §2.4): the image has two derived layers that
// overwrite and delete each other's files, the first one large and served through a relay that
// sends it at 2 MiB/s, so at parallelism 4 it is still being fetched when the small layer is stored
// (3 s in flight: a loaded machine still fetches and imports the small layer within that). The merge commit must still apply the
// layers in manifest order (the same commit as at parallelism 1), and the progress events seen
// while it is in flight must move forward only, through values strictly between 0 and the total.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Repo } from '../../src/repo/repo.js';
import { skopeoCopy } from '../../src/proxy/skopeo-copy.js';
import type { PreparedImport } from '../../src/store/prepared.js';
import type { ImportProgress } from '../../src/store/progress.js';
import type { LayeredImageState } from '../../src/store/state.js';
import { registryFixture } from '../helpers/registry.js';
import { startRelay, type Relay } from '../helpers/relay.js';
import { deriveOciImage } from '../helpers/sysroot.js';
import { chunkedExampleWork, cleanupTmp, freshRepo } from './encapsulate-util.js';
import { catFile, listCommit, pullImage } from './store-util.js';
import { fsck } from './tar-util.js';

const BIG = 6 << 20;
const RATE = 2 << 20;

const reg = registryFixture('store-parallel-');
let relay: Relay;
/** `<relay>/exampleos/derived:v1` */
let image: string;

beforeAll(async () => {
  const { work, chunked } = await chunkedExampleWork('store-parallel-');
  // Layer 1: a large random (incompressible) file and two small ones; layer 2 overwrites one of
  // them, deletes the other and adds a third.
  const one = await deriveOciImage(chunked, path.join(work, 'one'), { 'usr/share/big': randomBytes(BIG), 'usr/share/a': '1a', 'usr/share/b': '1b' }, 'layer 1');
  const two = await deriveOciImage(one, path.join(work, 'two'), { 'usr/share/a': '2a', 'usr/share/.wh.b': '', 'usr/share/c': '2c' }, 'layer 2');
  await skopeoCopy(`oci:${two}`, `docker://${reg.registry.host}/exampleos/derived:v1`, { destTlsVerify: false });
  relay = await startRelay(reg.registry.host, RATE);
  image = `${relay.host}/exampleos/derived:v1`;
}, 180_000);
afterAll(async () => {
  await relay?.close();
  await cleanupTmp();
});

async function pull(repo: Repo, parallelism: number): Promise<{ state: LayeredImageState; prepared: PreparedImport; events: ImportProgress[]; ms: number }> {
  const events: ImportProgress[] = [];
  const t0 = Date.now();
  const r = await pullImage(repo, `ostree-unverified-registry:${image}`, {
    proxyConfig: { insecureSkipTlsVerification: true },
    setup: (i) => i.setParallelism(parallelism).onProgress((e) => events.push(e)),
  });
  return { ...r, events, ms: Date.now() - t0 };
}

describe('two derived layers, the first large and slow', () => {
  let one: Awaited<ReturnType<typeof pull>>;
  let four: Awaited<ReturnType<typeof pull>>;
  let repo4: Repo;

  beforeAll(async () => {
    one = await pull(await freshRepo(), 1);
    repo4 = await freshRepo();
    four = await pull(repo4, 4);
  }, 180_000);

  it('give the same merge commit at parallelism 1 and 4, with the later layer winning', async () => {
    // At parallelism 4 the large layer was still being fetched when the small one completed:
    // an import does not wait for the fetches of the layers before it in the manifest.
    const n = four.prepared.manifest.layers.length;
    const smallDone = four.events.findIndex((e) => e.type === 'layer-completed' && e.layerIndex === n - 1);
    expect(smallDone).toBeGreaterThan(-1);
    const largeFetching = four.events.slice(smallDone).filter((e) => e.type === 'layer-progress' && e.layerIndex === n - 2 && e.fetched < e.total);
    expect(largeFetching.length).toBeGreaterThan(0);
    expect(four.state.mergeCommit).toBe(one.state.mergeCommit);
    const m = four.state.mergeCommit;
    expect(await catFile(repo4.path, m, '/usr/share/a')).toBe('2a');
    expect(await catFile(repo4.path, m, '/usr/share/c')).toBe('2c');
    const listing = await listCommit(repo4.path, m);
    expect(listing.has('/usr/share/b')).toBe(false);
    expect(listing.has('/usr/share/.wh.b')).toBe(false);
    expect(listing.get('/usr/share/big')).toMatch(new RegExp(`^-00644 0 0 +${BIG} /usr/share/big$`));
    expect(await fsck(repo4.path)).toMatch(/no errors found/);
  });

  for (const p of [1, 4]) {
    it(`progress at parallelism ${p}: per layer and overall, never decreasing, strictly between 0 and the total while in flight, the total at the end`, () => {
      const { events, prepared, ms } = p === 1 ? one : four;
      const layers = prepared.manifest.layers;
      // The relay's rate bounds the pull from below: the large layer was in flight this long.
      expect(ms).toBeGreaterThanOrEqual((BIG / RATE) * 1000 * 0.9);
      const state = new Map<number, 'started' | 'completed'>();
      const fetched = new Map<number, number>();
      let overall = -1;
      const between: { layer: number[]; overall: number } = { layer: [], overall: 0 };
      for (const e of events) {
        switch (e.type) {
          case 'layer-started':
            expect(state.has(e.layerIndex), `layer ${e.layerIndex} started twice`).toBe(false);
            expect(e.layer).toEqual(layers[e.layerIndex]);
            state.set(e.layerIndex, 'started');
            break;
          case 'layer-progress': {
            expect(state.get(e.layerIndex), `progress of layer ${e.layerIndex} outside its run`).toBe('started');
            expect(e.total).toBe(layers[e.layerIndex]!.size);
            expect(e.fetched).toBeGreaterThanOrEqual(fetched.get(e.layerIndex) ?? 0);
            expect(e.fetched).toBeLessThanOrEqual(e.total);
            if (e.fetched > 0 && e.fetched < e.total) between.layer.push(e.layerIndex);
            fetched.set(e.layerIndex, e.fetched);
            break;
          }
          case 'layer-completed':
            expect(state.get(e.layerIndex)).toBe('started');
            expect(fetched.get(e.layerIndex), `layer ${e.layerIndex} completed at its size`).toBe(layers[e.layerIndex]!.size);
            state.set(e.layerIndex, 'completed');
            break;
          case 'progress':
            expect(e.total).toBe(layers.reduce((n, l) => n + l.size, 0));
            expect(e.fetched).toBeGreaterThanOrEqual(overall);
            expect(e.fetched).toBeLessThanOrEqual(e.total);
            if (e.fetched > 0 && e.fetched < e.total) between.overall++;
            overall = e.fetched;
            break;
        }
      }
      expect([...state.values()]).toEqual(layers.map(() => 'completed'));
      expect(state.size).toBe(layers.length);
      expect(events.filter((e) => e.type === 'progress').at(-1)).toEqual({ type: 'progress', fetched: overall, total: overall });
      // The large layer (second to last) was seen part way, and so was the overall count.
      expect(between.layer).toContain(layers.length - 2);
      expect(between.overall).toBeGreaterThan(0);
    });
  }
});
