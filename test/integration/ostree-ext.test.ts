// `ostree container …` through the real ostree binary. libostree 2022.7 runs a command it does not
// know, NAME, as /usr/libexec/libostree/ext/ostree-NAME: the directory is compiled in and has no
// override, so the second test installs the entry at the real path and removes what it added,
// holding a machine-wide lock so that suites running at the same time (other checkouts) take turns.
// The CLI is the built one (lib/, built by `pretest`), as installed.
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { lstat, mkdir, readFile, readlink, realpath, rm, rmdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/native.js';
import { COMMIT_V0 } from '../../src/fixture/index.js';
import { OciDir } from '../../src/oci/layout.js';
import { escapeRef } from '../../src/ref/refescape.js';
import { cleanupTmp, exampleOs, freshRepo, tmpdir } from './encapsulate-util.js';

const execFileP = promisify(execFile);
const CLI = path.join(packageRoot, 'lib/cli/main.js');
const cli = (...args: string[]) => execFileP(process.execPath, [CLI, ...args]);
const REAL_ENTRY = '/usr/libexec/libostree/ext/ostree-container';
const REAL_ENTRY_LOCK = '/tmp/ostree-container-libexec-entry.lock';
const VERSION = (JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;

let work: string;
beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build:ts\` first`);
  work = await tmpdir('ostree-ext-');
});
afterAll(cleanupTmp);

/** The directories of `p` that do not exist yet, innermost first (what an install would create). */
async function missingDirs(p: string): Promise<string[]> {
  const out: string[] = [];
  for (let d = path.dirname(p); !existsSync(d); d = path.dirname(d)) out.push(d);
  return out;
}

describe('install-ostree-ext', () => {
  it('links <prefix>/libexec/libostree/ext/ostree-container to the CLI; replaces its own link, names anything else and keeps it unless --force', async () => {
    const prefix = path.join(work, 'prefix');
    const entry = path.join(prefix, 'libexec/libostree/ext/ostree-container');
    const target = await realpath(CLI);
    expect((await cli('install-ostree-ext', '--prefix', prefix)).stdout).toBe(`${entry} -> ${target}\n`);
    expect(await readlink(entry)).toBe(target);
    // Its own link again, and one a removed install left dangling: replaced.
    await cli('install-ostree-ext', '--prefix', prefix);
    expect(await readlink(entry)).toBe(target);
    await rm(entry);
    await symlink('/opt/gone/node_modules/ostree-container/lib/cli/main.js', entry);
    await cli('install-ostree-ext', '--prefix', prefix);
    expect(await readlink(entry)).toBe(target);

    // What it did not make: rpm-ostree's link, a file; kept and named, replaced with --force.
    const refused = (what: string) => ({ code: 1, stderr: `error: ${entry} exists and was not made by install-ostree-ext: ${what}; --force replaces it\n` });
    await rm(entry);
    await symlink('../../../bin/rpm-ostree', entry);
    await expect(cli('install-ostree-ext', '--prefix', prefix)).rejects.toMatchObject(refused('a symbolic link to ../../../bin/rpm-ostree'));
    expect(await readlink(entry)).toBe('../../../bin/rpm-ostree');
    await cli('install-ostree-ext', '--prefix', prefix, '--force');
    expect(await readlink(entry)).toBe(target);
    await rm(entry);
    await writeFile(entry, '#!/bin/sh\n');
    await expect(cli('install-ostree-ext', '--prefix', prefix)).rejects.toMatchObject(refused('a regular file of 10 bytes'));
    expect(await readFile(entry, 'utf8')).toBe('#!/bin/sh\n');
    await cli('install-ostree-ext', '--prefix', prefix, '--force');
    expect(await readlink(entry)).toBe(target);

    // A directory is never replaced.
    await rm(entry);
    await mkdir(entry);
    await expect(cli('install-ostree-ext', '--prefix', prefix, '--force')).rejects.toMatchObject({
      code: 1,
      stderr: `error: ${entry} exists and is a directory; not replacing it\n`,
    });
    expect((await lstat(entry)).isDirectory()).toBe(true);
  });
});

