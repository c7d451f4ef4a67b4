// Benchmark runner: times a command of ours against a reference C tool in the same run (alternating
// order, fresh output each time), reports medians, the ratio and peak RSS, and appends a row to
// bench/RESULTS.md with the exact command line.
//
//   node bench/run.js commit [--files 50000] [--size 1G] [--seed 1] [--tree DIR] [--runs 4] [--mode bare-user]
//   node bench/run.js export-gzip|export-zstd|import-gzip [--files N] [--size S] [--seed N] [--runs 4] [--mode bare-user] [--parallel N]
//   node bench/run.js pull-registry [corpus options] [--runs 4] [--mode bare-user] [--reference-cli OTHER/lib/cli/main.js]
//   node bench/run.js custom --ours 'CMD' --reference 'CMD' [--runs 4] [--label TEXT]
//   export-*/import-*/pull-registry: [--os SUITE] a Debian tree (bench/debian-tree.js) instead of the corpus
//   common: [--no-record] [--note TEXT] [--results FILE] [--quiet-wait SECONDS] [--prepare (make the inputs only)]
//           [--no-reference (time our side only, e.g. for a peak-memory row)]
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BENCH_DIR, DEFAULTS, corpusDir, generateCorpus, parseSize } from './corpus.js';
import { debianTree } from './debian-tree.js';
import { startRegistry } from './registry.js';

const TIME = '/usr/bin/time';

/**
 * Runs argv under /usr/bin/time; resolves to wall seconds (measured here, around the child only),
 * CPU seconds (user + system), peak RSS in KiB and the child's stdout. Fails with the command and its stderr.
 */
