// Several blobs at once from one skopeo proxy (src/proxy/blob-streams.ts) and the pull
// pipeline's bounds (src/store/pipeline.ts), with real skopeo: first what the proxy itself allows
// (the facts the design rests on, asserted for the skopeo this stack has), then our use of it.
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, truncateSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { digestOf } from '../../src/oci/digest.js';
import { BlobStreams, type SpooledBlob } from '../../src/proxy/blob-streams.js';
import { ImageProxy, type OpenedImage } from '../../src/proxy/image-proxy.js';
import { pipeReadable } from '../../src/proxy/pipes.js';
import { Transport } from '../../src/ref/transport.js';
import { Repo } from '../../src/repo/repo.js';
import { importDerivedLayer } from '../../src/store/derived.js';
import { LayerPipeline, layerSources, type ImportedLayer, type LayerSource, type LayerTask } from '../../src/store/pipeline.js';
import { tarNative } from '../../src/tar/native.js';
import { buildDirImage, type BuiltImage } from '../helpers/images.js';
import { childProcesses, expectNoLeaksAfterEach } from '../helpers/process.js';
import { cliRepo } from './store-util.js';
import { cleanupTmp, tmpdir } from './encapsulate-util.js';

// File systems without O_TMPFILE (a fault injected here: ext4 and tmpfs have it): the spool's
// unnamed file fails with `unnamed.code`, or succeeds; `unnamed.dirs` are the directories asked.
const unnamed = vi.hoisted(() => ({ code: undefined as string | undefined, dirs: [] as string[] }));
vi.mock('../../src/unnamed-file.js', async (real: () => Promise<typeof import('../../src/unnamed-file.js')>) => {
  const m = await real();
  return {
    ...m,
    openUnnamedFile: (dir: string, mode?: number) => {
      unnamed.dirs.push(dir);
      if (unnamed.code) throw Object.assign(new Error(`${unnamed.code}: injected`), { code: unnamed.code });
      return m.openUnnamedFile(dir, mode);
    },
  };
});

/** Blobs bigger than a pipe's buffer many times over: a writer blocks until they are read. */
const BLOB = 2 * 1024 * 1024;
let image: BuiltImage;

beforeAll(async () => {
  const dir = path.join(await tmpdir('blob-streams-'), 'img');
  image = await buildDirImage(dir, { layers: Array.from({ length: 6 }, (_, i) => ({ [`f${i}`]: randomBytes(BLOB) })) });
}, 60_000);
afterAll(cleanupTmp);

const blobs = () => image.layers.map((l) => l.descriptor);

async function withProxy<T>(ref: string, fn: (proxy: ImageProxy, img: OpenedImage) => Promise<T>): Promise<T> {
  const proxy = await ImageProxy.create();
  try {
    return await fn(proxy, await proxy.openImage(ref));
  } finally {
    await proxy.finalize();
  }
}

/** Reads `n` bytes of a stream and stops (without waiting for its end). */
function readBytes(s: Readable, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  return new Promise((resolve, reject) => {
    const onData = (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= n) {
        s.off('data', onData);
        s.pause();
        resolve(Buffer.concat(chunks));
      }
    };
    s.on('data', onData);
    s.once('error', reject);
    s.once('end', () => reject(new Error(`ended after ${got} of ${n} bytes`)));
  });
}

const settledWithin = async (p: Promise<unknown>, ms: number) => Promise.race([p.then(() => true, () => true), new Promise((r) => setTimeout(() => r(false), ms))]);

describe("skopeo's image proxy (what one process allows)", () => {
  it('several GetBlob pipes flow at once; a pipe ends only after its FinishPipe', async () => {
    await withProxy(image.ref, async (proxy, img) => {
      const [a, b, c] = blobs();
      const pipes = [];
      for (const d of [a!, b!, c!]) pipes.push(await proxy.getBlobFd(img, d.digest, d.size));
      const streams = pipes.map((p) => pipeReadable(p.fd));
      const ended = streams.map((s) => new Promise<void>((r) => s.once('end', () => r())));
      // The last blob first: its bytes arrive although nobody read the earlier ones.
      for (const i of [2, 1, 0]) expect(digestOf(await readBytes(streams[i]!, blobs()[i]!.size))).toBe(blobs()[i]!.digest);
      expect(await settledWithin(ended[2]!, 300)).toBe(false);
      for (const i of [2, 0, 1]) {
        streams[i]!.resume();
        await pipes[i]!.finish();
        await ended[i];
      }
    });
  });

  it('a FinishPipe sent while its blob still flows holds up the next request until the blob is read', async () => {
    await withProxy(image.ref, async (proxy, img) => {
      const [a, b] = blobs();
      const first = await proxy.getBlobFd(img, a!.digest, a!.size);
      const finishing = first.finish();
      const next = proxy.getBlobFd(img, b!.digest, b!.size);
      expect(await settledWithin(next, 500)).toBe(false);
      const s = pipeReadable(first.fd);
      s.resume();
      await finishing;
      const second = await next;
      pipeReadable(second.fd).resume();
      await second.finish();
    });
  });
});

describe('ImageProxy: the order of its requests', () => {
  it('a FinishPipe goes ahead of the requests still queued (behind the one under way)', async () => {
    await withProxy(image.ref, async (proxy, img) => {
      const [a, b, c, d] = blobs();
      const first = await proxy.getBlobFd(img, a!.digest, a!.size);
      const s = pipeReadable(first.fd);
      await readBytes(s, a!.size);
      const order: string[] = [];
      const track = <T>(name: string, p: Promise<T>) => p.then((v) => (order.push(name), v));
      // b is sent at once; c and d queue behind it, and the FinishPipe of a goes before them.
      const gets = [track('b', proxy.getBlobFd(img, b!.digest, b!.size)), track('c', proxy.getBlobFd(img, c!.digest, c!.size)), track('d', proxy.getBlobFd(img, d!.digest, d!.size))];
      const ended = new Promise<void>((r) => s.once('end', () => r()));
      s.resume();
      await track('finish a', first.finish());
      await ended;
      for (const got of await Promise.all(gets)) {
        pipeReadable(got.fd).resume();
        await got.finish();
      }
      expect(order).toEqual(['b', 'finish a', 'c', 'd']);
    });
  });
});

