// What an OS update costs a host: builds a real Debian OS and its two updates from Debian's
// packages (bench/debian-updates.js: a security update from the security archive, a feature
// update adding curl, less, vim-tiny and python3-minimal), commits each as an ostree OS commit,
// encapsulates each build through the CLI with `--chunking auto` and the previous build's
// manifest, and reports per update: layers, layers reused, bytes to download (the compressed
// layers the previous image lacks) and the floor — the update's new content objects, each
// gzipped alone — with where the bytes above the floor go. Each layer budget is its own chain
// of builds (the default, and `--max-layers 64`). It also times the automatic export of the
// first build against the `--contentmeta` export (one component per dpkg package, as
// bench/objectmeta.js --dpkg maps it) of a reference CLI (default: this checkout's), and
// appends a section to bench/RESULTS.md.
//
// CLI: node bench/update-size.js [--suite bookworm] [--layers default,64] [--runs 2]
//        [--reference-cli PATH/lib/cli/main.js] [--no-record] [--note TEXT] [--results FILE]
// Needs root (debootstrap, chroot) the first time, and `npm run build:ts`.
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { BENCH_DIR } from './corpus.js';
import { debianUpdates } from './debian-updates.js';
import { exec } from './debian-tree.js';
import { buildObjectMeta } from './objectmeta.js';
import { measure, median, tableRow } from './run.js';

const ROOT = path.resolve(BENCH_DIR, '..');
const LIB = path.join(ROOT, 'lib', 'index.js');
const CLI = path.join(BENCH_DIR, '..', 'lib', 'cli', 'main.js');
const MB = (n) => `${(n / 1e6).toFixed(2)} MB`;

/** Commits every build into one bare-user repo (branch = build name, fixed timestamps); returns its path. */
async function commitBuilds(dir, builds, log) {
  const repo = path.join(dir, 'repo');
  if (!existsSync(path.join(repo, 'config'))) await exec(['ostree', `--repo=${repo}`, 'init', '--mode=bare-user']);
  for (const [i, b] of builds.entries()) {
    if (existsSync(path.join(repo, 'refs', 'heads', b.name))) continue;
    log(`committing ${b.name}\n`);
    await exec(['ostree', `--repo=${repo}`, 'commit', `--branch=${b.name}`, '--no-bindings', `--timestamp=@${1767225600 + i * 86400}`, `--tree=dir=${b.tree}`]);
  }
  return repo;
}

/** The update's new content objects (in `to`, not in `from`), each gzipped alone (level 6): { objects, raw, floor }. */
async function floorOf(repo, from, to) {
  const objects = async (rev) => {
    const s = await repo.scanTree(rev, '');
    return new Set(Array.from({ length: s.sizes.length }, (_, i) => s.checksums.toString('hex', 32 * i, 32 * i + 32)));
  };
  const before = await objects(from);
  let n = 0;
  let raw = 0;
  let floor = 0;
  for (const c of await objects(to)) {
    if (before.has(c)) continue;
    const info = await repo.queryContent(c);
    const data = info.symlinkTarget !== null ? Buffer.from(info.symlinkTarget) : await repo.readContent(c);
    n++;
    raw += data.length;
    floor += gzipSync(data, { level: 6 }).length;
  }
  return { objects: n, raw, floor };
}

/** The `--contentmeta` file of a build: one component per dpkg package (bench/objectmeta.js --dpkg). */
async function writeContentMeta(repoPath, build, file) {
  const m = await buildObjectMeta(repoPath, build.name, { dpkgRoot: build.tree });
  const layers = Object.fromEntries(m.meta.sizes.map((s) => [s.identifier, s.name]));
  await writeFile(file, JSON.stringify({ version: 1, layers, mapping: Object.fromEntries(m.meta.map) }));
  return m.components;
}

