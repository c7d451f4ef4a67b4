// `tar export` / `tar import` CLI commands (spec store-deploy-cli §6), run as the built CLI so the
// tar really goes through standard output and standard input.
import { spawn } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMIT_V0, TESTREF, type ExampleOs } from '../../src/fixture/index.js';
import { packageRoot } from '../../src/native.js';
import type { Repo } from '../../src/repo/repo.js';
import { exportCommit } from '../../src/tar/export.js';
import { cleanupTmp, detachedBytes, exampleWork, freshRepo } from './encapsulate-util.js';

const CLI = path.join(packageRoot, 'lib/cli/main.js');

/** Runs the built CLI with stdin/stdout connected to files (or captured). */
async function cli(args: string[], io: { stdin?: string; stdout?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdin = io.stdin ? await open(io.stdin, 'r') : undefined;
  const stdout = io.stdout ? await open(io.stdout, 'w') : undefined;
  try {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: [stdin?.fd ?? 'ignore', stdout?.fd ?? 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout?.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
    const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
    return { code, stdout: out, stderr: err };
  } finally {
    await stdin?.close();
    await stdout?.close();
  }
}

let fx: ExampleOs;
let repo: Repo;
let work: string;
beforeAll(async () => ({ fx, repo, work } = await exampleWork('tarcli-')));
afterAll(cleanupTmp);

describe('tar CLI', () => {
  it('exports to stdout and imports from a file and from stdin', async () => {
    const out = path.join(work, 'export.tar');
    const e = await cli(['tar', 'export', '--repo', fx.repoPath, '--format-version', '1', TESTREF], { stdout: out });
    expect(e).toMatchObject({ code: 0, stderr: '' });
    const reference = path.join(work, 'reference.tar');
    await exportCommit(repo, TESTREF, reference);
    expect((await readFile(out)).equals(await readFile(reference))).toBe(true);

    const fromFile = await freshRepo();
    expect(await cli(['tar', 'import', '--repo', fromFile.path, out])).toEqual({ code: 0, stdout: `Imported: ${COMMIT_V0}\n`, stderr: '' });
    const fromStdin = await freshRepo();
    expect(await cli(['tar', 'import', '--repo', fromStdin.path], { stdin: out })).toEqual({ code: 0, stdout: `Imported: ${COMMIT_V0}\n`, stderr: '' });
    for (const r of [fromFile, fromStdin]) {
      expect(await r.contentChecksum(COMMIT_V0)).toBe(await repo.contentChecksum(COMMIT_V0));
      expect(await detachedBytes(r, COMMIT_V0)).toEqual(await detachedBytes(repo, COMMIT_V0));
    }
  });

  it('errors', async () => {
    const noFormat = await cli(['tar', 'export', '--repo', fx.repoPath, TESTREF]);
    expect(noFormat.code).not.toBe(0);
    expect(noFormat.stderr).toMatch(/--format-version/);
    const empty = path.join(work, 'empty.tar');
    await (await open(empty, 'w')).close();
    expect(await cli(['tar', 'import', '--repo', (await freshRepo()).path, empty])).toEqual({
      code: 1,
      stdout: '',
      stderr: expect.stringMatching(/^error: .*Commit object not found\n$/),
    });
  });
});