describe('BlobStreams: spooled blobs from one proxy', () => {
  // Each fetch closes its pipe, also when it fails (the pipeline's tests below keep repository handles).
  expectNoLeaksAfterEach();

  it('fetches every blob at once into its spool file, verified, with exact byte counts', async () => {
    const dir = await tmpdir('blob-spool-');
    await withProxy(image.ref, async (proxy, img) => {
      const streams = new BlobStreams(proxy, img);
      const ac = new AbortController();
      const files = blobs().map((_, i) => openSync(path.join(dir, `s${i}`), 'w+'));
      const counters = blobs().map(() => tarNative().progressCounter());
      const got = await Promise.all(blobs().map((d, i) => streams.fetch(d.digest, d.size, files[i]!, { signal: ac.signal, bytes: counters[i]! })));
      streams.close();
      files.forEach(closeSync);
      expect(got).toEqual(blobs().map((d) => ({ digest: d.digest, size: d.size })));
      expect(counters.map((c) => Number(c[0]))).toEqual(blobs().map((d) => d.size));
      blobs().forEach((d, i) => expect(digestOf(readFileSync(path.join(dir, `s${i}`)))).toBe(d.digest));
      // One skopeo for all of them.
      expect(childProcesses().filter((c) => / skopeo$/.test(c))).toHaveLength(1);
    });
  });

  it('a blob that stops short (a failed transfer) is reported in bounded time, not waited for', async () => {
    const dir = path.join(await tmpdir('blob-short-'), 'img');
    const short = await buildDirImage(dir, { layers: [{ f: randomBytes(BLOB) }] });
    const d = short.layers[0]!.descriptor;
    truncateSync(path.join(dir, d.digest.slice('sha256:'.length)), d.size - 1000);
    await withProxy(short.ref, async (proxy, img) => {
      const streams = new BlobStreams(proxy, img);
      const out = openSync(path.join(dir, 'spool'), 'w+');
      const started = Date.now();
      await expect(streams.fetch(d.digest, d.size, out, { signal: new AbortController().signal })).rejects.toThrow(`failed to invoke method FinishPipe: corrupted blob, expecting ${d.digest}`);
      expect(Date.now() - started).toBeLessThan(15_000);
      streams.close();
      closeSync(out);
    });
  });
});

describe('BlobStreams: the size, several sources', () => {
  expectNoLeaksAfterEach();

  it('a blob longer than its size is refused', async () => {
    const dir = await tmpdir('blob-size-');
    await withProxy(image.ref, async (proxy, img) => {
      const streams = new BlobStreams(proxy, img);
      const signal = new AbortController().signal;
      const [d] = blobs();
      const short = openSync(path.join(dir, 'short'), 'w+');
      await expect(streams.fetch(d!.digest, d!.size - 1, short, { signal })).rejects.toThrow(`Blob is longer than its size ${d!.size - 1}`);
      closeSync(short);
      streams.close();
    });
  });

  it('an abort while GetBlob is under way stops the fetch', async () => {
    const dir = await tmpdir('blob-abort-');
    await withProxy(image.ref, async (proxy, img) => {
      const streams = new BlobStreams(proxy, img);
      const [d] = blobs();
      const out = openSync(path.join(dir, 'spool'), 'w+');
      const ac = new AbortController();
      const fetching = streams.fetch(d!.digest, d!.size, out, { signal: ac.signal });
      ac.abort(new Error('stopped by the test'));
      await expect(fetching).rejects.toThrow('stopped by the test');
      streams.close();
      closeSync(out);
    });
  });

  it('each fetch goes to the source with the fewest requests waiting, the first source first', async () => {
    await withProxy(image.ref, async (proxy, img) => {
      await withProxy(image.ref, async (other, otherImg) => {
        const streams = new BlobStreams(proxy, img);
        streams.addSource({ proxy: other, image: otherImg });
        expect(streams.sources).toEqual([{ proxy, image: img }, { proxy: other, image: otherImg }]);
        expect(streams.image).toBe(img);
        const served = new Map<ImageProxy, string[]>([[proxy, []], [other, []]]);
        for (const p of [proxy, other]) {
          const getBlobFd = p.getBlobFd.bind(p);
          vi.spyOn(p, 'getBlobFd').mockImplementation((i, digest, size) => {
            served.get(p)!.push(digest);
            return getBlobFd(i, digest, size);
          });
        }
        const dir = await tmpdir('blob-lanes-');
        const four = blobs().slice(0, 4);
        const files = four.map((_, i) => openSync(path.join(dir, `s${i}`), 'w+'));
        const signal = new AbortController().signal;
        const got = await Promise.all(four.map((d, i) => streams.fetch(d.digest, d.size, files[i]!, { signal })));
        streams.close();
        files.forEach(closeSync);
        expect(got).toEqual(four.map((d) => ({ digest: d.digest, size: d.size })));
        expect(served.get(proxy)).toEqual([four[0]!.digest, four[2]!.digest]);
        expect(served.get(other)).toEqual([four[1]!.digest, four[3]!.digest]);
      });
    });
  });
});

