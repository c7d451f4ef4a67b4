// One OstreeRepo shared by concurrent native jobs (issue 9, "safe sharing"): config changes and
// transaction commit/abort are refused with a BUSY error while jobs that would race run, and a
// DevInoCache shared by concurrent checkouts is serialised. Real libostree; `ostree` CLI checks.
import { spawn, execFileSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { COMMIT_V0, CONTENTS_CHECKSUM_V0, TESTREF, cliShowCommit, ostreeCli, type ExampleOs } from '../../src/fixture/index.js';
import { DevInoCache, Repo, tar } from '../../src/index.js';
import { cleanupTmp, exampleOs, fsck, tmpdir } from './tar-util.js';

let fx: ExampleOs;
let work: string;
let layer: string; // the example OS exported as a plain tar

beforeAll(async () => {
  fx = await exampleOs();
  work = await tmpdir('repo-sharing-');
  layer = path.join(work, 'full.tar');
  await tar.exportCommit(await Repo.open(fx.repoPath), TESTREF, layer, { compression: 'none' });
});
afterAll(cleanupTmp);

async function newRepo(): Promise<Repo> {
  return Repo.create(path.join(await tmpdir('repo-sharing-repo-'), 'repo'), 'bare-user');
}

async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

/**
 * A FIFO as an import's input: the import opens it and blocks until feed() starts a writer that
 * copies the layer into it, so the job is provably in flight in between.
 */
function heldInput(name: string): { path: string; feed: () => Promise<void> } {
  const fifo = path.join(work, name);
  execFileSync('mkfifo', [fifo]);
  return {
    path: fifo,
    feed: () =>
      new Promise((resolve, reject) => {
        const child = spawn('sh', ['-c', 'exec cat "$1" > "$2"', 'sh', layer, fifo], { stdio: 'ignore' });
        child.on('error', reject);
        child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`cat exited with ${code}`))));
      }),
  };
}

describe('config changes', () => {
  it('setConfig, remoteAdd and remoteDelete refuse while an import runs, and work once it is over', async () => {
    const repo = await newRepo();
    const input = heldInput('config.fifo');
    const job = tar.importTar(repo, input.path);
    for (const [call, p] of [
      ['setConfig', repo.setConfig('core', 'min-free-space-percent', '0')],
      ['remoteAdd', repo.remoteAdd('origin', 'https://example.com/repo', { 'gpg-verify': false })],
      ['remoteDelete', repo.remoteDelete('origin', { ifExists: true })],
    ] as const) {
      const err = await rejection(p);
      expect(err.code).toBe('BUSY');
      expect(err.message).toBe(`${call}: repository is busy (1 job running); wait for it to finish`);
    }
    await input.feed();
    expect((await job).commit).toBe(COMMIT_V0);
    await repo.setConfig('core', 'min-free-space-percent', '0');
    expect(await repo.getConfig('core', 'min-free-space-percent')).toBe('0');
    await repo.remoteAdd('origin', 'https://example.com/repo', { 'gpg-verify': false });
    expect(await repo.remoteList()).toEqual(['origin']);
    expect(await fsck(repo.path)).toMatch(/no errors found/);
    expect((await cliShowCommit(repo.path, COMMIT_V0)).contentChecksum).toBe(CONTENTS_CHECKSUM_V0);
  });

  it('counts every job in flight, and jobs started during a config change are refused', async () => {
    const repo = await newRepo();
    const reads = [repo.getConfig('core', 'mode'), repo.listRefs(), repo.remoteList()];
    const err = await rejection(repo.setConfig('core', 'x-test', '1'));
    expect(err.code).toBe('BUSY');
    expect(err.message).toBe('setConfig: repository is busy (3 jobs running); wait for them to finish');
    await Promise.all(reads);
    // The change is in flight until its promise settles: a second change and a read both wait.
    const change = repo.setConfig('core', 'x-test', '2');
    const second = await rejection(repo.setConfig('core', 'x-test', '3'));
    expect(second.message).toBe('setConfig: repository is busy (setConfig is changing its config); wait for it to finish');
    const read = await rejection(repo.getConfig('core', 'x-test'));
    expect(read.code).toBe('BUSY');
    expect(read.message).toBe('getConfig: repository is busy (setConfig is changing its config); wait for it to finish');
    await change;
    expect(await repo.getConfig('core', 'x-test')).toBe('2');
    expect((await ostreeCli(repo.path, ['config', 'get', 'core.x-test'])).trim()).toBe('2');
  });
});

