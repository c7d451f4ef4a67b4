// Deterministic OS-like corpus for benchmarks: same seed and parameters → byte-identical tree.
//
// Shape (loosely modelled on a Fedora/Debian /usr): "packages" each owning executables, shared
// libraries (+ .so symlinks), docs, man pages, scripts, data and the odd firmware blob. Sizes are
// log-normal per kind, scaled to hit the requested total. Content is text (compresses ~3-4x),
// ELF-like binary (zero padding, text tables and random code: ~2x) or random (incompressible). ~4% extra symlinks,
// ~1% extra hardlinks, 1% empty files, `security.selinux` on everything, a `user.*` xattr on 1%.
//
// CLI: node bench/corpus.js [--files 50000] [--size 1G] [--seed 1] [--out DIR]
import { createCipheriv, createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, link, mkdir, readFile, rm, symlink, writeFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const DEFAULTS = { files: 50_000, size: 1024 ** 3, seed: 1 };
const FORMAT_VERSION = 2; // bump when the generator's output changes

/** "1G", "50M", "4096" → bytes. */
export function parseSize(s) {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)(?:i?B)?$/i.exec(String(s).trim());
  if (!m) throw new Error(`Invalid size ${JSON.stringify(s)}: expected e.g. 1G, 50M, 4096`);
  return Math.round(Number(m[1]) * 1024 ** ' KMGT'.indexOf((m[2] || ' ').toUpperCase()));
}

// xoshiro128** — small, fast, and the same stream on every platform.
function rng(seed) {
  let s = [0x9e3779b9 ^ seed, 0x243f6a88 + seed * 7, 0xb7e15162 ^ (seed << 3), 0xdeadbeef - seed].map((x) => x >>> 0);
  const rotl = (x, k) => ((x << k) | (x >>> (32 - k))) >>> 0;
  const next = () => {
    const r = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 11);
    s = s.map((x) => x >>> 0);
    return r;
  };
  for (let i = 0; i < 16; i++) next();
  const float = () => next() / 2 ** 32;
  return {
    float,
    int: (n) => Math.floor(float() * n),
    pick: (a) => a[Math.floor(float() * a.length)],
    // Box-Muller
    gauss: () => Math.sqrt(-2 * Math.log(1 - float())) * Math.cos(2 * Math.PI * float()),
  };
}

const SYLLABLES = ['ab', 'ac', 'al', 'an', 'ar', 'at', 'be', 'co', 'da', 'de', 'el', 'en', 'er', 'fi', 'ge', 'ho', 'in', 'io',
  'ka', 'li', 'lo', 'ma', 'me', 'ne', 'no', 'or', 'pa', 'po', 'qu', 're', 'ri', 'sa', 'se', 'si', 'ta', 'te', 'ti', 'to', 'un', 'ur', 'va', 'xo', 'ze'];

/**
 * Kinds of file: directory (under /usr of a package `p`), name pattern, mode, content, log-normal size
 * (median bytes, sigma) and weight in the file count.
 */
