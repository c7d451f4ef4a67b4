// Typed progress of an image import (spec store §2.4, extended): which layer started and
// finished, how many compressed bytes of each have been fetched, and the overall count.
import { readFile } from 'node:fs/promises';
import type { Descriptor } from '../oci/types.js';

/** `ostree-chunk`: the commit layer or a chunk layer; `derived`: a non-ostree layer. */
export type LayerKind = 'ostree-chunk' | 'derived';

export type ImportProgress =
  | { type: 'layer-started'; kind: LayerKind; layer: Descriptor; layerIndex: number }
  /** `fetched` never exceeds `total` (the descriptor size). */
  | { type: 'layer-progress'; layerIndex: number; fetched: number; total: number }
  | { type: 'layer-completed'; kind: LayerKind; layer: Descriptor; layerIndex: number }
  /** All layers to fetch in this import: bytes fetched so far of their summed sizes. */
  | { type: 'progress'; fetched: number; total: number };

export type ProgressListener = (event: ImportProgress) => void;

/** How often per-layer byte counts are sampled while layers are in flight. */
const SAMPLE_MS = 200;

/** Bytes a process has written so far (`wchar` of /proc/<pid>/io); null when unreadable. */
async function bytesWritten(pid: number): Promise<number | null> {
  try {
    const m = /^wchar: (\d+)$/m.exec(await readFile(`/proc/${pid}/io`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

interface Tracked {
  layerIndex: number;
  total: number;
  fetched: number;
  pid: number;
  baseline: number | null;
}

/**
 * Turns layer lifecycles into events. Layer bytes never pass through JavaScript, so the bytes
 * fetched of a layer are sampled from the serving skopeo's write counter (it serves one blob at
 * a time, and what it wrote into the pipe is what the importer has read or is about to):
 * approximate while running, clamped to the layer size, exact (the size read) at completion.
 */
export class ProgressTracker {
  private readonly active = new Map<number, Tracked>();
  private done = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly listener: ProgressListener | undefined,
    /** Summed sizes of the layers this import fetches. */
    private readonly total: number,
  ) {}

  started(kind: LayerKind, layer: Descriptor, layerIndex: number): void {
    this.listener?.({ type: 'layer-started', kind, layer, layerIndex });
  }

  /** The layer's blob is flowing from proxy `pid`. */
  async fetching(layerIndex: number, total: number, pid: number): Promise<void> {
    if (!this.listener) return;
    this.active.set(layerIndex, { layerIndex, total, fetched: 0, pid, baseline: await bytesWritten(pid) });
    this.timer ??= setInterval(() => void this.sample(), SAMPLE_MS).unref();
  }

  completed(kind: LayerKind, layer: Descriptor, layerIndex: number, size: number): void {
    this.active.delete(layerIndex);
    if (this.active.size === 0) this.stopTimer();
    if (!this.listener) return;
    const fetched = Math.min(size, layer.size >= 0 ? layer.size : size);
    this.done += fetched;
    this.listener({ type: 'layer-progress', layerIndex, fetched, total: Math.max(fetched, layer.size) });
    this.listener({ type: 'layer-completed', kind, layer, layerIndex });
    this.overall();
  }

  /** A layer failed: no more samples for it. */
  failed(layerIndex: number): void {
    this.active.delete(layerIndex);
    if (this.active.size === 0) this.stopTimer();
  }

  stop(): void {
    this.active.clear();
    this.stopTimer();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Completed layers count their size, running ones their (clamped) sample: never above the total, so not clamped again. */
  private overall(): void {
    let fetched = this.done;
    for (const t of this.active.values()) fetched += t.fetched;
    this.listener?.({ type: 'progress', fetched, total: this.total });
  }

  private async sample(): Promise<void> {
    let changed = false;
    for (const t of [...this.active.values()]) {
      const now = await bytesWritten(t.pid);
      if (now === null || t.baseline === null || !this.active.has(t.layerIndex)) continue;
      const fetched = Math.min(Math.max(0, now - t.baseline), t.total);
      if (fetched === t.fetched) continue;
      t.fetched = fetched;
      changed = true;
      this.listener?.({ type: 'layer-progress', layerIndex: t.layerIndex, fetched, total: t.total });
    }
    if (changed) this.overall();
  }
}
