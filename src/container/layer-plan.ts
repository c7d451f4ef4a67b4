// Which components go into which chunk layer of an encapsulated image: from a given content
// mapping (`contentmeta`, upstream's packing) or found in the commit (`chunking: 'auto'`).
import { withContext } from '../errors.js';
import { autoContentMeta } from './auto-chunking.js';
import { packComponents } from './auto-packing.js';
import { packChunks, planFromBins, type ChunkPlan, type ObjectMetaSized, type PriorBuildManifest } from './chunking.js';

/** Chunk layers automatic chunking uses by default (upstream's contentmeta default is 64). */
export const AUTO_MAX_LAYERS = 128;

/** What automatic chunking found, for the caller to report. */
export interface ChunkingSummary {
  /** Package databases read, e.g. `{ path: '/var/lib/dpkg', format: 'dpkg', packages: 140 }`; empty when the commit has none. */
  databases: { path: string; format: string; packages: number }[];
  components: number;
  /** Chunk layers (the commit layer not counted). */
  layers: number;
}

export interface LayerPlanOptions {
  contentmeta?: ObjectMetaSized;
  chunking?: 'auto';
  bigFileThreshold?: number;
  maxLayers?: number;
  priorBuild?: PriorBuildManifest;
  onChunking?: (summary: ChunkingSummary) => void;
  signal?: AbortSignal;
}

/** The content mapping and its packing for `rev` (a commit checksum), or undefined for one layer. */
export async function planLayers(
  repo: import('../repo/repo.js').Repo,
  rev: string,
  opts: LayerPlanOptions,
): Promise<{ meta: ObjectMetaSized; plan: ChunkPlan } | undefined> {
  if (opts.chunking === 'auto') {
    if (opts.contentmeta) throw new Error('Automatic chunking and a content mapping (contentmeta) cannot be combined');
    return withContext('Automatic chunking', async () => {
      const auto = await autoContentMeta(repo, rev, {
        ...(opts.bigFileThreshold !== undefined ? { bigFileThreshold: opts.bigFileThreshold } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      const max = opts.maxLayers ?? AUTO_MAX_LAYERS;
      const bins = packComponents(auto.meta.sizes, max, {
        ...(opts.priorBuild ? { prior: opts.priorBuild } : {}),
        exclusive: auto.exclusive,
        changes: auto.changes,
      });
      opts.onChunking?.({ databases: auto.databases, components: auto.meta.sizes.length, layers: bins.length });
      return { meta: auto.meta, plan: planFromBins(bins, max) };
    });
  }
  if (opts.chunking !== undefined) throw new Error(`Unknown chunking mode: ${String(opts.chunking)}`);
  if (opts.bigFileThreshold !== undefined) throw new Error('bigFileThreshold needs automatic chunking');
  if (!opts.contentmeta) return undefined;
  return { meta: opts.contentmeta, plan: packChunks(opts.contentmeta, opts.maxLayers, opts.priorBuild) };
}