const KINDS = [
  { kind: 'bin', dir: () => 'usr/bin', name: (p, i) => `${p}${i ? `-${i}` : ''}`, mode: 0o755, content: 'elf', median: 40_000, sigma: 1.4, weight: 6 },
  { kind: 'lib', dir: () => 'usr/lib64', name: (p, i) => `lib${p}${i ? i : ''}.so.${1 + (i % 3)}.${i % 7}.0`, mode: 0o755, content: 'elf', median: 90_000, sigma: 1.6, weight: 6 },
  { kind: 'libexec', dir: (p) => `usr/libexec/${p}`, name: (p, i) => `${p}-helper${i}`, mode: 0o755, content: 'elf', median: 25_000, sigma: 1.2, weight: 3 },
  { kind: 'py', dir: (p, r) => `usr/lib/python3.12/site-packages/${p}${r.int(3) ? `/${r.pick(['core', 'util', 'io', 'tests', '_vendor'])}` : ''}`, name: (p, i) => (i === 0 ? '__init__.py' : `mod${i}.py`), mode: 0o644, content: 'text', median: 6_000, sigma: 1.3, weight: 22 },
  { kind: 'pyc', dir: (p) => `usr/lib/python3.12/site-packages/${p}/__pycache__`, name: (p, i) => `mod${i}.cpython-312.pyc`, mode: 0o644, content: 'elf', median: 7_000, sigma: 1.2, weight: 14 },
  { kind: 'doc', dir: (p) => `usr/share/doc/${p}`, name: (p, i) => r0(i, ['README', 'NEWS', 'COPYING', 'AUTHORS', 'ChangeLog']), mode: 0o644, content: 'text', median: 4_000, sigma: 1.5, weight: 10 },
  { kind: 'man', dir: (p, r) => `usr/share/man/man${r.pick([1, 1, 1, 3, 5, 8])}`, name: (p, i) => `${p}${i ? i : ''}.gz`, mode: 0o644, content: 'random', median: 3_000, sigma: 0.9, weight: 8 },
  { kind: 'locale', dir: (p, r) => `usr/share/locale/${r.pick(['de', 'fr', 'es', 'ja', 'pt_BR', 'zh_CN', 'ru', 'it', 'pl', 'cs'])}/LC_MESSAGES`, name: (p, i) => `${p}${i ? i : ''}.mo`, mode: 0o644, content: 'text', median: 15_000, sigma: 1.1, weight: 10 },
  { kind: 'data', dir: (p, r) => `usr/share/${p}${r.int(2) ? `/${r.pick(['icons', 'themes', 'data', 'templates'])}` : ''}`, name: (p, i) => `${r0(i, ['data', 'icon', 'theme', 'item'])}${i}.${['png', 'svg', 'json', 'xml'][i % 4]}`, mode: 0o644, content: 'mixed', median: 8_000, sigma: 1.8, weight: 8 },
  { kind: 'conf', dir: (p) => `usr/etc/${p}`, name: (p, i) => `${p}${i ? `-${i}` : ''}.conf`, mode: 0o644, content: 'text', median: 1_500, sigma: 1.0, weight: 4 },
  { kind: 'header', dir: (p) => `usr/include/${p}`, name: (p, i) => `${p}${i ? `_${i}` : ''}.h`, mode: 0o644, content: 'text', median: 9_000, sigma: 1.2, weight: 7 },
  { kind: 'firmware', dir: (p) => `usr/lib/firmware/${p}`, name: (p, i) => `fw${i}.bin.xz`, mode: 0o644, content: 'random', median: 300_000, sigma: 1.5, weight: 1.5 },
  { kind: 'module', dir: () => 'usr/lib/modules/6.8.0-1.x86_64/kernel/drivers', name: (p, i) => `${p}${i ? i : ''}.ko.xz`, mode: 0o644, content: 'random', median: 20_000, sigma: 1.1, weight: 0.5 },
];
function r0(i, names) {
  return i < names.length ? names[i] : `${names[i % names.length]}${i}`;
}
const MAX_FILE = 256 * 1024 ** 2;

function selinuxLabel(p) {
  if (p.startsWith('usr/etc')) return 'system_u:object_r:etc_t:s0';
  if (p.includes('/lib/modules') || p.includes('firmware')) return 'system_u:object_r:modules_object_t:s0';
  if (p.startsWith('usr/bin') || p.startsWith('usr/libexec')) return 'system_u:object_r:bin_t:s0';
  if (p.startsWith('usr/lib64')) return 'system_u:object_r:lib_t:s0';
  if (p.startsWith('usr/share/man')) return 'system_u:object_r:man_t:s0';
  return 'system_u:object_r:usr_t:s0';
}

