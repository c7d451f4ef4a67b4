// The pull pipeline (spec store §2.3, DESIGN §7): every layer a pull fetches — the commit layer,
// a chunk layer or a derived layer — takes the same path,
//   fetch   its blob from the pull's skopeo proxy (or the least busy of its proxies, from a
//           registry: see BlobStreams) into a spool file in the repo's tmp/ (network I/O:
//           at most `fetchConcurrency` layers whose bytes are coming in, and SPOOLS_PER_FETCH
//           times as many fetched or in flight, waiting with their bytes spooled),
//   verify  the spooled bytes against the descriptor's digest and size,
//   import  a native job reading the spool (at most `importConcurrency` at once: the CPU budget;
//           the first layer handed in first, the others as their fetches finish), the tar's
//           diff_id checked against the configuration's,
//   record  the blob ref, in a layer transaction that later layers may share (Batches), or,
//           without a ref, nothing: the caller's transaction holds everything,
// and observers (progress, the journal) hear of each step. What differs between layer kinds is
// only the native import and what the import waits for.
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { closeSync, openSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { withContext } from '../errors.js';
import type { Descriptor, ImageManifest } from '../oci/types.js';
import type { BlobStreams } from '../proxy/blob-streams.js';
import { Transport } from '../ref/transport.js';
import { Repo } from '../repo/repo.js';
import { tarNative } from '../tar/native.js';
import { openUnnamedFile } from '../unnamed-file.js';

/** `ostree-chunk`: the commit layer or a chunk layer; `derived`: a non-ostree layer. */
export type LayerKind = 'ostree-chunk' | 'derived';

/** What is actually fetched for a manifest layer. */
export type LayerSource = Pick<Descriptor, 'digest' | 'size' | 'mediaType'>;

/**
 * How to fetch each manifest layer (by manifest index). containers-storage keeps layers
 * uncompressed and serves them under their diff_ids, so there the proxy's layer info replaces the
 * manifest descriptor; elsewhere the descriptor is fetched as is.
 */
export async function layerSources(streams: BlobStreams, transport: Transport, manifest: ImageManifest): Promise<(index: number) => LayerSource> {
  if (transport !== Transport.ContainerStorage) return (i) => manifest.layers[i]!;
  const info = await streams.proxy.getLayerInfo(streams.image);
  if (!info) throw new Error('skopeo too old to pull from containers-storage');
  return (i) => {
    const source = info[i];
    if (!source) throw new Error(`blobid position ${i} exceeds diffid count ${info.length}`);
    return source;
  };
}

/** What every native import returns about the bytes it read. */
export interface ImportedLayer {
  digest: string;
  size: number;
  diffId: string;
  commit?: string;
}

/** Imports one spooled blob (`fd`, at offset 0) into `repo`, inside a transaction open on `repo`. */
export type LayerImport<R extends ImportedLayer> = (repo: Repo, fd: number, source: LayerSource, signal: AbortSignal) => Promise<R>;

/** One layer to fetch and import. */
export interface LayerTask<R extends ImportedLayer = ImportedLayer> {
  /** Index in the manifest's layers. */
  index: number;
  layer: Descriptor;
  kind: LayerKind;
  /** Context of its errors (`Layer <digest>`, `Parsing layer blob <digest>`). */
  context: string;
  /** The blob ref recorded with the layer's commit in a layer transaction; null: the caller's transaction. */
  ref: string | null;
  /** The configuration's diff_id for the layer, checked against the tar's. */
  diffId: string | undefined;
  /** Its commit stays marked partial once stored (the base commit: complete once every chunk layer is in). */
  staysPartial?: boolean;
  /** The import waits for this (derived layers: the whole base, for its SELinux policy). */
  after?: Promise<unknown>;
  import: LayerImport<R>;
}

/** Hears what the pipeline does; every method optional. */
export interface PipelineObserver {
  /** The task was handed to the pipeline (before it waits for a fetch slot). */
  started?(task: LayerTask): void;
  /** Its bytes are flowing: `bytes[0]` counts them, up to `total` (-1: unknown). */
  fetching?(task: LayerTask, total: number, bytes: BigUint64Array): void;
  /** Imported and recorded; `size` bytes were fetched. */
  completed?(task: LayerTask, size: number): void;
  failed?(task: LayerTask): void;
}

/** At most `n` holders at once, served in the order they asked. */
class Slots {
  private readonly queue: (() => void)[] = [];

  constructor(private free: number) {}

  async acquire(): Promise<void> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.queue.push(resolve));
  }

  /** How many wait for a slot. */
  get waiting(): number {
    return this.queue.length;
  }

  release(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.free++;
  }
}

