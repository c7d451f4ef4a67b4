// Soak: many import/export cycles in one process, watching for growth of resident memory, open
// fds and threads (a leaked GObject, buffer, fd or receive thread per cycle shows up as a slope).
//
//   node bench/soak.js [--cycles 1000] [--files 60] [--file-size 8K] [--every 100] [--no-record]
//
// One cycle: chunked export of the commit (3 gzip layers, exportLayers) + commit-layer export to a
// tar (exportCommit, gzip) → importTar into a second repo → prune it (so the next import writes
// every object again) + one seqpacket datagram over a fresh socket pair (a receive thread and
// a thread-safe function each). Samples after every `--every` cycles; the first sample is taken
// after one warm-up round, so allocator and JIT start-up are not counted as growth. Appends the
// table and the command to bench/RESULTS.md. Runs the built library: `npm run build:ts` first.
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Repo } from '../lib/repo/repo.js';
import { exportCommit, exportLayers, importTar } from '../lib/tar/index.js';
import { seqpacket } from '../lib/proxy/seqpacket.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: o } = parseArgs({
  options: {
    cycles: { type: 'string', default: '1000' },
    files: { type: 'string', default: '60' },
    'file-size': { type: 'string', default: '8K' },
    every: { type: 'string', default: '100' },
    'no-record': { type: 'boolean', default: false },
  },
});
const cycles = Number(o.cycles);
const every = Number(o.every);
const fileSize = Number.parseInt(o['file-size'], 10) * (/K$/i.test(o['file-size']) ? 1024 : /M$/i.test(o['file-size']) ? 1 << 20 : 1);

const work = mkdtempSync(path.join(os.tmpdir(), 'soak-'));
const ostree = (repo, ...args) => execFileSync('ostree', [`--repo=${repo}`, ...args], { encoding: 'utf8' });

function sample(cycle) {
  const status = readFileSync('/proc/self/status', 'utf8');
  const field = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)[1]);
  return { cycle, rssMiB: field('VmRSS') / 1024, fds: readdirSync('/proc/self/fd').length, threads: field('Threads') };
}

async function datagram() {
  const sp = seqpacket();
  const [a, b] = sp.socketpair();
  const sa = new sp.Socket(a);
  const sb = new sp.Socket(b);
  const got = sa.recv();
  sb.send(Buffer.from('soak'));
  const m = await got;
  if (m?.data.toString() !== 'soak') throw new Error('seqpacket round trip failed');
  sa.close();
  sb.close();
}

try {
  // A tree of small files in three directories (three chunk layers).
  const tree = path.join(work, 'tree');
  const dirs = ['usr/bin', 'usr/lib', 'usr/share'];
  for (const d of dirs) mkdirSync(path.join(tree, d), { recursive: true });
  for (let i = 0; i < Number(o.files); i++) {
    const buf = Buffer.alloc(fileSize);
    for (let j = 0; j < buf.length; j += 4) buf.writeUInt32LE((i * 2654435761 + j * 40503) >>> 0, j);
    writeFileSync(path.join(tree, dirs[i % 3], `f${i}`), buf);
  }
  const srcPath = path.join(work, 'src');
  ostree(srcPath, 'init', '--mode=bare-user');
  const rev = ostree(srcPath, 'commit', '-b', 'soak', `--tree=dir=${tree}`, '--no-xattrs', '--timestamp=@0').trim();
  // Objects per directory, for the chunk layers (the commit layer holds the metadata).
  const objects = dirs.map(() => []);
  for (const line of ostree(srcPath, 'ls', '-R', '-C', rev).split('\n')) {
    const m = /^-\S+\s+\d+\s+\d+\s+\d+\s+([0-9a-f]{64})\s+(\/\S+)$/.exec(line.trim());
    if (m) objects[dirs.findIndex((d) => m[2].startsWith(`/${d}/`))].push({ checksum: m[1], paths: [m[2]] });
  }
  const src = await Repo.open(srcPath);
  const dstPath = path.join(work, 'dst');
  ostree(dstPath, 'init', '--mode=bare-user');
  // The soak looks for leaks, not durability: without fsync a cycle is I/O-light.
  ostree(dstPath, 'config', 'set', 'core.fsync', 'false');
  const dst = await Repo.open(dstPath);
  const out = path.join(work, 'out');
  mkdirSync(out);

  const samples = [];
  const t0 = Date.now();
  for (let c = 1; c <= cycles; c++) {
    await exportLayers(
      src,
      objects.map((objs, i) => ({ kind: 'chunk', objects: objs, compression: 'gzip', output: path.join(out, `chunk${i}.gz`) })),
    );
    await exportCommit(src, rev, path.join(out, 'commit.tar.gz'), { compression: 'gzip' });
    const r = await importTar(dst, path.join(out, 'commit.tar.gz'), { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' });
    if (r.commit !== rev) throw new Error(`cycle ${c}: imported ${r.commit}, expected ${rev}`);
    await dst.prune({ refsOnly: true });
    await datagram();
    if (c === 1 || c % every === 0) {
      globalThis.gc?.();
      samples.push(sample(c));
      const s = samples.at(-1);
      process.stderr.write(`cycle ${c}: rss ${s.rssMiB.toFixed(1)} MiB, fds ${s.fds}, threads ${s.threads}\n`);
    }
  }
  const seconds = (Date.now() - t0) / 1000;
  const base = samples.find((s) => s.cycle === every) ?? samples[0];
  const last = samples.at(-1);
  const rows = samples.map((s) => `| ${s.cycle} | ${s.rssMiB.toFixed(1)} | ${s.fds} | ${s.threads} |`).join('\n');
  const command = `node ${process.execArgv.join(' ')} bench/soak.js ${process.argv.slice(2).join(' ')}`.replace(/\s+/g, ' ').trim();
  const report = `
### Soak ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC — ${cycles} cycles in ${seconds.toFixed(0)} s

Command: \`${command}\` (one cycle: 3 chunk layers + the commit layer exported as gzip, the commit
imported into a second repo (core.fsync=false), that repo pruned, one seqpacket round trip; ${o.files} files of ${o['file-size']}).
From cycle ${base.cycle} to ${last.cycle}: RSS ${base.rssMiB.toFixed(1)} → ${last.rssMiB.toFixed(1)} MiB
(${(last.rssMiB - base.rssMiB >= 0 ? '+' : '') + (last.rssMiB - base.rssMiB).toFixed(1)} MiB), open fds ${base.fds} → ${last.fds}, threads ${base.threads} → ${last.threads}.

| cycle | RSS MiB | open fds | threads |
|---|---|---|---|
${rows}
`;
  process.stdout.write(report);
  if (!o['no-record']) appendFileSync(path.join(here, 'RESULTS.md'), report);
} finally {
  rmSync(work, { recursive: true, force: true });
}
