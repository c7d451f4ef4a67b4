// Layer packing for automatic chunking: components into at most `maxLayers` chunk layers so that
// an update downloads as little as it can. The model: an update brings "events" (a source package
// updated, a generated file regenerated), each with a chance from the component's change
// frequency; a component changes with its event at some level (a package's code always, its data
// sometimes). A layer is downloaded when any of its components changes, and costs its size plus a
// fixed overhead (every chunk layer repeats the repository skeleton). Starting from a layer per
// component, the merge that adds the least expected download is made, repeatedly: while it
// lowers the expected download (tiny things that change together), then until the budget is met.
// So the parts of a package that change together end up together, small things end up together,
// big stable things stay alone.
// With the previous build's manifest its layout is kept: components stay in their layer, new
// ones get layers of their own while there is room (else they join the last, reserved layer).
import { CONTENT_ANNOTATION, COMPONENT_SEPARATOR } from './constants.js';
import { MAX_FREQUENCY, MIN_CHUNKED_LAYERS, type ObjectSourceMetaSized, type PriorBuildManifest } from './chunking.js';

/** Builds the change frequency (changelog entries in three years) is spread over: weekly builds. */
const BUILDS_PER_WINDOW = 156;
/**
 * What one more downloaded layer costs beyond its content, in uncompressed bytes: the skeleton of
 * 268 directory entries every chunk layer carries is ≈ 8 KB compressed, ≈ 24 KiB of typical content.
 */
const LAYER_OVERHEAD = 24 * 1024;

/** How a component changes: with `event` (shared by the parts of one source package), at `level` = P(it changes | the event). */
export interface ChangeModel {
  event: string;
  level: number;
}

/** The chance of a component's event in one update, from its change frequency. */
export function changeProbability(c: ObjectSourceMetaSized): number {
  if (c.change_frequency >= MAX_FREQUENCY) return 1;
  return Math.min(1, Math.max(1, c.change_frequency) / BUILDS_PER_WINDOW);
}

interface Unit {
  members: ObjectSourceMetaSized[];
  size: number;
  /** event → [its chance, P(no member changes | event)]. */
  events: Map<string, [number, number]>;
  /** P(no event of this layer changes it). */
  unchanged: number;
  exclusive: boolean;
  alive: boolean;
  /** Smallest member name: the order of the result. */
  key: string;
}

/** P(the layer does not change) under one event. */
const stays = (p: number, stay: number) => 1 - p * (1 - stay);

function unitOf(c: ObjectSourceMetaSized, exclusive: boolean, change: ChangeModel): Unit {
  const p = changeProbability(c);
  const stay = 1 - change.level;
  return { members: [c], size: c.size, events: new Map([[change.event, [p, stay]]]), unchanged: stays(p, stay), exclusive, alive: true, key: c.name };
}

/** The expected download of a layer: P(it changes) × (size + overhead). */
const expected = (u: { size: number; unchanged: number }) => (1 - u.unchanged) * (u.size + LAYER_OVERHEAD);

/** P(a ∪ b unchanged): events they share combine (the parts of one package change together). */
function unchangedTogether(a: Unit, b: Unit): number {
  let u = a.unchanged * b.unchanged;
  const [small, big] = a.events.size <= b.events.size ? [a, b] : [b, a];
  for (const [e, [p, stay]] of small.events) {
    const other = big.events.get(e);
    if (other) u = (u / (stays(p, stay) * stays(other[0], other[1]) || 1)) * stays(Math.max(p, other[0]), stay * other[1]);
  }
  return u;
}

function mergeCost(a: Unit, b: Unit): number {
  return expected({ size: a.size + b.size, unchanged: unchangedTogether(a, b) }) - expected(a) - expected(b);
}

function merge(a: Unit, b: Unit): Unit {
  const events = new Map(a.events);
  for (const [e, [p, stay]] of b.events) {
    const mine = events.get(e);
    events.set(e, mine ? [Math.max(mine[0], p), mine[1] * stay] : [p, stay]);
  }
  let unchanged = 1;
  for (const [p, stay] of events.values()) unchanged *= stays(p, stay);
  const key = a.key < b.key ? a.key : b.key;
  return { members: [...a.members, ...b.members], size: a.size + b.size, events, unchanged, exclusive: false, alive: true, key };
}

/** A binary min-heap of candidate merges by cost, then unit ids (lazily invalidated when a unit is merged away). */
class MergeHeap {
  private items: { cost: number; a: number; b: number }[] = [];
  private less(i: number, j: number): boolean {
    const x = this.items[i]!;
    const y = this.items[j]!;
    return x.cost < y.cost || (x.cost === y.cost && (x.a < y.a || (x.a === y.a && x.b < y.b)));
  }
  push(cost: number, a: number, b: number): void {
    this.items.push({ cost, a, b });
    for (let i = this.items.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      [this.items[i], this.items[p]] = [this.items[p]!, this.items[i]!];
      i = p;
    }
  }
  pop(): { cost: number; a: number; b: number } | undefined {
    const top = this.items[0];
    const last = this.items.pop();
    if (this.items.length > 0 && last) {
      this.items[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.items.length && this.less(l, m)) m = l;
        if (r < this.items.length && this.less(r, m)) m = r;
        if (m === i) break;
        [this.items[i], this.items[m]] = [this.items[m]!, this.items[i]!];
        i = m;
      }
    }
    return top;
  }
}