/**
 * The first task handed in (manifest order: the commit layer) starts its import before any
 * other; the others start theirs as their fetches finish. In manifest order the largest layers
 * come first, and a layer still in flight would hold up every import behind it while the layers
 * fetched meanwhile keep their fetch slots: the link idles.
 */
class FirstGate {
  private passed = false;
  private readonly waiting: (() => void)[] = [];

  wait(seq: number): Promise<void> {
    if (seq === 0 || this.passed) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** `seq` has started its import, or failed (idempotent). */
  pass(seq: number): void {
    if (seq !== 0 || this.passed) return;
    this.passed = true;
    for (const wake of this.waiting.splice(0)) wake();
  }
}

/**
 * Layers spooled and waiting for an import, or in flight, per fetch slot. Imports are CPU-bound and
 * fetches link-bound: a spool queue keeps the link busy while the imports catch up (it costs disk
 * in the repo's tmp/, an open file per layer, and nothing in memory).
 */
const SPOOLS_PER_FETCH = 4;

/** The longest a layer transaction stays open for further layers. */
const BATCH_MS = 1000;

/** A layer imported and recorded in a transaction that `committing` now or later. */
interface Recorded<R> {
  result: R;
  committing: boolean;
  committed: Promise<void>;
}

/** A repository handle with a transaction open, and the layers recorded in it. */
class Batch {
  readonly opened = Date.now();
  /** Commits of its layers marked partial until it has committed (Batches.commit). */
  readonly marked: string[] = [];
  readonly committed: Promise<void>;
  settle!: { resolve: () => void; reject: (e: unknown) => void };

  constructor(readonly handle: Repo) {
    this.committed = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    // Each layer of the batch awaits it; a batch dropped before any layer did must not go unhandled.
    this.committed.catch(() => undefined);
  }
}

/**
 * The layer transactions, several layers to a commit. libostree has one transaction per repo
 * handle, and each commit syncs the file system and fsyncs every objects/XX directory, whatever
 * it wrote: a commit per layer made a 140-layer pull wait on 36,000 fsyncs. So a transaction
 * whose layer is recorded stays open for the next import while imports wait for a slot, for up to
 * BATCH_MS, and a layer counts as stored once its transaction has committed. A killed process
 * loses at most that much recorded work; its objects stay in libostree's staging directory,
 * which the next transaction of the same boot takes over.
 */
class Batches {
  private readonly idle: Repo[] = [];
  /** Open batches that no import is using. */
  private readonly open: Batch[] = [];
  /** Handles in use (importing, open or committing): at most two per import slot. */
  private readonly handleSlots: Slots;

  constructor(private readonly repo: Repo, imports: number) {
    this.handleSlots = new Slots(2 * imports);
  }

  /** A transaction to import into: an open batch, else a handle with a new transaction. */
  async take(): Promise<Batch> {
    const open = this.open.pop();
    if (open) return open;
    await this.handleSlots.acquire();
    let handle: Repo | undefined;
    try {
      handle = this.idle.pop() ?? (await Repo.open(this.repo.path));
      await handle.prepareTransaction();
      return new Batch(handle);
    } catch (e) {
      this.release(handle);
      throw e;
    }
  }

  /**
   * A layer was recorded in `batch`: commits it, and every open batch, `now`; else commits it
   * when it is old enough, or leaves it open for the next import. Resolves once it is committed.
   */
  recorded(batch: Batch, now: boolean): { committing: boolean; committed: Promise<void> } {
    const committing = now || Date.now() - batch.opened >= BATCH_MS;
    if (committing) void this.commit(batch);
    else this.open.push(batch);
    if (now) this.flush();
    return { committing, committed: batch.committed };
  }