export async function measure(argv, { cwd, env } = {}) {
  if (!existsSync(TIME)) throw new Error(`${TIME} is missing (Debian/Fedora package "time"; scripts/install-deps.sh installs it)`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-time-'));
  const out = path.join(dir, 'time');
  try {
    const t0 = process.hrtime.bigint();
    const { code, stdout, stderr } = await new Promise((resolve, reject) => {
      const child = spawn(TIME, ['-f', '%M %U %S', '-o', out, ...argv], { cwd, env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
      const o = [];
      const e = [];
      child.stdout.on('data', (b) => o.push(b));
      child.stderr.on('data', (b) => e.push(b));
      child.on('error', reject);
      child.on('close', (c) => resolve({ code: c, stdout: Buffer.concat(o).toString(), stderr: Buffer.concat(e).toString() }));
    });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (code !== 0) throw new Error(`${argv.join(' ')}: exit status ${code}: ${stderr.trim()}`);
    const [rssKiB, user, sys] = (await readFile(out, 'utf8')).trim().split('\n').pop().split(' ').map(Number);
    return { seconds, cpuSeconds: user + sys, rssKiB, stdout };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export const loadavg = () => os.loadavg()[0].toFixed(2);

/** Busy CPU seconds of the whole machine so far (all CPUs, from /proc/stat). */
export async function machineBusySeconds() {
  const [, user, nice, system, , , irq, softirq, steal] = (await readFile('/proc/stat', 'utf8')).split('\n')[0].trim().split(/\s+/).map(Number);
  return (user + nice + system + irq + softirq + steal) / 100; // USER_HZ
}

/**
 * Waits (up to `maxSeconds`) until other work uses less than `threshold` CPUs over a 2 s window, so a
 * timed command does not start in the middle of someone else's burst. Returns the seconds waited.
 */
export async function waitForQuiet(maxSeconds, threshold = 0.3) {
  const t0 = Date.now();
  while ((Date.now() - t0) / 1000 < maxSeconds) {
    const before = await machineBusySeconds();
    await new Promise((r) => setTimeout(r, 2000));
    if ((await machineBusySeconds()) - before < 2 * threshold) break;
  }
  return (Date.now() - t0) / 1000;
}

export function syncFs() {
  return new Promise((resolve, reject) => {
    spawn('sync', { stdio: 'ignore' }).on('error', reject).on('close', resolve);
  });
}

/** Reads every file once so neither side pays for a cold page cache. */
export async function warmTree(root) {
  let bytes = 0;
  const walk = async (d) => {
    for (const ent of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, ent.name);
      if (ent.isDirectory()) await walk(p);
      else if (ent.isFile()) bytes += (await readFile(p)).length;
    }
  };
  await walk(root);
  return bytes;
}

async function dirBytes(root) {
  return (await treeStats(root)).bytes;
}

async function treeStats(root) {
  let files = 0;
  let bytes = 0;
  const walk = async (d) => {
    for (const ent of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, ent.name);
      if (ent.isDirectory()) await walk(p);
      else if (ent.isFile()) { files++; bytes += (await stat(p)).size; }
    }
  };
  await walk(root);
  return { files, bytes };
}

const ostree = (repo, args) => measure(['ostree', `--repo=${repo}`, ...args]).then((r) => r.stdout);
const sh = (script) => ['bash', '-o', 'pipefail', '-c', script];
const q = (s) => `'${s.replaceAll("'", "'\\''")}'`;
const MiB = (n) => `${(n / 1024 ** 2).toFixed(0)} MiB`;
const CLI = path.join(BENCH_DIR, '..', 'lib', 'cli', 'main.js');

/** Runs a (setup) command to completion, failing with its stderr. */
const run = (argv) => measure(argv).then((r) => r.stdout);

/** Commits `tree` once into `dir/repo-<mode>` (ref `bench`, no bindings, timestamp 0); returns the commit. */
async function committedTree(dir, tree, mode) {
  const repo = path.join(dir, `repo-${mode}`);
  if (!existsSync(path.join(repo, 'refs', 'heads', 'bench'))) {
    process.stderr.write(`committing ${tree} into ${repo}\n`);
    await rm(repo, { recursive: true, force: true });
    await ostree(repo, ['init', `--mode=${mode}`]);
    await ostree(repo, ['commit', '--branch=bench', '--no-bindings', '--timestamp=@0', `--tree=dir=${tree}`]);
  }
  return { repo, rev: (await ostree(repo, ['rev-parse', 'bench'])).trim() };
}

/**
 * The input of the export and import entries, committed by `ostree commit` (ref `bench`) into a repo
 * of `--mode`, plus its component mapping (bench/objectmeta.js), both made once and kept next to
 * the tree: the generated corpus (the same commit as the `commit` entry writes), or with `--os
 * SUITE` a Debian tree built by debootstrap (bench/debian-tree.js; components by package). Its
 * objects are read once so no side pays for a cold page cache.
 */
export async function committedCorpus(o) {
  const log = (m) => process.stderr.write(m.endsWith('\n') ? m : `${m}\n`);
  let dir;
  let tree;
  let describe;
  const metaArgs = [];
  if (o.os) {
    const t = await debianTree({ suite: o.os, log });
    ({ dir, tree } = t);
    metaArgs.push('--dpkg', tree);
    describe = `Debian ${t.suite} (debootstrap minbase + ${t.packages.length} packages, ${t.installed} installed): ${t.files} files, ${MiB(t.bytes)}`;
  } else {
    const c = await generateCorpus({ files: o.files, size: o.size, seed: o.seed, out: corpusDir(o), log });
    dir = corpusDir(o);
    tree = c.tree;
    describe = `corpus seed ${o.seed}: ${c.files} files, ${(c.bytes / 1024 ** 3).toFixed(2)} GiB`;
  }
  const { repo, rev } = await committedTree(dir, tree, o.mode);
  const metaFile = path.join(dir, `objectmeta-${o.mode}.json`);
  if (!existsSync(metaFile)) {
    await run([process.execPath, path.join(BENCH_DIR, 'objectmeta.js'), repo, rev, `${metaFile}.tmp`, ...metaArgs]);
    await rename(`${metaFile}.tmp`, metaFile);
  }
  const meta = JSON.parse(await readFile(metaFile, 'utf8'));
  process.stderr.write(`warming the page cache: ${MiB(await warmTree(repo))} of repo read\n`);
  const input = `${describe}, committed in a ${o.mode} repo (${rev.slice(0, 12)}…); ${meta.components} components, ${meta.objects} content objects`;
  return { dir, repo, rev, metaFile, input, objects: meta.objects };
}

/** Fresh, empty output locations for the two sides. */
function outputs() {
  const work = path.join(BENCH_DIR, 'work', 'out');
  const of = (side) => path.join(work, side);
  return {
    of,
    fresh: async (side) => {
      await rm(of(side), { recursive: true, force: true });
      await mkdir(work, { recursive: true });
    },
    drop: (side) => rm(of(side), { recursive: true, force: true }),
    cleanup: () => rm(work, { recursive: true, force: true }),
  };
}

/** `node bench/encapsulate-ours.js …` output: digest, layer count, compressed bytes, seconds after start-up, RSS with the mapping loaded. */
function parseOurExport(stdout) {
  const [digest, layers, bytes, seconds, baseRssKiB] = stdout.trim().split('\n').pop().split(' ');
  return { digest, layers: Number(layers), bytes: Number(bytes), seconds: Number(seconds), baseRssKiB: Number(baseRssKiB) };
}

/** A chunked export to `oci:` against `ostree export REV | <compressor>` into one file. */
async function exportEntry(o, compression, compressor) {
  const c = await committedCorpus(o);
  const out = outputs();
  const ourArgs = [c.repo, c.rev, c.metaFile, out.of('ours'), compression, ...(o.parallel ? [String(o.parallel)] : [])];
  return {
    title: `chunked export to oci: (${compression}, maxLayers 64) of a ${o.mode} repo`,
    input: c.input,
    ours: {
      label: `encapsulate() to oci: (bench/encapsulate-ours.js${o.parallel ? `, parallelism ${o.parallel}` : ''})`,
      setup: () => out.fresh('ours'),
      after: () => out.drop('ours'),
      argv: () => [process.execPath, '--expose-gc', path.join(BENCH_DIR, 'encapsulate-ours.js'), ...ourArgs],
    },
    reference: {
      label: `ostree export | ${compressor}`,
      setup: () => out.fresh('reference'),
      after: () => out.drop('reference'),
      argv: () => sh(`ostree --repo=${q(c.repo)} export ${c.rev} | ${compressor} > ${q(out.of('reference'))} && stat -c %s ${q(out.of('reference'))}`),
    },
    check: (oursOut, refOut) => {
      const ours = parseOurExport(oursOut);
      if (!(ours.layers > 1)) throw new Error(`our export is not chunked: ${oursOut.trim()}`);
      return `ours ${ours.layers} layers, ${MiB(ours.bytes)} (${ours.seconds.toFixed(2)} s after start-up; ${(ours.baseRssKiB / 1024).toFixed(0)} MiB resident with the mapping loaded); reference one ${MiB(Number(refOut.trim()))} stream`;
    },
    // The caller's own share of our peak RSS: the process with the content mapping loaded.
    baseRssKiB: (oursOut) => parseOurExport(oursOut).baseRssKiB,
    objects: c.objects,
    cleanup: out.cleanup,
  };
}

/**
 * Import inputs made once per corpus and compression: our chunked `oci:` image of the commit, and
 * `ostree export | pigz -6` of it for the reference.
 */
async function importInputs(o, c) {
  const oci = path.join(c.dir, `oci-gzip-${o.mode}`);
  if (!existsSync(path.join(oci, 'index.json'))) {
    await rm(oci, { recursive: true, force: true });
    await run([process.execPath, path.join(BENCH_DIR, 'encapsulate-ours.js'), c.repo, c.rev, c.metaFile, oci, 'gzip']);
  }
  const tarGz = path.join(c.dir, `export-${o.mode}.tar.gz`);
  if (!existsSync(tarGz)) {
    await run(sh(`ostree --repo=${q(c.repo)} export ${c.rev} | pigz -p2 -6 > ${q(`${tarGz}.tmp`)}`));
    await rename(`${tarGz}.tmp`, tarGz);
  }
  await warmTree(oci);
  await run(sh(`cat ${q(tarGz)} > /dev/null`));
  return { oci, tarGz };
}

/** Entries: each prepares its input and yields, per side, a setup step, the timed argv and a result check. */
/** Per-side scratch repositories under bench/work/repos: `fresh(side)` makes an empty one. */
export function sideRepos(o) {
  const work = path.join(BENCH_DIR, 'work', 'repos');
  const repoFor = (side) => path.join(work, side);
  const fresh = async (side) => {
    await rm(repoFor(side), { recursive: true, force: true });
    await mkdir(work, { recursive: true });
    await ostree(repoFor(side), ['init', `--mode=${o.mode}`]);
  };
  return { work, repoFor, fresh };
}

const ENTRIES = {
  async commit(o) {
    let tree;
    let input;
    if (o.tree) {
      tree = path.resolve(o.tree);
      const s = await treeStats(tree);
      input = `\`${tree}\` (${s.files} files, ${(s.bytes / 1024 ** 3).toFixed(2)} GiB)`;
    } else {
      const c = await generateCorpus({ files: o.files, size: o.size, seed: o.seed, out: corpusDir(o), log: (m) => process.stderr.write(`${m}\n`) });
      tree = c.tree;
      input = `corpus seed ${o.seed}: ${c.files} files, ${(c.bytes / 1024 ** 3).toFixed(2)} GiB, ${c.symlinks} symlinks, ${c.hardlinks} hardlinks`;
    }
    process.stderr.write(`warming the page cache: ${((await warmTree(tree)) / 1024 ** 2).toFixed(0)} MiB read\n`);
    const { work, repoFor, fresh } = sideRepos(o);
    // Same timestamp, no metadata, no ref binding: both sides must write the very same commit.
    const commitArgs = ['--branch=bench', '--no-bindings', '--timestamp=@0'];
    return {
      title: `commit a directory into a ${o.mode} repo`,
      input,
      ours: {
        label: 'ostree-container (Repo binding)',
        setup: () => fresh('ours'),
        after: () => rm(repoFor('ours'), { recursive: true, force: true }),
        argv: () => [process.execPath, path.join(BENCH_DIR, 'commit-ours.js'), repoFor('ours'), tree],
      },
      reference: {
        label: 'ostree commit',
        setup: () => fresh('reference'),
        after: () => rm(repoFor('reference'), { recursive: true, force: true }),
        argv: () => ['ostree', `--repo=${repoFor('reference')}`, 'commit', ...commitArgs, `--tree=dir=${tree}`],
      },
      // The commit checksum printed by each side (last line of stdout) must agree.
      check: (oursOut, refOut) => {
        const a = oursOut.trim().split('\n').pop();
        const b = refOut.trim().split('\n').pop();
        if (a !== b) throw new Error(`the two sides wrote different commits: ours ${a}, reference ${b}`);
        return `both wrote commit ${a.slice(0, 12)}…`;
      },
      cleanup: () => rm(work, { recursive: true, force: true }),
    };
  },

  'export-gzip': (o) => exportEntry(o, 'gzip', 'pigz -p2 -6'),
  'export-zstd': (o) => exportEntry(o, 'zstd', 'zstd -q -T2 -3 -c'),

  async 'import-gzip'(o) {
    const c = await committedCorpus(o);
    const { oci, tarGz } = await importInputs(o, c);
    const { work, repoFor, fresh } = sideRepos(o);
    const drop = (side) => rm(repoFor(side), { recursive: true, force: true });
    return {
      title: `import from oci: (gzip layers) into an empty ${o.mode} repo`,
      input: `${c.input}; our chunked gzip image ${MiB(await dirBytes(oci))}, reference \`ostree export | pigz -6\` ${MiB((await stat(tarGz)).size)}`,
      ours: {
        label: 'ostree-container unencapsulate (CLI, skopeo proxy)',
        setup: () => fresh('ours'),
        after: () => drop('ours'),
        argv: () => [process.execPath, CLI, 'unencapsulate', `--repo=${repoFor('ours')}`, '--quiet', `ostree-unverified-image:oci:${oci}`],
      },
      reference: {
        label: 'gunzip -c | ostree commit --tree=tar=/dev/stdin',
        setup: () => fresh('reference'),
        after: () => drop('reference'),
        argv: () => sh(`gunzip -c ${q(tarGz)} | ostree --repo=${q(repoFor('reference'))} commit --branch=bench --no-bindings --timestamp=@0 --tree=tar=/dev/stdin`),
      },
      check: (oursOut, refOut) => {
        const ours = /Imported: ([0-9a-f]{64})/.exec(oursOut)?.[1];
        if (ours !== c.rev) throw new Error(`our import gave commit ${ours ?? oursOut.trim()}, not the source commit ${c.rev}`);
        return `ours imported the source commit ${c.rev.slice(0, 12)}…; reference committed ${refOut.trim().split('\n').pop().slice(0, 12)}… (a new commit of the same tree)`;
      },
      objects: c.objects,
      cleanup: () => rm(work, { recursive: true, force: true }),
    };
  },

  async 'pull-registry'(o) {
    const c = await committedCorpus(o);
    const { oci } = await importInputs(o, c);
    const registry = await startRegistry();
    const image = `${registry.host}/bench/corpus:gzip`;
    await run(['skopeo', 'copy', '--dest-tls-verify=false', `oci:${oci}`, `docker://${image}`]);
    const { work, repoFor, fresh } = sideRepos(o);
    const fetched = path.join(work, 'fetched-oci');
    const drop = async (side) => {
      await rm(repoFor(side), { recursive: true, force: true });
      await rm(fetched, { recursive: true, force: true });
    };
    const merge = (out) => /Wrote: \S+ => ([0-9a-f]{64})/.exec(out)?.[1];
    return {
      title: `pull the chunked gzip image from a local registry into an empty ${o.mode} repo`,
      input: `${c.input}; our chunked gzip image ${MiB(await dirBytes(oci))} pushed to docker-registry on 127.0.0.1`,
      ours: {
        label: 'ostree-container image pull (layers fetched and imported in parallel)',
        setup: () => fresh('ours'),
        after: () => drop('ours'),
        argv: () => [process.execPath, CLI, 'image', 'pull', repoFor('ours'), `ostree-unverified-registry:${image}`, '--insecure-skip-tls-verification', '--quiet'],
      },
      // --reference-cli: the same pull by another build (e.g. main's lib/cli/main.js): before/after.
      reference: o.referenceCli
        ? {
            label: `ostree-container image pull by ${o.referenceCli}`,
            setup: () => fresh('reference'),
            after: () => drop('reference'),
            argv: () => [process.execPath, o.referenceCli, 'image', 'pull', repoFor('reference'), `ostree-unverified-registry:${image}`, '--insecure-skip-tls-verification', '--quiet'],
          }
        : {
            label: 'skopeo copy docker://… oci:DIR, then ostree-container image pull from oci:DIR',
            setup: () => fresh('reference'),
            after: () => drop('reference'),
            argv: () =>
              sh(
                `skopeo copy -q --src-tls-verify=false docker://${image} oci:${q(fetched)} && ` +
                  `node ${q(CLI)} image pull ${q(repoFor('reference'))} ostree-unverified-image:oci:${q(fetched)} --quiet`,
              ),
          },
      // The manifest is the same on both sides, so the merge commits must be too.
      check: (oursOut, refOut) => {
        const a = merge(oursOut);
        const b = merge(refOut);
        if (!a || a !== b) throw new Error(`merge commits differ: ours ${a ?? oursOut.trim()}, reference ${b ?? refOut.trim()}`);
        return `both wrote merge commit ${a.slice(0, 12)}…`;
      },
      cleanup: async () => {
        await rm(work, { recursive: true, force: true });
        await registry.stop();
      },
    };
  },

  async custom(o) {
    if (!o.ours || !o.reference) throw new Error('custom: --ours and --reference are required');
    return {
      title: o.label ?? 'custom commands',
      input: '-',
      ours: { label: o.ours, setup: async () => {}, argv: () => ['sh', '-c', o.ours] },
      reference: { label: o.reference, setup: async () => {}, argv: () => ['sh', '-c', o.reference] },
      check: () => 'not checked',
      cleanup: async () => {},
    };
  },
};

const fmtS = (s) => `${s.toFixed(2)} s`;
const fmtMiB = (kib) => `${(kib / 1024).toFixed(0)} MiB`;

/** The head of a table of {@link bench} rows. */
export const TABLE_HEADER = `| Date (UTC) | Entry | Input | Runs | Ours (median) | Reference (median) | Ratio | CPU ours / reference (ratio) | Ours peak RSS | Reference peak RSS | Load | Check | Notes | Command |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
`;

const RESULTS_HEADER = `# Benchmark results

Each row: one \`node bench/run.js …\` invocation (the exact command is in the last column). Both sides run
in the same invocation, alternating order, each on fresh output. Times are medians of wall time; the ratio
is ours ÷ reference (below 1 = we are faster), "paired" the median of per-run ratios (each run's two sides
ran back to back). CPU is the median user+system time per side: it leaves out time spent waiting for other
work, but system time still grows with filesystem contention. RSS is the highest peak resident set of any
run of that side (\`/usr/bin/time -f %M\`). "Load" is the 1-minute load average before → after on this
shared 2-core machine, then the CPUs other processes used during each timed run (from /proc/stat).

${TABLE_HEADER}`;

/** A markdown table row of `cells` (pipes escaped, one line). */
export function tableRow(cells) {
  const esc = (s) => String(s).replaceAll('|', '\\|').replaceAll('\n', ' ');
  return `| ${cells.map(esc).join(' | ')} |\n`;
}

async function appendResult(file, row) {
  if (!existsSync(file)) {
    await writeFile(file, RESULTS_HEADER);
  }
  await appendFile(file, tableRow(row));
}

/**
 * Runs one entry as `node bench/run.js ARGV…` would, prints and (unless --no-record) records its
 * row; resolves to the numbers: medians, ratios, peak RSS per side, content objects, and (export
 * entries) our RSS with the caller's mapping loaded, one value per run.
 */
export async function bench(argv) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      files: { type: 'string' }, size: { type: 'string' }, seed: { type: 'string' }, tree: { type: 'string' },
      runs: { type: 'string' }, mode: { type: 'string' }, ours: { type: 'string' }, reference: { type: 'string' },
      label: { type: 'string' }, note: { type: 'string' }, results: { type: 'string' }, 'no-record': { type: 'boolean' },
      'quiet-wait': { type: 'string' }, parallel: { type: 'string' }, os: { type: 'string' }, prepare: { type: 'boolean' },
      'no-reference': { type: 'boolean' }, 'reference-cli': { type: 'string' },
    },
  });
  const name = positionals[0];
  if (!name || !(name in ENTRIES) || positionals.length > 1) {
    throw new Error(`usage: node bench/run.js <${Object.keys(ENTRIES).join('|')}> [options] (see the top of bench/run.js)`);
  }
  const o = {
    files: Number(values.files ?? DEFAULTS.files),
    size: values.size ? parseSize(values.size) : DEFAULTS.size,
    seed: Number(values.seed ?? DEFAULTS.seed),
    tree: values.tree,
    runs: Number(values.runs ?? 4),
    quietWait: Number(values['quiet-wait'] ?? 0),
    mode: values.mode ?? 'bare-user',
    ours: values.ours, reference: values.reference, label: values.label,
    parallel: values.parallel === undefined ? undefined : Number(values.parallel),
    os: values.os,
    referenceCli: values['reference-cli'] && path.resolve(values['reference-cli']),
  };
  if (!Number.isInteger(o.runs) || o.runs < 1) throw new Error(`--runs must be a positive integer, got ${values.runs}`);
  if (o.runs % 2) process.stderr.write(`note: with an odd --runs, ours goes first ${(o.runs + 1) / 2} times of ${o.runs}\n`);
  if (!Number.isInteger(o.files) || o.files < 1) throw new Error(`--files must be a positive integer, got ${values.files}`);
  const entry = await ENTRIES[name](o);
  const noReference = Boolean(values['no-reference']);
  // --prepare: only make the entry's inputs (kept under bench/work/), time nothing.
  if (values.prepare) {
    await entry.cleanup();
    return null;
  }
  const loadBefore = loadavg();
  const times = { ours: [], reference: [] };
  const cpu = { ours: [], reference: [] };
  const other = { ours: [], reference: [] };
  const rss = { ours: 0, reference: 0 };
  const baseRssKiB = [];
  let checked = '';
  try {
    for (let i = 0; i < o.runs; i++) {
      // Alternate which side goes first so drift (caches, other load) hits both alike.
      const order = (i % 2 === 0 ? ['ours', 'reference'] : ['reference', 'ours']).filter((side) => side === 'ours' || !noReference);
      const outs = {};
      for (const side of order) {
        await entry[side].setup();
        // Start each side from a clean disk state: the previous side's output is already deleted
        // (below), and its writeback and journal work flushed here, outside the timing.
        await syncFs();
        if (o.quietWait > 0) await waitForQuiet(o.quietWait);
        const busyBefore = await machineBusySeconds();
        const r = await measure(entry[side].argv());
        // CPU the rest of the machine used meanwhile, in CPUs (0 = alone, 2 = both cores taken).
        const foreign = Math.max(0, (await machineBusySeconds()) - busyBefore - r.cpuSeconds) / r.seconds;
        other[side].push(foreign);
        await entry[side].after?.();
        times[side].push(r.seconds);
        cpu[side].push(r.cpuSeconds);
        if (side === 'ours' && entry.baseRssKiB) baseRssKiB.push(entry.baseRssKiB(r.stdout));
        rss[side] = Math.max(rss[side], r.rssKiB);
        outs[side] = r.stdout;
        process.stderr.write(
          `run ${i + 1}/${o.runs} ${side}: ${fmtS(r.seconds)}, CPU ${fmtS(r.cpuSeconds)}, peak RSS ${fmtMiB(r.rssKiB)}, other load ${foreign.toFixed(2)} CPUs\n`,
        );
      }
      checked = noReference ? 'reference not run (--no-reference)' : entry.check(outs.ours, outs.reference);
    }
  } finally {
    await entry.cleanup();
  }
  const m = { ours: median(times.ours), reference: median(times.reference) };
  const ratio = m.ours / m.reference;
  const c = { ours: median(cpu.ours), reference: median(cpu.reference) };
  // Each run's two sides ran back to back, so the median of per-run ratios resists slow load swings.
  const paired = median(times.ours.map((t, i) => t / times.reference[i]));
  const cpuRatio = c.reference > 0 ? (c.ours / c.reference).toFixed(3) : '-';
  // With --no-reference the reference's cells read '-'.
  const opt = (x, f) => (Number.isFinite(x) && !noReference ? f(x) : '-');
  const fix3 = (x) => x.toFixed(3);
  const otherLoad = `ours ${other.ours.map((x) => x.toFixed(2)).join('/')}, reference ${other.reference.map((x) => x.toFixed(2)).join('/')} CPUs`;
  const loadAfter = loadavg();
  const command = `node bench/run.js ${argv.map((a) => (/[^\w./=:@-]/.test(a) ? `'${a.replaceAll("'", "'\\''")}'` : a)).join(' ')}`;
  const summary = [
    `${name}: ${entry.title}`,
    `input:     ${entry.input}`,
    `ours:      ${entry.ours.label}: median ${fmtS(m.ours)} (${times.ours.map(fmtS).join(', ')}), CPU ${fmtS(c.ours)}, peak RSS ${fmtMiB(rss.ours)}`,
    `reference: ${entry.reference.label}: median ${opt(m.reference, fmtS)} (${times.reference.map(fmtS).join(', ')}), CPU ${opt(c.reference, fmtS)}, peak RSS ${opt(rss.reference, fmtMiB)}`,
    `ratio:     ${opt(ratio, fix3)} wall (median of per-run ratios ${opt(paired, fix3)}), ${cpuRatio} CPU (ours / reference)`,
    `check:     ${checked}`,
    `load:      ${loadBefore} → ${loadAfter} (1-min average, ${os.cpus().length} CPUs); other work during the timed runs: ${otherLoad}`,
  ].join('\n');
  process.stdout.write(`${summary}\n`);
  const row = [
    new Date().toISOString().slice(0, 16).replace('T', ' '), `${name}: ${entry.title}`, entry.input, o.runs,
    fmtS(m.ours), opt(m.reference, fmtS), noReference ? '-' : `${fix3(ratio)} (paired ${fix3(paired)})`, `${fmtS(c.ours)} / ${opt(c.reference, fmtS)} (${cpuRatio})`,
    fmtMiB(rss.ours), opt(rss.reference, fmtMiB),
    `${loadBefore} → ${loadAfter}; other work per run: ${otherLoad}`, checked, values.note ?? '', `\`${command}\``,
  ];
  if (!values['no-record']) {
    const file = path.resolve(values.results ?? path.join(BENCH_DIR, 'RESULTS.md'));
    await appendResult(file, row);
    process.stdout.write(`recorded in ${path.relative(process.cwd(), file) || file}\n`);
  }
  return {
    name, input: entry.input, objects: entry.objects, seconds: m, cpuSeconds: c, ratio, paired,
    rssKiB: rss, baseRssKiB, times, row, command,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  bench(process.argv.slice(2)).catch((e) => {
    process.stderr.write(`error: ${e.message}\n`);
    process.exitCode = 1;
  });
}
