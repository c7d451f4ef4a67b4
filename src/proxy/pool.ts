// Several proxies with the same image open, for fetching blobs in parallel: one proxy serves one
// request at a time and is blocked for the whole of a blob transfer (FinishPipe). Each proxy gets
// one blob at a time; further fetches wait for a free proxy, so at most `size` readers are ever
// blocked on pipes (see BlobFd about thread pools).
import { concurrency } from '../concurrency.js';
import { finished } from 'node:stream/promises';
import type { ImageProxyConfig } from './config.js';
import { requirePolicyEnforcingProxy } from './policy.js';
import { ImageProxy, type BlobFd, type BlobStream, type OpenedImage } from './image-proxy.js';

export interface ImageProxyPoolOptions {
  /** Number of proxy processes; default min(4, `concurrency()`). */
  size?: number;
  config?: ImageProxyConfig;
  /** Refuse proxies that do not apply containers-policy.json when opening (ostree-image-signed). */
  enforcePolicy?: boolean;
}

/** A proxy with the image open in it. */
export interface Member {
  proxy: ImageProxy;
  image: OpenedImage;
}

/** Finalizes every proxy, reporting the first failure after all were tried. */
async function finalizeAll(proxies: ImageProxy[]): Promise<void> {
  const results = await Promise.allSettled(proxies.map((p) => p.finalize()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * Closes the image in every proxy, then finalizes them all; every one is tried, and the first
 * failure (finalizing before closing) is reported after.
 */
export async function closeProxies(members: readonly Member[]): Promise<void> {
  const closing = await Promise.allSettled(members.map((m) => m.proxy.closeImage(m.image)));
  await finalizeAll(members.map((m) => m.proxy));
  const failed = closing.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

export class ImageProxyPool {
  private closed = false;
  private readonly free: Member[];
  private readonly waiting: { resolve: (m: Member) => void; reject: (e: Error) => void }[] = [];

  private constructor(
    private readonly members: Member[],
    private readonly imgref: string | { toString(): string },
    /** What `grow` opens more proxies with (the size aside). */
    private readonly opts: ImageProxyPoolOptions,
  ) {
    this.free = [...members];
  }

  /** Starts `size` proxies and opens `imgref` in each. */
  static async open(imgref: string | { toString(): string }, opts: ImageProxyPoolOptions = {}): Promise<ImageProxyPool> {
    const size = opts.size ?? Math.min(4, concurrency());
    if (!Number.isInteger(size) || size < 1) throw new Error(`Invalid proxy pool size ${size}`);
    const started = await Promise.allSettled(Array.from({ length: size }, () => ImageProxy.create(opts.config)));
    const proxies = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    try {
      if (failed) throw failed.reason;
      if (opts.enforcePolicy) proxies.forEach(requirePolicyEnforcingProxy);
      const images = await Promise.all(proxies.map((p) => p.openImage(imgref)));
      return new ImageProxyPool(proxies.map((proxy, i) => ({ proxy, image: images[i] })), imgref, opts);
    } catch (e) {
      await finalizeAll(proxies).catch(() => undefined);
      throw e;
    }
  }

  get size(): number {
    return this.members.length;
  }

  /**
   * Starts more proxies (with the image open) until the pool has `size`: a pool opened small
   * for a manifest check grows only when blobs are to be fetched.
   */
  async grow(size: number): Promise<void> {
    if (this.closed) throw new Error('Image proxy pool is closed');
    const more = Math.max(0, size - this.members.length);
    if (more === 0) return;
    const added = await ImageProxyPool.open(this.imgref, { ...this.opts, size: more });
    for (const m of added.members) {
      this.members.push(m);
      this.release(m);
    }
  }

  /** The first proxy and its image, for manifest and configuration requests. */
  get primary(): { proxy: ImageProxy; image: OpenedImage } {
    return this.members[0];
  }

  /**
   * A blob pipe from the next free proxy; same contract as `ImageProxy.getBlobFd`. The proxy is
   * handed back when `finish()` settles, so always call it.
   */
  async getBlobFd(digest: string, size: number): Promise<BlobFd & { proxyPid: number }> {
    const m = await this.acquire();
    try {
      const blob = await m.proxy.getBlobFd(m.image, digest, size);
      let finishing: Promise<void> | undefined;
      return {
        ...blob,
        // The serving skopeo's pid: its write counter tells how far the blob got.
        proxyPid: m.proxy.pid,
        finish: () => (finishing ??= blob.finish().finally(() => this.release(m))),
      };
    } catch (e) {
      this.release(m);
      throw e;
    }
  }

  /** A verified blob stream from the next free proxy, handed back once the stream is done. */
  async getBlob(digest: string, size: number): Promise<BlobStream> {
    const m = await this.acquire();
    try {
      const blob = await m.proxy.getBlob(m.image, digest, size);
      void finished(blob.stream)
        .catch(() => undefined)
        .finally(() => this.release(m));
      return blob;
    } catch (e) {
      this.release(m);
      throw e;
    }
  }

  /** Closes the image in every proxy and finalizes them all. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.reject(new Error('Image proxy pool is closed'));
    await closeProxies(this.members);
  }

  private acquire(): Promise<Member> {
    if (this.closed) return Promise.reject(new Error('Image proxy pool is closed'));
    const m = this.free.shift();
    if (m) return Promise.resolve(m);
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private release(m: Member): void {
    const next = this.waiting.shift();
    if (next) next.resolve(m);
    else this.free.push(m);
  }
}