  /** Commits every open batch that no import is using. */
  flush(): void {
    for (const b of this.open.splice(0)) void this.commit(b);
  }

  /**
   * Marks a layer's commit, recorded in `batch`, partial until the batch has committed: a commit
   * that fails half way (no space left for a directory entry) has moved some of the staged objects
   * into the repository, perhaps the commit object without all of its tree.
   */
  async markPartial(batch: Batch, commit: string): Promise<void> {
    await batch.handle.markCommitPartial(commit, true);
    batch.marked.push(commit);
  }

  /** Drops the partial marks of `batch`, except of commit objects that a failed commit left behind. */
  private async unmark(batch: Batch, committed: boolean): Promise<void> {
    for (const c of batch.marked) {
      if (committed || !(await batch.handle.hasObject('commit', c))) await batch.handle.markCommitPartial(c, false);
    }
  }

  /** An import into `batch` failed: its transaction is dropped, with the layers recorded in it. */
  async failed(batch: Batch, layer: string): Promise<void> {
    await batch.handle.abortWhenIdle().catch(() => undefined);
    await this.unmark(batch, false).catch(() => undefined);
    this.release(batch.handle);
    // After the failing layer's own error has gone on: that one is the story.
    setImmediate(() => batch.settle.reject(new Error(`not stored: its transaction, shared with layer ${layer}, was dropped`)));
  }

  private async commit(batch: Batch): Promise<void> {
    try {
      await batch.handle.commitTransaction();
      await this.unmark(batch, true);
      batch.settle.resolve();
    } catch (e) {
      await batch.handle.abortWhenIdle().catch(() => undefined);
      await this.unmark(batch, false).catch(() => undefined);
      batch.settle.reject(e);
    } finally {
      this.release(batch.handle);
    }
  }

