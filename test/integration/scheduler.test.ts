// The data plane's one budget (`concurrency`): threads stay within it whatever the options ask,
// long jobs leave libuv's pool to the host program, and the output never depends on it.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ostreeCli } from '../../src/fixture/index.js';
import { ImageReference, Repo, Transport, concurrency, encapsulate, tar } from '../../src/index.js';
import { native } from '../../src/native.js';
import { packageRoot } from '../../src/native.js';
import { cleanupTmp, objPath, openRepo, parseTar, tmpdir } from './tar-util.js';

const execFileP = promisify(execFile);
const threadCount = (): number => readdirSync('/proc/self/task').length;
// Children load the normal build even under scripts/test-asan.sh: the sanitized one needs the
// ASan runtime preloaded, which skopeo and gpg must not inherit (see test/helpers/asan-env.ts).
const childEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  ...process.env, LD_PRELOAD: '', OSTREE_CONTAINER_PREBUILD: '', ...extra,
});

interface SchedulerStats {
  threads: number;
  exitedThreads: number;
  workers: number;
  jobs: number;
  heldSlots: number;
  zstdWorkers: number;
}
const stats = (): SchedulerStats => native<{ schedulerStats(): SchedulerStats }>().schedulerStats();
// Every thread the addon runs for an export: the scheduler's and zstd's.
const addonThreads = (s: SchedulerStats): number => s.threads + s.zstdWorkers;

/** Busy loops on every CPU beside the test, as a loaded machine has. */
function cpuHog(): ChildProcess[] {
  return Array.from({ length: 2 }, () => spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
}

// 48 files of 1 MiB, half random (incompressible) and half text, so compression has work to do.
async function makeTree(dir: string): Promise<void> {
  let seed = 12345;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  for (let i = 0; i < 48; i++) {
    const d = path.join(dir, 'usr', 'lib', `pkg${i % 12}`);
    await mkdir(d, { recursive: true });
    const b = Buffer.alloc(1 << 20);
    for (let j = 0; j < b.length / 2; j += 4) b.writeUInt32LE(rnd(), j);
    b.fill(`line ${i} of some text that compresses well\n`, b.length / 2);
    await writeFile(path.join(d, `file${i}`), b);
  }
}

let work: string;
let repoPath: string;
let rev: string;
let files: { checksum: string; path: string }[];
const initial = concurrency();

beforeAll(async () => {
  work = await tmpdir('scheduler-');
  const tree = path.join(work, 'tree');
  await makeTree(tree);
  repoPath = path.join(work, 'repo');
  await ostreeCli(repoPath, ['init', '--mode=bare-user']);
  rev = (await ostreeCli(repoPath, ['commit', '-b', 'test', `--tree=dir=${tree}`, '--no-bindings'])).trim();
  // `-C`: type and mode, uid, gid, size, checksum, path
  const ls = await ostreeCli(repoPath, ['ls', '-R', '-C', rev]);
  files = ls
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[0]?.startsWith('-'))
    .map((f) => ({ checksum: f[4]!, path: f[5]! }));
  expect(files).toHaveLength(48);
}, 120_000);
afterAll(async () => {
  concurrency(initial);
  await cleanupTmp();
});

describe('concurrency()', () => {
  it('reads and sets the budget, refusing what is not an integer from 1 to 1024', () => {
    expect(initial).toBeGreaterThanOrEqual(1);
    expect(concurrency(3)).toBe(3);
    expect(concurrency()).toBe(3);
    for (const bad of [0, -1, 1.5, NaN, 1025]) expect(() => concurrency(bad)).toThrow(/integer from 1 to 1024/);
    expect(concurrency()).toBe(3);
    concurrency(initial);
  });

  it('takes its default from OSTREE_CONTAINER_CONCURRENCY; the CLI refuses a bad value', async () => {
    const lib = path.join(packageRoot, 'lib', 'index.js');
    const script = `import(${JSON.stringify(lib)}).then((m) => console.log(m.concurrency()))`;
    const { stdout } = await execFileP(process.execPath, ['-e', script], { env: childEnv({ OSTREE_CONTAINER_CONCURRENCY: '7' }) });
    expect(stdout.trim()).toBe('7');
    const cli = path.join(packageRoot, 'lib', 'cli', 'main.js');
    const bad = await execFileP(process.execPath, [cli, '--version'], { env: childEnv({ OSTREE_CONTAINER_CONCURRENCY: 'lots' }) }).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(bad).toMatchObject({ code: 1, stderr: "error: OSTREE_CONTAINER_CONCURRENCY must be an integer from 1 to 1024, got 'lots'\n" });
  });
});

