// Faults during a store pull (spec store §2.3, DESIGN §7): skopeo killed in the middle of a
// layer, an abort. A clear error, no image ref, completed layers kept, `ostree fsck` clean, no fd
// or child left behind, and the rerun fetches only what is missing.
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { digestOf } from '../../src/oci/digest.js';
import { OciDir } from '../../src/oci/layout.js';
import { MediaType } from '../../src/oci/media-types.js';
import { OstreeImageReference } from '../../src/ref/image-reference.js';
import { Repo } from '../../src/repo/repo.js';
import { ImageImporter } from '../../src/store/importer.js';
import { countLayerReferences } from '../../src/store/maintenance.js';
import type { ImportProgress } from '../../src/store/progress.js';
import { listImages, refForLayer } from '../../src/store/state.js';
import { childProcesses } from '../helpers/process.js';
import { editOciImage } from '../helpers/sysroot.js';
import { chunkedExampleWork, cleanupTmp, freshRepo, tmpdir } from './encapsulate-util.js';
import { layerTar } from '../helpers/tar.js';
import { fsck } from './tar-util.js';

let work: string;
/** The chunked example OS plus one big derived layer (incompressible files) last. */
let image: string;
let nLayers: number;

beforeAll(async () => {
  const { work: w, chunked } = await chunkedExampleWork('store-faults-');
  work = w;
  image = await editOciImage(chunked, path.join(work, 'big'), async (oci, manifest, config) => {
    const tar = await layerTar(Array.from({ length: 1500 }, (_, i) => ({ name: `usr/share/big/f${i}`, data: randomBytes(16 * 1024) })));
    const blob = await oci.writeBlob(gzipSync(tar, { level: 1 }));
    manifest.layers.push({ mediaType: MediaType.ImageLayerGzip, ...blob });
    config.rootfs.diff_ids.push(digestOf(tar));
    config.history!.push({ created_by: 'big layer' });
    nLayers = manifest.layers.length;
  });
}, 120_000);
afterAll(cleanupTmp);

const imgref = () => OstreeImageReference.parse(`ostree-unverified-image:oci:${image}`);

/** Runs a pull whose progress listener may inject the fault. */
async function pullWith(repo: Repo, onEvent: (e: ImportProgress) => void, signal?: AbortSignal, setup?: (imp: ImageImporter) => void): Promise<unknown> {
  const imp = new ImageImporter(repo, imgref()).onProgress(onEvent);
  setup?.(imp);
  const r = await imp.prepare();
  if (r.kind !== 'ready') throw new Error('expected ready');
  return imp.import(r.prepared, signal ? { signal } : {});
}

/** After a failed pull: no image, completed layers kept, fsck clean; the rerun fetches the rest. */
async function expectResumable(repo: Repo): Promise<void> {
  // Every proxy of the failed pull is gone (reaped, not a zombie).
  await new Promise((r) => setTimeout(r, 200));
  expect(childProcesses().filter((c) => / (skopeo|setpriv)$/.test(c))).toEqual([]);
  expect(await listImages(repo)).toEqual([]);
  expect(await fsck(repo.path)).toMatch(/no errors found/);
  const kept = await countLayerReferences(repo);
  expect(kept).toBeLessThan(nLayers);
  let fetched = 0;
  await pullWith(repo, (e) => e.type === 'layer-started' && fetched++);
  expect(fetched).toBe(nLayers - kept);
  expect(await listImages(repo)).toEqual([`oci:${image}`]);
  expect(await fsck(repo.path)).toMatch(/no errors found/);
}

