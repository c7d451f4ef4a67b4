// No call from JavaScript may crash the process (issue 8, part 3). Every misuse runs in a child
// process (test/helpers/native-child.ts): a libostree g_assert (SIGABRT), a wrong unwrap
// (SIGSEGV) or std::terminate kills only the child, and the test sees a signal instead of a
// clean exit. Each probe must end in a JS error with a message that says what was wrong.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/native.js';
import { runNativeChild, type ChildRun, type Outcome } from '../helpers/native-child.js';

/** The child exited normally (no signal, status 0) and left its results. */
function expectAlive(run: ChildRun): void {
  expect({ status: run.status, signal: run.signal }, run.stderr).toEqual({ status: 0, signal: null });
}

function err(o: Outcome | undefined): { name: string; message: string; code?: string } {
  if (!o || !('error' in o)) throw new Error(`expected an error, got ${JSON.stringify(o)}`);
  return o.error;
}

describe('transactions', () => {
  it('transaction calls in the wrong state are errors, never assertions', async () => {
    const run = await runNativeChild(`
const repo = await addon.Repo.create(tmp + '/repo', 'bare-user');
await probe('setRefOutside', () => repo.transactionSetRef(null, 'a', null));
await probe('commitOutside', () => repo.commitTransaction());
await probe('abortOutside', () => repo.abortTransaction());
const preparing = repo.prepareTransaction();
await probe('prepareWhilePreparing', () => repo.prepareTransaction());
await probe('setRefWhilePreparing', () => repo.transactionSetRef(null, 'a', null));
await probe('commitWhilePreparing', () => repo.commitTransaction());
await preparing;
await probe('prepareWhileOpen', () => repo.prepareTransaction());
await probe('setRefBadName', () => repo.transactionSetRef(null, '../../escape', null));
await probe('setRefBadRemote', () => repo.transactionSetRef('bad/remote', 'a', null));
await probe('setRefBadChecksum', () => repo.transactionSetRef(null, 'a', 'nothex'));
await probe('derivedOwnWhileOpen', () => addon.importDerivedLayer(repo, { path: '/dev/null', mediaType: 'application/vnd.oci.image.layer.v1.tar', importerVersion: 'x', transaction: 'own' }));
await probe('importOwnWhileOpen', () => addon.importLayer(repo, { path: '/dev/null', mediaType: 'application/vnd.oci.image.layer.v1.tar', mode: 'objects', transaction: 'own' }));
const committing = repo.commitTransaction();
await probe('abortWhileCommitting', () => repo.abortTransaction());
await probe('setRefWhileCommitting', () => repo.transactionSetRef(null, 'a', null));
await committing;
await probe('derivedCallerOutside', () => addon.importDerivedLayer(repo, { path: '/dev/null', mediaType: 'application/vnd.oci.image.layer.v1.tar', importerVersion: 'x', transaction: 'caller' }));
await probe('mergeOutside', () => addon.writeMergeCommit(repo, { base: 'a'.repeat(64), layers: [], timestamp: 1 }));
await probe('importCallerOutside', () => addon.importLayer(repo, { path: '/dev/null', mediaType: 'application/vnd.oci.image.layer.v1.tar', mode: 'objects', transaction: 'caller' }));
// and the repository still works
await probe('afterwards', async () => { await repo.prepareTransaction(); repo.transactionSetRef(null, 'ok', null); await repo.commitTransaction(); return 'ok'; });
`);
    expectAlive(run);
    const r = run.results;
    const none = 'no transaction is open (call prepareTransaction first)';
    expect(err(r.setRefOutside)).toMatchObject({ message: `transactionSetRef: ${none}`, code: 'TRANSACTION_STATE' });
    expect(err(r.commitOutside)).toMatchObject({ message: `commitTransaction: ${none}`, code: 'TRANSACTION_STATE' });
    expect(r.abortOutside).toEqual({ ok: null }); // as libostree: nothing to abort
    expect(err(r.prepareWhilePreparing).message).toBe('prepareTransaction: prepareTransaction has not finished');
    expect(err(r.setRefWhilePreparing).message).toBe('transactionSetRef: prepareTransaction has not finished');
    expect(err(r.commitWhilePreparing).message).toBe('commitTransaction: prepareTransaction has not finished');
    expect(err(r.prepareWhileOpen).message).toBe('prepareTransaction: another transaction is in progress on this repository');
    expect(err(r.setRefBadName).message).toBe('Invalid ref name ../../escape');
    expect(err(r.setRefBadRemote).message).toMatch(/remote name/);
    expect(err(r.setRefBadChecksum).message).toMatch(/^transactionSetRef: checksum: /);
    expect(err(r.importOwnWhileOpen).message).toBe(
      "importLayer (transaction 'own'): another transaction is in progress on this repository",
    );
    expect(err(r.abortWhileCommitting).message).toBe('abortTransaction: the transaction is being committed or aborted');
    expect(err(r.setRefWhileCommitting).message).toBe('transactionSetRef: the transaction is being committed or aborted');
    expect(err(r.importCallerOutside).message).toBe(`importLayer (transaction 'caller'): ${none}`);
    expect(err(r.derivedOwnWhileOpen).message).toBe(
      "importDerivedLayer (transaction 'own'): another transaction is in progress on this repository",
    );
    expect(err(r.derivedCallerOutside).message).toBe(`importDerivedLayer (transaction 'caller'): ${none}`);
    expect(err(r.mergeOutside)).toMatchObject({ message: `writeMergeCommit: ${none}`, code: 'TRANSACTION_STATE' });
    expect(r.afterwards).toEqual({ ok: 'ok' });
  });
});

