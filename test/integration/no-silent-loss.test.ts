// Nothing reported done may be lost (issue 18, point 5): writes into a caller's transaction need
// one open and never land in a native import's own (whose abort would drop them); a job's
// progress counter is memory the job keeps, whatever JS does with the array; every job settles
// and gives the repository back. The native parts run in child processes (a crash fails the
// test, not vitest); under scripts/test-asan.sh they load the sanitized addon.
import { describe, expect, it } from 'vitest';
import { runNativeChild, type ChildRun, type Outcome } from '../helpers/native-child.js';

function expectAlive(run: ChildRun): void {
  expect({ status: run.status, signal: run.signal }, run.stderr).toEqual({ status: 0, signal: null });
}

function err(o: Outcome | undefined): { name: string; message: string; code?: string } {
  if (!o || !('error' in o)) throw new Error(`expected an error, got ${JSON.stringify(o)}`);
  return o.error;
}

// A repo with one commit, its full export as a plain tar, and a FIFO opened read-write (reads
// wait, and never see an end of input).
const SETUP = `
const { execFileSync } = await import('node:child_process');
const fs = (await import('node:fs')).default;
fs.mkdirSync(tmp + '/tree/usr/bin', { recursive: true });
fs.writeFileSync(tmp + '/tree/usr/bin/tool', 'x'.repeat(300000));
execFileSync('ostree', ['--repo=' + tmp + '/src', 'init', '--mode=bare-user']);
const rev = execFileSync('ostree', ['--repo=' + tmp + '/src', 'commit', '-b', 'x', '--tree=dir=' + tmp + '/tree', '--no-bindings'], { encoding: 'utf8' }).trim();
const src = await addon.Repo.open(tmp + '/src');
await addon.exportLayers(src, [{ kind: 'full', rev, compression: 'none', path: tmp + '/layer.tar' }]);
const tar = 'application/vnd.oci.image.layer.v1.tar';
const layerSize = fs.statSync(tmp + '/layer.tar').size;
execFileSync('mkfifo', [tmp + '/fifo']);
const fifo = fs.openSync(tmp + '/fifo', 'r+');
const repo = await addon.Repo.create(tmp + '/repo', 'bare-user');
const bytes = new Uint8Array([1, 2, 3]);
const dirmeta = src.loadMetadataBytes('dirmeta', (await src.loadCommit(rev)).rootMetadata);
// A pipe (through a FIFO) whose reader sees the end once the writer is closed.
let pipes = 0;
const pipe = () => {
  const path = tmp + '/pipe' + pipes++;
  execFileSync('mkfifo', [path]);
  const r = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  return [r, fs.openSync(path, 'w')];
};
const feed = (w) => { fs.writeSync(w, fs.readFileSync(tmp + '/layer.tar')); fs.closeSync(w); };
const until = async (cond) => { for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10)); };
`;

// Every native call that writes into the caller's transaction.
const WRITES = `
const writes = {
  writeMetadata: () => dirmeta.then((b) => repo.writeMetadata('dirmeta', null, b)),
  writeRegfileInline: () => repo.writeRegfileInline(null, 0, 0, 0o644, null, bytes),
  writeRegfileFromFd: () => repo.writeRegfileFromFd(null, 0, 0, 0o644, null, 0, fifo),
  writeSymlink: () => repo.writeSymlink(null, 0, 0, null, 'target'),
  writeMtree: () => repo.writeMtree({ entries: [], rootMetadata: 'a'.repeat(64) }),
  writeCommit: () => repo.writeCommit({ rootContents: 'a'.repeat(64), rootMetadata: 'b'.repeat(64) }),
  writeMergeCommit: () => addon.writeMergeCommit(repo, { base: 'a'.repeat(64), layers: [], timestamp: 1 }),
  importLayerCaller: () => addon.importLayer(repo, { fd: fifo, mediaType: tar, mode: 'objects', transaction: 'caller' }),
};
`;

describe('writes into a caller\'s transaction', () => {
  it('are refused outside one and while an import runs its own; what is reported written stays', async () => {
    const run = await runNativeChild(`${SETUP}${WRITES}
for (const [name, write] of Object.entries(writes)) await probe('outside.' + name, write);
// An import with its own transaction, waiting for its input.
const c = new addon.Cancellable();
const importing = addon.importLayer(repo, { fd: fifo, mediaType: tar, mode: 'objects' }, c);
for (const [name, write] of Object.entries(writes)) await probe('duringImport.' + name, write);
c.cancel();
await probe('import', () => importing);
// In the caller's transaction a write is reported once it is in, and it stays after the commit.
await probe('inTransaction', async () => {
  await repo.prepareTransaction();
  const csum = await repo.writeRegfileInline(null, 0, 0, 0o644, null, bytes);
  await repo.commitTransaction();
  return (await repo.hasObject('file', csum)) ? 'kept' : 'lost';
});
`);
    expectAlive(run);
    const r = run.results;
    const names = ['writeMetadata', 'writeRegfileInline', 'writeRegfileFromFd', 'writeSymlink', 'writeMtree', 'writeCommit', 'writeMergeCommit'];
    for (const n of names) {
      expect(err(r[`outside.${n}`])).toMatchObject({ code: 'TRANSACTION_STATE', message: `${n}: no transaction is open (call prepareTransaction first)` });
      expect(err(r[`duringImport.${n}`])).toMatchObject({
        code: 'TRANSACTION_STATE',
        message: `${n}: an import with its own transaction is running on this repository`,
      });
    }
    expect(err(r['outside.importLayerCaller']).message).toBe("importLayer (transaction 'caller'): no transaction is open (call prepareTransaction first)");
    expect(err(r['duringImport.importLayerCaller']).message).toBe(
      "importLayer (transaction 'caller'): an import with its own transaction is running on this repository",
    );
    expect(err(r.import).code).toBe('CANCELLED');
    expect(r.inTransaction).toEqual({ ok: 'kept' });
  });
});