describe('store pull faults', () => {
  it('skopeo killed while layers are in flight', async () => {
    const repo = await freshRepo();
    let killed = 0;
    // One layer fetched and one imported at a time: while the commit layer commits (holding the
    // import slot), at most four layers are spooled, so when the commit layer is stored most of
    // the image's layers have not been fetched yet.
    const pulled = pullWith(repo, (e) => {
      // A layer is stored: kill every skopeo proxy of ours.
      if (killed === 0 && e.type === 'layer-completed') {
        for (const c of childProcesses()) {
          const [pid, , comm] = c.split(' ');
          if (comm === 'skopeo') {
            process.kill(Number(pid), 'SIGKILL');
            killed++;
          }
        }
      }
    }, undefined, (imp) => imp.setFetchConcurrency(1).setParallelism(1));
    await expect(pulled).rejects.toThrow(/^Importing: (Layer|Parsing layer blob) sha256:[0-9a-f]{64}: (proxy failure: )?skopeo proxy unexpectedly exited during request method \w+: signal: 9 \(SIGKILL\)/);
    expect(killed).toBeGreaterThan(0);
    await expectResumable(repo);
  });

  it('an abort while layers are in flight', async () => {
    const repo = await freshRepo();
    const ac = new AbortController();
    let done = 0;
    const pulled = pullWith(repo, (e) => e.type === 'layer-completed' && ++done === 2 && ac.abort(), ac.signal);
    await expect(pulled).rejects.toThrow(/abort|cancel/i);
    expect(await countLayerReferences(repo)).toBeGreaterThanOrEqual(2);
    await expectResumable(repo);
  });

  it('disk full: a clear error, no image, fsck clean; once space is freed the rerun fetches the rest', async () => {
    // A small ext4 filesystem of our own (loop mount, as root like the rest of the suite).
    const sh = promisify(execFile);
    const dir = await tmpdir('store-diskfull-');
    const img = path.join(dir, 'fs.img');
    const mnt = path.join(dir, 'mnt');
    await mkdir(mnt);
    await sh('truncate', ['-s', '96M', img]);
    await sh('mkfs.ext4', ['-q', '-F', img]).catch((e: Error) => {
      throw new Error(`mkfs.ext4 (e2fsprogs) is needed for the disk-full test: ${e.message}`);
    });
    await sh('mount', ['-o', 'loop', img, mnt]).catch((e: Error) => {
      throw new Error(`the disk-full test loop-mounts a filesystem image (root and a loop device needed): ${e.message}`);
    });
    try {
      const repo = await Repo.create(path.join(mnt, 'repo'), 'bare-user');
      // Leave about 12 MB: enough for the ostree layers, not for the 24 MB derived layer (which,
      // fetched while the base is imported, may be what fills the disk before a chunk layer is in).
      const { stdout } = await sh('df', ['--output=avail', '-B1', mnt]);
      const avail = Number(stdout.trim().split('\n').pop());
      const filler = path.join(mnt, 'filler');
      await writeFile(filler, Buffer.alloc(Math.max(0, avail - 12 * 1024 * 1024)));
      // Past the free-space check (which would refuse up front), as when the disk fills meanwhile.
      await expect(pullWith(repo, () => undefined, undefined, (imp) => imp.disableSpaceCheck())).rejects.toThrow(/^Importing: (Layer|Parsing layer blob) sha256:[0-9a-f]{64}: .*(No space left on device|min-free-space)/s);
      await rm(filler);
      await expectResumable(repo);
    } finally {
      // Repo handles keep directory fds until collected: detach lazily.
      await sh('umount', ['-l', mnt]);
    }
  });
});