/**
 * Merges `units` (exclusive ones never) while a merge lowers the expected download, then until at
 * most `target` remain; returns the live ones. Units are numbered in name order, merged ones after,
 * so equal costs are broken the same way every time.
 */
function mergeDown(input: Unit[], target: number): Unit[] {
  const units = [...input].sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
  const fixed = units.filter((u) => u.exclusive).length;
  if (fixed + Math.min(units.length - fixed, 1) > target) {
    throw new Error(`${fixed} components with a layer of their own (user.component) need more than ${target} layers`);
  }
  const heap = new MergeHeap();
  for (let i = 0; i < units.length; i++) {
    for (let j = i + 1; j < units.length; j++) {
      if (!units[i]!.exclusive && !units[j]!.exclusive) heap.push(mergeCost(units[i]!, units[j]!), i, j);
    }
  }
  let count = units.length;
  for (;;) {
    const m = heap.pop();
    if (!m || (count <= target && m.cost >= 0)) break;
    const a = units[m.a]!;
    const b = units[m.b]!;
    if (!a.alive || !b.alive) continue;
    const merged = merge(a, b);
    a.alive = false;
    b.alive = false;
    units.push(merged);
    const k = units.length - 1;
    for (let i = 0; i < k; i++) {
      const u = units[i]!;
      if (u.alive && !u.exclusive) heap.push(mergeCost(u, merged), i, k);
    }
    count--;
  }
  return units.filter((u) => u.alive);
}

/** Bins in a stable order: biggest first, ties by name. */
function ordered(units: Unit[]): ObjectSourceMetaSized[][] {
  return units
    .sort((a, b) => b.size - a.size || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((u) => [...u.members].sort((x, y) => b2n(x.name, y.name)));
}

function b2n(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** The component names of each chunk layer of a previous build (its first layer is the commit's). */
function priorBins(prior: PriorBuildManifest): string[][] {
  return prior.layers.slice(1).map((layer) => {
    const v = layer.annotations?.[CONTENT_ANNOTATION];
    if (v === undefined) throw new Error(`Missing ${CONTENT_ANNOTATION} on prior build`);
    return v.split(COMPONENT_SEPARATOR).filter((n) => n !== '');
  });
}

/**
 * Packs `components` (names unique) into at most `maxLayers` bins, the last one reserved (empty
 * unless the budget forced new components into it). `exclusive` identifiers get a bin each;
 * `changes` says how components change together (default: each on its own).
 */
export function packComponents(
  components: readonly ObjectSourceMetaSized[],
  maxLayers: number,
  opts: { prior?: PriorBuildManifest; exclusive?: ReadonlySet<string>; changes?: ReadonlyMap<string, ChangeModel> } = {},
): ObjectSourceMetaSized[][] {
  if (!Number.isInteger(maxLayers) || maxLayers < MIN_CHUNKED_LAYERS) throw new Error(`Invalid max layers: ${maxLayers} (at least ${MIN_CHUNKED_LAYERS})`);
  const exclusive = opts.exclusive ?? new Set<string>();
  const byName = new Map<string, ObjectSourceMetaSized>();
  for (const c of components) {
    if (byName.has(c.name)) throw new Error(`Two components named ${c.name}`);
    byName.set(c.name, c);
  }
  const units = (cs: readonly ObjectSourceMetaSized[]) =>
    cs.map((c) => unitOf(c, exclusive.has(c.identifier), opts.changes?.get(c.identifier) ?? { event: c.identifier, level: 1 }));
  if (components.length === 0) return [];
  const fresh = (): ObjectSourceMetaSized[][] => [...ordered(mergeDown(units(components), maxLayers - 1)), []];
  if (!opts.prior) return fresh();

  const previous = priorBins(opts.prior);
  if (previous.length === 0) throw new Error('No empty last bin for added packages');
  const known = new Set(previous.flat());
  // Kept layers: the previous ones with their components that still exist; emptied ones go.
  const kept = previous.slice(0, -1).map((bin) => bin.filter((n) => byName.has(n)).map((n) => byName.get(n)!)).filter((b) => b.length > 0);
  const reserved = previous.at(-1)!.filter((n) => byName.has(n)).map((n) => byName.get(n)!);
  // A previous layout that no longer fits the budget is dropped (as upstream does).
  if (kept.length + 1 > maxLayers) return fresh();
  const added = components.filter((c) => !known.has(c.name)).sort((a, b) => b2n(a.name, b.name));
  const room = maxLayers - kept.length - 1;
  let placed: ObjectSourceMetaSized[][] = [];
  let overflow: ObjectSourceMetaSized[] = [];
  if (added.length <= room) {
    placed = added.map((c) => [c]);
  } else if (room > 0) {
    placed = ordered(mergeDown(units(added), room));
  } else {
    overflow = added;
  }
  return [...kept, ...placed, [...reserved, ...overflow]];
}
