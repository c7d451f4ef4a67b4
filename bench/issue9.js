// Every benchmark row of issue 9 ("faster, flatter") in one run, with its targets:
//
//   chunked gzip export   ≤ 0.45 × `ostree export | pigz -p2 -6`
//   chunked zstd export   ≤ 0.8  × `ostree export | zstd -T2 -3`
//   import from oci:      ≤ 0.7  × `gunzip -c | ostree commit --tree=tar=/dev/stdin`
//     — each on the bench corpus (50 000 files, 1 GiB) and on a Debian tree (bench/debian-tree.js)
//   peak RSS of export (gzip, zstd) and import on the 2× corpus (100 000 files, 2 GiB) < 160 MiB
//   memory per file beyond the caller's content mapping < 200 bytes
//
// Each entry runs through bench/run.js (same method, same checks); the section written to
// bench/RESULTS.md holds the verdicts, the memory-per-file arithmetic and every row with its command.
// Inputs are made once under bench/work/ and reused (the Debian tree needs root and the mirror).
//
//   node bench/issue9.js [--runs 2] [--quiet-wait 10] [--os bookworm] [--heading TEXT] [--note TEXT]
//                        [--results FILE] [--no-record] [--prepare (make the inputs only)]
// Run `npm run build:ts` first (our side runs lib/).
import { execFileSync } from 'node:child_process';
import { appendFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_DIR } from './corpus.js';
import { TABLE_HEADER, bench, median, tableRow } from './run.js';

const TARGETS = { 'export-gzip': 0.45, 'export-zstd': 0.8, 'import-gzip': 0.7 };
const RSS_TARGET_MIB = 160;
const PER_FILE_TARGET = 200;
const DOUBLE = ['--files', '100000', '--size', '2G'];

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '2' }, 'quiet-wait': { type: 'string', default: '10' }, os: { type: 'string', default: 'bookworm' },
    heading: { type: 'string' }, note: { type: 'string' }, results: { type: 'string' }, 'no-record': { type: 'boolean' },
    prepare: { type: 'boolean' },
  },
});

const ROWS = [
  ...Object.keys(TARGETS).map((e) => [`${e} corpus`, [e, '--runs', values.runs]]),
  ...Object.keys(TARGETS).map((e) => [`${e} debian`, [e, '--os', values.os, '--runs', values.runs]]),
  // Memory rows: one run of our side is enough for a peak (the references took 4.5 of 14 min).
  ...Object.keys(TARGETS).map((e) => [`${e} 2x`, [e, ...DOUBLE, '--runs', '1', '--no-reference']]),
];
if (values.prepare) {
  // Every input made once (corpora, repos, mappings, images, the Debian tree), nothing timed.
  for (const [key, args] of ROWS) {
    process.stderr.write(`preparing ${key}\n`);
    await bench([...args, '--prepare']);
  }
  process.exit(0);
}
const common = ['--no-record', '--quiet-wait', values['quiet-wait']];
const t0 = Date.now();
const results = [];

/** One bench/run.js entry; its row keeps the command a reader can re-run alone. */
async function row(key, args) {
  process.stderr.write(`\n== issue 9: ${key}: node bench/run.js ${args.join(' ')}\n`);
  const r = await bench([...args, ...common, ...(values.note ? ['--note', values.note] : [])]);
  results.push({ key, ...r });
  return r;
}

const MiB = (kib) => (kib / 1024).toFixed(0);
const verdict = (ok) => (ok ? 'met' : '**missed**');