  private release(handle: Repo | undefined): void {
    if (handle) this.idle.push(handle);
    this.handleSlots.release();
  }
}

/** A spool file in the repo's tmp/: unnamed where the file system allows, else unlinked at once. */
function openSpool(repo: Repo): number {
  const dir = path.join(repo.path, 'tmp');
  try {
    return openUnnamedFile(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EOPNOTSUPP' && code !== 'EISDIR' && code !== 'EINVAL') throw e;
  }
  const p = path.join(dir, `spool-${randomBytes(8).toString('hex')}`);
  const fd = openSync(p, 'wx+', 0o600);
  unlinkSync(p);
  return fd;
}

export interface PipelineOptions {
  repo: Repo;
  streams: BlobStreams;
  sourceOf: (index: number) => LayerSource;
  /** Layers whose bytes are coming in at once (SPOOLS_PER_FETCH times as many spooled, waiting for their import). */
  fetchConcurrency: number;
  /** Layers imported at once. */
  importConcurrency: number;
  /** Aborted by the caller or by the first failing layer. */
  signal: AbortSignal;
  observers: PipelineObserver[];
}

export class LayerPipeline {
  private readonly fetchSlots: Slots;
  private readonly spoolSlots: Slots;
  private readonly importSlots: Slots;
  private readonly batches: Batches;
  private readonly first = new FirstGate();
  private tasks = 0;

  constructor(private readonly o: PipelineOptions) {
    this.fetchSlots = new Slots(o.fetchConcurrency);
    this.spoolSlots = new Slots(SPOOLS_PER_FETCH * o.fetchConcurrency);
    this.importSlots = new Slots(o.importConcurrency);
    this.batches = new Batches(o.repo, o.importConcurrency);
    // Every layer in flight holds a spool slot and listens to the signal once at a time: through
    // its fetch (until skopeo's verdict), then through its import. More than Node's default of 10
    // at once is no leak.
    setMaxListeners(SPOOLS_PER_FETCH * o.fetchConcurrency, o.signal);
  }

  /**
   * Runs one layer through the pipeline. Layers take their fetch slots, and start their imports,
   * in the order run() is called.
   */
  run<R extends ImportedLayer>(task: LayerTask<R>): Promise<R> {
    const seq = this.tasks++;
    return withContext(task.context, async () => {
      try {
        this.o.signal.throwIfAborted();
        this.notify((ob) => ob.started?.(task));
        const result = await this.fetchAndImport(task, seq);
        this.notify((ob) => ob.completed?.(task, result.size));
        return result;
      } catch (e) {
        this.notify((ob) => ob.failed?.(task));
        throw e;
      } finally {
        this.first.pass(seq);
        // No import waits to take an open batch: commit them.
        if (this.importSlots.waiting === 0) this.batches.flush();
      }
    });
  }

  private notify(f: (ob: PipelineObserver) => void): void {
    for (const ob of this.o.observers) f(ob);
  }

  private async fetchAndImport<R extends ImportedLayer>(task: LayerTask<R>, seq: number): Promise<R> {
    const recorded = await this.fetchImportRecord(task, seq);
    // Its spool is closed, its slots are free: the layer only waits for its transaction.
    await recorded.committed;
    return recorded.result;
  }

  private async fetchImportRecord<R extends ImportedLayer>(task: LayerTask<R>, seq: number): Promise<Recorded<R>> {
    const { signal } = this.o;
    await this.spoolSlots.acquire();
    let spool: number | undefined;
    try {
      const source = this.o.sourceOf(task.index);
      await this.fetchSlots.acquire();
      let fetchSlot = true;
      // Once the bytes are in, the link is free for the next fetch: skopeo's verdict may wait for
      // its other requests, and the import for a slot.
      const received = () => {
        if (fetchSlot) this.fetchSlots.release();
        fetchSlot = false;
      };
      try {
        signal.throwIfAborted();
        spool = openSpool(this.o.repo);
        // fetch
        const bytes = tarNative().progressCounter();
        this.notify((ob) => ob.fetching?.(task, source.size, bytes));
        const fetched = await this.o.streams.fetch(source.digest, source.size, spool, { signal, bytes, received });
        // verify
        if (fetched.digest !== source.digest) throw new Error(`Corrupted blob: expected digest ${source.digest}, got ${fetched.digest}`);
        if (source.size >= 0 && fetched.size !== source.size) throw new Error(`Corrupted blob ${source.digest}: expected ${source.size} bytes, got ${fetched.size}`);
      } finally {
        received();
      }
      await task.after;
      await this.first.wait(seq);
      await this.importSlots.acquire();
      this.first.pass(seq);
      try {
        signal.throwIfAborted();
        const recorded = await this.importAndRecord(task, spool, source, seq === 0);
        // A layer whose transaction commits now keeps its import slot until that is done.
        if (recorded.committing) await recorded.committed;
        return recorded;
      } finally {
        this.importSlots.release();
      }
    } finally {
      if (spool !== undefined) closeSync(spool);
      this.spoolSlots.release();
    }
  }

  /**
   * Imports and records the layer. `first`: the first layer handed in (the commit layer, which
   * a resumed pull starts from) is committed on its own.
   */
  private async importAndRecord<R extends ImportedLayer>(task: LayerTask<R>, spool: number, source: LayerSource, first: boolean): Promise<Recorded<R>> {
    const ref = task.ref;
    const imported = async (repo: Repo): Promise<R> => {
      const r = await task.import(repo, spool, source, this.o.signal);
      if (task.diffId !== undefined && r.diffId !== task.diffId) {
        throw new Error(`Layer content does not match the configuration: diff_id ${r.diffId}, expected ${task.diffId}`);
      }
      return r;
    };
    if (ref === null) return { result: await imported(this.o.repo), committing: false, committed: Promise.resolve() };
    const batch = await this.batches.take();
    let r: R;
    try {
      r = await imported(batch.handle);
      if (!r.commit) throw new Error('the layer import produced no commit');
      // record
      if (!task.staysPartial) await this.batches.markPartial(batch, r.commit);
      batch.handle.transactionSetRef(ref, r.commit);
    } catch (e) {
      await this.batches.failed(batch, task.layer.digest);
      throw e;
    }
    return { result: r, ...this.batches.recorded(batch, first || this.importSlots.waiting === 0) };
  }
}