/** The corpus as data: dirs, files (with size/content/mode), symlinks, hardlinks, xattrs. */
export function planCorpus({ files, size, seed }) {
  if (!(files >= 1)) throw new Error(`--files must be at least 1, got ${files}`);
  const r = rng(seed);
  const totalWeight = KINDS.reduce((a, k) => a + k.weight, 0);
  const pkgCount = Math.max(1, Math.round(files / 100));
  const pkgs = Array.from({ length: pkgCount }, (_, i) => `${r.pick(SYLLABLES)}${r.pick(SYLLABLES)}${r.pick(SYLLABLES)}${i}`);
  const entries = [];
  const seen = new Set();
  const perPkgKind = new Map();
  while (entries.length < files) {
    let w = r.float() * totalWeight;
    const k = KINDS.find((x) => (w -= x.weight) < 0) ?? KINDS[0];
    const p = r.pick(pkgs);
    const key = `${p}\0${k.kind}`;
    const i = perPkgKind.get(key) ?? 0;
    perPkgKind.set(key, i + 1);
    const file = `${k.dir(p, r)}/${k.name(p, i)}`;
    if (seen.has(file)) continue;
    seen.add(file);
    const empty = r.float() < 0.01;
    const raw = empty ? 0 : Math.exp(Math.log(k.median) + k.sigma * r.gauss());
    const content = k.content === 'mixed' ? (file.endsWith('.png') ? 'random' : 'text') : k.content;
    entries.push({ path: file, kind: k.kind, mode: k.mode, content, raw, size: 0 });
  }
  // Scale to the requested total (caps can shift the total a little; a second pass corrects most of it).
  for (let pass = 0; pass < 3; pass++) {
    const sum = entries.reduce((a, e) => a + (e.size || e.raw), 0);
    const factor = size / sum;
    for (const e of entries) e.size = Math.min(MAX_FILE, Math.round((e.size || e.raw) * factor));
  }
  const dirs = new Set();
  for (const e of entries) for (let d = path.posix.dirname(e.path); d !== '.'; d = path.posix.dirname(d)) dirs.add(d);
  // Symlinks: .so names for libraries, aliases for executables, a few relative links into share.
  const symlinks = [];
  const hardlinks = [];
  const taken = new Set([...seen, ...dirs]);
  for (const e of entries) {
    const roll = r.float();
    if (e.kind === 'lib' && roll < 0.3) {
      const l = e.path.replace(/\.so\..*$/, '.so');
      if (!taken.has(l)) { taken.add(l); symlinks.push({ path: l, target: path.posix.basename(e.path) }); }
    } else if (e.kind === 'bin' && roll < 0.12) {
      const l = `usr/sbin/${path.posix.basename(e.path)}`;
      if (!taken.has(l)) { taken.add(l); dirs.add('usr/sbin'); symlinks.push({ path: l, target: `../bin/${path.posix.basename(e.path)}` }); }
    } else if (roll < 0.01 && e.size > 0) {
      const l = `usr/share/hardlinked/${path.posix.basename(path.posix.dirname(e.path))}-${path.posix.basename(e.path)}`;
      if (!taken.has(l)) { taken.add(l); dirs.add('usr/share/hardlinked'); hardlinks.push({ path: l, target: e.path }); }
    }
  }
  dirs.add('usr');
  const sortedDirs = [...dirs].sort();
  const xattrs = [];
  for (const d of sortedDirs) xattrs.push({ path: d, name: 'security.selinux', value: selinuxLabel(d) });
  for (const e of entries) {
    xattrs.push({ path: e.path, name: 'security.selinux', value: selinuxLabel(e.path) });
    if (r.float() < 0.01) xattrs.push({ path: e.path, name: 'user.bench.origin', value: `pkg=${e.path.split('/')[2]};n=${r.int(1e9)}` });
  }
  for (const s of symlinks) xattrs.push({ path: s.path, name: 'security.selinux', value: selinuxLabel(s.path) });
  return { dirs: sortedDirs, entries, symlinks, hardlinks, xattrs };
}

/** Text-like pool (words, lines, indentation) that files slice from: compresses like source/docs. */
function textPool(seed) {
  const r = rng(seed ^ 0x5151);
  const words = Array.from({ length: 4000 }, () => Array.from({ length: 1 + r.int(4) }, () => r.pick(SYLLABLES)).join(''));
  const parts = [];
  let len = 0;
  while (len < 8 * 1024 ** 2) {
    const line = ' '.repeat(r.int(4) * 4) + Array.from({ length: 3 + r.int(10) }, () => r.pick(words)).join(r.float() < 0.1 ? '_' : ' ') + (r.float() < 0.2 ? ';\n' : '\n');
    parts.push(line);
    len += line.length;
  }
  return Buffer.from(parts.join(''));
}

function contentOf(e, index, seed, pool) {
  if (e.size === 0) return Buffer.alloc(0);
  // AES-CTR keyed by the seed and the file index: fast, deterministic pseudo-random bytes.
  const key = createHash('sha256').update(`bench-corpus:${seed}`).digest().subarray(0, 16);
  const iv = createHash('sha256').update(`file:${index}`).digest().subarray(0, 16);
  const header = Buffer.from(`${e.path}\n`);
  if (e.content === 'text') {
    const out = Buffer.alloc(e.size);
    header.copy(out, 0, 0, Math.min(header.length, e.size));
    let off = header.length;
    let src = Number(iv.readUInt32LE(0)) % pool.length;
    while (off < e.size) {
      const n = Math.min(e.size - off, pool.length - src);
      pool.copy(out, off, src, src + n);
      off += n;
      src = 0;
    }
    return out;
  }
  const bytes = createCipheriv('aes-128-ctr', key, iv).update(Buffer.alloc(e.size));
  if (e.content === 'elf') {
    // Like real executables (zstd -3 ≈ 0.45 of the size): zero padding, string/symbol tables, code.
    for (let off = 0; off < e.size; off += 4096) {
      const b = bytes[off];
      const end = Math.min(e.size, off + 4096);
      if (b < 96) bytes.fill(0, off, end);
      else if (b < 160) {
        const src = (b * 7919 + off) % (pool.length - 4096);
        pool.copy(bytes, off, src, src + (end - off));
      }
    }
  }
  header.copy(bytes, 0, 0, Math.min(header.length, e.size));
  return bytes;
}