describe('a chunked export stays within the budget', () => {
  // 24 chunk layers of two objects each, asked to run 16 layers at once with 16 threads each.
  const layersOf = (out: string, compression: tar.LayerCompression): tar.LayerSpec[] =>
    Array.from({ length: 24 }, (_, i) => ({
      kind: 'chunk' as const,
      objects: files.slice(2 * i, 2 * i + 2).map((f) => ({ checksum: f.checksum, paths: [f.path] })),
      compression,
      output: path.join(out, `layer-${i}`),
    }));

  // The threads an export adds: `added` as /proc/self/task counts them, `addon` as the addon
  // reports them (peak, absolute), `exited` threads that ended meanwhile (one that ended may
  // linger in /proc for a moment while a new one starts).
  async function peakThreads(budget: number, compression: tar.LayerCompression) {
    const repo = await openRepo(repoPath);
    const out = await tmpdir(`scheduler-${compression}-`);
    concurrency(budget);
    const base = threadCount();
    const before = stats();
    let peak = base;
    let addon = addonThreads(before);
    const sample = () => {
      peak = Math.max(peak, threadCount());
      addon = Math.max(addon, addonThreads(stats()));
    };
    const timer = setInterval(sample, 1);
    try {
      const results = await tar.exportLayers(repo, layersOf(out, compression), { parallel: 16, threads: 16 });
      sample();
      return {
        added: peak - base,
        addon,
        addonBefore: addonThreads(before),
        exited: stats().exitedThreads - before.exitedThreads,
        digests: results.map((r) => r.digest),
      };
    } finally {
      clearInterval(timer);
      concurrency(initial);
    }
  }

  for (const compression of ['gzip', 'zstd'] as const) {
    it(`${compression}: at concurrency 16, at most 16 + 2 threads, with a CPU hog beside it`, async () => {
      const hog = cpuHog();
      try {
        // The bound (README, Threads): the budget's slots, the CPU pool's one spare worker and
        // the export job's own thread. The addon's count never adds more (it only starts a thread
        // when none is idle); /proc may also show threads that ended and are on their way out.
        const r = await peakThreads(16, compression);
        expect(r.addon - r.addonBefore).toBeLessThanOrEqual(16 + 2);
        expect(r.added).toBeLessThanOrEqual(16 + 2 + r.exited);
        expect(r.added).toBeGreaterThan(1); // it did run in parallel
        expect(stats().heldSlots).toBe(0); // every slot came back
        // The same layers at a budget of 1: the same bytes.
        const one = await peakThreads(1, compression);
        expect(one.digests).toEqual(r.digests);
        expect(one.addon - one.addonBefore).toBeLessThanOrEqual(1 + 2);
        expect(one.added).toBeLessThanOrEqual(1 + 2 + one.exited);
      } finally {
        for (const h of hog) h.kill('SIGKILL');
      }
    }, 180_000);
  }
});

describe('cancellation', () => {
  it('an export cancelled at any point rejects as cancelled and leaves no layer file; it never resolves with missing layers', async () => {
    const repo = await openRepo(repoPath);
    // One chunk layer per file, uncompressed: each blob is that file's object, so digest and
    // content can be checked against the repo.
    const layersIn = (out: string) =>
      Array.from({ length: 24 }, (_, i) => ({
        kind: 'chunk' as const,
        objects: [{ checksum: files[i]!.checksum, paths: [files[i]!.path] }],
        compression: 'none' as const,
        output: path.join(out, `layer-${i}`),
      }));
    const expectAllWritten = async (out: string, results: tar.LayerResult[]) => {
      expect(results).toHaveLength(24);
      expect((await readdir(out)).sort()).toEqual(Array.from({ length: 24 }, (_, i) => `layer-${i}`).sort());
      for (const [i, r] of results.entries()) {
        const blob = await readFile(path.join(out, `layer-${i}`));
        expect(`sha256:${createHash('sha256').update(blob).digest('hex')}`, `layer ${i}`).toBe(r.digest);
        expect(r.size).toBe(blob.length);
        expect(r.diffId).toBe(r.digest);
        const names = parseTar(blob).map((e) => e.name);
        expect(names, `layer ${i}`).toContain(objPath(files[i]!.checksum, 'file'));
        expect(names.filter((n) => n.endsWith('.file')), `layer ${i}`).toHaveLength(1);
      }
    };
    concurrency(1); // one layer after the other: most aborts land between two layers or inside one
    try {
      const outcomes: string[] = [];
      for (let trial = 0; trial < 12; trial++) {
        const out = await tmpdir('scheduler-cancel-');
        const ac = new AbortController();
        const p = tar.exportLayers(repo, layersIn(out), { signal: ac.signal });
        setTimeout(() => ac.abort(), trial * 4);
        const outcome = await p.then(
          async (results) => {
            await expectAllWritten(out, results);
            return 'done';
          },
          async (e: Error & { code?: string }) => {
            expect(e).toMatchObject({ code: 'CANCELLED', message: expect.stringMatching(/Operation was cancelled$/) });
            // Nothing at the output paths, no temporary files either.
            expect(await readdir(out)).toEqual([]);
            return 'cancelled';
          },
        );
        outcomes.push(outcome);
      }
      expect(outcomes).toContain('cancelled');
      // And the same export left alone completes every layer.
      const out = await tmpdir('scheduler-uncancelled-');
      await expectAllWritten(out, await tar.exportLayers(repo, layersIn(out), { signal: new AbortController().signal }));
    } finally {
      concurrency(initial);
    }
  }, 120_000);
});

describe('long jobs stay off libuv\'s pool', () => {
  it('with UV_THREADPOOL_SIZE=2, four concurrent unencapsulate calls never hold up fs.stat', async () => {
    const repo = await Repo.open(repoPath);
    const oci = path.join(work, 'oci');
    await encapsulate(repo, rev, {}, {}, new ImageReference(Transport.OciDir, oci));
    const child = path.join(packageRoot, 'test', 'helpers', 'stall-child.mjs');
    const lib = path.join(packageRoot, 'lib', 'index.js');
    const runDir = await tmpdir('scheduler-stall-');
    const { stdout } = await execFileP(process.execPath, [child, lib, oci, runDir, '4'], {
      env: childEnv({ UV_THREADPOOL_SIZE: '2' }),
      maxBuffer: 1 << 20,
    });
    const r = JSON.parse(stdout) as { commits: string[]; wallMs: number; statCount: number; statMaxMs: number; loopDelayMaxMs: number };
    expect(r.commits).toEqual([rev, rev, rev, rev]);
    expect(r.statCount).toBeGreaterThan(5);
    // A stat that waited for a pool thread would take as long as an import (seconds). What the
    // event loop itself lagged is not the pool's doing, so it is allowed on top.
    expect(r.statMaxMs).toBeLessThan(100 + r.loopDelayMaxMs);
  }, 180_000);
});