// The base commit's objects are spread over the commit layer and the chunk layers, stored in
// several transactions: the commit must stay marked partial until all are in, or a failure (or
// kill -9) in between leaves a "complete" commit with missing objects (fsck error).
// One layer at a time the commit layer goes first, so it is always stored before the fault.
describe('the base commit is complete only with all its layers', () => {
  /** A copy of the image whose last chunk layer (before the derived one) is corrupt on disk. */
  async function corruptChunk(): Promise<{ ref: OstreeImageReference; commitLayer: string; repair: () => Promise<void> }> {
    const dir = await tmpdir('store-corrupt-chunk-');
    await cp(image, dir, { recursive: true });
    const { manifest } = await (await OciDir.open(dir)).readManifest();
    const file = path.join(dir, 'blobs', 'sha256', manifest.layers[nLayers - 2]!.digest.slice('sha256:'.length));
    const good = await readFile(file);
    const bad = Buffer.from(good);
    bad[bad.length >> 1] ^= 0xff;
    await writeFile(file, bad);
    return { ref: OstreeImageReference.parse(`ostree-unverified-image:oci:${dir}`), commitLayer: refForLayer(manifest.layers[0]!), repair: () => writeFile(file, good) };
  }

  async function pullOneByOne(repo: Repo, ref: OstreeImageReference, onEvent: (e: ImportProgress) => void = () => undefined, signal?: AbortSignal): Promise<number[]> {
    const completed: number[] = [];
    // One layer fetched and one imported at a time: a later layer is fetched only once earlier
    // ones left their spool slots, so the commit layer is stored before a later layer can fail.
    const imp = new ImageImporter(repo, ref).setParallelism(1).setFetchConcurrency(1).onProgress((e) => {
      if (e.type === 'layer-completed') completed.push(e.layerIndex);
      onEvent(e);
    });
    const r = await imp.prepare();
    if (r.kind !== 'ready') throw new Error('expected ready');
    await imp.import(r.prepared, signal ? { signal } : {});
    return completed;
  }

  /** The stored commit layer's commit: marked partial or not. */
  async function partial(repo: Repo, commitLayer: string): Promise<boolean> {
    return (await repo.loadCommit(await repo.resolveRev(commitLayer))).partial;
  }

  it('a corrupt chunk layer after the commit layer was stored: the commit stays partial, fsck clean; the rerun completes it', async () => {
    const { ref, commitLayer, repair } = await corruptChunk();
    const repo = await freshRepo();
    const completed: number[] = [];
    // The corrupt layer's own error, not that of a layer whose transaction it shared.
    const corrupt = (await (await OciDir.open(image)).readManifest()).manifest.layers[nLayers - 2]!.digest;
    await expect(pullOneByOne(repo, ref, (e) => e.type === 'layer-completed' && completed.push(e.layerIndex))).rejects.toThrow(
      new RegExp(`^Importing: Layer ${corrupt}: .*(digest|Digest|corrupt|gzip|invalid)`, 's'),
    );
    expect(completed[0]).toBe(0);
    expect(await listImages(repo)).toEqual([]);
    expect(await fsck(repo.path)).toMatch(/no errors found/);
    expect(await partial(repo, commitLayer)).toBe(true);
    await repair();
    const rerun = await pullOneByOne(repo, ref);
    expect(rerun).not.toContain(0);
    expect(await partial(repo, commitLayer)).toBe(false);
    expect(await fsck(repo.path)).toMatch(/no errors found/);
  });

  it('an abort right after the commit layer was stored: partial, fsck clean; the rerun completes it', async () => {
    const repo = await freshRepo();
    const ref = imgref();
    const commitLayer = refForLayer((await (await OciDir.open(image)).readManifest()).manifest.layers[0]!);
    const ac = new AbortController();
    await expect(pullOneByOne(repo, ref, (e) => e.type === 'layer-completed' && e.layerIndex === 0 && ac.abort(), ac.signal)).rejects.toThrow(/abort|cancel/i);
    expect(await countLayerReferences(repo)).toBe(1);
    expect(await fsck(repo.path)).toMatch(/no errors found/);
    expect(await partial(repo, commitLayer)).toBe(true);
    await expectResumable(repo);
    expect(await partial(repo, commitLayer)).toBe(false);
  });
});

// libostree syncs the file system and fsyncs all 256 objects/XX directories at each commit: layers
// share a transaction while more wait to be imported (pipeline.ts, Batches).
describe('layer transactions', () => {
  it('one layer at a time: fewer commits than layers, every layer stored, fsck clean', async () => {
    const repo = await freshRepo();
    const commits = vi.spyOn(Repo.prototype, 'commitTransaction');
    try {
      const imp = new ImageImporter(repo, imgref()).setParallelism(1);
      const r = await imp.prepare();
      if (r.kind !== 'ready') throw new Error('expected ready');
      await imp.import(r.prepared);
      // The layers' commits, and the merge commit's.
      expect(commits.mock.calls.length).toBeLessThan(nLayers);
    } finally {
      commits.mockRestore();
    }
    expect(await countLayerReferences(repo)).toBe(nLayers);
    expect(await listImages(repo)).toEqual([`oci:${image}`]);
    expect(await fsck(repo.path)).toMatch(/no errors found/);
  });
});