async function main() {
  const { values } = parseArgs({
    options: {
      suite: { type: 'string' }, layers: { type: 'string' }, runs: { type: 'string' }, 'reference-cli': { type: 'string' },
      'no-record': { type: 'boolean' }, note: { type: 'string' }, results: { type: 'string' },
    },
  });
  const suite = values.suite ?? 'bookworm';
  const budgets = (values.layers ?? 'default,64').split(',');
  const runs = Number(values.runs ?? 2);
  const referenceCli = path.resolve(values['reference-cli'] ?? CLI);
  const log = (m) => process.stderr.write(m);
  const { Repo, OciDir } = await import(LIB);

  const builds = await debianUpdates({ suite, log });
  const dir = path.dirname(builds[0].dir);
  const repoPath = await commitBuilds(dir, builds, log);
  const repo = await Repo.open(repoPath);

  const updates = [];
  for (let i = 1; i < builds.length; i++) {
    const file = path.join(dir, `floor-${builds[i].name}.json`);
    if (!existsSync(file)) await writeFile(file, JSON.stringify(await floorOf(repo, builds[i - 1].name, builds[i].name)));
    updates.push({ from: builds[i - 1], to: builds[i], ...JSON.parse(await readFile(file, 'utf8')) });
  }

  // One chain per budget: each build encapsulated with the previous build's manifest.
  const chains = [];
  for (const budget of budgets) {
    const out = path.join(dir, `oci-${budget}`);
    await rm(out, { recursive: true, force: true });
    await mkdir(out, { recursive: true });
    const images = [];
    let prev = null;
    for (const b of builds) {
      const argv = ['node', CLI, 'encapsulate', '--repo', repoPath, '--chunking', 'auto'];
      if (budget !== 'default') argv.push('--max-layers', budget);
      if (prev) argv.push('--previous-build-manifest', prev.manifestFile);
      argv.push(b.name, `oci:${path.join(out, 'layout')}:${b.name}`);
      log(`${argv.slice(2).join(' ')}\n`);
      const t = await measure(argv);
      const { manifest } = await (await OciDir.open(path.join(out, 'layout'))).readManifest(b.name);
      const manifestFile = path.join(out, `${b.name}.manifest.json`);
      await writeFile(manifestFile, JSON.stringify(manifest));
      prev = { manifest, manifestFile, seconds: t.seconds, command: argv.slice(1).map((a) => a.replaceAll(`${ROOT}/`, '')).join(' ') };
      images.push(prev);
    }
    chains.push({ budget, images });
  }

  // Export time: the first build, automatic chunking against the --contentmeta export.
  const cm = path.join(dir, `contentmeta-${builds[0].name}.json`);
  const components = await writeContentMeta(repoPath, builds[0], cm);
  const timing = { ours: [], reference: [] };
  for (let r = 0; r < runs; r++) {
    for (const side of r % 2 ? ['reference', 'ours'] : ['ours', 'reference']) {
      const out = path.join(dir, `time-${side}`);
      await rm(out, { recursive: true, force: true });
      const argv =
        side === 'ours'
          ? ['node', CLI, 'encapsulate', '--repo', repoPath, '--chunking', 'auto', builds[0].name, `oci:${out}`]
          : ['node', referenceCli, 'encapsulate', '--repo', repoPath, '--contentmeta', cm, builds[0].name, `oci:${out}`];
      timing[side].push(await measure(argv));
      await rm(out, { recursive: true, force: true });
    }
  }

  // The report.
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const commit = (await exec(['git', '-C', BENCH_DIR, 'rev-parse', '--short', 'HEAD']).catch(() => '?')).trim();
  const quote = (a) => (/^[\w./:,=@-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`);
  const argvText = `node bench/update-size.js ${process.argv.slice(2).map(quote).join(' ')}`.trim();
  let md = `\n### Update size — Debian ${suite}, automatic chunking (${date} UTC, ${commit})\n\n`;
  md += `Command: \`${argvText}\` on ${cpu} (${os.cpus().length} CPUs, shared). `;
  md += `Builds: ${builds.map((b) => `${b.name} (${b.packages.size} packages, ${b.files} files, ${MB(b.bytes)})`).join('; ')}. `;
  md += `Each build: \`${chains[0].images.at(-1).command}\` (chain \`${chains[0].budget}\`; the others add \`--max-layers N\`).${values.note ? ` ${values.note}` : ''}\n\n`;
  md += '| Update | Packages changed | Layer budget | Layers | Layers reused | Download | Floor (new objects, each gzipped) | Download ÷ floor | Goal | Export time |\n|---|---|---|---|---|---|---|---|---|---|\n';
  const where = [];
  for (const chain of chains) {
    for (const [i, u] of updates.entries()) {
      const prev = chain.images[i].manifest;
      const cur = chain.images[i + 1].manifest;
      const old = new Set(prev.layers.map((l) => l.digest));
      const fresh = cur.layers.filter((l) => !old.has(l.digest));
      const download = fresh.reduce((a, l) => a + l.size, 0);
      const ratio = download / u.floor;
      const goal = chain.budget === 'default' ? 1.15 : 1.3;
      md += tableRow([
        `${u.from.name} → ${u.to.name}`, `${u.to.changed.length} (${u.to.changed.join(' ')})`, chain.budget, cur.layers.length,
        cur.layers.length - fresh.length, MB(download), `${MB(u.floor)} (${u.objects} objects, ${MB(u.raw)} raw)`, ratio.toFixed(3),
        `≤ ${goal}: ${ratio <= goal ? 'met' : '**missed**'}`, `${chain.images[i + 1].seconds.toFixed(1)} s`,
      ]);
      const top = fresh
        .sort((a, b) => b.size - a.size)
        .slice(0, 8)
        .map((l) => `${(l.annotations?.['ostree.components'] ?? 'commit layer').split(',').slice(0, 3).join(',') || 'reserved'} ${MB(l.size)}`);
      where.push(`- ${u.from.name} → ${u.to.name}, budget ${chain.budget}: ${fresh.length} layers downloaded, largest: ${top.join('; ')}`);
    }
  }
  const secs = (side) => median(timing[side].map((t) => t.seconds));
  md += `\nWhere the bytes go (layers the previous image lacks, largest first; a name is a layer's first components):\n\n${where.join('\n')}\n\n`;
  md += `Export time of the ${builds[0].name} build (median of ${runs}, alternating): \`--chunking auto\` ${secs('ours').toFixed(1)} s `;
  md += `against \`--contentmeta\` (${components} components, ${referenceCli.startsWith(`${ROOT}/`) ? 'this checkout' : referenceCli}) ${secs('reference').toFixed(1)} s `;
  md += `(ratio ${(secs('ours') / secs('reference')).toFixed(3)}; peak RSS ${Math.max(...timing.ours.map((t) => t.rssKiB)) >> 10} / ${Math.max(...timing.reference.map((t) => t.rssKiB)) >> 10} MiB).\n`;
  process.stdout.write(md);
  if (!values['no-record']) await appendFile(values.results ?? path.join(BENCH_DIR, 'RESULTS.md'), md);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
