// The installed command: reached through a symlink (npm's bin) and as `ostree container …`.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const cliPath = path.resolve(import.meta.dirname, '../../lib/cli/main.js');
let bin: string;

beforeAll(async () => {
  bin = await mkdtemp(path.join(os.tmpdir(), 'oc-cli-'));
  await symlink(cliPath, path.join(bin, 'ostree-container'));
});
afterAll(async () => {
  await rm(bin, { recursive: true, force: true });
});

describe('ostree-container command', () => {
  it('runs through a symlink, prints --version and --help', async () => {
    const { stdout } = await run(path.join(bin, 'ostree-container'), ['--version']);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const help = await run(path.join(bin, 'ostree-container'), ['--help']);
    for (const cmd of ['encapsulate', 'unencapsulate', 'compare', 'info', 'tar', 'image', 'demo']) expect(help.stdout).toContain(cmd);
  });

  it('is reachable as `ostree container …`', async () => {
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
    const { stdout } = await run('ostree', ['container', 'info', '--help'], { env });
    expect(stdout).toContain('Usage: ostree-container info');
  });

  it('prints errors as `error: <chain>` and exits 1', async () => {
    const err = await run(path.join(bin, 'ostree-container'), ['info', 'not-an-imgref']).catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(/^error: .+\n$/);
  });

  it('stops quietly when its reader goes away (EPIPE)', async () => {
    // The read end is closed before the demo (a fraction of a second of work) writes its report.
    const child = spawn(path.join(bin, 'ostree-container'), ['demo'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  });
});
