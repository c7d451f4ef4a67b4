// Exact outcomes of native jobs (issue 9): errno failures carry the errno name in `.code`;
// output files appear only complete (temporary name, renamed into place), a failure leaves a file
// that was there untouched and no temporary file; a cancelled job rejects with CANCELLED at any
// point and leaves nothing behind. Real libostree; `ostree` CLI as checker.
import { execFileSync } from 'node:child_process';
import { constants as fsc } from 'node:fs';
import { open, readFile, readdir, stat, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { COMMIT_V0, TESTREF, ostreeCli, type ExampleOs } from '../../src/fixture/index.js';
import { Repo, tar } from '../../src/index.js';
import { native } from '../../src/native.js';
import { importDerivedLayer } from '../../src/store/derived.js';
import { nativeRepo, tarNative } from '../../src/tar/native.js';
import { buildTar, cleanupTmp, entry, exampleOs, fsck, tmpdir } from './tar-util.js';

let fx: ExampleOs;
let src: Repo;
let layer: Buffer; // the example OS as a plain tar
let layerPath: string;

beforeAll(async () => {
  fx = await exampleOs();
  src = await Repo.open(fx.repoPath);
  layerPath = path.join(await tmpdir('outcomes-'), 'full.tar');
  await tar.exportCommit(src, TESTREF, layerPath, { compression: 'none' });
  layer = await readFile(layerPath);
});
afterAll(cleanupTmp);

type CodedError = Error & { code?: string };
async function rejection(p: Promise<unknown>): Promise<CodedError> {
  try {
    await p;
  } catch (e) {
    return e as CodedError;
  }
  throw new Error('expected a rejection');
}

/** A directory holding `name` with `content`, to check that a failed job left it alone. */
async function precious(name: string): Promise<{ dir: string; file: string; intact: () => Promise<void> }> {
  const dir = await tmpdir('outcomes-out-');
  const file = path.join(dir, name);
  await writeFile(file, 'was here before\n');
  return {
    dir,
    file,
    intact: async () => {
      expect(await readFile(file, 'utf8')).toBe('was here before\n');
      expect(await readdir(dir)).toEqual([name]); // no temporary file left
    },
  };
}

/**
 * A FIFO as a job's input: the job opens it (and blocks) at once; `writer()` opens the writing
 * end, so the test decides how much of the input the job has seen when it cancels.
 */
async function fifoInput(): Promise<{ path: string; writer: () => Promise<FileHandle> }> {
  const fifo = path.join(await tmpdir('outcomes-fifo-'), 'in');
  execFileSync('mkfifo', [fifo]);
  return { path: fifo, writer: () => open(fifo, fsc.O_WRONLY) };
}

const TAR = 'application/vnd.oci.image.layer.v1.tar';
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('errno names in .code', () => {
  it('ENOENT: an import from a missing path', async () => {
    const repo = await Repo.create(path.join(await tmpdir('outcomes-repo-'), 'repo'), 'bare-user');
    const missing = path.join(path.dirname(repo.path), 'no-such.tar');
    const err = await rejection(tar.importTar(repo, missing));
    expect(err.code).toBe('ENOENT');
    expect(err.message).toBe(`Opening ${missing}: No such file or directory`);
  });

  it('ENOENT: an export into a missing directory', async () => {
    const d = await tmpdir('outcomes-out-');
    const err = await rejection(tar.exportCommit(src, TESTREF, path.join(d, 'no-dir', 'x.tar')));
    expect(err.code).toBe('ENOENT');
    expect(err.message).toBe(`Creating ${path.join(d, 'no-dir', 'x.tar')}: No such file or directory`);
    expect(await readdir(d)).toEqual([]);
  });

  it('EPIPE: an export into a pipe whose reader has gone', async () => {
    const fifo = path.join(await tmpdir('outcomes-fifo-'), 'out');
    execFileSync('mkfifo', [fifo]);
    const reader = await open(fifo, fsc.O_RDONLY | fsc.O_NONBLOCK);
    const writer = await open(fifo, fsc.O_WRONLY);
    await reader.close();
    try {
      const err = await rejection(tar.exportCommit(src, TESTREF, writer.fd, { compression: 'gzip' }));
      expect(err.code).toBe('EPIPE');
      expect(err.message).toMatch(/Broken pipe$/);
    } finally {
      await writer.close();
    }
  });
});

describe('output files are renamed into place', () => {
  it('a successful export replaces the file and leaves no temporary file', async () => {
    const out = await precious('blob');
    const r = await tar.exportCommit(src, TESTREF, out.file, { compression: 'gzip' });
    expect((await stat(out.file)).size).toBe(r.size);
    expect(await readdir(out.dir)).toEqual(['blob']);
  });

  it('an export that fails before writing leaves the file that was there', async () => {
    const out = await precious('blob');
    const err = await rejection(tar.exportCommit(src, 'no/such/ref', out.file));
    expect(err.message).toMatch(/Refspec 'no\/such\/ref' not found/);
    await out.intact();
  });

  it('an export that fails mid-stream leaves the file that was there', async () => {
    const out = await precious('blob');
    const objects = await src.traverseCommit(COMMIT_V0);
    const files = objects.filter((o) => o.type === 'file').slice(0, 5).map((o) => ({ checksum: o.checksum, paths: [`/${o.checksum}`] }));
    expect(files.length).toBe(5);
    const err = await rejection(
      tar.exportLayers(src, [{ kind: 'chunk', objects: [...files, { checksum: 'f'.repeat(64), paths: ['/x'] }], output: out.file }]),
    );
    expect(err.message).toMatch(/Couldn't find file object 'f{64}'/);
    await out.intact();
  });

  it('rewriteDetachedMetadata: a bad input leaves the output that was there; input and output may be one file', async () => {
    const out = await precious('blob');
    const truncated = path.join(await tmpdir('outcomes-in-'), 'truncated.tar');
    await writeFile(truncated, layer.subarray(0, 8192));
    await rejection(tar.updateDetachedMetadata(truncated, out.file, undefined));
    await out.intact();
    // in place: the input is read while its replacement is written under a temporary name
    const copy = path.join(out.dir, 'copy.tar');
    await writeFile(copy, layer);
    const elsewhere = path.join(out.dir, 'elsewhere.tar');
    const want = await tar.updateDetachedMetadata(layerPath, elsewhere, undefined);
    const got = await tar.updateDetachedMetadata(copy, copy, undefined);
    expect(got).toEqual(want);
    expect((await readFile(copy)).equals(await readFile(elsewhere))).toBe(true);
    expect((await readdir(out.dir)).sort()).toEqual(['blob', 'copy.tar', 'elsewhere.tar']);
  });

  it('a path that is a FIFO is written in place, not replaced', async () => {
    const d = await tmpdir('outcomes-out-');
    const fifo = path.join(d, 'pipe');
    execFileSync('mkfifo', [fifo]);
    const reader = await open(fifo, fsc.O_RDONLY | fsc.O_NONBLOCK);
    const chunks: Buffer[] = [];
    let done = false;
    const drain = (async () => {
      const buf = Buffer.alloc(1 << 16);
      for (;;) {
        try {
          const { bytesRead } = await reader.read(buf, 0, buf.length, null);
          if (bytesRead === 0) {
            if (done) break;
            await settle(5);
            continue;
          }
          chunks.push(Buffer.from(buf.subarray(0, bytesRead)));
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
          await settle(5);
        }
      }
    })();
    await tar.exportCommit(src, TESTREF, fifo, { compression: 'none' });
    done = true;
    await drain;
    await reader.close();
    expect(Buffer.concat(chunks).equals(layer)).toBe(true);
    expect((await stat(fifo)).isFIFO()).toBe(true);
    expect(await readdir(d)).toEqual(['pipe']);
  });
});

describe('cancellation rejects at any point and leaves nothing behind', () => {
  async function freshRepo(): Promise<Repo> {
    return Repo.create(path.join(await tmpdir('outcomes-repo-'), 'repo'), 'bare-user');
  }
  async function expectEmpty(repo: Repo): Promise<void> {
    expect(await repo.hasObject('commit', COMMIT_V0)).toBe(false);
    expect((await ostreeCli(repo.path, ['refs'])).trim()).toBe('');
    expect(await fsck(repo.path)).toMatch(/no errors found/);
    const tmpLeft = (await readdir(path.join(repo.path, 'tmp'))).filter((n) => n !== 'cache');
    expect(tmpLeft).toEqual([]);
  }

  // `feed` writes some of the input and returns; the job is cancelled after it.
  const points: [string, (w: FileHandle) => Promise<void>][] = [
    ['before any input', async () => {}],
    ['mid-stream', async (w) => { await w.write(layer.subarray(0, layer.length >> 1)); }],
    ['after the whole input (before EOF)', async (w) => { await w.write(layer); }],
  ];

  // A job queued with a Cancellable already cancelled (the TS layer refuses an aborted signal
  // before it reaches the addon; this is the addon's own check). With a live signal the job may
  // legitimately finish before an abort arrives, so the FIFO cases above cover "before any input".
  const cancelled = () => {
    const c = new (native().Cancellable)();
    c.cancel();
    return c;
  };

  it('importLayer: queued already cancelled', async () => {
    const repo = await freshRepo();
    const p = tarNative().importLayer(nativeRepo(repo), { path: layerPath, mediaType: TAR, mode: 'commit', transaction: 'own' }, cancelled());
    const err = await rejection(p);
    expect(err.code).toBe('CANCELLED');
    await expectEmpty(repo);
  });

  it.each(points)('importTar: cancelled %s', async (_, feed) => {
    const repo = await freshRepo();
    const input = await fifoInput();
    const ac = new AbortController();
    const p = tar.importTar(repo, input.path, { signal: ac.signal });
    const w = await input.writer();
    try {
      await feed(w);
      await settle(200);
      ac.abort();
      const err = await rejection(p);
      expect(err.code).toBe('CANCELLED');
      expect(err.message).toMatch(/Operation was cancelled/);
    } finally {
      await w.close();
    }
    await expectEmpty(repo);
  });

  it.each(points)('rewriteDetachedMetadata: cancelled %s', async (_, feed) => {
    const out = await precious('blob');
    const input = await fifoInput();
    const ac = new AbortController();
    const p = tar.updateDetachedMetadata(input.path, out.file, undefined, { signal: ac.signal });
    const w = await input.writer();
    try {
      await feed(w);
      await settle(200);
      ac.abort();
      const err = await rejection(p);
      expect(err.code).toBe('CANCELLED');
    } finally {
      await w.close();
    }
    await out.intact();
  });

  it.each(points)('importDerivedLayer: cancelled %s', async (_, feed) => {
    const repo = await freshRepo();
    const input = await fifoInput();
    const ac = new AbortController();
    const p = importDerivedLayer(repo, input.path, { mediaType: TAR, importerVersion: 'test', ref: 'derived', signal: ac.signal });
    const w = await input.writer();
    try {
      await feed(w);
      await settle(200);
      ac.abort();
      const err = await rejection(p);
      expect(err.code).toBe('CANCELLED');
    } finally {
      await w.close();
    }
    await expectEmpty(repo);
  });

  it('writeMergeCommit: queued already cancelled; the caller aborts its transaction', async () => {
    const repo = await freshRepo();
    const small = path.join(path.dirname(repo.path), 'small.tar');
    await writeFile(small, buildTar([entry('usr/', '', { type: '5', mode: 0o755 }), entry('usr/hello', 'hello\n')]));
    const derived = await importDerivedLayer(repo, small, { mediaType: TAR, importerVersion: 'test', timestamp: 0 });
    const before = (await ostreeCli(repo.path, ['ls', '-R', derived.commit])).length;
    await repo.prepareTransaction();
    const merge = native<{ writeMergeCommit: (r: object, o: object, c: unknown) => Promise<string> }>().writeMergeCommit;
    const p = merge(nativeRepo(repo), { base: null, layers: [derived.commit], metadata: new Map(), timestamp: 0 }, cancelled());
    expect((await rejection(p)).code).toBe('CANCELLED');
    await repo.abortTransaction();
    expect((await ostreeCli(repo.path, ['refs'])).trim()).toBe('');
    expect((await ostreeCli(repo.path, ['ls', '-R', derived.commit])).length).toBe(before);
    expect(await fsck(repo.path)).toMatch(/no errors found/);
  });

  // (exportLayers cancelled before or between layers: see the scheduler's tests)
  it('rewriteDetachedMetadata: queued already cancelled', async () => {
    const out = await precious('blob');
    const p = tarNative().rewriteDetachedMetadata({ input: { path: layerPath }, inputMediaType: TAR, output: { path: out.file }, compression: 'none' }, null, cancelled());
    expect((await rejection(p)).code).toBe('CANCELLED');
    await out.intact();
  });

  it('checkout and pull: queued already cancelled', async () => {
    const repo = await freshRepo();
    const pull = repo.native.pull(`file://${fx.repoPath}`, { refs: [TESTREF] }, cancelled());
    expect((await rejection(pull)).code).toBe('CANCELLED');
    await expectEmpty(repo);
    const dest = path.join(path.dirname(repo.path), 'co');
    const checkout = src.native.checkout(COMMIT_V0, dest, { mode: 'user' }, cancelled());
    expect((await rejection(checkout)).code).toBe('CANCELLED');
    await expect(stat(dest)).rejects.toThrow(/ENOENT/);
  });
});