/**
 * Holds an exclusive lock on `file` (flock(1), which the build scripts use too) until release() is
 * called or this process exits: the lock lives in a child that keeps it while its stdin is open.
 */
async function lock(file: string): Promise<() => Promise<void>> {
  const child = spawn('flock', [file, 'sh', '-c', 'echo locked; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = once(child, 'exit');
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    void exited.then(([code]) => reject(new Error(`flock ${file} exited (${String(code)}) before locking`)));
    child.stdout.once('data', () => resolve());
  });
  return async () => {
    child.stdin.end();
    await exited;
  };
}

/**
 * Runs `fn` with the real libexec entry installed, then restores what was there (a link of
 * another checkout) or removes the entry and the directories the install created.
 */
async function withOstreeExt(fn: () => Promise<void>): Promise<void> {
  const release = await lock(REAL_ENTRY_LOCK);
  try {
    await withOstreeExtLocked(fn);
  } finally {
    await release();
  }
}

async function withOstreeExtLocked(fn: () => Promise<void>): Promise<void> {
  const before = await lstat(REAL_ENTRY).catch(() => undefined);
  if (before && !before.isSymbolicLink()) {
    throw new Error(`${REAL_ENTRY} is a file of another installation; this test does not replace it`);
  }
  const previous = before ? await readlink(REAL_ENTRY) : undefined;
  const created = await missingDirs(REAL_ENTRY);
  try {
    await cli('install-ostree-ext');
    await fn();
  } finally {
    await rm(REAL_ENTRY, { force: true });
    if (previous !== undefined) await symlink(previous, REAL_ENTRY);
    for (const d of created) await rmdir(d).catch(() => undefined); // only if still empty
  }
  if (previous === undefined) expect(existsSync(REAL_ENTRY)).toBe(false);
}

/** `ostree container ARGS…` (the real ostree binary). */
const ostreeContainer = (...args: string[]) => execFileP('ostree', ['container', ...args]);

describe('ostree container', () => {
  it('reaches our CLI through the real ostree binary: --version, encapsulate, unencapsulate', async () => {
    await withOstreeExt(async () => {
      expect((await ostreeContainer('--version')).stdout).toBe(`${VERSION}\n`);

      const { fx } = await exampleOs();
      const image = path.join(work, 'image');
      const { stdout: digest } = await ostreeContainer('encapsulate', '--repo', fx.repoPath, fx.ref, `oci:${image}:v0`);
      const oci = await OciDir.open(image);
      expect(digest).toBe(`${(await oci.readIndex()).manifests[0].digest}\n`);

      const dest = await freshRepo();
      const imported = await ostreeContainer('unencapsulate', '--repo', dest.path, `ostree-unverified-image:oci:${image}:v0`);
      expect(imported).toEqual({ stdout: `Imported: ${COMMIT_V0}\n`, stderr: '' });
    });
  });

  it('reaches the layered store: image pull, then image list shows the image', async () => {
    await withOstreeExt(async () => {
      const { fx } = await exampleOs();
      const image = path.join(work, 'store-image');
      await ostreeContainer('encapsulate', '--repo', fx.repoPath, fx.ref, `oci:${image}:v0`);
      const dest = await freshRepo();
      const imgref = `ostree-unverified-image:oci:${image}:v0`;
      const pulled = await ostreeContainer('image', 'pull', '--quiet', dest.path, imgref);
      const merge = /^Wrote: (\S+) => ([0-9a-f]{64})$/m.exec(pulled.stdout);
      expect(merge?.[1]).toBe(imgref);
      // The store keys an image by its reference without the signature part (spec §1.1).
      expect(await dest.resolveRev(`ostree/container/image/${escapeRef(`oci:${image}:v0`)}`)).toBe(merge?.[2]);
      expect(await ostreeContainer('image', 'list', '--repo', dest.path)).toEqual({ stdout: `oci:${image}:v0\n`, stderr: '' });
    });
  });
});
