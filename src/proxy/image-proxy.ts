// Client of `skopeo experimental-image-proxy` (spec §5): one child per ImageProxy, JSON requests
// over a SOCK_SEQPACKET socket, payloads through pipes whose fds ride on the replies.
import { execFileSync, spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import type { Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Transform, pipeline, type Readable } from 'node:stream';
import { ContextError, messageOf } from '../errors.js';
import { parseDigest } from '../oci/digest.js';
import { parseImageConfiguration, parseImageManifest, type ImageConfiguration, type ImageManifest } from '../oci/types.js';
import { AUTH_DATA_CHILD_FD, proxyArgs, proxyDebug, type ImageProxyConfig, type ProxyCommand } from './config.js';
import { pipeReadable, readPipe } from './pipes.js';
import { seqpacket, type SeqpacketSocket } from './seqpacket.js';
import { notInstalled } from '../system-tools.js';
import { openUnnamedFile } from '../unnamed-file.js';

/** Datagram size limit of both ends (skopeo's `maxMsgSize`). */
export const MAX_MSG_SIZE = 32 * 1024;
/** Oldest protocol we speak: skopeo 1.6.0 … 1.10.0, including Debian 12's 1.9.3. */
export const BASE_PROTOCOL_VERSION = '0.2.3';
const LAYER_INFO_PROTOCOL_VERSION = '0.2.5';
const LAYER_INFO_PIPED_PROTOCOL_VERSION = '0.2.7';
// Kept for the error text only: stderr beyond this is dropped from the front.
const STDERR_LIMIT = 64 * 1024;
// Socket errors meaning the child closed its end (a peer exiting with our request unread
// resets the connection instead of giving EOF).
const PEER_GONE = new Set(['EPIPE', 'ECONNRESET', 'ENOTCONN']);

/** An image opened in one proxy; only valid with that proxy. */
export class OpenedImage {
  constructor(
    readonly id: number,
    /** The reference it was opened with, for messages. */
    readonly ref: string,
  ) {}
}

/** The descriptor fields the proxy needs (an OCI descriptor fits). */
export interface BlobDescriptor {
  digest: string;
  size: number;
}

/** One layer as reported by `GetLayerInfo*` (for containers-storage the digest is the diffid). */
export interface ConvertedLayerInfo {
  digest: string;
  size: number;
  mediaType: string;
}

/**
 * A blob pipe for native consumers. The caller owns `fd` (the read end of a pipe; close it when
 * done) and must read it to EOF while `finish()` is pending: the proxy only closes the write end
 * (EOF) as part of `FinishPipe`, and `FinishPipe` only replies once everything was read. So start
 * the reader (e.g. a native worker), then call `finish()`, and await both — `joinFetch(reader,
 * blob.finish())` applies upstream's error precedence. `finish()` resolves once the proxy has
 * verified size and digest; a mismatch rejects with `… corrupted blob, expecting <digest>`.
 * Call it exactly once (later calls return the same promise); the proxy serves no other request
 * while it is pending.
 *
 * A blocking reader sees EOF only after its own `FinishPipe` ran, and a proxy runs its
 * `FinishPipe`s in order. So blocking readers on a bounded thread pool (libuv's: 4 threads by
 * default) must not outnumber its threads, or a queued reader can starve an earlier FinishPipe
 * and deadlock. Read on dedicated threads (the native importers run each job on a thread of its
 * own), non-blocking (`getBlob`), or cap the blobs in flight.
 */
export interface BlobFd {
  fd: number;
  /** Size reported by the source; -1 when unknown. */
  size: number;
  finish(): Promise<void>;
}

/** A verified blob stream: it ends only after the proxy confirmed size and digest, else errors. */
export interface BlobStream {
  stream: Readable;
  /** Size reported by the source; -1 when unknown. */
  size: number;
}

/** Error reported through `GetRawBlob`'s error fd. */
export class RawBlobError extends Error {
  constructor(message: string, readonly code: 'retryable' | 'other') {
    super(message);
    this.name = 'RawBlobError';
  }
  get retryable(): boolean {
    return this.code === 'retryable';
  }
}

interface Reply {
  value: unknown;
  pipeid: number;
  fds: number[];
}

interface ExitInfo {
  status: string;
  ok: boolean;
  stderr: string;
}

function parseVersion(v: string): [number, number, number] | null {
  const m = /^(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

/** Cargo-style caret requirement `^req`, for the 0.x versions the proxy uses. */
export function protocolSatisfies(version: string, req: string): boolean {
  const v = parseVersion(version);
  const r = parseVersion(req)!;
  if (!v) return false;
  if (v[0] !== r[0]) return false;
  if (r[0] === 0 && v[1] !== r[1]) return false;
  if (v[1] !== r[1]) return v[1] > r[1];
  return v[2] >= r[2];
}

/** Rust's `ExitStatus` display: `exit status: 1`, `signal: 9 (SIGKILL)`. */
export function formatExitStatus(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal) return `signal: ${os.constants.signals[signal]} (${signal})`;
  return `exit status: ${code}`;
}

function closeFds(fds: number[]): void {
  for (const fd of fds) fs.closeSync(fd);
}

/** First executable `name` on PATH (what execvp would run), or null. */
function findInPath(name: string): string | null {
  if (name.includes('/')) return name;
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    const p = path.join(dir || '.', name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      // not here; keep looking
    }
  }
  return null;
}

/** Upstream's `skopeo spawn error: <strerror>`; a missing program is named with its package. */
function spawnError(errno: number, program = 'skopeo'): Error {
  const hint = errno === os.constants.errno.ENOENT ? ` (${notInstalled(program)})` : '';
  return new Error(`skopeo spawn error: ${seqpacket().strerror(errno)}${hint}`);
}

/** Default command: skopeo, terminated (SIGTERM) when we die, as upstream's PR_SET_PDEATHSIG. */
function defaultCommand(): ProxyCommand {
  const skopeo = findInPath('skopeo');
  if (!skopeo) throw spawnError(os.constants.errno.ENOENT);
  if (!findInPath('setpriv')) throw spawnError(os.constants.errno.ENOENT, 'setpriv');
  return { program: 'setpriv', args: ['--pdeathsig', 'TERM', '--', skopeo] };
}

/**
 * Copies auth contents into a private file for the child: unnamed (O_TMPFILE, so no other
 * process can open it by path, and nothing is left behind), mode 0600, owned by the user the
 * child runs as, which re-opens it as /proc/self/fd/100. /dev/shm (tmpfs) when $TMPDIR's file
 * system cannot make unnamed files.
 */
function authDataFd(data: Buffer | number, uid: number | undefined): number {
  const contents = typeof data === 'number' ? readFromOffset(data) : data;
  let fd: number;
  try {
    fd = openUnnamedFile(os.tmpdir());
  } catch {
    fd = openUnnamedFile('/dev/shm');
  }
  try {
    if (uid !== undefined) fs.fchownSync(fd, uid, -1);
    fs.writeSync(fd, contents);
    return fd;
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
}

/** The uid of `user` (by name or number), through the system's user database. */
function uidOf(user: string): number {
  if (/^\d+$/.test(user)) return Number(user);
  try {
    return Number(execFileSync('id', ['-u', '--', user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim());
  } catch (e) {
    throw new ContextError(`Looking up user ${user}`, e);
  }
}

function readFromOffset(fd: number): Buffer {
  const chunks: Buffer[] = [];
  for (;;) {
    const b = Buffer.alloc(64 * 1024);
    const n = fs.readSync(fd, b, 0, b.length, null);
    if (n === 0) return Buffer.concat(chunks);
    chunks.push(b.subarray(0, n));
  }
}

/**
 * Joins a pipe consumer with its `FinishPipe`, with upstream's precedence: one failure wins; when
 * both fail, the consumer's error alone if the proxy only saw a broken pipe (the consumer stopped
 * reading), else the consumer's error under `proxy failure: <proxy error> and client error`.
 */
export async function joinFetch<T>(consumer: Promise<T>, finish: Promise<void>): Promise<T> {
  const [c, f] = await Promise.allSettled([consumer, finish]);
  if (c.status === 'fulfilled') {
    if (f.status === 'rejected') throw f.reason;
    return c.value;
  }
  if (f.status === 'fulfilled' || messageOf(f.reason).endsWith('broken pipe')) throw c.reason;
  throw new ContextError(`proxy failure: ${messageOf(f.reason)} and client error`, c.reason);
}

/**
 * One `skopeo experimental-image-proxy` child. Requests are serialised (the proxy answers one at
 * a time); several images and several pipes may be open at once. Call `finalize()` when done.
 * An idle proxy does not keep Node running: if Node exits without `finalize()`, the socket
 * closes and skopeo exits (or gets SIGTERM as its parent dies).
 */
export class ImageProxy {
  /** A round trip is under way; `waiting` start theirs in turn, `idle` wake when none is left. */
  private busy = false;
  private readonly waiting: { urgent: boolean; start: () => void }[] = [];
  private readonly idle: (() => void)[] = [];
  private exitInfo: ExitInfo | undefined;
  private readonly exited: Promise<ExitInfo>;
  private protocol = '';
  private finalized = false;
  /** Images opened and not yet closed: finalize() closes them (see there). */
  private readonly openImages = new Set<number>();

  private constructor(
    private readonly child: ChildProcess,
    private readonly sock: SeqpacketSocket,
  ) {
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (s: string) => {
      stderr = (stderr + s).slice(-STDERR_LIMIT);
    });
    this.exited = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        this.exitInfo = { status: formatExitStatus(code, signal), ok: code === 0, stderr: stderr.trimEnd() };
        resolve(this.exitInfo);
      });
    });
    // Only pending requests and reads hold the event loop, not the idle child.
    child.unref();
    (child.stderr as Socket | null)?.unref();
  }

  /** The child's exit, holding the event loop until it comes. */
  private waitExit(): Promise<ExitInfo> {
    this.child.ref();
    (this.child.stderr as Socket | null)?.ref();
    return this.exited;
  }

  /** Starts a proxy child and performs `Initialize` with the protocol version check. */
  static async create(config: ImageProxyConfig = {}): Promise<ImageProxy> {
    const args = proxyArgs(config);
    const cmd = config.skopeoCmd ?? defaultCommand();
    const debug = proxyDebug(config);
    const [parentFd, childFd] = seqpacket().socketpair();
    const sock = new (seqpacket().Socket)(parentFd);
    let authFd: number | undefined;
    let child: ChildProcess;
    try {
      if (config.authData !== undefined) authFd = authDataFd(config.authData, cmd.user === undefined ? undefined : uidOf(cmd.user));
      const stdio: StdioOptions = [childFd, 'ignore', debug ? 'inherit' : 'pipe'];
      if (authFd !== undefined) {
        while (stdio.length < AUTH_DATA_CHILD_FD) stdio.push('ignore');
        stdio.push(authFd);
      }
      const env = { ...process.env };
      for (const k of cmd.envRemove ?? []) delete env[k];
      try {
        child = spawn(cmd.program, [...(cmd.args ?? []), ...args], { stdio, env });
      } catch (e) {
        const errno = (e as NodeJS.ErrnoException).errno;
        throw errno !== undefined ? spawnError(-errno, path.basename(cmd.program)) : e;
      }
    } catch (e) {
      sock.close();
      throw e;
    } finally {
      fs.closeSync(childFd);
      if (authFd !== undefined) fs.closeSync(authFd);
    }
    if (child.pid === undefined) {
      sock.close();
      const err = await new Promise<NodeJS.ErrnoException>((resolve) => child.once('error', resolve));
      throw spawnError(-(err.errno ?? -os.constants.errno.ENOENT), path.basename(cmd.program));
    }
    const proxy = new ImageProxy(child, sock);
    try {
      const version = await proxy.call('Initialize', []);
      if (typeof version !== 'string') throw new Error(`Initialize: expected a version string, got ${JSON.stringify(version)}`);
      if (!protocolSatisfies(version, BASE_PROTOCOL_VERSION)) {
        throw new Error(`proxy too old (requested=${version} found=^${BASE_PROTOCOL_VERSION}) error`);
      }
      proxy.protocol = version;
    } catch (e) {
      await proxy.finalize().catch(() => undefined);
      throw e;
    }
    return proxy;
  }

  /** Protocol version the child reported (e.g. `0.2.3` for skopeo 1.9.3). */
  get protocolVersion(): string {
    return this.protocol;
  }

  /** The child's pid (skopeo's, also when run through setpriv, which execs it). */
  get pid(): number {
    return this.child.pid!;
  }

  /** True if the proxy speaks at least `version` within the same 0.x line. */
  supports(version: string): boolean {
    return protocolSatisfies(this.protocol, version);
  }

  async openImage(imgref: string | { toString(): string }): Promise<OpenedImage> {
    const ref = String(imgref);
    const id = (await this.call('OpenImage', [ref])) as number;
    this.openImages.add(id);
    return new OpenedImage(id, ref);
  }

  /** Like `openImage`, but null when the image does not exist (protocol 0.2.4+). */
  async openImageOptional(imgref: string | { toString(): string }): Promise<OpenedImage | null> {
    const ref = String(imgref);
    const id = (await this.call('OpenImageOptional', [ref])) as number;
    if (id === 0) return null;
    this.openImages.add(id);
    return new OpenedImage(id, ref);
  }

  async closeImage(img: OpenedImage): Promise<void> {
    await this.call('CloseImage', [img.id]);
    this.openImages.delete(img.id);
  }

  /** The manifest as stored (for Docker schema2 sources: converted to OCI) and its digest. */
  async fetchManifestRaw(img: OpenedImage): Promise<{ digest: string; manifest: Buffer }> {
    const { value, fd, pipeid } = await this.callPipe('GetManifest', [img.id]);
    const manifest = await joinFetch(readPipe(fd), this.finishPipe(pipeid));
    return { digest: value as string, manifest };
  }

  /** The full OCI image configuration, re-serialised by skopeo (its hash is not the config digest). */
  async fetchConfigRaw(img: OpenedImage): Promise<Buffer> {
    const { fd, pipeid } = await this.callPipe('GetFullConfig', [img.id]);
    return joinFetch(readPipe(fd), this.finishPipe(pipeid));
  }

  /** The manifest, validated, and its digest (checked to be a well-formed OCI digest). */
  async fetchManifest(img: OpenedImage): Promise<{ digest: string; manifest: ImageManifest }> {
    const raw = await this.fetchManifestRaw(img);
    parseDigest(raw.digest);
    return { digest: raw.digest, manifest: parseImageManifest(raw.manifest, `manifest of ${img.ref}`) };
  }

  /** The image configuration, validated. */
  async fetchConfig(img: OpenedImage): Promise<ImageConfiguration> {
    return parseImageConfiguration(await this.fetchConfigRaw(img), `configuration of ${img.ref}`);
  }

  /**
   * A blob as a stream that ends only once the proxy verified size and digest, and errors
   * otherwise. Read it to the end or destroy it: until then this proxy serves no other request.
   */
  async getBlob(img: OpenedImage, digest: string, size: number): Promise<BlobStream> {
    const blob = await this.getBlobFd(img, digest, size);
    const src = pipeReadable(blob.fd);
    const finished = blob.finish().then(
      () => null,
      (e: unknown) => e,
    );
    const out = new Transform({
      transform(chunk, _enc, cb) {
        cb(null, chunk);
      },
      flush(cb) {
        void finished.then((e) => cb(e as Error | null));
      },
    });
    // Ending early (consumer destroyed the stream) closes the fd; the proxy then reports a broken
    // pipe, which nobody needs to hear about.
    pipeline(src, out, () => undefined);
    return { stream: out, size: blob.size };
  }

  getDescriptor(img: OpenedImage, desc: BlobDescriptor): Promise<BlobStream> {
    return this.getBlob(img, desc.digest, desc.size);
  }

  /** A blob as a raw pipe fd for native consumers; see `BlobFd` for the drain/finish contract. */
  async getBlobFd(img: OpenedImage, digest: string, size: number): Promise<BlobFd> {
    const { value, fd, pipeid } = await this.callPipe('GetBlob', [img.id, digest, size]);
    let finishing: Promise<void> | undefined;
    return {
      fd,
      size: value as number,
      finish: () => (finishing ??= this.finishPipe(pipeid)),
    };
  }

  /**
   * A blob without server-side verification (protocol 0.2.8+; the caller must check the digest).
   * The caller owns `fd` and reads it to EOF; `finish()` then reports the proxy's outcome from the
   * error channel: nothing or `EPIPE` → ok, `retryable`/`other` → RawBlobError.
   */
  async getRawBlob(img: OpenedImage, digest: string): Promise<BlobFd> {
    const { value, fds } = await this.callDual('GetRawBlob', [img.id, digest]);
    const [fd, errFd] = fds;
    const outcome = readPipe(errFd).then((b) => {
      const text = b.toString('utf8').trim();
      if (!text) return;
      const e = JSON.parse(text) as { code?: string; message?: string };
      if (e.code === 'EPIPE') return;
      throw new RawBlobError(e.message ?? text, e.code === 'retryable' ? 'retryable' : 'other');
    });
    outcome.catch(() => undefined); // observed through finish()
    return { fd, size: value as number, finish: () => outcome };
  }

  /**
   * Layer digests, sizes and media types as the source reports them (for containers-storage:
   * uncompressed). Null when the proxy is older than 0.2.5.
   */
  async getLayerInfo(img: OpenedImage): Promise<ConvertedLayerInfo[] | null> {
    let raw: unknown;
    if (this.supports(LAYER_INFO_PIPED_PROTOCOL_VERSION)) {
      const { fd, pipeid } = await this.callPipe('GetLayerInfoPiped', [img.id]);
      raw = JSON.parse((await joinFetch(readPipe(fd), this.finishPipe(pipeid))).toString('utf8'));
    } else if (this.supports(LAYER_INFO_PROTOCOL_VERSION)) {
      raw = await this.call('GetLayerInfo', [img.id]);
    } else {
      return null;
    }
    return (raw as { digest: string; size: number; media_type: string }[]).map((l) => ({
      digest: l.digest,
      size: l.size,
      mediaType: l.media_type,
    }));
  }

  /**
   * Sends `Shutdown` once pending requests are done (so blobs in flight must be drained or
   * destroyed first) and reaps the child; a non-zero exit rejects with `proxy failed: <status>`.
   * Always releases the socket.
   */
  async finalize(): Promise<void> {
    if (this.finalized) return;
    this.finalized = true;
    if (this.busy) await new Promise<void>((r) => this.idle.push(r));
    // skopeo's Shutdown does not close open images, and an `oci-archive:` image keeps its
    // extracted copy under /var/tmp until closed: close what the caller left open.
    for (const id of this.openImages) {
      if (this.exitInfo) break;
      await this.call('CloseImage', [id]).catch(() => undefined);
    }
    this.openImages.clear();
    if (!this.exitInfo) {
      try {
        this.sock.send(JSON.stringify({ method: 'Shutdown', args: [] }));
      } catch {
        // already gone: the exit status tells why
      }
    }
    const info = await this.waitExit();
    this.sock.close();
    if (!info.ok) throw new Error(`proxy failed: ${info.status}${info.stderr ? `\n${info.stderr}` : ''}`);
  }

  /**
   * Goes ahead of the requests still queued: once its blob is read, the proxy answers it at once,
   * while each `GetBlob` waits for a registry's answer (a round trip, and more on a loaded link),
   * and the blob's verdict (and its fetch) would wait for every one queued before it.
   */
  private finishPipe(pipeid: number): Promise<void> {
    return this.call('FinishPipe', [pipeid], true).then(() => undefined);
  }

  /** A request whose reply carries neither fds nor a pipe. */
  private async call(method: string, args: unknown[], urgent = false): Promise<unknown> {
    const r = await this.request(method, args, urgent);
    if (r.fds.length > 0) {
      closeFds(r.fds);
      throw new Error('expected no fds');
    }
    if (r.pipeid !== 0) throw new Error('unexpected pipeid');
    return r.value;
  }

  private async callPipe(method: string, args: unknown[]): Promise<{ value: unknown; fd: number; pipeid: number }> {
    const r = await this.request(method, args);
    if (r.pipeid === 0) {
      closeFds(r.fds);
      throw new Error('Expected pipeid for FinishPipe');
    }
    if (r.fds.length !== 1) {
      closeFds(r.fds);
      throw new Error('Expected exactly one fd for FinishPipe');
    }
    return { value: r.value, fd: r.fds[0], pipeid: r.pipeid };
  }

  private async callDual(method: string, args: unknown[]): Promise<{ value: unknown; fds: number[] }> {
    const r = await this.request(method, args);
    if (r.pipeid !== 0) {
      closeFds(r.fds);
      throw new Error('Unexpected pipeid with DualFds');
    }
    if (r.fds.length !== 2) {
      closeFds(r.fds);
      throw new Error('Expected two fds for DualFds');
    }
    return { value: r.value, fds: r.fds };
  }

  /** Queues one round trip behind earlier ones (`urgent`: behind earlier urgent ones only). */
  private async request(method: string, args: unknown[], urgent = false): Promise<Reply> {
    if (this.busy) {
      await new Promise<void>((start) => {
        const at = urgent ? this.waiting.findIndex((w) => !w.urgent) : -1;
        this.waiting.splice(at < 0 ? this.waiting.length : at, 0, { urgent, start });
      });
    }
    this.busy = true;
    try {
      return await this.roundTrip(method, args);
    } finally {
      const next = this.waiting.shift();
      if (next) next.start();
      else {
        this.busy = false;
        for (const wake of this.idle.splice(0)) wake();
      }
    }
  }

  private async roundTrip(method: string, args: unknown[]): Promise<Reply> {
    if (this.exitInfo || this.sock.fd < 0) throw await this.exitedError(method);
    try {
      this.sock.send(JSON.stringify({ method, args }));
    } catch (e) {
      if (PEER_GONE.has((e as NodeJS.ErrnoException).code ?? '')) throw await this.exitedError(method);
      throw new ContextError(`Sending request ${method}`, e);
    }
    let msg;
    try {
      msg = await Promise.race([this.sock.recv(MAX_MSG_SIZE), this.exited.then(() => null)]);
    } catch (e) {
      if (PEER_GONE.has((e as NodeJS.ErrnoException).code ?? '')) throw await this.exitedError(method);
      throw new ContextError(`Receiving reply to ${method}`, e);
    }
    if (!msg) throw await this.exitedError(method);
    let reply: { success?: unknown; value?: unknown; pipeid?: unknown; error?: unknown };
    try {
      reply = JSON.parse(msg.data.toString('utf8')) as typeof reply;
    } catch (e) {
      closeFds(msg.fds);
      throw new Error(`Invalid reply to ${method}: ${messageOf(e)}`);
    }
    if (reply.success !== true) {
      closeFds(msg.fds);
      throw new Error(`failed to invoke method ${method}: ${String(reply.error)}`);
    }
    return { value: reply.value ?? null, pipeid: Number(reply.pipeid ?? 0), fds: msg.fds };
  }

  /** Waits for the child to be reaped and describes its death; the socket is released. */
  private async exitedError(method: string): Promise<Error> {
    const info = await this.waitExit();
    this.sock.close();
    return new Error(
      `skopeo proxy unexpectedly exited during request method ${method}: ${info.status}${info.stderr ? `\n${info.stderr}` : ''}`,
    );
  }
}
