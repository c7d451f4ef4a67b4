// Split-layer export planning: which content objects go into which image layer.
// Component metadata (e.g. RPM packages) is packed into at most `max_layers` bins by size and
// change frequency, so that frequently-updated content does not invalidate large stable layers.
import type { Repo } from '../repo/repo.js';
import { COMPONENT_SEPARATOR, CONTENT_ANNOTATION } from './constants.js';

/** Maximum number of chunks by default ("half of 128"). */
export const MAX_CHUNKS = 64;
/** Fewer layers than this and chunking is not attempted. */
export const MIN_CHUNKED_LAYERS = 4;
/** `change_frequency` value meaning "changes with every build". */
export const MAX_FREQUENCY = 4294967295;

const HIGH_PARTITION = '1hs';
const LOW_PARTITION = '2ls';
/** Outlier threshold (in MADs / standard deviations) used by the partitioning. */
const THRESHOLD = 2;
const HIGH_SIZE_CUTOFF = 0.6;

/** A content source (package). Identity is `identifier`. */
export interface ObjectSourceMeta {
  /** Unique id, e.g. an RPM NEVRA; used in chunk names. */
  identifier: string;
  /** Package name; used in the `ostree.components` annotation and to match prior builds. */
  name: string;
  srcid: string;
  change_time_offset: number;
  /** Drives packing; {@link MAX_FREQUENCY} = changes every build. */
  change_frequency: number;
}

/** Content sources (keyed by identifier) plus the content-object → identifier mapping (ordered). */
export interface ObjectMeta {
  set: Map<string, ObjectSourceMeta>;
  map: Map<string, string>;
}

export interface ObjectSourceMetaSized extends ObjectSourceMeta {
  /** Total content size of the objects owned by this source. */
  size: number;
}

export interface ObjectMetaSized {
  map: Map<string, string>;
  /** Sorted by size descending. */
  sizes: ObjectSourceMetaSized[];
}

/** Validates one element of a sized content-meta JSON array (upstream's flat serde layout). */
export function parseObjectSourceMetaSized(v: unknown): ObjectSourceMetaSized {
  const o = v as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null) throw new Error('Invalid content source: expected an object');
  for (const k of ['identifier', 'name', 'srcid']) {
    if (typeof o[k] !== 'string') throw new Error(`Invalid content source: missing string '${k}'`);
  }
  for (const k of ['change_time_offset', 'change_frequency', 'size']) {
    const n = o[k];
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
      throw new Error(`Invalid content source ${String(o.identifier)}: '${k}' must be a non-negative integer`);
    }
  }
  const { identifier, name, srcid, change_time_offset, change_frequency, size } = o as unknown as ObjectSourceMetaSized;
  return { identifier, name, srcid, change_time_offset, change_frequency, size };
}

/**
 * The pure part of `computeSizes`: sums each object's content size (from `sizeOf`) into its
 * component; components are visited in identifier order, then stably sorted by size descending.
 * Components owning no object are dropped.
 */
export function sizeObjectMeta(meta: ObjectMeta, sizeOf: (checksum: string) => number): ObjectMetaSized {
  const totals = new Map<string, number>();
  for (const [checksum, id] of meta.map) totals.set(id, (totals.get(id) ?? 0) + sizeOf(checksum));
  const ids = [...totals.keys()].sort(compareBytes);
  const sizes = ids.map((id) => {
    const src = meta.set.get(id);
    if (!src) throw new Error(`Failed to find ${id} in content set`);
    return { ...src, size: totals.get(id)! };
  });
  sizes.sort((a, b) => b.size - a.size);
  return { map: meta.map, sizes };
}

/** Content sizes of objects (symlinks count 0), queried with bounded concurrency. */
async function contentSizes(repo: Repo, checksums: Iterable<string>, signal?: AbortSignal): Promise<Map<string, number>> {
  const todo = [...new Set(checksums)];
  const sizes = new Map<string, number>();
  let next = 0;
  const worker = async () => {
    while (next < todo.length) {
      const checksum = todo[next++]!;
      const info = await repo.queryContent(checksum, { signal });
      sizes.set(checksum, info.symlinkTarget === null ? info.size : 0);
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, todo.length) }, worker));
  return sizes;
}

