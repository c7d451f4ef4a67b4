// Several blobs at once from a skopeo image proxy (or a few, each with the image open), each
// spooled into a file.
//
// What skopeo's proxy allows (cmd/skopeo/proxy.go of 1.9.3, protocol 0.2.3, and of 1.18, 0.2.6;
// the same in both, tested in test/integration/blob-streams.test.ts):
// - Requests are served one at a time, in order. `GetBlob` answers once the source has opened
//   the blob (for a registry: after the response headers) and leaves a goroutine copying the
//   blob into a pipe; any number of these pipes flow at once.
// - The pipe's write end is closed only by `FinishPipe`, which first waits for that goroutine
//   while holding the proxy's lock: a reader sees EOF only after it, and until it answers the
//   proxy serves nothing else. A `FinishPipe` sent while its blob is still flowing therefore holds
//   up every later `GetBlob`; sent once the blob's bytes are all read, it answers at once with
//   skopeo's verdict (size, digest).
// - A goroutine that fails (a connection reset in the middle of a blob) just stops writing; its
//   pipe stays open until `FinishPipe` reports the error.
// So a blob of known size is read to exactly that size into its spool file, then `FinishPipe`
// goes out and EOF must follow. A stream that has gone quiet while the proxy has nothing else to
// do gets its `FinishPipe` early, so a failed goroutine is reported instead of waited for.
import { closeSync } from 'node:fs';
import { native, withCancellable, type NativeCancellable } from '../native.js';
import { joinFetch, type ImageProxy, type OpenedImage } from './image-proxy.js';
import { pipeReadable } from './pipes.js';
import type { Member } from './pool.js';

/** What a spooled blob turned out to be: the digest and size of the bytes written. */
export interface SpooledBlob {
  digest: string;
  size: number;
}

interface SpoolNative {
  spoolBlob(inFd: number, outFd: number, opts: { size?: number; progress?: BigUint64Array }, c: NativeCancellable | undefined): Promise<SpooledBlob>;
  /** The only counters a job accepts: their memory is the addon's, so it outlives the job. */
  progressCounter(): BigUint64Array;
}

/** A stream without a new byte for this long, while the proxy is idle, gets its FinishPipe early. */
const QUIET_MS = 2000;
const WATCH_MS = 250;

/** A skopeo image proxy with the image open in it. */
export type BlobSource = Member;

/** A source and our requests sent or queued to it and not answered yet. */
interface Lane {
  source: BlobSource;
  pending: number;
}

interface Stream {
  lane: Lane;
  bytes: BigUint64Array;
  last: bigint;
  quietSince: number;
  finishing: boolean;
  finish(): Promise<void>;
}

/** Resolves at EOF of a pipe (taking ownership of `fd`); any byte left is an error. */
function expectEnd(fd: number, size: number): Promise<void> {
  const s = pipeReadable(fd);
  return new Promise<void>((resolve, reject) => {
    s.once('data', () => {
      s.destroy();
      reject(new Error(`Blob is longer than its size ${size}`));
    });
    s.once('end', () => {
      s.destroy();
      resolve();
    });
    s.once('error', reject);
  });
}

export class BlobStreams {
  private readonly streams = new Set<Stream>();
  private readonly lanes: Lane[];
  private timer: NodeJS.Timeout | undefined;

  constructor(proxy: ImageProxy, image: OpenedImage) {
    this.lanes = [{ source: { proxy, image }, pending: 0 }];
  }

  /** The first source: the one manifests, configurations and layer infos are read from. */
  get proxy(): ImageProxy {
    return this.lanes[0]!.source.proxy;
  }

  get image(): OpenedImage {
    return this.lanes[0]!.source.image;
  }

  /** Every source, the first one first. */
  get sources(): BlobSource[] {
    return this.lanes.map((l) => l.source);
  }

  /**
   * Another proxy with the same image open: each fetch then goes to the source with the fewest
   * requests waiting. A proxy serves its requests one at a time and a `GetBlob` waits for the
   * registry's answer, so over a distant link one proxy spends most of a pull waiting for round trips.
   */
  addSource(source: BlobSource): void {
    this.lanes.push({ source, pending: 0 });
  }

