// Bounded threads (issue 18, point 6): 10,000 concurrent calls of each kind complete or fail
// cleanly, with the threads the README promises; pending proxy receives hold no thread; zstd's
// workers are counted and hold slots; idle gzip blocks are freed. The native parts run in child
// processes (10,000 sockets and jobs stay out of vitest); under scripts/test-asan.sh they load
// the sanitized addon.
import { describe, expect, it } from 'vitest';
import { runNativeChild, type ChildRun } from '../helpers/native-child.js';

function expectAlive(run: ChildRun): void {
  expect({ status: run.status, signal: run.signal }, run.stderr).toEqual({ status: 0, signal: null });
}

const N = 10_000;

const SETUP = `
const { execFileSync } = await import('node:child_process');
const fs = (await import('node:fs')).default;
const N = ${N};
fs.mkdirSync(tmp + '/tree/usr/lib', { recursive: true });
for (let i = 0; i < 24; i++) fs.writeFileSync(tmp + '/tree/usr/lib/f' + i, String(i).repeat(200000 + i * 30011));
execFileSync('ostree', ['--repo=' + tmp + '/repo', 'init', '--mode=bare-user']);
const rev = execFileSync('ostree', ['--repo=' + tmp + '/repo', 'commit', '-b', 'x', '--tree=dir=' + tmp + '/tree', '--no-bindings'], { encoding: 'utf8' }).trim();
const repo = await addon.Repo.open(tmp + '/repo');
const stats = () => addon.schedulerStats();
const tar = 'application/vnd.oci.image.layer.v1.tar';
const count = (outcomes) => { const o = {}; for (const x of outcomes) o[x] = (o[x] ?? 0) + 1; return o; };
// The most threads the addon ran while fn ran, sampled every millisecond.
const peakOf = async (fn) => {
  let peak = stats().threads;
  const t = setInterval(() => { peak = Math.max(peak, stats().threads); }, 1);
  try { return [await fn(), peak]; } finally { clearInterval(t); }
};
`;

describe(`${N} concurrent calls`, () => {
  it('of every kind complete or fail cleanly, within the bounds', async () => {
    const run = await runNativeChild(
      `${SETUP}
// Calls: queued on at most callLimit threads; all complete.
const [has, hasPeak] = await peakOf(() => Promise.all(Array.from({ length: N }, (_, i) => repo.hasObject('commit', i % 2 ? rev : 'f'.repeat(64)))));
await probe('hasObject', () => ({ found: has.filter(Boolean).length, peakThreads: hasPeak, callLimit: stats().callLimit, threadsBefore: 0 }));

// Proxy receives: none holds a thread; each completes when its peer answers.
const threadsBefore = stats().threads;
const socks = [];
for (let i = 0; i < N / 2; i++) {
  const [a, b] = addon.seqpacket.socketpair();
  socks.push([new addon.seqpacket.Socket(a), new addon.seqpacket.Socket(b)]);
}
const receives = socks.flatMap(([a, b]) => [a.recv(), b.recv()]);
await probe('receivesPending', () => ({ watched: stats().watchedFds, watcher: stats().watcherThreads, addedThreads: stats().threads - threadsBefore }));
for (const [a, b] of socks) { a.send('to b'); b.send('to a'); }
const got = await Promise.all(receives);
await probe('receives', () => count(got.map((m) => m.data.toString())));
for (const [a, b] of socks) { a.close(); b.close(); }

// Imports waiting on a pipe that stays silent: up to the job limit run, the rest reject
// naming it; cancelled, the running ones end, and the transaction they wrote into commits.
execFileSync('mkfifo', [tmp + '/fifo']);
const fifo = fs.openSync(tmp + '/fifo', 'r+');
await repo.prepareTransaction();
const c = new addon.Cancellable();
const imports = Array.from({ length: N }, () =>
  addon.importLayer(repo, { fd: fifo, mediaType: tar, mode: 'objects', transaction: 'caller' }, c).then(() => 'resolved', (e) => e.code));
await probe('importsRunning', () => ({ jobs: stats().jobs, jobLimit: stats().jobLimit, threads: stats().threads }));
c.cancel();
await probe('imports', async () => count(await Promise.all(imports)));
await probe('commitAfterwards', async () => { await repo.commitTransaction(); return 'committed'; });

// fd reads waiting on a silent pipe (writeRegfileFromFd), and rewrites: the same.
await repo.prepareTransaction();
const c2 = new addon.Cancellable();
const reads = Array.from({ length: N }, (_, i) =>
  (i % 2 ? repo.writeRegfileFromFd(null, 0, 0, 0o644, null, 10, fifo, c2)
         : addon.rewriteDetachedMetadata({ input: { fd: fifo }, inputMediaType: tar, output: { path: '/dev/null' }, compression: 'none' }, null, c2))
    .then(() => 'resolved', (e) => e.code));
await new Promise((r) => setTimeout(r, 200));
c2.cancel();
await probe('fdJobs', async () => count(await Promise.all(reads)));
await repo.abortTransaction();
await probe('afterwards', async () => (await repo.hasObject('commit', rev)) && stats().jobs === 0);
`,
      { timeoutMs: 240_000 },
    );
    expectAlive(run);
    const r = run.results as Record<string, { ok: Record<string, number> }>;
    const has = r.hasObject!.ok;
    expect(has.found).toBe(N / 2);
    // the call threads, one CPU worker at most beside them (nothing else runs)
    expect(has.peakThreads).toBeLessThanOrEqual(has.callLimit! + 1);
    expect(r.receivesPending!.ok).toEqual({ watched: N, watcher: 1, addedThreads: 0 });
    expect(r.receives!.ok).toEqual({ 'to a': N / 2, 'to b': N / 2 });
    const running = r.importsRunning!.ok;
    expect(running.jobs).toBe(256);
    expect(running.jobLimit).toBe(256);
    // the limit counts the imports' read-ahead threads too (one per free slot of the budget)
    const imports = r.imports!.ok;
    expect(Object.keys(imports).sort()).toEqual(['CANCELLED', 'JOB_LIMIT']);
    expect(imports.CANCELLED! + imports.JOB_LIMIT!).toBe(N);
    expect(imports.CANCELLED).toBeGreaterThanOrEqual(256 - 16);
    expect(r.commitAfterwards).toEqual({ ok: 'committed' });
    const fdJobs = r.fdJobs!.ok;
    expect(fdJobs.CANCELLED! + fdJobs.JOB_LIMIT!).toBe(N);
    expect(fdJobs.JOB_LIMIT).toBeGreaterThanOrEqual(N - 256);
    expect(r.afterwards).toEqual({ ok: true });
  }, 300_000);
});