function setfattrRestore(cwd, xattrs) {
  // One `setfattr --restore` for the whole tree (a process per file would dominate the run time).
  const dump = xattrs.map((x) => `# file: ${x.path}\n${x.name}=0s${Buffer.from(x.value).toString('base64')}\n`).join('\n');
  return new Promise((resolve, reject) => {
    const child = spawn('setfattr', ['--no-dereference', '--restore=-'], { cwd, stdio: ['pipe', 'inherit', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', (e) => reject(new Error(`setfattr: ${e.message} (install the attr package: scripts/install-deps.sh)`)));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`setfattr --restore failed (${code}): ${err.trim()}`))));
    child.stdin.end(dump);
  });
}

/**
 * Generates the corpus under `out/tree` (unless `out/corpus.json` says it is already there with the same
 * parameters); returns its stats.
 */
export async function generateCorpus({ files = DEFAULTS.files, size = DEFAULTS.size, seed = DEFAULTS.seed, out, log = () => {} }) {
  const params = { version: FORMAT_VERSION, files, size, seed };
  const stamp = path.join(out, 'corpus.json');
  const tree = path.join(out, 'tree');
  if (existsSync(stamp)) {
    const prev = JSON.parse(await readFile(stamp, 'utf8'));
    if (JSON.stringify(prev.params) === JSON.stringify(params) && existsSync(tree)) return { tree, ...prev };
  }
  const t0 = performance.now();
  const plan = planCorpus({ files, size, seed });
  const partial = `${tree}.partial`;
  await rm(partial, { recursive: true, force: true });
  await rm(tree, { recursive: true, force: true });
  process.umask(0o022);
  for (const d of ['', ...plan.dirs]) await mkdir(path.join(partial, d), { recursive: true, mode: 0o755 });
  const pool = textPool(seed);
  let next = 0;
  let written = 0;
  const worker = async () => {
    while (next < plan.entries.length) {
      const i = next++;
      const e = plan.entries[i];
      const p = path.join(partial, e.path);
      await writeFile(p, contentOf(e, i, seed, pool), { mode: e.mode });
      await chmod(p, e.mode);
      written += e.size;
      if (i % 5000 === 0) log(`corpus: ${i}/${plan.entries.length} files, ${(written / 1024 ** 2).toFixed(0)} MiB`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  for (const s of plan.symlinks) await symlink(s.target, path.join(partial, s.path));
  for (const h of plan.hardlinks) await link(path.join(partial, h.target), path.join(partial, h.path));
  await setfattrRestore(partial, plan.xattrs);
  await rename(partial, tree);
  const stats = {
    params,
    files: plan.entries.length,
    bytes: plan.entries.reduce((a, e) => a + e.size, 0),
    dirs: plan.dirs.length + 1,
    symlinks: plan.symlinks.length,
    hardlinks: plan.hardlinks.length,
    xattrs: plan.xattrs.length,
    byContent: Object.fromEntries(['text', 'elf', 'random'].map((c) => [c, plan.entries.filter((e) => e.content === c).reduce((a, e) => a + e.size, 0)])),
    largest: Math.max(...plan.entries.map((e) => e.size)),
    generationSeconds: Number(((performance.now() - t0) / 1000).toFixed(1)),
  };
  await writeFile(stamp, `${JSON.stringify(stats, null, 2)}\n`);
  return { tree, ...stats };
}

export function corpusDir({ files, size, seed }) {
  return path.join(BENCH_DIR, 'work', `corpus-f${files}-s${size}-seed${seed}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: { files: { type: 'string' }, size: { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' } },
  });
  const o = {
    files: Number(values.files ?? DEFAULTS.files),
    size: values.size ? parseSize(values.size) : DEFAULTS.size,
    seed: Number(values.seed ?? DEFAULTS.seed),
  };
  const out = values.out ? path.resolve(values.out) : corpusDir(o);
  generateCorpus({ ...o, out, log: (m) => process.stderr.write(`${m}\n`) }).then(
    (s) => process.stdout.write(`${JSON.stringify(s, null, 2)}\n`),
    (e) => { process.stderr.write(`error: ${e.message}\n`); process.exitCode = 1; },
  );
}
