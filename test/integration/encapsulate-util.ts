// Shared by the encapsulate/unencapsulate tests (on top of tar-util's temp dirs and checks):
// the example OS with its repo, fresh repos, and the round-trip check (same commit, content and
// detached metadata, `ostree fsck` clean, no refs).
import path from 'node:path';
import { expect } from 'vitest';
import { computeSizes, type ObjectMetaSized } from '../../src/container/chunking.js';
import { encapsulate } from '../../src/container/encapsulate.js';
import { unencapsulate, type Import, type UnencapsulateOpts } from '../../src/container/unencapsulate.js';
import type { ExampleOs } from '../../src/fixture/index.js';
import { ImageReference, OstreeImageReference } from '../../src/ref/image-reference.js';
import { Repo, vardictToBytes } from '../../src/repo/repo.js';
import { exampleOs as exampleOsOnly, fsck, tmpdir } from './tar-util.js';

export { cleanupTmp, tmpdir } from './tar-util.js';

/** The signed, bootable example OS (spec §7) in its own temp dir, and its repo opened. */
export async function exampleOs(o: { bootable?: boolean } = {}): Promise<{ fx: ExampleOs; repo: Repo }> {
  const fx = await exampleOsOnly(o);
  return { fx, repo: await Repo.open(fx.repoPath) };
}

/** A test file's setup: the example OS, its sized content mapping (spec §7.5) and a work dir. */
export async function exampleWork(prefix: string): Promise<{ fx: ExampleOs; repo: Repo; meta: ObjectMetaSized; work: string }> {
  const { fx, repo } = await exampleOs();
  return { fx, repo, meta: await computeSizes(repo, await fx.getObjectMeta()), work: await tmpdir(prefix) };
}

/** exampleWork, and the example OS encapsulated chunked (commit layer + chunk layers) at `<work>/chunked`. */
export async function chunkedExampleWork(
  prefix: string,
  config: Parameters<typeof encapsulate>[2] = {},
): Promise<{ fx: ExampleOs; repo: Repo; meta: ObjectMetaSized; work: string; chunked: string }> {
  const w = await exampleWork(prefix);
  const chunked = path.join(w.work, 'chunked');
  await encapsulate(w.repo, w.fx.ref, config, { contentmeta: w.meta }, ImageReference.parse(`oci:${chunked}`));
  return { ...w, chunked };
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
  expect(await fsck(dest.path)).toMatch(/no errors found/);
  expect((await dest.loadCommit(commit)).partial).toBe(false);
  expect([...(await dest.listRefs()).keys()]).toEqual([]);
  return { ...r, dest };
}
