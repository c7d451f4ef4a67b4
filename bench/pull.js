// Issue 19's pull rows in one run, end to end through the CLI as a user runs it: the Debian bench
// image (bench/debian-tree.js, chunked gzip, 139 + 1 layers) pushed to a local docker-registry and
// pulled into an empty bare-user repo
//
//   ours            ostree-container image pull REPO ostree-unverified-registry:127.0.0.1:P/…
//   ours-relay      the same through bench/relay.js (20 ms each way, 400 Mbit/s each way)
//   skopeo+import   skopeo copy docker://… oci:DIR, then ostree-container image pull from oci:DIR
//   upstream        (with --upstream BIN) ostree-ext-cli container image pull, direct
//   upstream-relay  (with --upstream BIN) the same through the relay
//
// Every run starts each side on a new empty repo after `sync`, in a rotating order. Targets: ours-relay
// ≤ 1.25 × ours; ours ≤ 0.8 × skopeo+import; peak RSS of ours ≤ 64 MiB (/usr/bin/time's maximum
// resident set of the process tree's largest member). Appends a section to bench/RESULTS.md with the
// command, the CPU model and the date. Our side runs lib/: `npm run build:ts` first.
//
//   node bench/pull.js [--runs 3] [--os bookworm] [--max-layers 139] [--delay-ms 20] [--rate-mbit 400]
//                      [--upstream PATH] [--quiet-wait S] [--note TEXT] [--results FILE] [--no-record]
//                      [--sides ours,ours-relay,…] [--prepare]
import { readFileSync, existsSync } from 'node:fs';
import { appendFile, readFile, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_DIR } from './corpus.js';
import { startRegistry } from './registry.js';
import { spawnRelay } from './relay.js';
import { committedCorpus, loadavg, machineBusySeconds, measure, median, sideRepos, syncFs, waitForQuiet, warmTree } from './run.js';

const TARGETS = { relay: 1.25, skopeo: 0.8, rssMiB: 64 };
const CLI = path.join(BENCH_DIR, '..', 'lib', 'cli', 'main.js');
const q = (s) => `'${s.replaceAll("'", "'\\''")}'`;

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' }, os: { type: 'string', default: 'bookworm' }, 'max-layers': { type: 'string', default: '139' },
    'delay-ms': { type: 'string', default: '20' }, 'rate-mbit': { type: 'string', default: '400' }, upstream: { type: 'string' },
    'quiet-wait': { type: 'string', default: '0' }, note: { type: 'string' }, results: { type: 'string' }, 'no-record': { type: 'boolean' },
    sides: { type: 'string' }, prepare: { type: 'boolean' },
  },
});
const runs = Number(values.runs);
const o = { os: values.os, mode: 'bare-user' };
const maxLayers = Number(values['max-layers']);

/** The chunked gzip image of the Debian tree, made once next to it. */
async function benchImage() {
  const c = await committedCorpus(o);
  const oci = path.join(c.dir, `oci-gzip-${o.mode}-max${maxLayers}`);
  if (!existsSync(path.join(oci, 'index.json'))) {
    await rm(oci, { recursive: true, force: true });
    await measure([process.execPath, path.join(BENCH_DIR, 'encapsulate-ours.js'), c.repo, c.rev, c.metaFile, `${oci}.tmp`, 'gzip', '', String(maxLayers)]);
    await rename(`${oci}.tmp`, oci);
  }
  const index = JSON.parse(await readFile(path.join(oci, 'index.json'), 'utf8'));
  const manifest = JSON.parse(await readFile(path.join(oci, 'blobs', ...index.manifests[0].digest.split(':')), 'utf8'));
  const bytes = manifest.layers.reduce((n, l) => n + l.size, 0);
  return { oci, input: `${c.input}; chunked gzip image: ${manifest.layers.length} layers, ${(bytes / 1e6).toFixed(0)} MB`, layers: manifest.layers.length };
}

const image = await benchImage();
if (values.prepare) process.exit(0);
await warmTree(image.oci);
const registry = await startRegistry();
const ref = `${registry.host}/bench/debian:gzip`;
await measure(['skopeo', 'copy', '-q', '--dest-tls-verify=false', `oci:${image.oci}`, `docker://${ref}`]);
const relay = await spawnRelay({ target: registry.host, delayMs: Number(values['delay-ms']), rateMbit: Number(values['rate-mbit']) });
const relayed = `${relay.host}/bench/debian:gzip`;

