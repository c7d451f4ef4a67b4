// Content mapping for the chunked-export benchmarks: which "component" owns each content object of
// a committed tree.
//
// - A real OS tree (bench/debian-tree.js) has a package database: a component is a Debian package,
//   found from dpkg's file lists (var/lib/dpkg/info/*.list), as upstream maps RPM packages; its change
//   frequency and time come from the package's changelog.Debian.gz (entries, date of the newest).
//   Objects no package owns (generated configs, the dpkg database itself) form the component
//   "unpackaged", which changes with every build.
// - The generated corpus has none, so components are deterministic stand-ins: the directory under
//   /usr (with /usr/lib and /usr/share split by their well-known subdirectories) crossed with a
//   file-size class — about 40 components for the default corpus, so with `maxLayers` 64 every
//   component gets a layer of its own, as a package-rich OS image would.
//
// CLI: node bench/objectmeta.js REPO REV OUT.json [--dpkg ROOTFS]   (needs `npm run build:ts` first)
// OUT.json: { components, objects, bytes, meta: { map: [[checksum, id], …], sizes: [ObjectSourceMetaSized, …] } }
import { lstat, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const LIB = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'lib', 'index.js');
// sizeObjectMeta is internal (not in the package entry): taken from its module.
const CHUNKING = path.join(path.dirname(LIB), 'container', 'chunking.js');
const SPLIT = { lib: ['python3.12', 'firmware', 'modules'], share: ['doc', 'man', 'locale'] };

/** The synthetic corpus's component of a content object at `p` (absolute tree path) of `size` bytes. */
export function componentOf(p, size) {
  const parts = p.split('/').filter(Boolean);
  let dir = parts[0] === 'usr' && parts.length > 2 ? parts[1] : (parts[0] ?? 'root');
  if (SPLIT[dir]) dir = `${dir}-${SPLIT[dir].includes(parts[2]) ? parts[2] : 'other'}`;
  const cls = size < 16 * 1024 ? 'small' : size < 256 * 1024 ? 'medium' : 'large';
  return `${dir}-${cls}`;
}

/** Source package, version and changelog facts of each installed package, from var/lib/dpkg/status. */
async function dpkgStatus(root) {
  const pkgs = new Map();
  for (const para of (await readFile(path.join(root, 'var/lib/dpkg/status'), 'utf8')).split(/\n\n+/)) {
    const field = (k) => new RegExp(`^${k}: (.*)$`, 'm').exec(para)?.[1];
    const name = field('Package');
    if (!name || !/ installed$/.test(field('Status') ?? '')) continue;
    pkgs.set(name, { version: field('Version'), source: (field('Source') ?? name).split(' ')[0] });
  }
  return pkgs;
}

/** Entries and newest date (ms) of a package's changelog.Debian.gz, or null when it has none. */
async function changelog(root, pkg) {
  let text;
  try {
    text = gunzipSync(await readFile(path.join(root, 'usr/share/doc', pkg, 'changelog.Debian.gz'))).toString('latin1');
  } catch {
    return null;
  }
  const trailers = text.match(/^ -- .*>  (.+)$/gm) ?? [];
  const newest = trailers.length ? Date.parse(/>  (.+)$/.exec(trailers[0])[1]) : NaN;
  return { entries: trailers.length, newest: Number.isNaN(newest) ? null : newest };
}

/**
 * Component lookup for a Debian tree at `root` laid out as bench/debian-tree.js leaves it: the owning
 * package of each path from dpkg's file lists, with dpkg's names mapped to where the files are in
 * the commit (merged /usr: /bin → /usr/bin, …; /etc → /usr/etc). Returns { componentOf(path), sources }.
 */