describe('transactions', () => {
  it('commitTransaction and abortTransaction refuse while an import writes into the caller transaction', async () => {
    const repo = await newRepo();
    await repo.prepareTransaction();
    const input = heldInput('txn.fifo');
    const job = tar.importTar(repo, input.path, { transaction: 'caller' });
    for (const call of ['commitTransaction', 'abortTransaction'] as const) {
      const err = await rejection(repo[call]());
      expect(err.code).toBe('BUSY');
      expect(err.message).toBe(`${call}: repository is busy (1 job writing into the transaction); wait for it to finish`);
    }
    await input.feed();
    const r = await job;
    expect(r.commit).toBe(COMMIT_V0);
    repo.transactionSetRef('imported', r.commit);
    await repo.commitTransaction();
    await repo.markCommitPartial(r.commit, false);
    expect(await fsck(repo.path)).toMatch(/no errors found/);
    expect((await ostreeCli(repo.path, ['rev-parse', 'imported'])).trim()).toBe(COMMIT_V0);
    // the transaction's staging directory is gone
    expect((await readdir(path.join(repo.path, 'tmp'))).filter((n) => n.startsWith('staging-'))).toEqual([]);
  });

  it('an abort after the writers finish drops what they wrote', async () => {
    const repo = await newRepo();
    await repo.prepareTransaction();
    const input = heldInput('abort.fifo');
    const job = tar.importTar(repo, input.path, { transaction: 'caller' });
    expect((await rejection(repo.abortTransaction())).code).toBe('BUSY');
    await input.feed();
    await job;
    await repo.abortTransaction();
    expect(await repo.hasObject('commit', COMMIT_V0)).toBe(false);
    expect(await fsck(repo.path)).toMatch(/no errors found/);
  });

  it('withTransaction whose callback fails with an import still writing aborts once the import is over', async () => {
    const repo = await newRepo();
    const input = heldInput('with.fifo');
    let job: Promise<unknown> | undefined;
    const run = repo.withTransaction(async () => {
      job = tar.importTar(repo, input.path, { transaction: 'caller' });
      throw new Error('callback failed');
    });
    // the abort waits for the import, which waits for its input
    await new Promise((r) => setTimeout(r, 100));
    await input.feed();
    await expect(run).rejects.toThrow('callback failed');
    await job;
    // aborted: nothing kept, and a new transaction can start
    expect(await repo.hasObject('commit', COMMIT_V0)).toBe(false);
    await repo.withTransaction(async () => undefined);
    expect((await readdir(path.join(repo.path, 'tmp'))).filter((n) => n.startsWith('staging-'))).toEqual([]);
    expect(await fsck(repo.path)).toMatch(/no errors found/);
  });
});

describe('DevInoCache', () => {
  it('two concurrent checkouts sharing one cache both give the tree ostree checks out', async () => {
    // bare-user → user-mode checkouts hardlink, which is what fills the cache
    const repo = await newRepo();
    await tar.importTar(repo, layer);
    const cache = new DevInoCache();
    const dirs = [path.join(work, 'co-a'), path.join(work, 'co-b'), path.join(work, 'co-c')];
    await Promise.all(dirs.map((d) => repo.checkout(COMMIT_V0, d, { mode: 'user', devinoCache: cache })));
    const theirs = path.join(work, 'co-cli');
    await ostreeCli(repo.path, ['checkout', '-U', COMMIT_V0, theirs]);
    const list = async (d: string) => (await readdir(d, { recursive: true })).map(String).sort();
    const want = await list(theirs);
    expect(want.length).toBeGreaterThan(10);
    for (const d of dirs) expect(await list(d)).toEqual(want);
    // committing the checkouts concurrently through the shared cache gives the commit's tree
    await repo.prepareTransaction();
    const trees = await Promise.all(dirs.map((d) => repo.writeTree({ directories: [{ source: d }], modifier: { devinoCache: cache } })));
    const stats = await repo.commitTransaction();
    expect(stats.devinoCacheHits).toBeGreaterThan(0);
    // the same as one checkout and commit through a fresh cache, one after the other
    const alone = new DevInoCache();
    const seq = path.join(work, 'co-seq');
    await repo.checkout(COMMIT_V0, seq, { mode: 'user', devinoCache: alone });
    await repo.prepareTransaction();
    const serial = await repo.writeTree({ directories: [{ source: seq }], modifier: { devinoCache: alone } });
    await repo.commitTransaction();
    for (const t of trees) expect(t).toEqual(serial);
    expect(await fsck(repo.path)).toMatch(/no errors found/);
  });
});