describe('wrapped objects are recognised by their type tag, not their prototype', () => {
  it('a Cancellable dressed as a Repo, plain objects and foreign wrapped objects are refused', async () => {
    const run = await runNativeChild(`
const repo = await addon.Repo.create(tmp + '/repo', 'bare-user');
const fake = new addon.Cancellable();
Object.setPrototypeOf(fake, addon.Repo.prototype);
await probe('instanceofLies', () => fake instanceof addon.Repo);
await probe('getter', () => fake.path);
await probe('method', () => fake.resolveRev('x', true));
await probe('getterViaDescriptor', () => Object.getOwnPropertyDescriptor(addon.Repo.prototype, 'mode').get.call(new addon.Cancellable()));
await probe('plainAsRepoArg', () => addon.exportLayers(Object.create(addon.Repo.prototype), [], {}));
await probe('cancellableAsRepoArg', () => addon.importLayer(fake, { path: '/dev/null', mediaType: 'application/vnd.oci.image.layer.v1.tar', mode: 'objects' }));
const sockFake = new addon.Cancellable();
Object.setPrototypeOf(sockFake, addon.seqpacket.Socket.prototype);
await probe('socketGetter', () => sockFake.fd);
await probe('repoAsCancellable', () => repo.listRefs(null, repo));
const dressed = Object.create(addon.Cancellable.prototype);
await probe('plainAsCancellable', () => repo.listRefs(null, dressed));
await probe('cancelledGetter', () => Object.getOwnPropertyDescriptor(addon.Cancellable.prototype, 'cancelled').get.call(repo));
await probe('repoAsDevino', () => repo.checkout('a'.repeat(64), tmp + '/co', { devinoCache: repo }));
await probe('constructRepo', () => new addon.Repo());
const sysFake = new addon.Cancellable();
Object.setPrototypeOf(sysFake, addon.Sysroot.prototype);
await probe('sysrootGetter', () => sysFake.path);
const depFake = new addon.Cancellable();
Object.setPrototypeOf(depFake, addon.Deployment.prototype);
await probe('deploymentArg', () => new addon.Sysroot(tmp).writeOrigin(depFake, { origin: { refspec: 'x' } }));
await probe('constructDeployment', () => new addon.Deployment());
await probe('stillWorks', () => repo.resolveRev('none', true));
`);
    expectAlive(run);
    const r = run.results;
    expect(r.instanceofLies).toEqual({ ok: true });
    expect(err(r.getter)).toMatchObject({ name: 'TypeError', message: 'expected a Repo object as `this`' });
    expect(err(r.method).name).toBe('TypeError');
    expect(err(r.getterViaDescriptor)).toMatchObject({ name: 'TypeError', message: 'expected a Repo object as `this`' });
    expect(err(r.plainAsRepoArg)).toMatchObject({ name: 'TypeError', message: 'repo must be a Repo' });
    expect(err(r.cancellableAsRepoArg)).toMatchObject({ name: 'TypeError', message: 'repo must be a Repo' });
    expect(err(r.socketGetter)).toMatchObject({ name: 'TypeError', message: 'expected a Socket object as `this`' });
    expect(err(r.repoAsCancellable)).toMatchObject({ name: 'TypeError', message: 'expected a Cancellable' });
    expect(err(r.plainAsCancellable)).toMatchObject({ name: 'TypeError', message: 'expected a Cancellable' });
    expect(err(r.cancelledGetter)).toMatchObject({ name: 'TypeError', message: 'expected a Cancellable object as `this`' });
    expect(err(r.repoAsDevino)).toMatchObject({ name: 'TypeError', message: 'checkout: devinoCache must be a DevInoCache' });
    expect(err(r.constructRepo)).toMatchObject({ name: 'TypeError', message: 'use Repo.open() or Repo.create()' });
    expect(err(r.sysrootGetter)).toMatchObject({ name: 'TypeError', message: 'expected a Sysroot object as `this`' });
    expect(err(r.deploymentArg)).toMatchObject({ name: 'TypeError', message: 'writeOrigin: deployment must be a Deployment' });
    expect(err(r.constructDeployment)).toMatchObject({ name: 'TypeError', message: 'deployments come from a Sysroot' });
    expect(r.stillWorks).toEqual({ ok: null });
  });
});

