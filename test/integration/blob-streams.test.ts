// Several blobs at once from one skopeo proxy (src/proxy/blob-streams.ts) and the pull
// pipeline's bounds (src/store/pipeline.ts), with real skopeo: first what the proxy itself allows
// (the facts the design rests on, asserted for the skopeo this stack has), then our use of it.
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync, truncateSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf } from '../../src/oci/digest.js';
import { BlobStreams } from '../../src/proxy/blob-streams.js';
import { ImageProxy, type OpenedImage } from '../../src/proxy/image-proxy.js';
import { pipeReadable } from '../../src/proxy/pipes.js';
import { Transport } from '../../src/ref/transport.js';
import { LayerPipeline, layerSources, type LayerTask } from '../../src/store/pipeline.js';
import { tarNative } from '../../src/tar/native.js';
import { buildDirImage, type BuiltImage } from '../helpers/images.js';
import { childProcesses } from '../helpers/process.js';
import { cliRepo } from './store-util.js';
import { cleanupTmp, tmpdir } from './encapsulate-util.js';

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

describe('BlobStreams: spooled blobs from one proxy', () => {
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
        fetchConcurrency: 3,
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
      // whichever fetch finished first); three more layers are fetched (spooled) meanwhile, no
      // more: fetch slots go in the order asked.
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