const { work, repoFor, fresh } = sideRepos(o);
const fetched = path.join(work, 'fetched-oci');
// The command as a user runs it: lib/cli/main.js through its #! line (its V8 and malloc settings).
const ourPull = () => [CLI, 'image', 'pull', '--quiet', '--insecure-skip-tls-verification'];
const SIDES = {
  ours: {
    label: 'ostree-container image pull (registry on 127.0.0.1)',
    argv: (repo) => [...ourPull(), repo, `ostree-unverified-registry:${ref}`],
  },
  'ours-relay': {
    label: `the same through bench/relay.js (${values['delay-ms']} ms each way, ${values['rate-mbit']} Mbit/s)`,
    argv: (repo) => [...ourPull(), repo, `ostree-unverified-registry:${relayed}`],
  },
  'skopeo+import': {
    label: 'skopeo copy docker://… oci:DIR, then ostree-container image pull from oci:DIR',
    argv: (repo) => [
      'bash', '-o', 'pipefail', '-c',
      `rm -rf ${q(fetched)} && skopeo copy -q --src-tls-verify=false docker://${ref} oci:${q(fetched)} && ` +
        `${q(CLI)} image pull --quiet ${q(repo)} ostree-unverified-image:oci:${q(fetched)}`,
    ],
  },
};
if (values.upstream) {
  const up = path.resolve(values.upstream);
  SIDES.upstream = { label: `upstream ${path.basename(up)} container image pull`, argv: (repo) => [up, 'container', 'image', 'pull', '--quiet', '--insecure-skip-tls-verification', repo, `ostree-unverified-registry:${ref}`] };
  SIDES['upstream-relay'] = { label: 'upstream through the relay', argv: (repo) => [up, 'container', 'image', 'pull', '--quiet', '--insecure-skip-tls-verification', repo, `ostree-unverified-registry:${relayed}`] };
}
const names = values.sides ? values.sides.split(',') : Object.keys(SIDES);
for (const n of names) if (!SIDES[n]) throw new Error(`unknown side ${n} (have: ${Object.keys(SIDES).join(', ')})`);

/** The merge commit's root tree (dirtree + dirmeta): the same for every side, whatever its metadata. */
async function mergeRoot(repo, stdout) {
  const merge = /Wrote: \S+ => ([0-9a-f]{64})/.exec(stdout)?.[1];
  if (!merge) throw new Error(`no merge commit in: ${stdout.trim().slice(-300)}`);
  const ls = (await measure(['ostree', `--repo=${repo}`, 'ls', '-C', '-d', merge, '/'])).stdout.trim();
  return { merge, root: ls.split(/\s+/).filter((t) => /^[0-9a-f]{64}$/.test(t)).join(' ') };
}

const loadBefore = loadavg();
const res = Object.fromEntries(names.map((n) => [n, { times: [], cpu: [], rss: 0, other: [] }]));
const checks = new Map();
const made = [];
try {
  for (let i = 0; i < runs; i++) {
    // Rotate the order so drift (caches, other load) hits every side alike.
    const order = names.map((_, k) => names[(k + i) % names.length]);
    for (const n of order) {
      // A repository per side and run, all removed at the end: on an ext4 without a journal (this
      // machine's), inodes freed in the last 30 s are skipped when allocating new ones, and the scan
      // past 16,000 just-deleted inodes cost whichever side ran next up to 3 s of system time.
      const repo = repoFor(`${n}-${i + 1}`);
      await fresh(`${n}-${i + 1}`);
      made.push(repo);
      await syncFs();
      if (Number(values['quiet-wait']) > 0) await waitForQuiet(Number(values['quiet-wait']));
      const busy = await machineBusySeconds();
      const r = await measure(SIDES[n].argv(repo));
      const other = Math.max(0, (await machineBusySeconds()) - busy - r.cpuSeconds) / r.seconds;
      const m = await mergeRoot(repo, r.stdout);
      checks.set(n, m);
      Object.assign(res[n], { rss: Math.max(res[n].rss, r.rssKiB) });
      res[n].times.push(r.seconds);
      res[n].cpu.push(r.cpuSeconds);
      res[n].other.push(other);
      process.stderr.write(`run ${i + 1}/${runs} ${n}: ${r.seconds.toFixed(2)} s, CPU ${r.cpuSeconds.toFixed(2)} s, peak RSS ${(r.rssKiB / 1024).toFixed(0)} MiB, other load ${other.toFixed(2)} CPUs\n`);
    }
  }
} finally {
  for (const repo of made) await rm(repo, { recursive: true, force: true });
  await rm(fetched, { recursive: true, force: true });
  await relay.stop();
  await registry.stop();
}

