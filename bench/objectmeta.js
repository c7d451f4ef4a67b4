// Content mapping for the chunked-export benchmarks: which "component" owns each content object of
// a committed corpus. The corpus has no package database, so components are deterministic stand-ins:
// the directory under /usr (with /usr/lib and /usr/share split by their well-known subdirectories)
// crossed with a file-size class — about 40 components for the default corpus, so with
// `maxLayers` 64 every component gets a layer of its own, as a package-rich OS image would.
//
// CLI: node bench/objectmeta.js REPO REV OUT.json   (needs `npm run build:ts` first)
// OUT.json: { components, objects, bytes, meta: { map: [[checksum, id], …], sizes: [ObjectSourceMetaSized, …] } }
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const LIB = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'lib', 'index.js');
// sizeObjectMeta is internal (not in the package entry): taken from its module.
const CHUNKING = path.join(path.dirname(LIB), 'container', 'chunking.js');
const SPLIT = { lib: ['python3.12', 'firmware', 'modules'], share: ['doc', 'man', 'locale'] };

/** The component of a content object at `p` (absolute tree path) of `size` bytes. */
export function componentOf(p, size) {
  const parts = p.split('/').filter(Boolean);
  let dir = parts[0] === 'usr' && parts.length > 2 ? parts[1] : (parts[0] ?? 'root');
  if (SPLIT[dir]) dir = `${dir}-${SPLIT[dir].includes(parts[2]) ? parts[2] : 'other'}`;
  const cls = size < 16 * 1024 ? 'small' : size < 256 * 1024 ? 'medium' : 'large';
  return `${dir}-${cls}`;
}

/**
 * Walks commit `rev` of `repoPath` through our library (Chunking.create: tree order, with sizes) and
 * returns the sized ObjectMeta. An object seen at several paths belongs to the first one's component.
 */
export async function buildObjectMeta(repoPath, rev) {
  const { Repo, Chunking, MAX_FREQUENCY } = await import(LIB);
  const { sizeObjectMeta } = await import(CHUNKING);
  const repo = await Repo.open(repoPath);
  const checksum = await repo.resolveRev(rev);
  const walk = await Chunking.create(repo, checksum);
  const set = new Map();
  const map = new Map();
  let bytes = 0;
  for (const [obj, { size, paths }] of walk.remainder.content) {
    const id = componentOf(paths[0], size);
    map.set(obj, id);
    bytes += size;
    // Small files churn most in a real OS; the exact values only steer the packing order.
    if (!set.has(id)) set.set(id, { identifier: id, name: id, srcid: id, change_time_offset: 1, change_frequency: id.endsWith('-small') ? MAX_FREQUENCY : 1 });
  }
  const sized = sizeObjectMeta({ set, map }, (c) => walk.remainder.content.get(c).size);
  return { components: sized.sizes.length, objects: map.size, bytes, meta: { map: [...sized.map], sizes: sized.sizes } };
}

/** The JSON of {@link buildObjectMeta} back into an ObjectMetaSized for `encapsulate`. */
export function objectMetaFromJson(json) {
  return { map: new Map(json.meta.map), sizes: json.meta.sizes };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [repoPath, rev, out] = process.argv.slice(2);
  if (!repoPath || !rev || !out) throw new Error('usage: node bench/objectmeta.js REPO REV OUT.json');
  const m = await buildObjectMeta(repoPath, rev);
  await writeFile(out, JSON.stringify(m));
  process.stdout.write(`${m.components} components, ${m.objects} content objects, ${(m.bytes / 1024 ** 2).toFixed(0)} MiB\n`);
}