describe('compression threads', () => {
  it('zstd workers are counted and hold slots; gzip spare blocks are freed once no encoder runs', async () => {
    const run = await runNativeChild(`${SETUP}
addon.concurrency(4);
const files = [];
for (let i = 0; i < 24; i++) files.push(i);
const layers = (compression) => Array.from({ length: 8 }, (_, i) => ({ kind: i ? 'chunk' : 'commit', ...(i ? {} : { rev }), compression, path: tmp + '/' + compression + i }));
// Sampled on a 1 ms timer, the most seen of each while zstd workers exist (an idle context
// between layers keeps its workers but not their slots). A busy machine may starve the timer
// through a whole export, so the export runs again (up to 20 times) until a sample caught it.
let zstd = { workers: 0, heldWhileWorking: 0 };
const t = setInterval(() => {
  const s = stats();
  if (s.zstdWorkers > 0) zstd = { workers: Math.max(zstd.workers, s.zstdWorkers), heldWhileWorking: Math.max(zstd.heldWhileWorking, s.heldSlots) };
}, 1);
for (let i = 0; i < 20 && zstd.heldWhileWorking === 0; i++) await addon.exportLayers(repo, layers('zstd'), { parallel: 4 });
clearInterval(t);
await probe('zstd', () => ({ ...zstd, after: stats().zstdWorkers, held: stats().heldSlots }));
let spares = 0;
const t2 = setInterval(() => { spares = Math.max(spares, stats().gzipSpareBlocks); }, 1);
for (let i = 0; i < 20 && spares === 0; i++) await addon.exportLayers(repo, layers('gzip'), { parallel: 4 });
clearInterval(t2);
await probe('gzip', () => ({ sparesWhileRunning: spares, sparesAfter: stats().gzipSpareBlocks }));
`);
    expectAlive(run);
    const zstd = (run.results.zstd as { ok: { workers: number; heldWhileWorking: number; after: number; held: number } }).ok;
    expect(zstd.workers).toBeGreaterThan(0);
    expect(zstd.heldWhileWorking).toBeGreaterThanOrEqual(1);
    expect(zstd).toMatchObject({ after: 0, held: 0 });
    const gzip = (run.results.gzip as { ok: { sparesWhileRunning: number; sparesAfter: number } }).ok;
    expect(gzip.sparesWhileRunning).toBeGreaterThan(0);
    expect(gzip.sparesAfter).toBe(0);
  });
});