describe('libostree option preconditions', () => {
  it('checkout option combinations libostree asserts on are errors', async () => {
    const run = await runNativeChild(`
const repo = await addon.Repo.create(tmp + '/repo', 'bare-user');
const c = 'a'.repeat(64);
await probe('unionIdentical', () => repo.checkout(c, tmp + '/co', { overwrite: 'union-identical' }));
await probe('forceCopyNoFallback', () => repo.checkout(c, tmp + '/co', { forceCopy: true, noCopyFallback: true }));
await probe('unionIdenticalOk', () => repo.checkout(c, tmp + '/co', { overwrite: 'union-identical', noCopyFallback: true }));
`);
    expectAlive(run);
    expect(err(run.results.unionIdentical)).toMatchObject({
      name: 'TypeError',
      message: "checkout: overwrite 'union-identical' needs noCopyFallback (it compares files by hardlinking them)",
    });
    expect(err(run.results.forceCopyNoFallback).message).toBe('checkout: forceCopy and noCopyFallback exclude each other');
    // a valid combination reaches libostree, which reports the missing commit
    expect(err(run.results.unionIdenticalOk).message).toMatch(/No such metadata object|not found/i);
  });

  it('content writers refuse modes libostree asserts are regular files', async () => {
    const run = await runNativeChild(`
const repo = await addon.Repo.create(tmp + '/repo', 'bare-user');
const bytes = new Uint8Array([1]);
await repo.prepareTransaction();
await probe('dirMode', () => repo.writeRegfileInline(null, 0, 0, 0o40755, null, bytes));
await probe('symlinkMode', () => repo.writeRegfileFromFd(null, 0, 0, 0o120777, null, 1, 0));
await probe('highBits', () => repo.writeRegfileInline(null, 0, 0, 0o1000000, null, bytes));
await probe('regMode', () => repo.writeRegfileInline(null, 0, 0, 0o100644, null, bytes));
await probe('permOnly', () => repo.writeRegfileInline(null, 0, 0, 0o644, null, bytes));
`);
    expectAlive(run);
    const r = run.results;
    expect(err(r.dirMode)).toMatchObject({ name: 'RangeError', message: 'writeRegfileInline: mode must be permission bits or a regular file mode, got 040755' });
    expect(err(r.symlinkMode).message).toBe('writeRegfileFromFd: mode must be permission bits or a regular file mode, got 0120777');
    expect(err(r.highBits).name).toBe('RangeError');
    expect(r.regMode).toEqual(r.permOnly);
    expect((r.regMode as { ok: string }).ok).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('layer options', () => {
  it('a missing or unknown mediaType, or an unknown transaction, is an error naming it', async () => {
    const run = await runNativeChild(`
const repo = await addon.Repo.create(tmp + '/repo', 'bare-user');
await probe('importNoMediaType', () => addon.importLayer(repo, { path: '/dev/null', mode: 'objects' }));
await probe('derivedNoMediaType', () => addon.importDerivedLayer(repo, { path: '/dev/null', mediaType: 1, importerVersion: 'x' }));
await probe('importUnknown', () => addon.importLayer(repo, { path: '/dev/null', mediaType: 'application/x-foo', mode: 'objects' }));
await probe('derivedUnknown', () => addon.importDerivedLayer(repo, { path: '/dev/null', mediaType: 'application/x-foo', importerVersion: 'x' }));
await probe('derivedBadTransaction', () => addon.importDerivedLayer(repo, { path: '/dev/null', mediaType: 'application/vnd.oci.image.layer.v1.tar', importerVersion: 'x', transaction: 'mine' }));
`);
    expectAlive(run);
    const r = run.results;
    expect(err(r.importNoMediaType)).toMatchObject({ name: 'TypeError', message: 'importLayer: mediaType must be a string' });
    expect(err(r.derivedNoMediaType)).toMatchObject({ name: 'TypeError', message: 'importDerivedLayer: mediaType must be a string' });
    expect(err(r.importUnknown).message).toBe('Unhandled layer type: application/x-foo');
    expect(err(r.derivedUnknown).message).toBe('Unhandled layer type: application/x-foo');
    expect(err(r.derivedBadTransaction)).toMatchObject({ name: 'TypeError', message: "importDerivedLayer: transaction must be 'own' or 'caller'" });
  });
});

describe('numeric arguments', () => {
  it('NaN, negatives, fractions and out-of-range numbers are refused, naming the argument', async () => {
    const run = await runNativeChild(`
const repo = await addon.Repo.create(tmp + '/repo', 'bare-user');
const [a, b] = addon.seqpacket.socketpair();
const sock = new addon.seqpacket.Socket(a);
for (const [k, v] of Object.entries({ NaN: NaN, neg: -1, frac: 1.5, huge: 2 ** 40, inf: Infinity, str: '1' })) {
  await probe('recv.' + k, () => sock.recv(v));
  await probe('uid.' + k, () => repo.writeRegfileInline(null, v, 0, 0o644, null, new Uint8Array(1)));
  await probe('size.' + k, () => repo.writeRegfileFromFd(null, 0, 0, 0o644, null, v, 0));
  await probe('timestamp.' + k, () => repo.writeCommit({ rootContents: 'a'.repeat(64), rootMetadata: 'b'.repeat(64), timestamp: v }));
  await probe('derivedTs.' + k, () => addon.importDerivedLayer(repo, { path: '/dev/null', mediaType: 'application/vnd.oci.image.layer.v1.tar', importerVersion: 'x', timestamp: v }));
  await probe('mergeTs.' + k, () => addon.writeMergeCommit(repo, { base: null, layers: [], timestamp: v }));
  await probe('threads.' + k, () => addon.exportLayers(repo, [], { threads: v }));
  await probe('socketFd.' + k, () => new addon.seqpacket.Socket(v));
}
await probe('fd.big', () => repo.writeRegfileFromFd(null, 0, 0, 0o644, null, 1, 2 ** 31));
await probe('readFd.neg', () => repo.readContent('a'.repeat(64), -3));
await probe('depth.frac', () => repo.prune({ depth: 0.5 }));
await probe('depth.below', () => repo.traverseCommit('a'.repeat(64), -2));
await probe('pullDepth', () => repo.pull('file://' + tmp + '/none', { depth: -5 }));
await probe('level.NaN', () => addon.exportLayers(repo, [{ kind: 'full', rev: 'x', compression: 'gzip', level: NaN, path: tmp + '/o' }], {}));
await probe('defaultLayer.neg', () => addon.exportLayers(repo, [{ kind: 'commit', rev: 'x', path: tmp + '/o' }], { assign: { rev: 'x', checksums: new Uint8Array(0), layers: new Uint32Array(0), defaultLayer: -1 } }));
await probe('sendFds', () => sock.send('x', Array.from({ length: 17 }, () => 0)));
await probe('sendFdNaN', () => sock.send('x', [NaN]));
await probe('formatSize', () => addon.formatSize(NaN));
await probe('strerror', () => addon.seqpacket.strerror(-1));
await probe('recvValid', async () => { const p = sock.recv(8); new addon.seqpacket.Socket(b).send('hi'); return (await p).data.toString(); });
sock.close();
`);
    expectAlive(run);
    const r = run.results;
    for (const k of ['NaN', 'neg', 'frac', 'huge', 'inf']) {
      expect(err(r[`recv.${k}`])).toMatchObject({ name: 'RangeError', message: expect.stringMatching(/^recv: maxSize must be an integer from 1 to 16777216, got /) });
      expect(err(r[`uid.${k}`])).toMatchObject({ name: 'RangeError', message: expect.stringMatching(/^writeRegfileInline: uid must be an integer from 0 to 4294967295, got /) });
      expect(err(r[`threads.${k}`]).message).toMatch(/^exportLayers: threads must be an integer from 1 to 1024, got /);
      expect(err(r[`socketFd.${k}`]).message).toMatch(/^Socket: fd must be an integer from 0 to 2147483647, got /);
    }
    // 2^40 is a valid size and timestamp; the other values are not
    for (const k of ['NaN', 'neg', 'frac', 'inf']) {
      expect(err(r[`size.${k}`]).message).toMatch(/^writeRegfileFromFd: size must be an integer from 0 to 9007199254740991, got /);
      expect(err(r[`timestamp.${k}`]).message).toMatch(/^writeCommit: timestamp must be an integer/);
      expect(err(r[`derivedTs.${k}`]).message).toMatch(/^importDerivedLayer: timestamp must be an integer from 0 to 9007199254740991, got /);
      expect(err(r[`mergeTs.${k}`]).message).toMatch(/^writeMergeCommit: timestamp must be an integer from 0 to 9007199254740991, got /);
    }
    expect(err(r['recv.NaN']).message).toBe('recv: maxSize must be an integer from 1 to 16777216, got NaN');
    expect(err(r['recv.str'])).toMatchObject({ name: 'TypeError', message: 'recv: maxSize must be a number' });
    expect(err(r['fd.big']).message).toBe('writeRegfileFromFd: fd must be an integer from 0 to 2147483647, got 2147483648');
    expect(err(r['readFd.neg']).message).toBe('readContent: fd must be an integer from 0 to 2147483647, got -3');
    expect(err(r['depth.frac']).message).toBe('prune: depth must be an integer from -1 to 2147483647, got 0.5');
    expect(err(r['depth.below']).message).toBe('traverseCommit: maxDepth must be an integer from -1 to 2147483647, got -2');
    // libostree's g_return_val_if_fail (maxdepth >= -1) would have failed without an error
    expect(err(r.pullDepth).message).toBe('pull: depth must be an integer from -1 to 2147483647, got -5');
    expect(err(r['level.NaN']).message).toBe('layers[0].level must be an integer from 1 to 12 for gzip');
    expect(err(r['defaultLayer.neg']).message).toBe('assign.defaultLayer must be an integer from 0 to 9007199254740991, got -1');
    expect(err(r.sendFds)).toMatchObject({ name: 'RangeError', message: 'send: at most 16 fds' });
    expect(err(r.sendFdNaN).message).toBe('send: fds[] must be an integer from 0 to 2147483647, got NaN');
    expect(err(r.formatSize).message).toBe('formatSize must be an integer from 0 to 9007199254740991, got NaN');
    expect(err(r.strerror).message).toBe('strerror: errno must be an integer from 0 to 4095, got -1');
    expect(r.recvValid).toEqual({ ok: 'hi' });
  });
});

describe('native exceptions never reach std::terminate', () => {
  it('jobs whose thread cannot start (no more threads allowed) reject naming why, and leave the repository as it was', () => {
    // The child runs as a user of its own with at most 48 tasks (RLIMIT_NPROC, which root would
    // bypass): node's own threads and a few dozen of ours fit, so 300 jobs waiting on one FIFO
    // run out of threads before the job limit (256), and the ones left reject with the errno; an
    // import with its own transaction among them leaves the repo free. That user may not read the
    // checkout, so the child and a copy of the addon live in a scratch directory of its own; the
    // normal build, even under scripts/test-asan.sh (ASan's runtime is not in this child).
    const addonPath = execFileSync(process.execPath, ['-p', `require('node-gyp-build').path(${JSON.stringify(packageRoot)})`], {
      cwd: packageRoot,
      env: { ...process.env, OSTREE_CONTAINER_PREBUILD: '', LD_PRELOAD: '' },
      encoding: 'utf8',
    }).trim();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ostree-container-nproc-'));
    try {
      chmodSync(dir, 0o777);
      copyFileSync(addonPath, path.join(dir, 'addon.node'));
      writeFileSync(
        path.join(dir, 'child.mjs'),
        `
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
const addon = createRequire(import.meta.url)('./addon.node');
const dir = ${JSON.stringify(dir)};
const results = {};
const probe = async (name, fn) => {
  try { results[name] = { ok: await fn() }; } catch (e) { results[name] = { error: { name: e.constructor.name, message: e.message, code: e.code } }; }
};
execFileSync('mkfifo', [dir + '/fifo']);
const fd = fs.openSync(dir + '/fifo', 'r+'); // O_RDWR: never an end of input, reads just wait
const repo = await addon.Repo.create(dir + '/repo', 'bare-user');
const c = new addon.Cancellable();
const tar = 'application/vnd.oci.image.layer.v1.tar';
const jobs = [];
for (let i = 0; i < 300; i++)
  jobs.push(addon.rewriteDetachedMetadata({ input: { fd }, inputMediaType: tar, output: { path: '/dev/null' }, compression: 'none' }, null, c)
    .then(() => 'resolved', (e) => e.code + ': ' + e.message.replace(/[0-9]+ running/, 'N running')));
await new Promise((r) => setTimeout(r, 500));
await probe('importOwn', () => addon.importLayer(repo, { fd, mediaType: tar, mode: 'objects' }, c));
c.cancel();
const outcomes = {};
for (const o of await Promise.all(jobs)) outcomes[o] = (outcomes[o] ?? 0) + 1;
results.outcomes = { ok: outcomes };
await probe('repoFree', async () => { await repo.prepareTransaction(); await repo.abortTransaction(); return 'free'; });
process.stdout.write(JSON.stringify(results));
`,
      );
      const run = spawnSync(
        'prlimit',
        ['--nproc=48', '--', 'setpriv', '--reuid=54321', '--regid=54321', '--clear-groups', '--', process.execPath, path.join(dir, 'child.mjs')],
        { cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir }, encoding: 'utf8', timeout: 60_000 },
      );
      expect({ status: run.status, signal: run.signal }, run.stderr).toEqual({ status: 0, signal: null });
      const r = JSON.parse(run.stdout) as Record<string, Outcome>;
      const outcomes = (r.outcomes as { ok: Record<string, number> }).ok;
      const noThread = 'EAGAIN: Cannot start a native thread (N running): Resource temporarily unavailable';
      expect(Object.keys(outcomes).sort()).toEqual(['CANCELLED: Operation was cancelled', noThread]);
      expect(outcomes[noThread]).toBeGreaterThan(0);
      expect(err(r.importOwn)).toMatchObject({ code: 'EAGAIN', message: expect.stringMatching(/^Cannot start a native thread/) });
      expect(r.repoFree).toEqual({ ok: 'free' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('seqpacket receive and environment teardown', () => {
  it('terminating a worker thread with a receive pending neither crashes nor calls into a freed thread-safe function', async () => {
    const run = await runNativeChild(`
import { Worker } from 'node:worker_threads';
const workerCode = \`
  const { parentPort, workerData } = require('node:worker_threads');
  const { createRequire } = require('node:module');
  const addon = createRequire(workerData.pkg)('node-gyp-build')(workerData.root);
  const [a, b] = addon.seqpacket.socketpair();
  const s = new addon.seqpacket.Socket(a);
  s.recv().then(() => {});
  const peer = new addon.seqpacket.Socket(b);
  parentPort.postMessage('pending');
  // the peer answers while the worker is being terminated, in some rounds
  if (workerData.answer) setImmediate(() => peer.send('late', []));
\`;
const pkg = process.env.NATIVE_CHILD_PKG;
await probe('rounds', async () => {
  for (let i = 0; i < 40; i++) {
    const w = new Worker(workerCode, { eval: true, execArgv: [], workerData: { pkg, root: process.env.NATIVE_CHILD_ROOT, answer: i % 2 === 1 } });
    await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
    await w.terminate();
  }
  return 40;
});
// the receiving threads noticed; give them time to touch whatever they would touch
await new Promise((r) => setTimeout(r, 300));
await probe('mainStillWorks', async () => {
  const [a, b] = addon.seqpacket.socketpair();
  const s = new addon.seqpacket.Socket(a);
  const p = s.recv();
  new addon.seqpacket.Socket(b).send('alive');
  return (await p).data.toString();
});
`);
    expectAlive(run);
    expect(run.results.rounds).toEqual({ ok: 40 });
    expect(run.results.mainStillWorks).toEqual({ ok: 'alive' });
  });
});