/**
 * Sizes every component of `meta` from the repo's content objects (§4.1); every mapped object
 * must exist in `repo`.
 */
export async function computeSizes(repo: Repo, meta: ObjectMeta, signal?: AbortSignal): Promise<ObjectMetaSized> {
  const sizes = await contentSizes(repo, meta.map.keys(), signal);
  return sizeObjectMeta(meta, (checksum) => sizes.get(checksum)!);
}

/** Bytewise comparison of the UTF-8 encodings (upstream sorts Rust strings by bytes). */
function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** One content object of a chunk: its content size and every tree path (absolute) it appears at. */
export interface ChunkObject {
  size: number;
  paths: string[];
}

export class Chunk {
  /** checksum → object; exporters iterate it in ascending checksum order. */
  readonly content = new Map<string, ChunkObject>();
  size = 0;
  packages: string[] = [];
  constructor(public name: string = '') {}

  /** Records one tree path of an object; a new checksum adds its size. */
  addPath(checksum: string, size: number, path: string): void {
    const entry = this.content.get(checksum);
    if (entry) {
      entry.paths.push(path);
    } else {
      this.content.set(checksum, { size, paths: [path] });
      this.size += size;
    }
  }

  /** Moves an object into `dest`; objects not (or no longer) here are ignored. */
  moveObject(dest: Chunk, checksum: string): boolean {
    const entry = this.content.get(checksum);
    if (!entry) return false;
    this.content.delete(checksum);
    dest.content.set(checksum, entry);
    this.size -= entry.size;
    dest.size += entry.size;
    return true;
  }

  /** Objects in ascending checksum order (the order layers are written in). */
  sortedObjects(): [string, ChunkObject][] {
    return [...this.content.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }
}

/** A file of the commit's tree as produced by the single-chunk walk (§4.2). */
export interface TreeFile {
  checksum: string;
  size: number;
  /** Absolute path, e.g. `/usr/bin/bash`. */
  path: string;
}

/** Structural subset of an OCI image manifest needed for prior-build reuse. */
export interface PriorBuildManifest {
  layers: { annotations?: Record<string, string> | null }[];
}

/** How a commit's content is split into chunks (image layers). */
export class Chunking {
  /** Objects not (yet) assigned to a chunk; written into the commit layer. */
  remainder = new Chunk();
  chunks: Chunk[] = [];
  max = 0;
  /** Number of components provided / of those with non-zero size (display only). */
  nProvidedComponents = 0;
  nSizedComponents = 0;
  private processedMapping = false;

  /**
   * Single-chunk state for a commit (§4.2): walks the tree depth-first (files, then
   * subdirectories, in dirtree order) and puts every content object in the remainder.
   * `sizes: false` skips querying each object's size (chunk sizes are then 0).
   */
  static async create(repo: Repo, rev: string, opts: { signal?: AbortSignal; sizes?: boolean } = {}): Promise<Chunking> {
    const { signal } = opts;
    const commit = await repo.loadCommit(rev);
    const files: { checksum: string; path: string }[] = [];
    const walk = async (dirtree: string, prefix: string): Promise<void> => {
      signal?.throwIfAborted();
      const tree = await repo.readDirTree(dirtree);
      for (const f of tree.files) files.push({ checksum: f.checksum, path: `${prefix}/${f.name}` });
      for (const d of tree.dirs) await walk(d.contents, `${prefix}/${d.name}`);
    };
    await walk(commit.rootContents, '');
    // Sizes only feed the chunks' informative `size`; exporters can skip the per-object query.
    if (opts.sizes === false) return Chunking.fromTreeFiles(files.map((f) => ({ ...f, size: 0 })));
    const sizes = await contentSizes(repo, files.map((f) => f.checksum), signal);
    return Chunking.fromTreeFiles(files.map((f) => ({ ...f, size: sizes.get(f.checksum)! })));
  }

  /** {@link create} followed by {@link processMapping}. */
  static async fromMapping(
    repo: Repo,
    rev: string,
    meta: ObjectMetaSized,
    maxLayers?: number,
    prior?: PriorBuildManifest,
    signal?: AbortSignal,
  ): Promise<Chunking> {
    const c = await Chunking.create(repo, rev, signal ? { signal } : {});
    c.processMapping(meta, maxLayers, prior);
    return c;
  }

