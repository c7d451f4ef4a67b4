// What the importer checks and reports around the pull pipeline (store/importer.ts,
// store/pipeline.ts): blobs whose bytes are not their descriptor's digest or size refused before
// anything is imported (by skopeo, ahead of the pipeline's own check), the progress events of a whole import, the settings' bounds, the merge
// commit's timestamp. Small generic `dir:` images pulled through real skopeo.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageConfiguration, ImageManifest } from '../../src/oci/types.js';
import { OstreeImageReference } from '../../src/ref/image-reference.js';
import { ImageImporter, imageTimestamp } from '../../src/store/importer.js';
import type { ImportProgress } from '../../src/store/progress.js';
import { listImages } from '../../src/store/state.js';
import { buildDirImage, type BuiltImage } from '../helpers/images.js';
import { cleanupTmp, freshRepo, tmpdir } from './encapsulate-util.js';

let good: BuiltImage;
const files = [{ 'usr/share/a': 'a' }, { 'usr/share/b': randomBytes(4096) }];
beforeAll(async () => {
  good = await buildDirImage(path.join(await tmpdir('import-checks-'), 'good'), { layers: files });
});
afterAll(cleanupTmp);

const imgref = (dir: string) => OstreeImageReference.parse(`ostree-unverified-image:dir:${dir}`);
async function pull(dir: string, onEvent?: (e: ImportProgress) => void) {
  const repo = await freshRepo();
  const imp = new ImageImporter(repo, imgref(dir));
  if (onEvent) imp.onProgress(onEvent);
  const r = await imp.prepare();
  if (r.kind !== 'ready') throw new Error('expected ready');
  return { repo, result: imp.import(r.prepared) };
}

describe('blobs checked against their descriptors', () => {
  it('a layer whose bytes are not its digest is refused, naming both digests; no image stored', async () => {
    const img = await buildDirImage(path.join(await tmpdir('import-checks-'), 'digest'), { layers: files });
    const layer = img.layers[1]!.descriptor;
    const other = randomBytes(layer.size);
    await writeFile(path.join(img.path, layer.digest.slice('sha256:'.length)), other);
    const { repo, result } = await pull(img.path);
    // skopeo finds it first (its FinishPipe); without it, the pipeline's own check says `Corrupted
    // blob: expected digest …, got …`.
    await expect(result).rejects.toThrow(new RegExp(`^Importing: Parsing layer blob ${layer.digest}: .*[Cc]orrupted blob.*${layer.digest}`));
    expect(await listImages(repo)).toEqual([]);
  });

  it('a layer of another size than its descriptor says is refused with both sizes', async () => {
    const img = await buildDirImage(path.join(await tmpdir('import-checks-'), 'size'), { layers: files });
    const manifest = JSON.parse(img.manifestBytes.toString()) as ImageManifest;
    const layer = manifest.layers[1]!;
    layer.size += 1;
    await writeFile(path.join(img.path, 'manifest.json'), JSON.stringify(manifest));
    const { repo, result } = await pull(img.path);
    await expect(result).rejects.toThrow(new RegExp(`^Importing: Parsing layer blob ${layer.digest}: .*expected ${layer.size} bytes.*got ${layer.size - 1}$`));
    expect(await listImages(repo)).toEqual([]);
  });
});

describe('progress of an import', () => {
  it('starts with the image and its sizes, each layer started and completed, ends with every byte counted', async () => {
    const events: ImportProgress[] = [];
    const { result } = await pull(good.path, (e) => events.push(e));
    await result;
    const sizes = good.layers.map((l) => l.descriptor.size);
    const total = sizes[0]! + sizes[1]!;
    expect(events[0]).toEqual({ type: 'import-started', manifestDigest: good.manifestDigest, layers: 2, layersToFetch: 2, bytes: total, bytesToFetch: total });
    for (const [i, l] of good.layers.entries()) {
      expect(events).toContainEqual({ type: 'layer-started', kind: 'derived', layer: l.descriptor, layerIndex: i });
      expect(events).toContainEqual({ type: 'layer-progress', layerIndex: i, fetched: sizes[i], total: sizes[i] });
      expect(events).toContainEqual({ type: 'layer-completed', kind: 'derived', layer: l.descriptor, layerIndex: i });
    }
    expect(events.at(-1)).toEqual({ type: 'progress', fetched: total, total });
  });
});

describe('importer settings', () => {
  it('refuses a parallelism or fetch concurrency that is not a positive integer', async () => {
    const imp = new ImageImporter(await freshRepo(), imgref(good.path));
    for (const n of [0, -1, 1.5, NaN]) {
      expect(() => imp.setParallelism(n)).toThrow(`Invalid parallelism ${n}`);
      expect(() => imp.setFetchConcurrency(n)).toThrow(`Invalid fetch concurrency ${n}`);
      expect(() => imp.applySettings({ fetchConcurrency: n })).toThrow(`Invalid fetch concurrency ${n}`);
    }
    expect(imp.setParallelism(1).setFetchConcurrency(1).applySettings({ fetchConcurrency: 2 })).toBe(imp);
  });

  it('applySettings({ offline: true }) makes prepare() answer from the store; left out, it fetches', async () => {
    const offline = new ImageImporter(await freshRepo(), imgref(good.path)).applySettings({ offline: true, spaceCheck: true });
    await expect(offline.prepare()).rejects.toThrow(`Offline: dir:${good.path} is not stored and no update of it was downloaded; its manifest must be fetched`);
    const online = new ImageImporter(await freshRepo(), imgref(good.path)).applySettings({ offline: false });
    const r = await online.prepare();
    await online.close();
    expect(r.kind).toBe('ready');
  });
});

describe('imageTimestamp', () => {
  const m = (annotations?: Record<string, string>) => ({ annotations }) as unknown as ImageManifest;
  const c = (created?: string) => ({ created }) as unknown as ImageConfiguration;
  it("is the manifest's creation annotation, else the configuration's, in whole seconds", () => {
    expect(imageTimestamp(m({ 'org.opencontainers.image.created': '2026-01-02T03:04:05.900Z' }), c('2020-01-01T00:00:00Z'))).toBe(Date.UTC(2026, 0, 2, 3, 4, 5) / 1000);
    expect(imageTimestamp(m(), c('2020-01-01T00:00:00.5Z'))).toBe(Date.UTC(2020, 0, 1) / 1000);
    expect(imageTimestamp(m({ other: 'x' }), c('2020-01-01T00:00:00Z'))).toBe(Date.UTC(2020, 0, 1) / 1000);
  });
  it('is now without a parseable time', () => {
    for (const [a, created] of [[undefined, undefined], [{ 'org.opencontainers.image.created': 'yesterday' }, '2020-01-01T00:00:00Z']] as const) {
      const before = Math.floor(Date.now() / 1000);
      const t = imageTimestamp(m(a), c(created));
      expect(t).toBeGreaterThanOrEqual(before);
      expect(t).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
      expect(Number.isInteger(t)).toBe(true);
    }
  });
});