const roots = new Set([...checks.values()].map((c) => c.root));
if (roots.size !== 1) throw new Error(`merge trees differ between sides: ${[...checks].map(([n, c]) => `${n} ${c.root}`).join('; ')}`);
const oursMerges = new Set(names.filter((n) => !n.startsWith('upstream')).map((n) => checks.get(n).merge));
if (oursMerges.size > 1) throw new Error(`our sides wrote different merge commits: ${[...oursMerges].join(', ')}`);

const med = (n) => median(res[n].times);
const ratio = (a, b) => (res[a] && res[b] ? med(a) / med(b) : NaN);
const paired = (a, b) => (res[a] && res[b] ? median(res[a].times.map((t, k) => t / res[b].times[k])) : NaN);
const fmt = (x) => (Number.isFinite(x) ? x.toFixed(3) : '-');
const verdict = (x, max) => (Number.isFinite(x) ? (x <= max ? 'met' : 'missed') : 'not run');
const cpuModel = (readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m) ?? [])[1] ?? 'unknown CPU';
const command = `node bench/pull.js ${process.argv.slice(2).map((a) => (/[^\w./=:@,-]/.test(a) ? q(a) : a)).join(' ')}`.trim();
const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
const rssOurs = Math.max(...names.filter((n) => n.startsWith('ours')).map((n) => res[n].rss)) / 1024;

const lines = [
  `\n## Issue 19: pull of the Debian bench image (${date} UTC)\n`,
  `\`${command}\` — ${os.cpus().length} × ${cpuModel}, load ${loadBefore} → ${loadavg()}; ${runs} runs per side.${values.note ? ` ${values.note}` : ''}\n`,
  `Input: ${image.input}. Registry: docker-registry on 127.0.0.1; relay: bench/relay.js, ${values['delay-ms']} ms each way, ${values['rate-mbit']} Mbit/s each way. Every side wrote the same merge tree (${[...roots][0].slice(0, 12)}…); ours the merge commit ${[...oursMerges][0].slice(0, 12)}….\n`,
  `| target | measured | verdict |`,
  `|---|---|---|`,
  `| ours through the relay ≤ ${TARGETS.relay} × ours | ${fmt(ratio('ours-relay', 'ours'))} (paired ${fmt(paired('ours-relay', 'ours'))}) | ${verdict(ratio('ours-relay', 'ours'), TARGETS.relay)} |`,
  `| ours ≤ ${TARGETS.skopeo} × skopeo copy + import | ${fmt(ratio('ours', 'skopeo+import'))} (paired ${fmt(paired('ours', 'skopeo+import'))}) | ${verdict(ratio('ours', 'skopeo+import'), TARGETS.skopeo)} |`,
  `| peak RSS of our pull ≤ ${TARGETS.rssMiB} MiB | ${rssOurs.toFixed(0)} MiB | ${verdict(rssOurs, TARGETS.rssMiB)} |`,
  ...(res.upstream ? [`| (no target) ours ÷ upstream, direct / through the relay | ${fmt(ratio('ours', 'upstream'))} / ${fmt(ratio('ours-relay', 'upstream-relay'))} | — |`] : []),
  '',
  `| side | command | wall (median; each run) | CPU (median) | peak RSS | other load (CPUs) |`,
  `|---|---|---|---|---|---|`,
  ...names.map((n) => {
    const r = res[n];
    return `| ${n} | ${SIDES[n].label} | ${med(n).toFixed(2)} s (${r.times.map((t) => t.toFixed(2)).join(', ')}) | ${median(r.cpu).toFixed(2)} s | ${(r.rss / 1024).toFixed(0)} MiB | ${r.other.map((x) => x.toFixed(2)).join('/')} |`;
  }),
  '',
];
process.stdout.write(`${lines.join('\n')}\n`);
if (!values['no-record']) {
  const file = path.resolve(values.results ?? path.join(BENCH_DIR, 'RESULTS.md'));
  await appendFile(file, `${lines.join('\n')}\n`);
  process.stdout.write(`recorded in ${file}\n`);
}
