// bootc's `--progress-fd` protocol (docs/src/progress-v0.schema.json, crates/lib/src/progress_jsonl.rs,
// API version 0.1.0): JSON Lines on a descriptor the caller opened, canonical JSON (keys sorted).
// `Start` first; `ProgressBytes` of the task `pulling` (the image's bytes and layers, each layer a
// subtask: `ostree chunk` or `layer`, its id the digest's first 21 hex characters) while layers
// are fetched; `ProgressSteps` of the task `importing` once every layer is stored (0 of 1) and
// when the import is done (1 of 1). Byte updates are dropped beyond 5 a second and while the
// reader lags; the rest are always written.
import { createWriteStream } from 'node:fs';
import { canonicalJson } from '../oci/canonical-json.js';
import type { ImportProgress, LayerKind, ProgressListener } from '../store/progress.js';

export const PROGRESS_API_VERSION = '0.1.0';
const REFRESH_MS = 200;

const SUBTASK: Record<LayerKind, string> = { 'ostree-chunk': 'ostree chunk', derived: 'layer' };

interface SubTaskBytes {
  subtask: string;
  description: string;
  id: string;
  bytesCached: number;
  bytes: number;
  bytesTotal: number;
}

export interface ProgressFdWriter {
  listener: ProgressListener;
  /** The import succeeded: the final `importing` step. */
  done(): void;
  /** Resolves once everything written has reached the descriptor. */
  close(): Promise<void>;
}

/** A progress-v0 writer on `fd` (left open: the caller owns it). */
export function progressFdWriter(fd: number): ProgressFdWriter {
  const out = createWriteStream('', { fd, autoClose: false });
  let broken = false;
  out.on('error', (e) => {
    // As bootc: report once, stop writing, carry on with the pull.
    if (!broken) process.stderr.write(`Failed to write to jsonl: ${e.message}\n`);
    broken = true;
  });
  let lastWrite = 0;
  const send = (event: Record<string, unknown>, required: boolean) => {
    if (broken) return;
    const now = Date.now();
    if (!required && (now - lastWrite < REFRESH_MS || out.writableNeedDrain)) return;
    lastWrite = now;
    out.write(`${canonicalJson(event)}\n`);
  };
  send({ type: 'Start', version: PROGRESS_API_VERSION }, true);

  let digest = '';
  let layers = 0;
  let toFetch = 0;
  let bytesAll = 0;
  let bytesToFetch = 0;
  let stepsDone = 0;
  let importingSent = false;
  const subtasks = new Map<number, SubTaskBytes>();
  const bytes = () => {
    send(
      {
        type: 'ProgressBytes',
        task: 'pulling',
        description: `Pulling Image: ${digest}`,
        id: digest,
        bytesCached: bytesAll - bytesToFetch,
        bytes: [...subtasks.values()].reduce((n, s) => n + s.bytes, 0),
        bytesTotal: bytesToFetch,
        stepsCached: layers - toFetch,
        steps: stepsDone,
        stepsTotal: toFetch,
        subtasks: [...subtasks.values()],
      },
      true,
    );
  };
  const importing = (completed: boolean) => {
    send(
      {
        type: 'ProgressSteps',
        task: 'importing',
        description: 'Importing Image',
        id: digest,
        stepsCached: 0,
        steps: completed ? 1 : 0,
        stepsTotal: 1,
        subtasks: [{ subtask: 'importing', description: 'Importing Image', id: 'importing', completed }],
      },
      true,
    );
  };
  const lossy = (): void => {
    const now = Date.now();
    if (now - lastWrite >= REFRESH_MS && !out.writableNeedDrain) bytes();
  };

  const listener = (e: ImportProgress): void => {
    switch (e.type) {
      case 'import-started':
        ({ manifestDigest: digest, layers, layersToFetch: toFetch, bytes: bytesAll, bytesToFetch } = e);
        if (toFetch === 0) {
          importingSent = true;
          importing(false);
        }
        break;
      case 'layer-started': {
        const id = e.layer.digest.slice(e.layer.digest.indexOf(':') + 1).slice(0, 21);
        subtasks.set(e.layerIndex, { subtask: SUBTASK[e.kind], description: `${SUBTASK[e.kind]}: ${id}`, id, bytesCached: 0, bytes: 0, bytesTotal: Math.max(0, e.layer.size) });
        lossy();
        break;
      }
      case 'layer-progress': {
        const s = subtasks.get(e.layerIndex);
        if (!s) break;
        s.bytes = e.fetched;
        s.bytesTotal = e.total;
        lossy();
        break;
      }
      case 'layer-completed': {
        const s = subtasks.get(e.layerIndex);
        if (s) s.bytes = s.bytesTotal;
        stepsDone++;
        bytes();
        if (stepsDone === toFetch && !importingSent) {
          importingSent = true;
          importing(false);
        }
        break;
      }
      case 'progress':
        break;
    }
  };
  return {
    listener,
    done: () => importing(true),
    close: () => new Promise<void>((resolve) => out.end(resolve)),
  };
}