  /** Single-chunk state: every file of the walk (tree order) in the remainder. */
  static fromTreeFiles(files: Iterable<TreeFile>): Chunking {
    const c = new Chunking();
    for (const f of files) c.remainder.addPath(f.checksum, f.size, f.path);
    return c;
  }

  /**
   * Packs components into chunks and moves their objects out of the remainder (§4.3).
   * Every content object of the commit must be covered by `meta.map`.
   */
  processMapping(meta: ObjectMetaSized, maxLayers?: number, prior?: PriorBuildManifest): void {
    if (this.processedMapping) throw new Error('Chunking mapping already processed');
    this.processedMapping = true;
    const plan = packChunks(meta, maxLayers, prior);
    this.max = plan.max;
    const owned = new Map<string, string[]>();
    for (const [checksum, id] of meta.map) {
      const list = owned.get(id);
      if (list) list.push(checksum);
      else owned.set(id, [checksum]);
    }
    this.nProvidedComponents = meta.sizes.length;
    this.nSizedComponents = meta.sizes.filter((s) => s.size > 0).length;
    plan.bins.forEach((bin, i) => {
      const chunk = plan.chunks[i]!;
      for (const c of bin) for (const checksum of owned.get(c.identifier) ?? []) this.remainder.moveObject(chunk, checksum);
      this.chunks.push(chunk);
    });
    if (this.remainder.content.size > 0) {
      const first = this.remainder.sortedObjects()[0]!;
      throw new Error(
        `Content mapping does not cover ${this.remainder.content.size} content object(s) of the commit, e.g. ${first[0]} (${first[1].paths[0]})`,
      );
    }
  }
}

/** The packing half of {@link Chunking.processMapping}: chunks without content yet. */
export interface ChunkPlan {
  max: number;
  bins: ObjectSourceMetaSized[][];
  /** One per bin: named, with its packages. */
  chunks: Chunk[];
  /** Component identifier → index of the (first) chunk holding it. */
  chunkOf: Map<string, number>;
}

/** Packs the components of `meta` into named chunks (§4.3) without touching any content object. */
export function packChunks(meta: ObjectMetaSized, maxLayers?: number, prior?: PriorBuildManifest): ChunkPlan {
  const max = maxLayers ?? MAX_CHUNKS;
  if (!Number.isInteger(max) || max <= 0) throw new Error(`Invalid max layers: ${maxLayers}`);
  return planFromBins(basicPacking(meta.sizes, max, prior), max);
}

/** Named chunks for packed bins (`max`: the budget they were packed for). */
export function planFromBins(bins: ObjectSourceMetaSized[][], max: number): ChunkPlan {
  const chunkOf = new Map<string, number>();
  const chunks = bins.map((bin, i) => {
    const chunk = new Chunk(chunkName(bin));
    chunk.packages = bin.map((c) => c.name);
    for (const c of bin) if (!chunkOf.has(c.identifier)) chunkOf.set(c.identifier, i);
    return chunk;
  });
  return { max, bins, chunks, chunkOf };
}

/** Chunk name, used as the layer's history `created_by` (§4.6). */
export function chunkName(bin: readonly ObjectSourceMeta[]): string {
  if (bin.length === 0) return 'Reserved for new packages';
  if (bin.length <= 5) return bin.map((c) => c.identifier).join(' and ');
  return `${bin.length} components`;
}

/** The `ostree.components` layer annotation value: names sorted bytewise, comma-joined. */
export function componentsAnnotation(packages: readonly string[]): string {
  return [...packages].sort(compareBytes).join(COMPONENT_SEPARATOR);
}

function median(sorted: readonly number[]): number {
  const n = sorted.length;
  const mid = Math.floor(n / 2);
  return n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function mean(v: readonly number[]): number {
  return v.reduce((a, b) => a + b, 0) / v.length;
}

function stdDeviation(v: readonly number[]): number {
  const m = mean(v);
  return Math.sqrt(v.reduce((a, x) => a + (x - m) * (x - m), 0) / v.length);
}

/**
 * Partitions components (sorted by size descending) by size outliers (median/MAD) and then the
 * medium ones by frequency and size (mean/standard deviation), threshold 2 (§4.4.1).
 * Returns the partitions in key order.
 */
export function partitionComponents<T extends ObjectSourceMetaSized>(
  components: readonly T[],
  limitHs: number,
): [string, T[]][] {
  const partitions = new Map<string, T[]>();
  const push = (key: string, c: T) => {
    const list = partitions.get(key);
    if (list) list.push(c);
    else partitions.set(key, [c]);
  };
  const sizes = components.map((c) => c.size).sort((a, b) => a - b);
  const med = median(sizes);
  const mad = median(sizes.map((s) => Math.abs(s - med)).sort((a, b) => a - b));
  const sizeLow = 0.5 * Math.abs(med - THRESHOLD * mad);
  const sizeHigh = med + THRESHOLD * mad;
  const high: T[] = [];
  const medium: T[] = [];
  for (const c of components) {
    if (c.size >= sizeHigh) high.push(c);
    else if (c.size <= sizeLow) push(LOW_PARTITION, c);
    else medium.push(c);
  }
  // High-size components beyond the budget spill into the medium list (still size-descending).
  const remaining = [...high.splice(limitHs), ...medium];
  partitions.set(HIGH_PARTITION, high);
  if (remaining.length === 0) throw new Error('Cannot partition components: no medium-size components');
  remaining.sort((a, b) => a.change_frequency - b.change_frequency);
  const freqs = remaining.map((c) => c.change_frequency);
  const msizes = remaining.map((c) => c.size);
  const meanF = mean(freqs);
  const sdF = stdDeviation(freqs);
  const meanS = mean(msizes);
  const sdS = stdDeviation(msizes);
  const fLow = 0.5 * Math.abs(meanF - THRESHOLD * sdF);
  const fHigh = meanF + THRESHOLD * sdF;
  const sLow = 0.5 * Math.abs(meanS - THRESHOLD * sdS);
  const sHigh = meanS + THRESHOLD * sdS;
  for (const c of remaining) {
    const s = c.size >= sHigh ? 'hs' : c.size <= sLow ? 'ls' : 'ms';
    const f = c.change_frequency >= fHigh ? '3hf' : c.change_frequency <= fLow ? '5lf' : '4mf';
    push(`${f}_${s}`, c);
  }
  return [...partitions.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/**
 * Packs components (already sorted by size descending; not re-sorted) into at most `binSize`
 * bins (§4.4). With `prior`, keeps the previous build's layout (§4.5).
 */
export function basicPacking<T extends ObjectSourceMetaSized>(
  components: readonly T[],
  binSize: number,
  prior?: PriorBuildManifest,
): T[][] {
  if (!(binSize >= MIN_CHUNKED_LAYERS)) throw new Error('Condition failed: `bin_size.get() >= MIN_CHUNKED_LAYERS`');
  if (prior) return packingFromPriorBuild(components, binSize, prior);
  const n = components.length;
  if (n < binSize) {
    const bins = components.map((c) => [c]);
    if (n > 0) bins.push([]);
    return bins;
  }
  const rest = components.filter((c) => c.change_frequency !== MAX_FREQUENCY);
  const maxFreq = components.filter((c) => c.change_frequency === MAX_FREQUENCY);
  let bins: T[][] = [];
  if (rest.length > 0) {
    const limitLs = 1;
    const limitNew = 1;
    const limitMaxFreqBins = Math.min(maxFreq.length, 1);
    const low = limitLs + limitNew + limitMaxFreqBins;
    const limitHs = Math.floor(HIGH_SIZE_CUTOFF * (binSize - low));
    const limitMs = binSize - limitHs - low;
    const partitions = partitionComponents(rest, limitHs);
    const lowCount = partitions.find(([k]) => k === LOW_PARTITION)?.[1].length ?? 0;
    if (limitMs === 0) throw new Error(`number of bins should be >= ${MIN_CHUNKED_LAYERS}`);
    const numerator = rest.length - limitHs - lowCount;
    if (numerator < 0) {
      throw new Error(`Cannot pack ${rest.length} components into ${binSize} bins (${limitHs} high-size, ${lowCount} low-size)`);
    }
    const perBinMs = Math.floor(numerator / limitMs);
    for (const [key, pkgs] of partitions) {
      if (key === HIGH_PARTITION) {
        for (const p of pkgs) bins.push([p]);
      } else if (key === LOW_PARTITION) {
        bins.push([...pkgs]);
      } else {
        // Consecutive bins of up to perBinMs; with perBinMs 0 this yields one empty bin and
        // then one bin per component, as upstream does (empty bins left after merging are
        // dropped below).
        let bin: T[] = [];
        for (const p of pkgs) {
          if (bin.length < perBinMs) {
            bin.push(p);
          } else {
            bins.push(bin);
            bin = [p];
          }
        }
        if (bin.length > 0) bins.push(bin);
      }
    }
    // Fold medium-size bins pairwise from the end until within budget; each merged bin lands
    // after the bin that followed the pair.
    const limit = binSize - limitNew - limitMaxFreqBins;
    const start = limitLs + limitHs;
    while (bins.length > limit) {
      let merged = false;
      let i = start;
      while (i + 2 < bins.length - 1) i += 2;
      for (; i >= start && i < bins.length - 1; i -= 2) {
        if (bins.length <= limit) break;
        const [prev, cur] = bins.splice(i - 1, 2) as [T[], T[]];
        bins.splice(i, 0, [...prev, ...cur]);
        merged = true;
      }
      if (!merged) throw new Error(`Cannot reduce ${bins.length} bins to ${limit}`);
    }
    // An empty chunk layer has the same diff_id as the final "new packages" layer, so readers
    // would take it for the last ostree layer: upstream's image is then unimportable. Dropping
    // the empty bins keeps the rest of upstream's layout and gives a valid image.
    bins = bins.filter((b) => b.length > 0);
  }
  if (maxFreq.length > 0) bins.push(maxFreq);
  bins.push([]);
  checkPacking(bins, n, binSize);
  return bins;
}

function checkPacking(bins: readonly unknown[][], n: number, binSize: number): void {
  const total = bins.reduce((a, b) => a + b.length, 0);
  if (total !== n) throw new Error(`Packing lost components: ${total} packed, ${n} provided`);
  if (bins.length > binSize) throw new Error(`Packing produced ${bins.length} bins, more than ${binSize}`);
}

/** Keeps the layout of a previous build: updated packages stay in place, new ones go last (§4.5). */
function packingFromPriorBuild<T extends ObjectSourceMetaSized>(
  components: readonly T[],
  binSize: number,
  prior: PriorBuildManifest,
): T[][] {
  const previous = prior.layers.slice(1).map((layer) => {
    const v = layer.annotations?.[CONTENT_ANNOTATION];
    if (v === undefined) throw new Error(`Missing ${CONTENT_ANNOTATION} on prior build`);
    return v.split(COMPONENT_SEPARATOR).filter((name) => name !== '');
  });
  if (previous.length === 0) throw new Error('No empty last bin for added packages');
  const previousSet = new Set(previous.flat());
  const byName = new Map<string, T>();
  for (const c of components) if (!byName.has(c.name)) byName.set(c.name, c);
  const added = [...byName.keys()].filter((name) => !previousSet.has(name)).sort(compareBytes);
  previous[previous.length - 1]!.push(...added);
  const bins = previous.map((bin) => bin.filter((name) => byName.has(name)).map((name) => byName.get(name)!));
  checkPacking(bins, components.length, binSize);
  return bins;
}

/** The `--contentmeta` file of the CLI (§4.8). */
export interface ContentMetaFile {
  version: number;
  created?: string;
  labels?: Record<string, string>;
  /** Layer id → human-readable name, in file order. */
  layers: [string, string][];
  /** Content checksum → layer id, in file order. */
  mapping: [string, string][];
  ordered?: boolean;
}

export interface ParsedContentMeta {
  meta: ObjectMetaSized;
  maxLayers: number;
  created?: string;
  labels: Map<string, string>;
}

/**
 * Parses a `--contentmeta` JSON document (object key order is preserved, which plain
 * JSON.parse does not do for integer-like keys).
 */
export function parseContentMetaFile(text: string): ContentMetaFile {
  const root = parseOrderedJson(text);
  if (!isEntries(root)) throw new Error('Invalid content metadata: expected a JSON object');
  const get = (k: string) => root.entries.find(([key]) => key === k)?.[1];
  const version = get('version');
  if (typeof version !== 'number') throw new Error('Invalid content metadata: missing numeric "version"');
  if (version !== 1) throw new Error(`Unsupported metadata version: ${version}. Currently supported: 1`);
  const stringMap = (k: string, required: boolean): [string, string][] | undefined => {
    const v = get(k);
    if (v === undefined && !required) return undefined;
    if (!isEntries(v) || v.entries.some(([, x]) => typeof x !== 'string')) {
      throw new Error(`Invalid content metadata: "${k}" must be an object of strings`);
    }
    return v.entries as [string, string][];
  };
  const created = get('created');
  if (created !== undefined && typeof created !== 'string') throw new Error('Invalid content metadata: "created" must be a string');
  const ordered = get('ordered');
  if (ordered !== undefined && typeof ordered !== 'boolean') throw new Error('Invalid content metadata: "ordered" must be a boolean');
  const labels = stringMap('labels', false);
  return {
    version,
    ...(created !== undefined ? { created } : {}),
    ...(labels ? { labels: Object.fromEntries(labels) } : {}),
    layers: stringMap('layers', true)!,
    mapping: stringMap('mapping', true)!,
    ...(ordered !== undefined ? { ordered } : {}),
  };
}

/**
 * Turns a content-meta file into sized metadata: one component per layer entry (size 1, file
 * order), `max_layers` = entries + 1; file labels override `labels`.
 */
export function contentMetaToSized(file: ContentMetaFile, labels: Map<string, string> = new Map()): ParsedContentMeta {
  if (file.ordered) throw new Error('Ordered mapping not currently supported.');
  const sizes = file.layers.map(([id, name]) => ({
    identifier: id,
    name,
    srcid: id,
    change_time_offset: 1,
    change_frequency: id === 'unpackaged' ? MAX_FREQUENCY : 1,
    size: 1,
  }));
  const merged = new Map(labels);
  for (const [k, v] of Object.entries(file.labels ?? {})) merged.set(k, v);
  return {
    meta: { map: new Map(file.mapping), sizes },
    maxLayers: file.layers.length + 1,
    ...(file.created !== undefined ? { created: file.created } : {}),
    labels: merged,
  };
}

// --- minimal order-preserving JSON reader (objects become entry lists) ---

type OrderedJson = null | boolean | number | string | OrderedJson[] | { entries: [string, OrderedJson][] };

function isEntries(v: OrderedJson | undefined): v is { entries: [string, OrderedJson][] } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseOrderedJson(text: string): OrderedJson {
  let pos = 0;
  const fail = (what: string): never => {
    throw new Error(`Invalid content metadata JSON: ${what} at offset ${pos}`);
  };
  const ws = () => {
    while (pos < text.length && ' \t\r\n'.includes(text[pos]!)) pos++;
  };
  const stringToken = (): string => {
    const m = /^"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/.exec(text.slice(pos));
    if (!m) return fail('bad string');
    pos += m[0].length;
    return JSON.parse(m[0]) as string;
  };
  const value = (): OrderedJson => {
    ws();
    const ch = text[pos];
    if (ch === '{') {
      pos++;
      const entries: [string, OrderedJson][] = [];
      ws();
      if (text[pos] === '}') {
        pos++;
        return { entries };
      }
      for (;;) {
        ws();
        const key = stringToken();
        ws();
        if (text[pos++] !== ':') fail("expected ':'");
        entries.push([key, value()]);
        ws();
        const sep = text[pos++];
        if (sep === '}') return { entries };
        if (sep !== ',') fail("expected ',' or '}'");
      }
    }
    if (ch === '[') {
      pos++;
      const items: OrderedJson[] = [];
      ws();
      if (text[pos] === ']') {
        pos++;
        return items;
      }
      for (;;) {
        items.push(value());
        ws();
        const sep = text[pos++];
        if (sep === ']') return items;
        if (sep !== ',') fail("expected ',' or ']'");
      }
    }
    if (ch === '"') return stringToken();
    const m = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(pos));
    if (!m) return fail('unexpected token');
    pos += m[0].length;
    return JSON.parse(m[0]) as OrderedJson;
  };
  const v = value();
  ws();
  if (pos !== text.length) fail('trailing data');
  return v;
}