  /**
   * Fetches blob `digest` into `out` (a regular file, left at offset 0) and resolves once skopeo
   * has verified it (size and digest) and the pipe has ended. `bytes[0]` (a counter from
   * `progressCounter()`) counts the bytes
   * received so far; `received` is called once they are all in, before skopeo's verdict. An abort
   * of `signal` stops the transfer.
   */
  async fetch(digest: string, size: number, out: number, opts: { signal: AbortSignal; bytes?: BigUint64Array; received?: () => void }): Promise<SpooledBlob> {
    opts.signal.throwIfAborted();
    const lane = this.lanes.reduce((a, b) => (b.pending < a.pending ? b : a));
    const blob = await this.request(lane, () => lane.source.proxy.getBlobFd(lane.source.image, digest, size));
    const bytes = opts.bytes ?? native<SpoolNative>().progressCounter();
    // Stops the spool job: the caller's abort, or an early FinishPipe that failed.
    const stop = new AbortController();
    const forward = () => stop.abort(opts.signal.reason);
    opts.signal.addEventListener('abort', forward, { once: true });
    // An abort that came while GetBlob was under way has fired already.
    if (opts.signal.aborted) forward();
    let fdOpen = true;
    const closeFd = () => {
      if (fdOpen) closeSync(blob.fd);
      fdOpen = false;
    };
    let spooling = true;
    let failedEarly = false;
    let finished: Promise<void> | undefined;
    const stream: Stream = {
      lane,
      bytes,
      last: 0n,
      quietSince: Date.now(),
      finishing: false,
      finish: () => {
        if (!finished) {
          stream.finishing = true;
          finished = this.request(lane, () => blob.finish()).catch((e: unknown) => {
            // Before the blob was all read, this means the goroutine failed: stop waiting for bytes.
            if (spooling) {
              failedEarly = true;
              stop.abort(e);
            }
            throw e;
          });
        }
        return finished;
      },
    };
    this.streams.add(stream);
    this.watch();
    try {
      // Unknown size: EOF comes only through FinishPipe, which then holds the proxy for the whole blob.
      if (size < 0) void stream.finish().catch(() => undefined);
      let spooled: SpooledBlob;
      try {
        spooled = await withCancellable(stop.signal, (c) =>
          native<SpoolNative>().spoolBlob(blob.fd, out, size >= 0 ? { size, progress: bytes } : { progress: bytes }, c),
        );
      } catch (e) {
        spooling = false;
        const finishedEarly = stream.finishing;
        // The proxy's writer gets EPIPE, so its FinishPipe answers.
        closeFd();
        const finishing = stream.finish();
        // An early FinishPipe closed the pipe (the spool saw it end) or stopped the spool: the
        // proxy's verdict tells what went wrong.
        if (finishedEarly || failedEarly) throw await finishing.then(() => e, (f: unknown) => f);
        return await joinFetch<never>(Promise.reject(e), finishing);
      }
      spooling = false;
      const finishing = stream.finish();
      opts.received?.();
      fdOpen = false;
      await joinFetch(expectEnd(blob.fd, size), finishing);
      return spooled;
    } finally {
      this.streams.delete(stream);
      opts.signal.removeEventListener('abort', forward);
    }
  }

  /** Stops watching for quiet streams (they are all done or abandoned). */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async request<T>(lane: Lane, fn: () => Promise<T>): Promise<T> {
    lane.pending++;
    try {
      return await fn();
    } finally {
      lane.pending--;
    }
  }

  private watch(): void {
    this.timer ??= setInterval(() => this.nudge(), WATCH_MS).unref();
  }

  /** Per proxy with nothing else to do, sends the FinishPipe of its stream quiet the longest. */
  private nudge(): void {
    if (this.streams.size === 0) return this.close();
    const now = Date.now();
    const quietest = new Map<Lane, Stream>();
    for (const s of this.streams) {
      const n = Atomics.load(s.bytes, 0);
      if (n !== s.last) {
        s.last = n;
        s.quietSince = now;
      } else if (!s.finishing && now - s.quietSince >= QUIET_MS && s.quietSince < (quietest.get(s.lane)?.quietSince ?? Infinity)) {
        quietest.set(s.lane, s);
      }
    }
    // Its outcome is observed by its fetch().
    for (const [lane, s] of quietest) if (lane.pending === 0) s.finish().catch(() => undefined);
  }
}
