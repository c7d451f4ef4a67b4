// The CLI's `demo` command, run as a user would: the built CLI (lib/, built by `pretest`) in a child process.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/native.js';
import { COMMIT_V0, CONTENTS_CHECKSUM_V0, TESTREF, ostreeCli } from '../../src/fixture/index.js';

const CLI = path.join(packageRoot, 'lib/cli/main.js');
const run = (args: string[]) => promisify(execFile)(process.execPath, [CLI, ...args]);

let dir: string;
beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build:ts\` first`);
  dir = await mkdtemp('/var/tmp/demo-t-');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const demoScratch = async () => (await readdir('/var/tmp')).filter((n) => n.startsWith('ostree-container-demo-'));

describe('ostree-container demo', () => {
  it('with no arguments builds the example OS in a temporary repo and reports it', async () => {
    const before = await demoScratch();
    const { stdout, stderr } = await run(['demo']);
    expect(stderr).toBe('');
    expect(stdout).toContain('Example OS committed to a temporary archive repository\n');
    expect(stdout).toContain(`ref:              ${TESTREF}\n`);
    expect(stdout).toContain(`commit:           ${COMMIT_V0}\n`);
    expect(stdout).toContain(`content checksum: ${CONTENTS_CHECKSUM_V0}\n`);
    expect(stdout).toContain('version:          42.0\n');
    expect(stdout).toContain('timestamp:        1997-08-29T18:30:42Z\n');
    expect(stdout).toContain('signed by:        GPG key 7FCA23D8472CDAFA\n');
    expect(stdout).toContain('  -00755 0 0    13 /usr/bin/arping\n');
    expect(stdout).toContain('  l00777 0 0     0 /usr/bin/sh -> bash\n');
    expect(stdout).toContain('  -00644 0 0    21 /usr/lib/sysimage/pkgdb\n');
    expect(stdout.split('\n').filter((l) => l.startsWith('  '))).toHaveLength(27); // every entry of the tree
    expect(await demoScratch()).toEqual(before); // scratch dir removed
  });

  it('--repo keeps the repository, --mode picks its mode', async () => {
    const repo = path.join(dir, 'repo');
    const { stdout } = await run(['demo', '--repo', repo, '--mode', 'bare-user']);
    expect(stdout).toContain(`Example OS committed to ${repo}\n`);
    expect((await ostreeCli(repo, ['rev-parse', TESTREF])).trim()).toBe(COMMIT_V0);
    expect(await ostreeCli(repo, ['config', 'get', 'core.mode'])).toBe('bare-user\n');
    await ostreeCli(repo, ['fsck']);
    // The listing (read in-process) matches `ostree ls -R`, whitespace aside.
    const norm = (lines: string[]) => lines.map((l) => l.trim().replace(/\s+/g, ' '));
    const ls = (await ostreeCli(repo, ['ls', '-R', TESTREF])).trim().split('\n');
    expect(norm(stdout.split('\n').filter((l) => l.startsWith('  ')))).toEqual(norm(ls));
    // Again into the same repo: same commit, no error.
    expect((await run(['demo', '--repo', repo])).stdout).toContain(`commit:           ${COMMIT_V0}\n`);
  });

  it('fails with a clear message and exit status 1 on a bad --repo or --mode', async () => {
    const file = path.join(dir, 'file');
    await writeFile(file, '');
    await expect(run(['demo', '--repo', file])).rejects.toMatchObject({
      code: 1,
      stderr: `error: Cannot use ${file} as a repository: not a directory\n`,
    });
    await expect(run(['demo', '--mode', 'nope'])).rejects.toMatchObject({
      code: 1,
      stderr: 'error: Invalid --mode "nope": expected one of archive, bare, bare-user, bare-user-only\n',
    });
  });
});