export async function dpkgComponents(root) {
  // Top-level symlinks into /usr (merged /usr) and the moved /etc.
  const aliases = new Map([['etc', 'usr/etc']]);
  for (const name of await readdir(root)) {
    const p = path.join(root, name);
    if ((await lstat(p)).isSymbolicLink()) {
      const target = (await readlink(p)).replace(/^\//, '');
      if (target.startsWith('usr/')) aliases.set(name, target);
    }
  }
  const canonical = (p) => {
    const [, top, rest] = /^\/([^/]+)(.*)$/.exec(p) ?? [];
    return aliases.has(top) ? `/${aliases.get(top)}${rest}` : p;
  };
  const status = await dpkgStatus(root);
  const owner = new Map();
  const info = path.join(root, 'var/lib/dpkg/info');
  for (const f of (await readdir(info)).filter((n) => n.endsWith('.list')).sort()) {
    const pkg = f.slice(0, -'.list'.length).split(':')[0];
    for (const line of (await readFile(path.join(info, f), 'utf8')).split('\n')) {
      // A path listed by several packages is a shared directory, never a content object: first wins.
      if (line && !owner.has(canonical(line))) owner.set(canonical(line), pkg);
    }
  }
  const logs = new Map();
  for (const pkg of new Set(owner.values())) logs.set(pkg, await changelog(root, pkg));
  const oldest = Math.min(...[...logs.values()].map((l) => l?.newest ?? Infinity));
  const sources = new Map();
  for (const [pkg, log] of logs) {
    const s = status.get(pkg);
    const id = s ? `${pkg}_${s.version}` : pkg;
    sources.set(pkg, {
      identifier: id, name: pkg, srcid: s?.source ?? pkg,
      // Hours since the oldest package's newest upload: what upstream derives from RPM changelogs.
      change_time_offset: log?.newest != null && Number.isFinite(oldest) ? Math.round((log.newest - oldest) / 3.6e6) : 0,
      change_frequency: Math.max(1, log?.entries ?? 1),
    });
  }
  sources.set(UNPACKAGED, { identifier: UNPACKAGED, name: UNPACKAGED, srcid: UNPACKAGED, change_time_offset: 0, change_frequency: MAX_FREQUENCY_VALUE });
  return { componentOf: (p) => sources.get(owner.get(p) ?? UNPACKAGED), sources };
}

const UNPACKAGED = 'unpackaged';
const MAX_FREQUENCY_VALUE = 4294967295; // chunking.ts MAX_FREQUENCY: changes with every build

/** The synthetic corpus's source of component `id`. */
function syntheticSource(id) {
  // Small files churn most in a real OS; the exact values only steer the packing order.
  return { identifier: id, name: id, srcid: id, change_time_offset: 1, change_frequency: id.endsWith('-small') ? MAX_FREQUENCY_VALUE : 1 };
}

/**
 * Walks commit `rev` of `repoPath` through our library (Chunking.create: tree order, with sizes) and
 * returns the sized ObjectMeta: components by Debian package when `dpkgRoot` (the committed tree)
 * is given, the synthetic corpus's otherwise. An object seen at several paths belongs to the
 * component of the first path a package owns (else the first path's).
 */
export async function buildObjectMeta(repoPath, rev, { dpkgRoot } = {}) {
  const { Repo, Chunking } = await import(LIB);
  const { sizeObjectMeta } = await import(CHUNKING);
  const repo = await Repo.open(repoPath);
  const checksum = await repo.resolveRev(rev);
  const walk = await Chunking.create(repo, checksum);
  const dpkg = dpkgRoot ? await dpkgComponents(dpkgRoot) : null;
  const set = new Map();
  const map = new Map();
  let bytes = 0;
  for (const [obj, { size, paths }] of walk.remainder.content) {
    const src = dpkg
      ? (paths.map(dpkg.componentOf).find((s) => s.name !== UNPACKAGED) ?? dpkg.sources.get(UNPACKAGED))
      : syntheticSource(componentOf(paths[0], size));
    map.set(obj, src.identifier);
    set.set(src.identifier, src);
    bytes += size;
  }
  const sized = sizeObjectMeta({ set, map }, (c) => walk.remainder.content.get(c).size);
  return { components: sized.sizes.length, objects: map.size, bytes, meta: { map: [...sized.map], sizes: sized.sizes } };
}

/** The JSON of {@link buildObjectMeta} back into an ObjectMetaSized for `encapsulate`. */
export function objectMetaFromJson(json) {
  return { map: new Map(json.meta.map), sizes: json.meta.sizes };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { dpkg: { type: 'string' } } });
  const [repoPath, rev, out] = positionals;
  if (!repoPath || !rev || !out) throw new Error('usage: node bench/objectmeta.js REPO REV OUT.json [--dpkg ROOTFS]');
  const m = await buildObjectMeta(repoPath, rev, { dpkgRoot: values.dpkg });
  await writeFile(out, JSON.stringify(m));
  process.stdout.write(`${m.components} components, ${m.objects} content objects, ${(m.bytes / 1024 ** 2).toFixed(0)} MiB\n`);
}
