// The import's progress events (store/progress.ts) from the pipeline's steps: per-layer byte
// counts sampled every 200 ms from the spool job's counter, clamped to the layer's size, exact
// at completion, and the overall count. Fake timers drive the sampling.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Descriptor } from '../../src/oci/types.js';
import type { LayerTask } from '../../src/store/pipeline.js';
import { ProgressTracker, type ImportProgress } from '../../src/store/progress.js';

const layer = (c: string, size: number): Descriptor => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${c.repeat(64)}`, size });
const task = (index: number, l: Descriptor, kind: LayerTask['kind'] = 'ostree-chunk'): LayerTask =>
  ({ index, layer: l, kind, context: `Layer ${l.digest}`, ref: null, diffId: undefined, import: () => Promise.reject(new Error('unused')) }) as LayerTask;
const counter = (n = 0) => {
  const bytes = new BigUint64Array(new SharedArrayBuffer(8));
  bytes[0] = BigInt(n);
  return bytes;
};

let events: ImportProgress[];
let tracker: ProgressTracker;
beforeEach(() => {
  vi.useFakeTimers();
  events = [];
  tracker = new ProgressTracker((e) => events.push(e), 1500);
});
afterEach(() => {
  tracker.stop();
  vi.useRealTimers();
});

describe('ProgressTracker', () => {
  const A = layer('a', 1000);
  const B = layer('b', 500);

  it('reports a started layer', () => {
    tracker.started(task(3, A, 'derived'));
    expect(events).toEqual([{ type: 'layer-started', kind: 'derived', layer: A, layerIndex: 3 }]);
  });

  it('samples the bytes of running layers every 200 ms, clamped to their total, only when they changed', () => {
    const a = counter(100);
    const b = counter(0);
    tracker.fetching(task(0, A), -1, a);
    tracker.fetching(task(1, B), 400, b);
    vi.advanceTimersByTime(199);
    expect(events).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(events).toEqual([
      { type: 'layer-progress', layerIndex: 0, fetched: 100, total: 1000 },
      { type: 'progress', fetched: 100, total: 1500 },
    ]);
    events.length = 0;
    vi.advanceTimersByTime(200);
    expect(events).toEqual([]);
    a[0] = 5000n;
    b[0] = 450n;
    vi.advanceTimersByTime(200);
    expect(events).toEqual([
      { type: 'layer-progress', layerIndex: 0, fetched: 1000, total: 1000 },
      { type: 'layer-progress', layerIndex: 1, fetched: 400, total: 400 },
      { type: 'progress', fetched: 1400, total: 1500 },
    ]);
  });

  it('takes a total of 0 as known', () => {
    tracker.fetching(task(0, A), 0, counter(10));
    vi.advanceTimersByTime(200);
    expect(events).toEqual([]);
  });

  it('reports a completed layer exactly, and the overall count with the running ones', () => {
    const b = counter(100);
    tracker.fetching(task(0, A), -1, counter(0));
    tracker.fetching(task(1, B), -1, b);
    vi.advanceTimersByTime(200);
    events.length = 0;
    tracker.completed(task(0, A, 'derived'), 1000);
    expect(events).toEqual([
      { type: 'layer-progress', layerIndex: 0, fetched: 1000, total: 1000 },
      { type: 'layer-completed', kind: 'derived', layer: A, layerIndex: 0 },
      { type: 'progress', fetched: 1100, total: 1500 },
    ]);
    events.length = 0;
    tracker.completed(task(1, B), 700);
    expect(events).toEqual([
      { type: 'layer-progress', layerIndex: 1, fetched: 500, total: 500 },
      { type: 'layer-completed', kind: 'ostree-chunk', layer: B, layerIndex: 1 },
      { type: 'progress', fetched: 1500, total: 1500 },
    ]);
  });

  it('counts no more than the size of an empty layer', () => {
    tracker.completed(task(2, layer('c', 0)), 300);
    expect(events[0]).toEqual({ type: 'layer-progress', layerIndex: 2, fetched: 0, total: 0 });
  });

  it('counts what a layer of unknown size read', () => {
    const U = layer('c', -1);
    tracker.completed(task(2, U), 300);
    expect(events[0]).toEqual({ type: 'layer-progress', layerIndex: 2, fetched: 300, total: 300 });
    expect(events[2]).toEqual({ type: 'progress', fetched: 300, total: 1500 });
  });

  it('stops sampling when the last running layer completed, failed or the tracker stopped', () => {
    const a = counter(0);
    tracker.fetching(task(0, A), -1, a);
    tracker.fetching(task(1, B), -1, counter(0));
    expect(vi.getTimerCount()).toBe(1);
    tracker.failed(task(1, B));
    expect(vi.getTimerCount()).toBe(1);
    a[0] = 10n;
    vi.advanceTimersByTime(200);
    expect(events).toEqual([
      { type: 'layer-progress', layerIndex: 0, fetched: 10, total: 1000 },
      { type: 'progress', fetched: 10, total: 1500 },
    ]);
    tracker.failed(task(0, A));
    expect(vi.getTimerCount()).toBe(0);
    tracker.fetching(task(0, A), -1, counter(0));
    tracker.completed(task(0, A), 1000);
    expect(vi.getTimerCount()).toBe(0);
    tracker.fetching(task(1, B), -1, counter(7));
    tracker.stop();
    expect(vi.getTimerCount()).toBe(0);
    events.length = 0;
    vi.advanceTimersByTime(1000);
    expect(events).toEqual([]);
  });

  it('a failed layer no longer counts', () => {
    tracker.fetching(task(1, B), -1, counter(200));
    vi.advanceTimersByTime(200);
    tracker.failed(task(1, B));
    events.length = 0;
    tracker.completed(task(0, A), 1000);
    expect(events.at(-1)).toEqual({ type: 'progress', fetched: 1000, total: 1500 });
  });
});
