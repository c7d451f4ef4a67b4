// Shared by the encapsulate/unencapsulate tests: temp dirs, fresh repos, the round-trip check
// (same commit, content and detached metadata, `ostree fsck` clean, no refs).
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import { unencapsulate, type Import, type UnencapsulateOpts } from '../../src/container/unencapsulate.js';
import { createExampleOs, ostreeCli, type ExampleOs } from '../../src/fixture/index.js';
import { OstreeImageReference } from '../../src/ref/image-reference.js';
import { Repo, vardictToBytes } from '../../src/repo/repo.js';

const dirs: string[] = [];

export async function tmpdir(prefix: string): Promise<string> {
  const d = await mkdtemp(path.join('/var/tmp', `enc-${prefix}`));
  dirs.push(d);
  return d;
}

export async function cleanupTmp(): Promise<void> {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

/** The signed, bootable example OS (spec §7) in its own temp dir, and its repo opened. */
export async function exampleOs(o: { bootable?: boolean } = {}): Promise<{ fx: ExampleOs; repo: Repo }> {
  const fx = await createExampleOs({ dir: await tmpdir('fx-'), ...o });
  return { fx, repo: await Repo.open(fx.repoPath) };
}

/** A fresh bare-user repo (upstream's destination mode). */
export async function freshRepo(mode: 'bare-user' | 'archive' | 'bare' = 'bare-user'): Promise<Repo> {
  return Repo.create(path.join(await tmpdir('dest-'), 'repo'), mode);
}

/** Serialized detached metadata of a commit (or null). */
export async function detachedBytes(repo: Repo, commit: string): Promise<Buffer | null> {
  const d = await repo.readCommitDetachedMetadata(commit);
  return d ? vardictToBytes(d) : null;
}

/**
 * Unencapsulates `imgref` (an ostree image reference) into a fresh repo and checks that the
 * result is the source commit: same checksum, content checksum and detached metadata, a clean
 * `ostree fsck`, and no ref written.
 */
export async function expectRoundTrip(src: Repo, commit: string, imgref: string, opts: UnencapsulateOpts = {}): Promise<Import & { dest: Repo }> {
  const dest = await freshRepo();
  const r = await unencapsulate(dest, OstreeImageReference.parse(imgref), opts);
  expect(r.ostreeCommit).toBe(commit);
  expect(await dest.contentChecksum(commit)).toBe(await src.contentChecksum(commit));
  expect(await detachedBytes(dest, commit)).toEqual(await detachedBytes(src, commit));
  expect(await ostreeCli(dest.path, ['fsck'])).toMatch(/no errors found/);
  expect((await dest.loadCommit(commit)).partial).toBe(false);
  expect([...(await dest.listRefs()).keys()]).toEqual([]);
  return { ...r, dest };
}
