// Reproducible images: `encapsulate` runs of one commit, seconds apart, in different time zones,
// umasks and concurrency budgets, write the same image byte for byte (OCI layout, index, manifest,
// config, every layer), chunked and not, gzip and zstd. The one time an image carries is the
// commit's, or `--created`, or SOURCE_DATE_EPOCH. Run as the built CLI, one process per run.
import { spawn } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExampleOs } from '../../src/fixture/index.js';
import { packageRoot } from '../../src/native.js';
import { OciDir } from '../../src/oci/layout.js';
import type { ImageConfiguration } from '../../src/oci/types.js';
import { cleanupTmp, exampleOs, tmpdir } from './encapsulate-util.js';

const CLI = path.join(packageRoot, 'lib/cli/main.js');
const CONTENTMETA = path.resolve(import.meta.dirname, '../fixtures/upstream-2026/exampleos-contentmeta.json');
const COMMIT_TIME = '1997-08-29T18:30:42Z';

interface Env {
  tz: string;
  umask: string;
  concurrency: number;
  vars?: Record<string, string>;
}

/** `ostree-container encapsulate` in a process of its own, with that time zone, umask and budget. */
async function encapsulateCli(env: Env, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn('sh', ['-c', `umask ${env.umask} && exec "$0" "$@"`, process.execPath, CLI, 'encapsulate', ...args], {
    env: { ...process.env, SOURCE_DATE_EPOCH: '', TZ: env.tz, OSTREE_CONTAINER_CONCURRENCY: String(env.concurrency), ...env.vars },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  return { code, stdout, stderr };
}

/** Every file of an OCI layout, by relative path, with its bytes. */
async function layoutFiles(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const rel of await readdir(dir, { recursive: true })) {
    if ((await stat(path.join(dir, rel))).isFile()) files.set(rel, await readFile(path.join(dir, rel)));
  }
  return files;
}

async function config(dir: string): Promise<ImageConfiguration> {
  const oci = await OciDir.open(dir);
  return JSON.parse((await readFile(oci.blobPath((await oci.readManifest()).manifest.config.digest))).toString()) as ImageConfiguration;
}

let fx: ExampleOs;
let work: string;
beforeAll(async () => {
  ({ fx } = await exampleOs());
  work = await tmpdir('reproducible-');
});
afterAll(cleanupTmp);

describe('two runs of encapsulate, apart in time and environment', () => {
  const first: Env = { tz: 'UTC', umask: '022', concurrency: 1 };
  const second: Env = { tz: 'Pacific/Chatham', umask: '077', concurrency: 4 };
  it.each([
    ['chunked, gzip', ['--contentmeta', CONTENTMETA]],
    ['chunked, zstd', ['--contentmeta', CONTENTMETA, '--compression', 'zstd']],
    ['one layer, gzip', []],
  ])('%s: the same image, byte for byte', async (name, args) => {
    const dirs = [path.join(work, `${name}-1`), path.join(work, `${name}-2`)];
    const a = await encapsulateCli(first, ['--repo', fx.repoPath, fx.ref, `oci:${dirs[0]}:v`, ...args]);
    // History times used to be the wall clock, in whole seconds.
    await new Promise((r) => setTimeout(r, 1100));
    const b = await encapsulateCli(second, ['--repo', fx.repoPath, fx.ref, `oci:${dirs[1]}:v`, ...args]);
    expect([a.code, a.stderr, b.code, b.stderr]).toEqual([0, '', 0, '']);
    expect(b.stdout).toBe(a.stdout);
    const [fa, fb] = await Promise.all(dirs.map(layoutFiles));
    expect([...fb!.keys()].sort()).toEqual([...fa!.keys()].sort());
    expect(fa!.size).toBeGreaterThanOrEqual(args.length ? 9 : 4); // oci-layout, index, manifest, config, layers
    for (const [file, bytes] of fa!) expect(fb!.get(file)!.equals(bytes), file).toBe(true);
    const c = await config(dirs[0]!);
    expect(c.created).toBe(COMMIT_TIME);
    expect(new Set(c.history!.map((h) => h.created))).toEqual(new Set([COMMIT_TIME]));
  }, 60_000);
});

describe('the time an image carries', () => {
  const env: Env = { tz: 'America/New_York', umask: '022', concurrency: 2 };
  const run = (name: string, vars: Record<string, string>, ...args: string[]) =>
    encapsulateCli({ ...env, vars }, ['--repo', fx.repoPath, fx.ref, `oci:${path.join(work, name)}`, ...args]);
  const times = async (name: string) => {
    const c = await config(path.join(work, name));
    return [c.created, ...c.history!.map((h) => h.created)];
  };

  it('--created, else SOURCE_DATE_EPOCH, else the commit timestamp', async () => {
    expect((await run('created', { SOURCE_DATE_EPOCH: '1700000000' }, '--created', '2024-05-01T10:00:00.5+02:00')).code).toBe(0);
    expect(await times('created')).toEqual(['2024-05-01T10:00:00.5+02:00', '2024-05-01T08:00:00Z']);
    expect((await run('sde', { SOURCE_DATE_EPOCH: '1700000000' })).code).toBe(0);
    expect(await times('sde')).toEqual(['2023-11-14T22:13:20Z', '2023-11-14T22:13:20Z']);
    expect((await run('commit', {})).code).toBe(0);
    expect(await times('commit')).toEqual([COMMIT_TIME, COMMIT_TIME]);
  }, 60_000);

  it('a time that is not one is an error, before anything is written', async () => {
    expect(await run('bad-sde', { SOURCE_DATE_EPOCH: 'yesterday' })).toEqual({
      code: 1,
      stdout: '',
      stderr: "error: Invalid SOURCE_DATE_EPOCH 'yesterday': expected seconds since 1970-01-01 (up to year 9999)\n",
    });
    expect(await run('bad-created', {}, '--created', '2024-13-01T00:00:00Z')).toEqual({
      code: 1,
      stdout: '',
      stderr: "error: Invalid created time '2024-13-01T00:00:00Z': expected RFC 3339, e.g. 2024-01-31T12:00:00Z\n",
    });
    const left = await readdir(work);
    expect(left.filter((n) => n.startsWith('bad-'))).toEqual([]);
  }, 60_000);
});
