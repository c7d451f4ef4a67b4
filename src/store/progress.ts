// Typed progress of an image import (spec store §2.4, extended): which layer started and
// finished, how many compressed bytes of each have been fetched, and the overall count. The
// tracker observes the pull pipeline (./pipeline.ts).
import type { Descriptor } from '../oci/types.js';
import type { LayerKind, LayerTask, PipelineObserver } from './pipeline.js';

export type { LayerKind } from './pipeline.js';

export type ImportProgress =
  /** First of an import: the image, its layers and bytes, and how many of them are fetched. */
  | { type: 'import-started'; manifestDigest: string; layers: number; layersToFetch: number; bytes: number; bytesToFetch: number }
  | { type: 'layer-started'; kind: LayerKind; layer: Descriptor; layerIndex: number }
  /** `fetched` never exceeds `total` (the descriptor size). */
  | { type: 'layer-progress'; layerIndex: number; fetched: number; total: number }
  | { type: 'layer-completed'; kind: LayerKind; layer: Descriptor; layerIndex: number }
  /** All layers to fetch in this import: bytes fetched so far of their summed sizes. */
  | { type: 'progress'; fetched: number; total: number };

export type ProgressListener = (event: ImportProgress) => void;

/** How often per-layer byte counts are sampled while layers are in flight. */
const SAMPLE_MS = 200;

interface Tracked {
  layerIndex: number;
  total: number;
  fetched: number;
  bytes: BigUint64Array;
}

/**
 * Turns the pipeline's steps into events. Layer bytes never pass through JavaScript: the bytes
 * fetched of a layer are the count its spool job publishes, sampled on a timer, clamped to the
 * layer size, exact at completion.
 */
export class ProgressTracker implements PipelineObserver {
  private readonly active = new Map<number, Tracked>();
  private done = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly listener: ProgressListener,
    /** Summed sizes of the layers this import fetches. */
    private readonly total: number,
  ) {}

  started(task: LayerTask): void {
    this.listener({ type: 'layer-started', kind: task.kind, layer: task.layer, layerIndex: task.index });
  }

  fetching(task: LayerTask, total: number, bytes: BigUint64Array): void {
    this.active.set(task.index, { layerIndex: task.index, total: total >= 0 ? total : task.layer.size, fetched: 0, bytes });
    this.timer ??= setInterval(() => this.sample(), SAMPLE_MS).unref();
  }

  completed(task: LayerTask, size: number): void {
    this.forget(task.index);
    const { layer } = task;
    const fetched = Math.min(size, layer.size >= 0 ? layer.size : size);
    this.done += fetched;
    this.listener({ type: 'layer-progress', layerIndex: task.index, fetched, total: Math.max(fetched, layer.size) });
    this.listener({ type: 'layer-completed', kind: task.kind, layer, layerIndex: task.index });
    this.overall();
  }

  failed(task: LayerTask): void {
    this.forget(task.index);
  }

  stop(): void {
    this.active.clear();
    this.stopTimer();
  }

  private forget(layerIndex: number): void {
    this.active.delete(layerIndex);
    if (this.active.size === 0) this.stopTimer();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Completed layers count their size, running ones their (clamped) sample: never above the total, so not clamped again. */
  private overall(): void {
    let fetched = this.done;
    for (const t of this.active.values()) fetched += t.fetched;
    this.listener({ type: 'progress', fetched, total: this.total });
  }

  private sample(): void {
    let changed = false;
    for (const t of this.active.values()) {
      const fetched = Math.min(Number(Atomics.load(t.bytes, 0)), t.total);
      if (fetched === t.fetched) continue;
      t.fetched = fetched;
      changed = true;
      this.listener({ type: 'layer-progress', layerIndex: t.layerIndex, fetched, total: t.total });
    }
    if (changed) this.overall();
  }
}
