// Our side of the `export-*` benchmarks: a chunked encapsulate of REV to `oci:DIR` through the public
// API, with the component mapping written by bench/objectmeta.js (maxLayers 64 unless given). Prints the manifest
// digest, the layer count, the total compressed layer bytes, the seconds spent after start-up and the
// resident memory (KiB) once the mapping is loaded, before encapsulate() runs: the caller's own share
// of the peak (run with `node --expose-gc` to collect the JSON's garbage first).
//
// Usage: node bench/encapsulate-ours.js REPO REV OBJECTMETA.json OCIDIR COMPRESSION [PARALLELISM] [MAX_LAYERS]
// (COMPRESSION `gzip-upstream`: gzip with `upstreamGzip`, zlib in one stream per layer)
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { objectMetaFromJson } from './objectmeta.js';

const [repoPath, rev, metaFile, ociDir, compression, parallelism, maxLayers] = process.argv.slice(2);
if (!compression) throw new Error('usage: node bench/encapsulate-ours.js REPO REV OBJECTMETA.json OCIDIR COMPRESSION [PARALLELISM] [MAX_LAYERS]');
const lib = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'lib', 'index.js');
const { Repo, ImageReference, encapsulate } = await import(lib);

const t0 = performance.now();
const contentmeta = objectMetaFromJson(JSON.parse(await readFile(metaFile, 'utf8')));
const repo = await Repo.open(repoPath);
globalThis.gc?.();
const baseRssKiB = Math.round(process.memoryUsage().rss / 1024);
const codec = compression === 'gzip-upstream' ? { compression: 'gzip', upstreamGzip: true } : { compression };
const opts = { contentmeta, maxLayers: Number(maxLayers || 64), ...codec, ...(parallelism ? { parallelism: Number(parallelism) } : {}) };
const digest = await encapsulate(repo, rev, {}, opts, ImageReference.parse(`oci:${ociDir}`));
const seconds = (performance.now() - t0) / 1000;

const index = JSON.parse(await readFile(path.join(ociDir, 'index.json'), 'utf8'));
const manifest = JSON.parse(await readFile(path.join(ociDir, 'blobs', ...index.manifests[0].digest.split(':')), 'utf8'));
const bytes = manifest.layers.reduce((n, l) => n + l.size, 0);
process.stdout.write(`${digest} ${manifest.layers.length} ${bytes} ${seconds.toFixed(2)} ${baseRssKiB}\n`);
