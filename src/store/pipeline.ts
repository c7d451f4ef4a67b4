// The pull pipeline (spec store §2.3, DESIGN §7): every layer a pull fetches — the commit layer,
// a chunk layer or a derived layer — takes the same path,
//   fetch   its blob from the pull's skopeo proxy (or the least busy of its proxies, from a
//           registry: see BlobStreams) into a spool file in the repo's tmp/ (network I/O:
//           at most `fetchConcurrency` layers fetched or waiting with their bytes spooled),
//   verify  the spooled bytes against the descriptor's digest and size,
//   import  a native job reading the spool (at most `importConcurrency` at once: the CPU budget;
//           started in the order the layers were handed in), the tar's diff_id checked against
//           the configuration's,
//   record  the blob ref, in the layer's own transaction (or, without a ref, nothing: the
//           caller's transaction holds everything),
// and observers (progress, the journal) hear of each step. What differs between layer kinds is
// only the native import and what the import waits for.
import { randomBytes } from 'node:crypto';
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
  /** The blob ref recorded with the layer's commit in a transaction of its own; null: the caller's transaction. */
  ref: string | null;
  /** The configuration's diff_id for the layer, checked against the tar's. */
  diffId: string | undefined;
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
  private readonly waiting: (() => void)[] = [];

  constructor(private free: number) {}

  async acquire(): Promise<void> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

/**
 * Imports start in the order the tasks were handed in (manifest order: the commit layer first),
 * whatever order their fetches finished in: task `seq` waits until every earlier one has started
 * its import, or failed.
 */
class Turns {
  private next = 0;
  private readonly passed = new Set<number>();
  private readonly waiting = new Map<number, () => void>();

  wait(seq: number): Promise<void> {
    if (seq <= this.next) return Promise.resolve();
    return new Promise((resolve) => this.waiting.set(seq, resolve));
  }

  /** `seq` has had its turn (idempotent). */
  pass(seq: number): void {
    if (seq < this.next || this.passed.has(seq)) return;
    this.passed.add(seq);
    while (this.passed.delete(this.next)) this.next++;
    const wake = this.waiting.get(this.next);
    this.waiting.delete(this.next);
    wake?.();
  }
}

/**
 * Extra handles on one repository, for transactions side by side (libostree has one
 * transaction per handle). Opened on demand, reused, at most as many as imports at once.
 */
class RepoHandles {
  private readonly idle: Repo[] = [];

  constructor(private readonly repo: Repo) {}

  async use<T>(fn: (handle: Repo) => Promise<T>): Promise<T> {
    const handle = this.idle.pop() ?? (await Repo.open(this.repo.path));
    try {
      return await fn(handle);
    } finally {
      this.idle.push(handle);
    }
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
  /** Layers fetched, or fetched and waiting for their import, at once. */
  fetchConcurrency: number;
  /** Layers imported at once. */
  importConcurrency: number;
  /** Aborted by the caller or by the first failing layer. */
  signal: AbortSignal;
  observers: PipelineObserver[];
}

export class LayerPipeline {
  private readonly fetchSlots: Slots;
  private readonly importSlots: Slots;
  private readonly handles: RepoHandles;
  private readonly turns = new Turns();
  private tasks = 0;

  constructor(private readonly o: PipelineOptions) {
    this.fetchSlots = new Slots(o.fetchConcurrency);
    this.importSlots = new Slots(o.importConcurrency);
    this.handles = new RepoHandles(o.repo);
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
        this.turns.pass(seq);
      }
    });
  }

  private notify(f: (ob: PipelineObserver) => void): void {
    for (const ob of this.o.observers) f(ob);
  }

  private async fetchAndImport<R extends ImportedLayer>(task: LayerTask<R>, seq: number): Promise<R> {
    const { signal } = this.o;
    await this.fetchSlots.acquire();
    let fetchSlot = true;
    let spool: number | undefined;
    try {
      signal.throwIfAborted();
      const source = this.o.sourceOf(task.index);
      spool = openSpool(this.o.repo);
      // fetch
      const bytes = tarNative().progressCounter();
      this.notify((ob) => ob.fetching?.(task, source.size, bytes));
      const fetched = await this.o.streams.fetch(source.digest, source.size, spool, { signal, bytes });
      // verify
      if (fetched.digest !== source.digest) throw new Error(`Corrupted blob: expected digest ${source.digest}, got ${fetched.digest}`);
      if (source.size >= 0 && fetched.size !== source.size) throw new Error(`Corrupted blob ${source.digest}: expected ${source.size} bytes, got ${fetched.size}`);
      await task.after;
      await this.turns.wait(seq);
      await this.importSlots.acquire();
      this.turns.pass(seq);
      // The spool is being consumed: the next fetch may start.
      this.fetchSlots.release();
      fetchSlot = false;
      try {
        signal.throwIfAborted();
        return await this.importAndRecord(task, spool, source);
      } finally {
        this.importSlots.release();
      }
    } finally {
      if (fetchSlot) this.fetchSlots.release();
      if (spool !== undefined) closeSync(spool);
    }
  }

  private async importAndRecord<R extends ImportedLayer>(task: LayerTask<R>, spool: number, source: LayerSource): Promise<R> {
    const ref = task.ref;
    const imported = async (repo: Repo): Promise<R> => {
      const r = await task.import(repo, spool, source, this.o.signal);
      if (task.diffId !== undefined && r.diffId !== task.diffId) {
        throw new Error(`Layer content does not match the configuration: diff_id ${r.diffId}, expected ${task.diffId}`);
      }
      return r;
    };
    if (ref === null) return imported(this.o.repo);
    return this.handles.use((own) =>
      own.withTransaction(async () => {
        const r = await imported(own);
        if (!r.commit) throw new Error('the layer import produced no commit');
        // record
        own.transactionSetRef(ref, r.commit);
        return r;
      }),
    );
  }
}