describe('layerSources: what is fetched for each manifest layer', () => {
  /** A manifest whose descriptors name other blobs (as containers-storage's name the diff_ids). */
  const renamed = () => ({ ...image.manifest, layers: image.manifest.layers.map((l) => ({ ...l, digest: `sha256:${'2'.repeat(64)}` })) });

  it("from containers-storage with this host's skopeo: its layer info replaces the descriptors, or, without that call (skopeo < 1.10), a clear refusal", async () => {
    // No podman store here: the dir: image's layer info stands in for containers-storage's.
    await withProxy(image.ref, async (proxy, img) => {
      const streams = new BlobStreams(proxy, img);
      const info = await proxy.getLayerInfo(img);
      const sources = layerSources(streams, Transport.ContainerStorage, renamed());
      if (info === null) {
        await expect(sources).rejects.toThrow(/^skopeo too old to pull from containers-storage$/);
      } else {
        const sourceOf = await sources;
        expect(blobs().map((_, i) => sourceOf(i))).toEqual(info);
      }
      streams.close();
    });
  });

  it("from containers-storage: the proxy's layer info, by position; a position past it is refused; elsewhere the manifest's descriptor", async () => {
    // The layer info a newer skopeo than Debian 12's gives (a fake for that version only): the
    // dir: image's blobs, under a manifest that names other ones.
    const info = blobs().map((d) => ({ digest: d.digest, size: d.size, mediaType: d.mediaType }));
    const newer = { proxy: { getLayerInfo: async () => info }, image: {} } as unknown as BlobStreams;
    const manifest = renamed();
    const fromStorage = await layerSources(newer, Transport.ContainerStorage, manifest);
    expect(blobs().map((_, i) => fromStorage(i))).toEqual(info);
    expect(() => fromStorage(6)).toThrow(/^blobid position 6 exceeds diffid count 6$/);
    expect((await layerSources(newer, Transport.OciDir, manifest))(0)).toBe(manifest.layers[0]);
  });
});

