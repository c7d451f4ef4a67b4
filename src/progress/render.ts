// CLI renderers of import progress (spec store §2.4): bars on a terminal (per layer and overall:
// bytes, rate, ETA) drawn by cli-progress, upstream's plain start/finish lines elsewhere, and one
// JSON object per line for update agents.
import { createRequire } from 'node:module';
import type cliProgressTypes from 'cli-progress';
import { formatSize } from '../format.js';
import type { ImportProgress, LayerKind, ProgressListener } from '../store/progress.js';

export type ProgressMode = 'bars' | 'plain' | 'json' | 'none';

export interface ProgressRenderer {
  listener: ProgressListener;
  /** Stops drawing (bars are cleared); call once the import settled. */
  stop(): void;
}

const KIND_TEXT: Record<LayerKind, string> = { 'ostree-chunk': 'ostree chunk', derived: 'layer' };

/** First 19 hex characters of a digest (upstream's short form, no `sha256:`). */
function shortDigest(digest: string): string {
  return digest.slice(digest.indexOf(':') + 1).slice(0, 19);
}

/** `Fetching <kind> <short> (<size>)` / `Fetched <kind> <short>`. */
export function layerProgressLine(e: Extract<ImportProgress, { type: 'layer-started' | 'layer-completed' }>): string {
  const what = `${KIND_TEXT[e.kind]} ${shortDigest(e.layer.digest)}`;
  return e.type === 'layer-started' ? `Fetching ${what} (${formatSize(e.layer.size)})` : `Fetched ${what}`;
}

function plain(out: NodeJS.WritableStream): ProgressRenderer {
  return {
    listener: (e) => {
      if (e.type === 'layer-started' || e.type === 'layer-completed') out.write(`${layerProgressLine(e)}\n`);
    },
    stop: () => undefined,
  };
}

/** Events as JSON lines; descriptors shortened to digest, size and media type. */
function json(out: NodeJS.WritableStream): ProgressRenderer {
  return {
    listener: (e) => {
      const line = 'layer' in e ? { ...e, layer: { digest: e.layer.digest, size: e.layer.size, mediaType: e.layer.mediaType } } : e;
      out.write(`${JSON.stringify(line)}\n`);
    },
    stop: () => undefined,
  };
}

interface BarPayload {
  label: string;
  bytes: string;
  rate: string;
}

function bars(out: NodeJS.WritableStream): ProgressRenderer {
  const start = Date.now();
  // Loaded only when bars are drawn (memory of the other modes, issue 19).
  const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof cliProgressTypes;
  const multi = new cliProgress.MultiBar(
    {
      stream: out as NodeJS.WriteStream,
      format: '{label} [{bar}] {bytes} {rate} ETA {eta_formatted}',
      barsize: 20,
      hideCursor: true,
      clearOnComplete: true,
      autopadding: true,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  const layerBars = new Map<number, { bar: cliProgressTypes.SingleBar; started: number; label: string }>();
  let overall: cliProgressTypes.SingleBar | undefined;
  const payload = (label: string, fetched: number, total: number, since: number): BarPayload => {
    const secs = Math.max(0.001, (Date.now() - since) / 1000);
    return { label, bytes: `${formatSize(fetched)}/${formatSize(total)}`, rate: `${formatSize(Math.round(fetched / secs))}/s` };
  };
  return {
    listener: (e) => {
      switch (e.type) {
        case 'layer-started': {
          const label = `${KIND_TEXT[e.kind]} ${shortDigest(e.layer.digest)}`;
          const bar = multi.create(Math.max(1, e.layer.size), 0, payload(label, 0, e.layer.size, Date.now()));
          layerBars.set(e.layerIndex, { bar, started: Date.now(), label });
          break;
        }
        case 'layer-progress': {
          const b = layerBars.get(e.layerIndex);
          b?.bar.update(e.fetched, payload(b.label, e.fetched, e.total, b.started));
          break;
        }
        case 'layer-completed': {
          const b = layerBars.get(e.layerIndex);
          if (b) multi.remove(b.bar);
          layerBars.delete(e.layerIndex);
          multi.log(`${layerProgressLine(e)}\n`);
          break;
        }
        case 'progress':
          overall ??= multi.create(Math.max(1, e.total), 0, payload('total', 0, e.total, start));
          overall.update(e.fetched, payload('total', e.fetched, e.total, start));
          break;
      }
    },
    stop: () => multi.stop(),
  };
}

/** The renderer for `mode` (`bars` falls back to `plain` when `out` is not a terminal). */
export function progressRenderer(mode: ProgressMode, out: NodeJS.WritableStream = process.stderr): ProgressRenderer {
  switch (mode) {
    case 'none':
      return { listener: () => undefined, stop: () => undefined };
    case 'json':
      return json(out);
    case 'plain':
      return plain(out);
    case 'bars':
      return (out as NodeJS.WriteStream).isTTY ? bars(out) : plain(out);
  }
}
