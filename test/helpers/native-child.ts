// Runs calls into the native addon in a child process, so a crash (SIGABRT from a libostree
// assertion, SIGSEGV from a wrong unwrap, std::terminate) fails the test instead of killing
// vitest. The child's code sees `addon` (the built addon), `tmp` (a scratch directory that is
// removed afterwards; NATIVE_CHILD_ROOT/NATIVE_CHILD_PKG in the environment locate the addon for
// worker threads) and `probe(name, fn)`, which records what `fn` returned or threw.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../../src/native.js';

export type Outcome = { ok: unknown } | { error: { name: string; message: string; code?: string } };

export interface ChildRun {
  /** Exit status and signal: a crashed child has a signal (or status 134 from abort()). */
  status: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  /** What each probe did, by name. */
  results: Record<string, Outcome>;
}

const PRELUDE = `
import { createRequire } from 'node:module';
const require = createRequire(${JSON.stringify(path.join(packageRoot, 'package.json'))});
const addon = require('node-gyp-build')(${JSON.stringify(packageRoot)});
const tmp = process.env.NATIVE_CHILD_TMP;
const results = {};
const show = (v) => (v === undefined ? null : typeof v === 'bigint' ? String(v) : v);
async function probe(name, fn) {
  try {
    results[name] = { ok: show(await fn()) };
  } catch (e) {
    results[name] = { error: { name: e?.constructor?.name ?? typeof e, message: String(e?.message ?? e), code: e?.code } };
  }
}
process.on('exit', () => process.stdout.write('\\n@@RESULTS@@' + JSON.stringify(results)));
`;

/** Under scripts/test-asan.sh: the ASan runtime the sanitized addon needs (see asan-env.ts). */
function asanPreload(): Record<string, string> {
  const p = process.env.OSTREE_CONTAINER_ASAN_PRELOAD;
  return p ? { LD_PRELOAD: p } : {};
}

/** Runs `body` (an ES module body using the prelude above) in a child node process. */
export async function runNativeChild(
  body: string,
  opts: { prefix?: string[]; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<ChildRun> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'native-child-'));
  try {
    const argv = [...(opts.prefix ?? []), process.execPath, '--input-type=module', '-e', PRELUDE + body];
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NATIVE_CHILD_TMP: tmp, NATIVE_CHILD_ROOT: packageRoot, NATIVE_CHILD_PKG: path.join(packageRoot, 'package.json'), ...asanPreload(), ...opts.env } });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    const [status, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.on('close', (c, s) => resolve([c, s])),
    );
    clearTimeout(timer);
    const at = out.lastIndexOf('@@RESULTS@@');
    const results = at >= 0 ? (JSON.parse(out.slice(at + '@@RESULTS@@'.length)) as Record<string, Outcome>) : {};
    return { status, signal, stderr: err, results };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