describe('LayerPipeline: fetches bounded apart from imports', () => {
  it('fetches run ahead of a blocked import up to their bound, then wait for imports to start', async () => {
    const { repo } = await cliRepo();
    await withProxy(image.ref, async (proxy, img) => {
      const streams = new BlobStreams(proxy, img);
      const fetching: number[] = [];
      const importing: number[] = [];
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const pipeline = new LayerPipeline({
        repo,
        streams,
        sourceOf: await layerSources(streams, Transport.Dir, image.manifest),
        fetchConcurrency: 1,
        importConcurrency: 1,
        signal: new AbortController().signal,
        observers: [{ fetching: (t) => fetching.push(t.index) }],
      });
      const task = (index: number): LayerTask => ({
        index,
        layer: blobs()[index]!,
        kind: 'derived',
        context: `Layer ${index}`,
        ref: null,
        diffId: undefined,
        import: async (_repo, fd, source) => {
          importing.push(index);
          await gate;
          // The spool holds the whole blob, at offset 0.
          const buf = Buffer.alloc(source.size);
          let off = 0;
          for (let n; off < buf.length && (n = readSync(fd, buf, off, buf.length - off, null)) > 0; ) off += n;
          return { digest: digestOf(buf), size: off, diffId: '' };
        },
      });
      const runs = blobs().map((_, i) => pipeline.run(task(i)));
      // The first layer's import holds the one slot (the first layer handed in imports first,
      // whichever fetch finished first). A fetched layer gives its fetch slot back at once, so
      // three more are fetched (spooled) meanwhile, no more: four spools per fetch slot, taken in
      // the order asked.
      await new Promise((r) => setTimeout(r, 1500));
      expect(importing).toEqual([0]);
      expect(fetching).toEqual([0, 1, 2, 3]);
      release();
      const results = await Promise.all(runs);
      streams.close();
      expect(results.map((r) => r.digest)).toEqual(blobs().map((d) => d.digest));
      expect(fetching).toEqual([0, 1, 2, 3, 4, 5]);
      // The others in the order their fetches finished.
      expect(importing[0]).toBe(0);
      expect([...importing].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    });
  });
});

describe('LayerPipeline: listeners of its signal', () => {
  it('twelve layers in flight, each listening to the signal as a native import does: no MaxListenersExceeded warning', async () => {
    const dir = path.join(await tmpdir('blob-listeners-'), 'img');
    const many = await buildDirImage(dir, { layers: Array.from({ length: 12 }, (_, i) => ({ [`f${i}`]: randomBytes(4096) })) });
    const { repo } = await cliRepo();
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      await withProxy(many.ref, async (proxy, img) => {
        const streams = new BlobStreams(proxy, img);
        let release!: () => void;
        const gate = new Promise<void>((r) => (release = r));
        let importing = 0;
        const pipeline = new LayerPipeline({
          repo,
          streams,
          sourceOf: await layerSources(streams, Transport.Dir, many.manifest),
          // Twelve spool slots, twelve imports at once.
          fetchConcurrency: 3,
          importConcurrency: 12,
          signal: new AbortController().signal,
          observers: [],
        });
        const runs = many.layers.map((l, index) =>
          pipeline.run({
            index,
            layer: l.descriptor,
            kind: 'derived',
            context: `Layer ${index}`,
            ref: null,
            diffId: undefined,
            import: async (_repo, _fd, source, signal) => {
              const onAbort = () => {};
              signal.addEventListener('abort', onAbort, { once: true });
              importing++;
              await gate;
              signal.removeEventListener('abort', onAbort);
              return { digest: source.digest, size: source.size, diffId: '' };
            },
          }),
        );
        await vi.waitFor(() => expect(importing).toBe(12), { timeout: 20_000 });
        release();
        await Promise.all(runs);
        streams.close();
      });
      // Warnings are emitted on the next tick.
      await new Promise((r) => setImmediate(r));
      expect(warnings.map((w) => w.name)).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe("LayerPipeline: its own checks, the blob ref, failures that free their slots", () => {
  // skopeo verifies every blob before the pipeline sees it (its FinishPipe fails), so the
  // pipeline's own digest and size checks are reached only through a fault no real skopeo gives:
  // a BlobStreams that reports other bytes than it was asked for (a fake, for that fault only).
  class Misreporting extends BlobStreams {
    constructor(
      proxy: ImageProxy,
      img: OpenedImage,
      private readonly lie: (got: SpooledBlob) => SpooledBlob,
    ) {
      super(proxy, img);
    }
    override async fetch(...args: Parameters<BlobStreams['fetch']>): Promise<SpooledBlob> {
      return this.lie(await super.fetch(...args));
    }
  }

  type Seen = { started: number[]; fetching: [number, number][]; completed: [number, number][]; failed: number[]; imported: number[] };

  /** A pipeline over `streams` (by default one fetch and one import at a time) and its observer's record. */
  async function pipelineOf(repo: Repo, streams: BlobStreams, sourceOf?: (i: number) => LayerSource, fetchConcurrency = 1, importConcurrency = 1) {
    const seen: Seen = { started: [], fetching: [], completed: [], failed: [], imported: [] };
    const ac = new AbortController();
    const pipeline = new LayerPipeline({
      repo,
      streams,
      sourceOf: sourceOf ?? (await layerSources(streams, Transport.Dir, image.manifest)),
      fetchConcurrency,
      importConcurrency,
      signal: ac.signal,
      observers: [
        // An observer may leave out any method.
        {},
        {
          started: (t) => seen.started.push(t.index),
          fetching: (t, total) => seen.fetching.push([t.index, total]),
          completed: (t, size) => seen.completed.push([t.index, size]),
          failed: (t) => seen.failed.push(t.index),
        },
      ],
    });
    /** Layer `index` as a derived layer, committed (with `ref`, in a layer transaction). */
    const task = (index: number, o: { ref?: string | null; diffId?: string; commit?: boolean; gate?: Promise<unknown> | (() => Promise<unknown>); imported?: () => void } = {}): LayerTask<ImportedLayer> => ({
      index,
      layer: blobs()[index]!,
      kind: 'derived',
      context: `Layer ${index}`,
      ref: o.ref ?? null,
      diffId: o.diffId ?? image.layers[index]!.diffId,
      import: async (r, fd, source, signal) => {
        seen.imported.push(index);
        await (typeof o.gate === 'function' ? o.gate() : o.gate);
        // Its top-level file kept: each layer its own commit, the same one at every import.
        const res = await importDerivedLayer(r, fd, { mediaType: source.mediaType, importerVersion: '0', transaction: 'caller', allowNonusr: true, timestamp: 0, signal });
        o.imported?.();
        return o.commit === false ? { digest: res.digest, size: res.size, diffId: res.diffId } : res;
      },
    });
    return { pipeline, task, seen, abort: () => ac.abort() };
  }

  const withRepoAndProxy = async (fn: (repo: Repo, proxy: ImageProxy, img: OpenedImage) => Promise<void>) => {
    const { repo } = await cliRepo();
    await withProxy(image.ref, (proxy, img) => fn(repo, proxy, img));
  };

  it('a blob reported under another digest or size is refused before its import; the next layer still goes through', async () => {
    await withRepoAndProxy(async (repo, proxy, img) => {
      const [a, b] = blobs();
      const zero = `sha256:${'0'.repeat(64)}`;
      const streams = new Misreporting(proxy, img, (got) => (got.digest === a!.digest ? { ...got, digest: zero } : got.digest === b!.digest ? { ...got, size: got.size + 1 } : got));
      const { pipeline, task, seen } = await pipelineOf(repo, streams);
      const runs = [0, 1, 2].map((i) => pipeline.run(task(i, { ref: `test/${i}` })));
      await expect(runs[0]).rejects.toMatchObject({ message: `Layer 0: Corrupted blob: expected digest ${a!.digest}, got ${zero}` });
      await expect(runs[1]).rejects.toMatchObject({ message: `Layer 1: Corrupted blob ${b!.digest}: expected ${b!.size} bytes, got ${b!.size + 1}` });
      const third = await runs[2];
      streams.close();
      expect(third.digest).toBe(blobs()[2]!.digest);
      expect(seen).toEqual({ started: [0, 1, 2], fetching: blobs().slice(0, 3).map((d, i) => [i, d.size]), completed: [[2, blobs()[2]!.size]], failed: [0, 1], imported: [2] });
      expect(await repo.resolveRev('test/0', { allowNoent: true })).toBeNull();
      expect(await repo.resolveRev('test/1', { allowNoent: true })).toBeNull();
      expect(await repo.resolveRev('test/2')).toBe(third.commit);
    });
  });

  it('a blob of unknown size (-1, as containers-storage gives) is not held to a size', async () => {
    await withRepoAndProxy(async (repo, proxy, img) => {
      // Only containers-storage serves blobs of unknown size; for the dir: image here the fake
      // asks skopeo for the blob's real size while the pipeline knows none.
      const streams = new (class extends BlobStreams {
        override fetch(digest: string, size: number, ...rest: [number, { signal: AbortSignal; bytes?: BigUint64Array }]): Promise<SpooledBlob> {
          return super.fetch(digest, size < 0 ? blobs().find((d) => d.digest === digest)!.size : size, ...rest);
        }
      })(proxy, img);
      const { pipeline, task, seen } = await pipelineOf(repo, streams, (i) => ({ ...blobs()[i]!, size: -1 }));
      const r = await pipeline.run(task(0, { ref: 'test/0' }));
      streams.close();
      expect(await repo.resolveRev('test/0')).toBe(r.commit);
      expect(r).toMatchObject({ digest: blobs()[0]!.digest, size: blobs()[0]!.size, diffId: image.layers[0]!.diffId });
      expect(seen.fetching).toEqual([[0, -1]]);
      expect(seen.completed).toEqual([[0, blobs()[0]!.size]]);
    });
  });

  it("the diff_id is checked against the configuration's; a layer with a ref must produce a commit; neither records its ref", async () => {
    await withRepoAndProxy(async (repo, proxy, img) => {
      const streams = new BlobStreams(proxy, img);
      const { pipeline, task, seen } = await pipelineOf(repo, streams);
      const wrong = `sha256:${'1'.repeat(64)}`;
      await expect(pipeline.run(task(0, { ref: 'test/0', diffId: wrong }))).rejects.toMatchObject({ message: `Layer 0: Layer content does not match the configuration: diff_id ${image.layers[0]!.diffId}, expected ${wrong}` });
      await expect(pipeline.run(task(1, { ref: 'test/1', commit: false }))).rejects.toMatchObject({ message: 'Layer 1: the layer import produced no commit' });
      // Without a ref the layer goes into the caller's transaction: no commit needed.
      const r = await repo.withTransaction(() => pipeline.run(task(2, { ref: null, commit: false, diffId: undefined })));
      streams.close();
      expect(r.diffId).toBe(image.layers[2]!.diffId);
      expect(await repo.resolveRev('test/0', { allowNoent: true })).toBeNull();
      expect(await repo.resolveRev('test/1', { allowNoent: true })).toBeNull();
      expect(seen.failed).toEqual([0, 1]);
      expect(seen.imported).toEqual([0, 1, 2]);
    });
  });

  it('an aborted pipeline refuses further layers before fetching them', async () => {
    await withRepoAndProxy(async (repo, proxy, img) => {
      const streams = new BlobStreams(proxy, img);
      const { pipeline, task, seen, abort } = await pipelineOf(repo, streams);
      abort();
      await expect(pipeline.run(task(0))).rejects.toThrow(/^Layer 0: .*abort/);
      streams.close();
      expect(seen).toMatchObject({ started: [], fetching: [], failed: [0], imported: [] });
    });
  });

  it('a spool is closed once its layer is done, and one repository handle serves layer after layer', async () => {
    await withRepoAndProxy(async (repo, proxy, img) => {
      const streams = new BlobStreams(proxy, img);
      const { pipeline, task } = await pipelineOf(repo, streams);
      // This process's fds into the repository: its handles' and the spools.
      const fds = () =>
        readdirSync('/proc/self/fd').filter((fd) => {
          try {
            return readlinkSync(`/proc/self/fd/${fd}`).startsWith(repo.path);
          } catch {
            return false;
          }
        }).length;
      await pipeline.run(task(0, { ref: 'test/0' }));
      const after = fds();
      for (const i of [1, 2, 3]) await pipeline.run(task(i, { ref: `test/${i}` }));
      expect(after).toBeGreaterThan(0);
      expect(fds()).toBe(after);
      streams.close();
    });
  });

  it('one fetch slot, one fetch at a time: a slot is given back once, when its bytes are in', async () => {
    await withRepoAndProxy(async (repo, proxy, img) => {
      let inFlight = 0;
      let most = 0;
      // Counts the fetches between their start and their last byte (the real fetches, observed).
      class Counting extends BlobStreams {
        override fetch(digest: string, size: number, out: number, opts: Parameters<BlobStreams['fetch']>[3]): Promise<SpooledBlob> {
          most = Math.max(most, ++inFlight);
          return super.fetch(digest, size, out, {
            ...opts,
            received: () => {
              inFlight--;
              opts.received?.();
            },
          });
        }
      }
      const streams = new Counting(proxy, img);
      const { pipeline, task, seen } = await pipelineOf(repo, streams);
      await Promise.all(blobs().map((_, i) => pipeline.run(task(i, { ref: `test/${i}` }))));
      streams.close();
      expect(seen.completed.map(([i]) => i).sort()).toEqual([0, 1, 2, 3, 4, 5]);
      expect(most).toBe(1);
    });
  });

  it('slots are given back once: after a layer is done, four layers are spooled ahead of a blocked import, not five', async () => {
    await withRepoAndProxy(async (repo, proxy, img) => {
      const streams = new BlobStreams(proxy, img);
      const { pipeline, task, seen } = await pipelineOf(repo, streams);
      await pipeline.run(task(0, { ref: 'test/0' }));
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const runs = [pipeline.run(task(1, { ref: 'test/1', gate })), ...[2, 3, 4, 5].map((i) => pipeline.run(task(i, { ref: `test/${i}` })))];
      // 1 is imported (blocked), 2–4 fetched and waiting for the import slot; 5 waits for a spool slot.
      await new Promise((r) => setTimeout(r, 1500));
      expect(seen.fetching.map(([i]) => i)).toEqual([0, 1, 2, 3, 4]);
      release();
      await Promise.all(runs);
      streams.close();
      expect(seen.fetching.map(([i]) => i)).toEqual([0, 1, 2, 3, 4, 5]);
    });
  });

  it("a layer gives its fetch slot back once its bytes are in, before skopeo's verdict", async () => {
    await withRepoAndProxy(async (repo, proxy, img) => {
      let release!: () => void;
      const verdict = new Promise<void>((r) => (release = r));
      // A fake for one delay: the first blob's verdict held back, as when its FinishPipe waits
      // behind another request's round trip to a distant registry.
      class SlowVerdict extends BlobStreams {
        override async fetch(...args: Parameters<BlobStreams['fetch']>): Promise<SpooledBlob> {
          const got = await super.fetch(...args);
          if (args[0] === blobs()[0]!.digest) await verdict;
          return got;
        }
      }
      const streams = new SlowVerdict(proxy, img);
      const { pipeline, task, seen } = await pipelineOf(repo, streams);
      const runs = [pipeline.run(task(0, { ref: 'test/0' })), pipeline.run(task(1, { ref: 'test/1' }))];
      await new Promise((r) => setTimeout(r, 1000));
      // One fetch slot: the second layer is fetched while the first one's verdict is pending.
      expect(seen.fetching.map(([i]) => i)).toEqual([0, 1]);
      expect(seen.imported).toEqual([]);
      release();
      await Promise.all(runs);
      streams.close();
      expect(seen.imported).toEqual([0, 1]);
    });
  });

  it('an abort while layers wait for their slots: each fails with the abort, none is imported after it', async () => {
    await withRepoAndProxy(async (repo, proxy, img) => {
      const streams = new BlobStreams(proxy, img);
      const { pipeline, task, seen, abort } = await pipelineOf(repo, streams);
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      // 0 imports (blocked), 1–3 are fetched and wait for the import slot, 4 and 5 for a spool slot.
      const runs = [pipeline.run(task(0, { ref: 'test/0', gate })), ...[1, 2, 3, 4, 5].map((i) => pipeline.run(task(i, { ref: `test/${i}` })))];
      const settled = runs.map((r) => r.then(() => 'ok', (e: Error) => e.message));
      await new Promise((r) => setTimeout(r, 1500));
      expect(seen.fetching.map(([i]) => i)).toEqual([0, 1, 2, 3]);
      abort();
      release();
      const out = await Promise.all(settled);
      streams.close();
      for (const i of [1, 2, 3, 4, 5]) expect(out[i]).toMatch(new RegExp(`^Layer ${i}: .*abort`, 'i'));
      expect(seen.imported).toEqual([0]);
      expect(seen.fetching.map(([i]) => i)).toEqual([0, 1, 2, 3]);
      expect(seen.failed).toEqual(expect.arrayContaining([1, 2, 3, 4, 5]));
    });
  });

  /** The layer transactions' commits while `fn` runs (every handle of the pipeline is a Repo). */
  async function countingCommits<T>(fn: () => Promise<T>): Promise<{ result: T; commits: number }> {
    const spy = vi.spyOn(Repo.prototype, 'commitTransaction');
    try {
      const result = await fn();
      return { result, commits: spy.mock.calls.length };
    } finally {
      spy.mockRestore();
    }
  }

  const partialMarks = (repo: Repo) => readdirSync(path.join(repo.path, 'state')).filter((f) => f.endsWith('.commitpartial'));

  /** Holds layer 0's import until `n` more layers wait for the import slot. */
  function heldFirst(pipeline: LayerPipeline) {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    return {
      gate,
      releaseWhenQueued: async (n: number) => {
        // The queue is the pipeline's own (no event tells when a fetched layer joins it).
        for (let i = 0; i < 600 && pipeline['importSlots'].waiting < n; i++) await new Promise((r) => setTimeout(r, 25));
        release();
      },
    };
  }

  it('layers imported while others wait share one transaction; each resolves once it is committed, no commit left partial', async () => {
    await withRepoAndProxy(async (repo, proxy, img) => {
      const streams = new BlobStreams(proxy, img);
      const { pipeline, task } = await pipelineOf(repo, streams, undefined, 4);
      const { gate, releaseWhenQueued } = heldFirst(pipeline);
      // Where each layer's ref stands when its run resolves.
      const refAtResolve = (i: number) => async (r: ImportedLayer) => ({ commit: r.commit, ref: await repo.resolveRev(`test/${i}`, { allowNoent: true }) });
      // Layer 0's ref as each later import starts: the first layer keeps its import slot until committed.
      const firstAtImport: (string | null)[] = [];
      const later = async () => void firstAtImport.push(await repo.resolveRev('test/0', { allowNoent: true }));
      const { result, commits } = await countingCommits(async () => {
        const runs = [0, 1, 2, 3].map((i) => pipeline.run(task(i, { ref: `test/${i}`, gate: i === 0 ? gate : later })).then(refAtResolve(i)));
        await releaseWhenQueued(3);
        return Promise.all(runs);
      });
      streams.close();
      // Layer 0 (the first handed in) on its own; 1, 2 and 3 imported one after the other into
      // one transaction, committed when no import waited any more (well within BATCH_MS).
      expect(commits).toBe(2);
      for (const r of result) expect(r.ref).toBe(r.commit);
      expect(firstAtImport).toEqual([1, 2, 3].map(() => result[0]!.commit));
      expect(partialMarks(repo)).toEqual([]);
    });
  });

  it('a transaction older than BATCH_MS (1 s) is committed although imports wait', async () => {
    await withRepoAndProxy(async (repo, proxy, img) => {
      const streams = new BlobStreams(proxy, img);
      const { pipeline, task } = await pipelineOf(repo, streams, undefined, 3);
      const { gate, releaseWhenQueued } = heldFirst(pipeline);
      // The import after layer 0's (1 or 2: in the order their fetches ended) takes longer than BATCH_MS.
      let n = 0;
      const slowOnce = () => new Promise((r) => setTimeout(r, n++ === 0 ? 1100 : 0));
      const { commits } = await countingCommits(async () => {
        const runs = [0, 1, 2].map((i) => pipeline.run(task(i, { ref: `test/${i}`, gate: i === 0 ? gate : slowOnce })));
        await releaseWhenQueued(2);
        return Promise.all(runs);
      });
      streams.close();
      // Each layer on its own: 0 first, the slow one although the other waited, then the other.
      expect(commits).toBe(3);
      for (const i of [0, 1, 2]) expect(await repo.resolveRev(`test/${i}`)).toMatch(/^[0-9a-f]{64}$/);
    });
  });

  it("a layer whose shared transaction a later layer's failure dropped fails too, naming that layer; no ref, no partial mark", async () => {
    await withRepoAndProxy(async (repo, proxy, img) => {
      const streams = new BlobStreams(proxy, img);
      const { pipeline, task, seen } = await pipelineOf(repo, streams, undefined, 3);
      const { gate, releaseWhenQueued } = heldFirst(pipeline);
      // The second import after layer 0's fails (1 and 2 import in the order their fetches ended).
      let n = 0;
      const failSecond = () => (n++ === 1 ? Promise.reject(new Error('import failed')) : Promise.resolve());
      const runs = [0, 1, 2].map((i) => pipeline.run(task(i, { ref: `test/${i}`, gate: i === 0 ? gate : failSecond })));
      const settled = runs.map((r) => r.then(() => 'ok', (e: Error) => e.message));
      await releaseWhenQueued(2);
      const out = await Promise.all(settled);
      streams.close();
      const [, shared, failing] = seen.imported as [number, number, number];
      expect(seen.imported[0]).toBe(0);
      expect(out[0]).toBe('ok');
      expect(out[shared]).toBe(`Layer ${shared}: not stored: its transaction, shared with layer ${blobs()[failing]!.digest}, was dropped`);
      expect(out[failing]).toBe(`Layer ${failing}: import failed`);
      // The failing layer's own error goes first.
      expect(seen.failed).toEqual([failing, shared]);
      expect(await repo.resolveRev('test/0')).toMatch(/^[0-9a-f]{64}$/);
      expect(await repo.resolveRev(`test/${shared}`, { allowNoent: true })).toBeNull();
      expect(await repo.resolveRev(`test/${failing}`, { allowNoent: true })).toBeNull();
      expect(partialMarks(repo)).toEqual([]);
    });
  });

  it('two imports at once each have their repository handle (two handles per import slot)', async () => {
    await withRepoAndProxy(async (repo, proxy, img) => {
      const streams = new BlobStreams(proxy, img);
      const { pipeline, task, seen } = await pipelineOf(repo, streams, undefined, 2, 2);
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const runs = [0, 1].map((i) => pipeline.run(task(i, { ref: `test/${i}`, gate })));
      for (let i = 0; i < 100 && seen.imported.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
      // Both inside their imports at once (which reached it first is a race).
      expect([...seen.imported].sort()).toEqual([0, 1]);
      release();
      await Promise.all(runs);
      streams.close();
    });
  });

  it("the first layer handed in imports first although its fetch ends last, and a later layer's failure does not open the way", async () => {
    await withRepoAndProxy(async (repo, proxy, img) => {
      const [a, b] = blobs();
      const zero = `sha256:${'0'.repeat(64)}`;
      // Layer 0's fetch ends last (a fake delay); layer 1 is reported under another digest.
      const streams = new (class extends BlobStreams {
        override async fetch(...args: Parameters<BlobStreams['fetch']>): Promise<SpooledBlob> {
          if (args[0] === a!.digest) await new Promise((r) => setTimeout(r, 800));
          const got = await super.fetch(...args);
          return got.digest === b!.digest ? { ...got, digest: zero } : got;
        }
      })(proxy, img);
      const { pipeline, task, seen } = await pipelineOf(repo, streams, undefined, 3);
      const settled = [0, 1, 2].map((i) => pipeline.run(task(i, { ref: `test/${i}` })).then(() => 'ok', (e: Error) => e.message));
      const out = await Promise.all(settled);
      streams.close();
      expect(out).toEqual(['ok', `Layer 1: Corrupted blob: expected digest ${b!.digest}, got ${zero}`, 'ok']);
      expect(seen.failed).toEqual([1]);
      expect(seen.imported).toEqual([0, 2]);
    });
  });

  it('a layer transaction whose commit fails: its layer fails with that error, the partial mark stays only on a commit object that got in, the next layer goes through', async () => {
    await withRepoAndProxy(async (repo, proxy, img) => {
      const streams = new BlobStreams(proxy, img);
      const { pipeline, task } = await pipelineOf(repo, streams);
      // Faults a healthy repository does not give (a fake for them only): a commit that fails
      // before it moved anything, and one that fails after it moved the staged objects in.
      const real = Repo.prototype.commitTransaction;
      const spy = vi
        .spyOn(Repo.prototype, 'commitTransaction')
        .mockImplementationOnce(() => Promise.reject(new Error('commit failed')))
        .mockImplementationOnce(async function (this: Repo) {
          await real.call(this);
          throw new Error('commit failed half way');
        });
      try {
        await expect(pipeline.run(task(0, { ref: 'test/0' }))).rejects.toThrow(/^Layer 0: commit failed$/);
        expect(await repo.resolveRev('test/0', { allowNoent: true })).toBeNull();
        expect(partialMarks(repo)).toEqual([]);
        await expect(pipeline.run(task(1, { ref: 'test/1' }))).rejects.toThrow(/^Layer 1: commit failed half way$/);
        const [mark] = partialMarks(repo);
        expect(partialMarks(repo)).toHaveLength(1);
        expect(await repo.hasObject('commit', mark!.replace('.commitpartial', ''))).toBe(true);
        // The handle's transaction was aborted and its slot given back: the next layer is stored.
        const r = await pipeline.run(task(2, { ref: 'test/2' }));
        expect(await repo.resolveRev('test/2')).toBe(r.commit);
        expect(spy).toHaveBeenCalledTimes(3);
      } finally {
        spy.mockRestore();
        streams.close();
      }
    });
  });

  it('an abort after a layer was recorded in a transaction left open for the next: that layer is still committed', async () => {
    await withRepoAndProxy(async (repo, proxy, img) => {
      const streams = new BlobStreams(proxy, img);
      const { pipeline, task, seen, abort } = await pipelineOf(repo, streams, undefined, 3);
      const { gate, releaseWhenQueued } = heldFirst(pipeline);
      // The first import after layer 0's aborts the pull once it has imported its layer; the
      // other layer, waiting for the import slot, then fails with the abort.
      const runs = [0, 1, 2].map((i) => pipeline.run(task(i, { ref: `test/${i}`, gate: i === 0 ? gate : undefined, imported: i === 0 ? undefined : abort })));
      const settled = runs.map((r) => r.then(() => 'ok', (e: Error) => e.message));
      await releaseWhenQueued(2);
      const out = await Promise.all(settled);
      streams.close();
      const stored = seen.imported[1]!;
      const aborted = 3 - stored;
      expect(seen.imported).toEqual([0, stored]);
      expect(out[stored]).toBe('ok');
      expect(out[aborted]).toMatch(new RegExp(`^Layer ${aborted}: .*abort`, 'i'));
      expect(await repo.resolveRev(`test/${stored}`)).toMatch(/^[0-9a-f]{64}$/);
      expect(await repo.resolveRev(`test/${aborted}`, { allowNoent: true })).toBeNull();
    });
  });

  it('a spool where the file system has no unnamed files: a named file in tmp/, unlinked at once; other errors fail the layer', async () => {
    await withRepoAndProxy(async (repo, proxy, img) => {
      const streams = new BlobStreams(proxy, img);
      const { pipeline, task } = await pipelineOf(repo, streams);
      try {
        for (const [i, code] of ['EOPNOTSUPP', 'EISDIR', 'EINVAL'].entries()) {
          unnamed.code = code;
          unnamed.dirs = [];
          const r = await pipeline.run(task(i, { ref: `test/${i}` }));
          expect(await repo.resolveRev(`test/${i}`)).toBe(r.commit);
          expect(unnamed.dirs).toEqual([path.join(repo.path, 'tmp')]);
          expect(readdirSync(path.join(repo.path, 'tmp')).filter((f) => f.startsWith('spool-'))).toEqual([]);
        }
        unnamed.code = 'EACCES';
        await expect(pipeline.run(task(3, { ref: 'test/3' }))).rejects.toThrow(/^Layer 3: EACCES: injected$/);
      } finally {
        unnamed.code = undefined;
        streams.close();
      }
    });
  });

  it('a layer transaction that cannot be opened: its layer fails with that error, the next layer goes through', async () => {
    await withRepoAndProxy(async (repo, proxy, img) => {
      const streams = new BlobStreams(proxy, img);
      const { pipeline, task } = await pipelineOf(repo, streams);
      // A fault a healthy repository does not give (a fake for it only).
      const spy = vi.spyOn(Repo.prototype, 'prepareTransaction').mockRejectedValueOnce(new Error('no transaction'));
      try {
        await expect(pipeline.run(task(0, { ref: 'test/0' }))).rejects.toThrow(/^Layer 0: no transaction$/);
        const r = await pipeline.run(task(1, { ref: 'test/1' }));
        expect(await repo.resolveRev('test/1')).toBe(r.commit);
      } finally {
        spy.mockRestore();
        streams.close();
      }
    });
  });

  it('a blob declared empty is held to that: other bytes are refused', async () => {
    await withRepoAndProxy(async (repo, proxy, img) => {
      // skopeo refuses such a blob first; the fake asks it for the blob's real size while the
      // pipeline expects 0 bytes.
      const streams = new (class extends BlobStreams {
        override fetch(digest: string, size: number, ...rest: [number, { signal: AbortSignal; bytes?: BigUint64Array }]): Promise<SpooledBlob> {
          return super.fetch(digest, size === 0 ? blobs().find((d) => d.digest === digest)!.size : size, ...rest);
        }
      })(proxy, img);
      const { pipeline, task } = await pipelineOf(repo, streams, (i) => ({ ...blobs()[i]!, size: 0 }));
      const d = blobs()[0]!;
      await expect(pipeline.run(task(0, { ref: 'test/0' }))).rejects.toThrow(new RegExp(`^Layer 0: Corrupted blob ${d.digest}: expected 0 bytes, got ${d.size}$`));
      streams.close();
    });
  });

  it("a dropped transaction leaves the partial mark of a layer commit that was in the repository before (an earlier commit's leftover)", async () => {
    await withRepoAndProxy(async (repo, proxy, img) => {
      const streams = new BlobStreams(proxy, img);
      // An earlier pull's commits of layers 1 and 2 failed after moving their objects in (a fake
      // for that fault): both commits are in, marked partial.
      const real = Repo.prototype.commitTransaction;
      const spy = vi.spyOn(Repo.prototype, 'commitTransaction').mockImplementation(async function (this: Repo) {
        await real.call(this);
        throw new Error('commit failed half way');
      });
      try {
        const earlier = await pipelineOf(repo, streams);
        for (const i of [1, 2]) await expect(earlier.pipeline.run(earlier.task(i, { ref: `earlier/${i}` }))).rejects.toThrow(/commit failed half way$/);
      } finally {
        spy.mockRestore();
      }
      const marks = partialMarks(repo).sort();
      expect(marks).toHaveLength(2);
      // Now 1 and 2 share a transaction that the second one's failure drops.
      const { pipeline, task } = await pipelineOf(repo, streams, undefined, 3);
      const { gate, releaseWhenQueued } = heldFirst(pipeline);
      let n = 0;
      const failSecond = () => (n++ === 1 ? Promise.reject(new Error('import failed')) : Promise.resolve());
      const settled = [0, 1, 2].map((i) => pipeline.run(task(i, { ref: `test/${i}`, gate: i === 0 ? gate : failSecond })).then(() => 'ok', (e: Error) => e.message));
      await releaseWhenQueued(2);
      const out = await Promise.all(settled);
      streams.close();
      expect(out.filter((m) => m === 'ok')).toHaveLength(1);
      // The shared layer's commit may be the incomplete leftover: its mark stays.
      expect(partialMarks(repo).sort()).toEqual(marks);
    });
  });
});