describe('progress counters', () => {
  it('are the addon\'s memory: a plain array is refused, a transfer is refused, the job counts on', async () => {
    const run = await runNativeChild(`${SETUP}
await probe('plainArray', () => addon.importLayer(repo, { fd: fifo, mediaType: tar, mode: 'objects', progress: new BigUint64Array(1) }));
await probe('otherArray', () => addon.importLayer(repo, { fd: fifo, mediaType: tar, mode: 'objects', progress: new BigUint64Array(addon.progressCounter().buffer, 0, 0) }));
const counter = addon.progressCounter();
const [r, w] = pipe();
const importing = addon.importLayer(repo, { fd: r, mediaType: tar, mode: 'commit', progress: counter });
// Node refuses to move the addon's memory to another owner; either way the job must not care.
await probe('transfer', () => { structuredClone(counter.buffer, { transfer: [counter.buffer] }); return counter.buffer.byteLength; });
feed(w);
await probe('import', async () => (await importing).commit === rev);
await probe('counted', () => (counter.buffer.byteLength === 8 ? Number(counter[0]) === layerSize : 'detached'));
`);
    expectAlive(run);
    const r = run.results;
    for (const k of ['plainArray', 'otherArray'])
      expect(err(r[k])).toMatchObject({ name: 'TypeError', message: 'importLayer: progress must be a counter from progressCounter()' });
    expect(r.transfer).toEqual({ ok: 8 });
    expect(r.import).toEqual({ ok: true });
    expect(r.counted).toEqual({ ok: true });
  });

  it('outlive a terminated worker: the job finishes into its own memory, and the process is fine', async () => {
    const run = await runNativeChild(`${SETUP}
import { Worker } from 'node:worker_threads';
const workerCode = \`
  const { parentPort, workerData } = require('node:worker_threads');
  const { createRequire } = require('node:module');
  const addon = createRequire(workerData.pkg)('node-gyp-build')(workerData.root);
  addon.Repo.open(workerData.repo).then((repo) => {
    const progress = addon.progressCounter();
    addon.importLayer(repo, { fd: workerData.fifo, mediaType: workerData.tar, mode: 'commit', progress }).then(() => {}, () => {});
    parentPort.postMessage('importing');
  });
\`;
const stats = () => addon.schedulerStats();
const jobsBefore = stats().jobs;
const [r, w] = pipe();
const worker = new Worker(workerCode, { eval: true, execArgv: [], workerData: { pkg: process.env.NATIVE_CHILD_PKG, root: process.env.NATIVE_CHILD_ROOT, repo: tmp + '/repo', fifo: r, tar } });
await new Promise((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject); });
await until(() => stats().jobs > jobsBefore);
await worker.terminate();
// The job's array is gone with its worker; the job reads on and publishes into its own memory.
feed(w);
await until(() => stats().jobs === jobsBefore);
await probe('jobEnded', () => stats().jobs === jobsBefore);
await probe('imported', async () => (await repo.loadCommit(rev)).partial === false);
`);
    expectAlive(run);
    expect(run.results.jobEnded).toEqual({ ok: true });
    expect(run.results.imported).toEqual({ ok: true });
  });
});

describe('jobs that cannot be queued', () => {
  it('settle at once, and an import\'s own transaction is given back', async () => {
    // More jobs than the limit (256) wait on a FIFO: the ones beyond reject with JOB_LIMIT, an
    // import with its own transaction among them too, and the repository is free afterwards.
    const run = await runNativeChild(`${SETUP}
const c = new addon.Cancellable();
const jobs = [];
for (let i = 0; i < 300; i++)
  jobs.push(addon.rewriteDetachedMetadata({ input: { fd: fifo }, inputMediaType: tar, output: { path: '/dev/null' }, compression: 'none' }, null, c)
    .then(() => 'resolved', (e) => e.code));
await probe('limitReached', () => addon.schedulerStats().jobs);
await probe('importOwn', () => addon.importLayer(repo, { fd: fifo, mediaType: tar, mode: 'objects' }, c));
await probe('repoFreeMeanwhile', async () => { await repo.prepareTransaction(); await repo.abortTransaction(); return 'free'; });
c.cancel();
const outcomes = {};
for (const o of await Promise.all(jobs)) outcomes[o] = (outcomes[o] ?? 0) + 1;
await probe('outcomes', () => outcomes);
`);
    expectAlive(run);
    const r = run.results;
    expect(r.limitReached).toEqual({ ok: 256 });
    expect(err(r.importOwn)).toMatchObject({
      code: 'JOB_LIMIT',
      message: expect.stringMatching(/^Too many native jobs at once: 256 jobs that may wait on pipes or sockets .* are running, the addon's limit; wait for some to finish$/),
    });
    expect(r.repoFreeMeanwhile).toEqual({ ok: 'free' });
    const outcomes = (r.outcomes as { ok: Record<string, number> }).ok;
    expect(outcomes.JOB_LIMIT).toBeGreaterThan(0);
    expect((outcomes.CANCELLED ?? 0) + outcomes.JOB_LIMIT).toBe(300);
  });
});