function section(error) {
  const by = (k) => results.find((r) => r.key === k);
  const lines = [];
  const rev = (() => {
    try {
      return execFileSync('git', ['-C', BENCH_DIR, 'describe', '--always', '--dirty'], { encoding: 'utf8' }).trim();
    } catch {
      return 'unknown';
    }
  })();
  const minutes = ((Date.now() - t0) / 60000).toFixed(1);
  const command = `node bench/issue9.js ${process.argv.slice(2).map((a) => (/[^\w./=:@-]/.test(a) ? `'${a.replaceAll("'", "'\\''")}'` : a)).join(' ')}`.trim();
  lines.push(`### Issue 9 — ${values.heading ?? 'all rows'} (${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${rev})`, '');
  lines.push(`Command: \`${command}\` — ${minutes} min in all on this shared 2-core machine (inputs already built).`);
  if (error) lines.push('', `**The run stopped early:** ${error.message}`);
  lines.push('', '| Target | Bench corpus (1×) | Debian tree | Verdict |', '|---|---|---|---|');
  for (const [entry, target] of Object.entries(TARGETS)) {
    const a = by(`${entry} corpus`);
    const b = by(`${entry} debian`);
    const cell = (r) => (r ? `${r.paired.toFixed(3)} (wall ${r.ratio.toFixed(3)}, CPU ${(r.cpuSeconds.ours / r.cpuSeconds.reference).toFixed(3)})` : 'not run');
    const ok = [a, b].every((r) => r && r.paired <= target);
    lines.push(`| ${entry} ≤ ${target}× reference (paired ratio) | ${cell(a)} | ${cell(b)} | ${verdict(ok)} |`);
  }
  lines.push('', `| Memory (2× corpus: 100 000 files, 2 GiB) | Peak RSS | Verdict |`, '|---|---|---|');
  for (const entry of Object.keys(TARGETS)) {
    const r = by(`${entry} 2x`);
    lines.push(`| ${entry} peak RSS < ${RSS_TARGET_MIB} MiB | ${r ? `${MiB(r.rssKiB.ours)} MiB` : 'not run'} | ${r ? verdict(r.rssKiB.ours / 1024 < RSS_TARGET_MIB) : '-'} |`);
  }
  // Bytes per object: the growth of the peak from the 1× to the 2× corpus over the extra content
  // objects; for export, minus the growth of what the caller holds: the process with the mapping
  // loaded, measured just before encapsulate() in every export run (the median per corpus: one
  // sample moves by ±10 MiB with V8's heap sizing).
  const callerKiB = (size) => median(results.filter((r) => r.key.endsWith(size) && r.baseRssKiB?.length).flatMap((r) => r.baseRssKiB));
  const caller = { one: callerKiB('corpus'), two: callerKiB('2x') };
  lines.push('', `| Memory per content object (1× → 2× corpus) | Peak RSS 1× → 2× | Caller's mapping 1× → 2× (median of the export runs) | Extra objects | Bytes per object | Verdict (< ${PER_FILE_TARGET}) |`, '|---|---|---|---|---|---|');
  for (const entry of Object.keys(TARGETS)) {
    const a = by(`${entry} corpus`);
    const b = by(`${entry} 2x`);
    if (!a || !b) continue;
    const extra = b.objects - a.objects;
    const isExport = a.baseRssKiB?.length > 0;
    const callerBytes = isExport ? (caller.two - caller.one) * 1024 : 0;
    const perObject = ((b.rssKiB.ours - a.rssKiB.ours) * 1024 - callerBytes) / extra;
    const callerCell = isExport ? `${MiB(caller.one)} → ${MiB(caller.two)} MiB` : 'none (the CLI reads the image)';
    lines.push(`| ${entry} | ${MiB(a.rssKiB.ours)} → ${MiB(b.rssKiB.ours)} MiB | ${callerCell} | ${extra} | ${perObject.toFixed(0)} | ${verdict(perObject < PER_FILE_TARGET)} |`);
  }
  lines.push('', TABLE_HEADER.trimEnd());
  for (const r of results) lines.push(tableRow(r.row).trimEnd());
  return `\n${lines.join('\n')}\n`;
}

let failure;
try {
  for (const [key, args] of ROWS) await row(key, args);
} catch (e) {
  failure = e;
  process.exitCode = 1;
}
const text = section(failure);
process.stdout.write(text);
if (!values['no-record']) {
  const file = path.resolve(values.results ?? path.join(BENCH_DIR, 'RESULTS.md'));
  await appendFile(file, text);
  process.stdout.write(`recorded in ${file}\n`);
}
if (failure) process.stderr.write(`error: ${failure.stack}\n`);
