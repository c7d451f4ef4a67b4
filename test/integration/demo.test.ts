// The CLI's `demo` command, run as a user would: the built CLI (lib/, built by `pretest`) in a child process.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/native.js';
import { COMMIT_V0, CONTENTS_CHECKSUM_V0, TESTREF, ostreeCli } from '../../src/fixture/index.js';

const CLI = path.join(packageRoot, 'lib/cli/main.js');
let dir: string;
// The demo's $TMPDIR, of this file's own: the scratch-dir check lists it.
let scratchRoot: string;
const run = (args: string[]) => promisify(execFile)(process.execPath, [CLI, ...args], { env: { ...process.env, TMPDIR: scratchRoot } });

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build:ts\` first`);
  dir = await mkdtemp('/var/tmp/demo-t-');
  scratchRoot = path.join(dir, 'tmp');
  await mkdir(scratchRoot);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const demoScratch = async () => (await readdir(scratchRoot)).filter((n) => n.startsWith('ostree-container-demo-'));

describe('ostree-container demo', () => {
  it('with no arguments builds, encapsulates (chunked), unencapsulates with GPG verification and compares', async () => {
    const { stdout, stderr } = await run(['demo']);
    expect(stderr).toBe('');
    expect(stdout).toMatch(/^Example OS committed to a temporary archive repository in \d+\.\d\d s\n/);
    expect(stdout).toContain(`  ref:              ${TESTREF}\n`);
    expect(stdout).toContain(`  commit:           ${COMMIT_V0}\n`);
    expect(stdout).toContain(`  content checksum: ${CONTENTS_CHECKSUM_V0}\n`);
    expect(stdout).toContain('  version:          42.0\n');
    expect(stdout).toContain('  timestamp:        1997-08-29T18:30:42Z\n');
    expect(stdout).toContain('  signed by:        GPG key 7FCA23D8472CDAFA\n');
    expect(stdout).toMatch(/\nEncapsulated as a temporary OCI image in \d+\.\d\d s \(gzip layers\)\n  image digest: sha256:[0-9a-f]{64}\n/);
    // The three layers of upstream's chunked fixture test (spec §7.5), commit layer first.
    const table = stdout.split('\n').filter((l) => /^  sha256:[0-9a-f]{12}  /.test(l));
    expect(table).toHaveLength(3);
    expect(table[0]).toMatch(new RegExp(`ostree export of commit ${COMMIT_V0}$`));
    expect(table[1]).toMatch(/  9 components$/);
    expect(table[2]).toMatch(/  Reserved for new packages$/);
    expect(stdout).toMatch(/\nUnencapsulated into a fresh bare-user repository in \d+\.\d\d s\n/);
    expect(stdout).toContain(`  commit:           ${COMMIT_V0} (same as built)\n`);
    expect(stdout).toContain(`  content checksum: ${CONTENTS_CHECKSUM_V0} (same)\n`);
    expect(stdout).toContain('  GPG: Good signature from "Ostree Tester <test@test.com>"\n');
    expect(stdout).toMatch(/\nTotal: \d+\.\d\d s\n$/);
    expect(await demoScratch()).toEqual([]); // scratch dir removed
  });

  it('--repo keeps the repository, --mode picks its mode, --list lists the tree, --dest keeps the image', async () => {
    const repo = path.join(dir, 'repo');
    const image = path.join(dir, 'image');
    const { stdout } = await run(['demo', '--repo', repo, '--mode', 'bare-user', '--list', '--dest', `oci:${image}:v0`, '--compression', 'zstd']);
    expect(stdout).toMatch(new RegExp(`^Example OS committed to ${repo} in `));
    expect((await ostreeCli(repo, ['rev-parse', TESTREF])).trim()).toBe(COMMIT_V0);
    expect(await ostreeCli(repo, ['config', 'get', 'core.mode'])).toBe('bare-user\n');
    await ostreeCli(repo, ['fsck']);
    // The listing (read in-process) matches `ostree ls -R`, whitespace aside.
    const norm = (lines: string[]) => lines.map((l) => l.trim().replace(/\s+/g, ' '));
    const ls = (await ostreeCli(repo, ['ls', '-R', TESTREF])).trim().split('\n');
    expect(norm(stdout.split('\n').filter((l) => /^    [-dl]\d{5} /.test(l)))).toEqual(norm(ls));
    // The kept image: zstd layers, readable by skopeo, the digest the demo printed.
    expect(stdout).toContain(`Encapsulated as oci:${image}:v0 in `);
    const printed = /image digest: (sha256:[0-9a-f]{64})/.exec(stdout)![1];
    const skopeo = async (...args: string[]) => (await promisify(execFile)('skopeo', args)).stdout;
    expect((JSON.parse(await skopeo('inspect', `oci:${image}:v0`)) as { Digest: string }).Digest).toBe(printed);
    const manifest = JSON.parse(await skopeo('inspect', '--raw', `oci:${image}:v0`)) as { layers: { mediaType: string }[] };
    expect(manifest.layers.map((l) => l.mediaType)).toEqual(Array(3).fill('application/vnd.oci.image.layer.v1.tar+zstd'));
    // Again into the same repo: same commit, no error.
    expect((await run(['demo', '--repo', repo])).stdout).toContain(`  commit:           ${COMMIT_V0} (same as built)\n`);
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
      stderr: expect.stringMatching(/^error: option '--mode <mode>' argument 'nope' is invalid\. Allowed choices are archive, bare, bare-user, bare-user-only\.\n/),
    });
    await expect(run(['demo', '--compression', 'lz4'])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^error: option '--compression <type>' argument 'lz4' is invalid\. Allowed choices are gzip, gzip-fast, zstd, none\.\n/),
    });
  });
});
