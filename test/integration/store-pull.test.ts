// Pulling like a 2026 host (issue 19): layers reused by diff_id whatever their compression,
// offline pulls that never start skopeo, updates downloaded now and applied later without the
// network, the free-space check before any byte is written, bootc's progress-v0 JSON on a file
// descriptor, and the importer's journal messages.
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { cp, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf } from '../../src/oci/digest.js';
import { MediaType } from '../../src/oci/media-types.js';
import { OciDir } from '../../src/oci/layout.js';
import { skopeoCopy } from '../../src/proxy/skopeo-copy.js';
import { OstreeImageReference } from '../../src/ref/image-reference.js';
import { Repo } from '../../src/repo/repo.js';
import { ImageImporter } from '../../src/store/importer.js';
import type { ImportProgress } from '../../src/store/progress.js';
import { listImages, queryImage, refForLayer } from '../../src/store/state.js';
import { runCli } from '../helpers/cli.js';
import { startRegistry } from '../helpers/registry.js';
import { editOciImage } from '../helpers/sysroot.js';
import { childProcesses } from '../helpers/process.js';
import { journalReceiver, until } from '../helpers/journal.js';
import { chunkedExampleWork, cleanupTmp, freshRepo, tmpdir } from './encapsulate-util.js';
import { repoTmpLeftovers } from './store-util.js';
import { layerTar, type LayerEntry } from '../helpers/tar.js';
import { fsck } from './tar-util.js';

const sh = promisify(execFile);
let work: string;
/** The chunked example OS plus one derived layer. */
let v1: string;
/** v1 plus one more derived layer. */
let v2: string;

/** A copy of `from` with one gzip layer of `entries` appended. */
function withLayer(from: string, to: string, entries: LayerEntry[], createdBy: string): Promise<string> {
  return editOciImage(from, to, async (oci, manifest, config) => {
    const tar = await layerTar(entries);
    const blob = await oci.writeBlob(gzipSync(tar));
    manifest.layers.push({ mediaType: MediaType.ImageLayerGzip, ...blob });
    config.rootfs.diff_ids.push(digestOf(tar));
    config.history = [...(config.history ?? []), { created: config.created, created_by: createdBy }];
  });
}

beforeAll(async () => {
  let chunked: string;
  ({ work, chunked } = await chunkedExampleWork('store-pull-'));
  v1 = await withLayer(chunked, path.join(work, 'v1'), [{ name: 'usr/share/v1/file', data: 'v1' }, { name: 'etc/v1.conf', data: 'conf' }], 'RUN v1');
  v2 = await withLayer(v1, path.join(work, 'v2'), [{ name: 'usr/share/v2/file', data: 'v2' }], 'RUN v2');
}, 120_000);
afterAll(cleanupTmp);

const unverified = (ref: string) => OstreeImageReference.parse(`ostree-unverified-image:${ref}`);

/** prepare() + import() of `ref`; the layers fetched (by their layer-started events) and the state. */
async function pull(repo: Repo, ref: string, setup: (imp: ImageImporter) => void = () => undefined, onEvent: (e: ImportProgress) => void = () => undefined) {
  const events: ImportProgress[] = [];
  const imp = new ImageImporter(repo, unverified(ref)).onProgress((e) => (events.push(e), onEvent(e)));
  setup(imp);
  const r = await imp.prepare();
  if (r.kind !== 'ready') throw new Error(`expected a ready import of ${ref}, got ${r.kind}`);
  const state = await imp.import(r.prepared);
  const fetched = events.flatMap((e) => (e.type === 'layer-started' ? [e.layer.digest] : []));
  return { state, fetched, events };
}

/** A mutable image location (what a tag is): `oci:<dir>` holding a copy of `from`. */
async function tagged(from: string): Promise<{ dir: string; ref: string; retag(to: string): Promise<void> }> {
  const dir = path.join(await tmpdir('store-pull-tag-'), 'img');
  await cp(from, dir, { recursive: true });
  return {
    dir,
    ref: `oci:${dir}`,
    retag: async (to) => {
      await rm(dir, { recursive: true, force: true });
      await cp(to, dir, { recursive: true });
    },
  };
}

/** Runs `fn` with skopeo nowhere on PATH (the CLI then cannot start a proxy). */
async function withoutSkopeo<T>(fn: () => Promise<T>): Promise<T> {
  const saved = process.env.PATH;
  process.env.PATH = await tmpdir('no-skopeo-');
  try {
    return await fn();
  } finally {
    process.env.PATH = saved;
  }
}

describe('layers found by diff_id, whatever their compression', () => {
  it('first installed from an uncompressed copy, then gzip and zstd copies: nothing fetched, the same merged tree', async () => {
    const plain = path.join(work, 'v1-plain');
    const zstd = path.join(work, 'v1-zstd');
    await sh('skopeo', ['copy', '--dest-decompress', `oci:${v1}`, `dir:${plain}`]);
    await sh('skopeo', ['copy', '--dest-compress-format', 'zstd', `oci:${v1}`, `oci:${zstd}`]);
    const zstdManifest = (await (await OciDir.open(zstd)).readManifest()).manifest;
    const gzipManifest = (await (await OciDir.open(v1)).readManifest()).manifest;
    expect(zstdManifest.layers.map((l) => l.mediaType)).toEqual(gzipManifest.layers.map(() => MediaType.ImageLayerZstd));
    expect(zstdManifest.layers.filter((l, i) => l.digest === gzipManifest.layers[i]!.digest)).toEqual([]);

    const repo = await freshRepo();
    const first = await pull(repo, `dir:${plain}`);
    expect(first.fetched).toHaveLength(gzipManifest.layers.length);
    const tree = await repo.contentChecksum(first.state.mergeCommit);
    for (const [ref, manifest] of [[`oci:${v1}`, gzipManifest], [`oci:${zstd}`, zstdManifest]] as const) {
      const again = await pull(repo, ref);
      expect(again.fetched).toEqual([]);
      expect(await repo.contentChecksum(again.state.mergeCommit)).toBe(tree);
      // Each blob got its ref, on the commit stored from the uncompressed copy.
      for (const [i, l] of manifest.layers.entries()) {
        expect(await repo.resolveRev(refForLayer(l))).toBe(await repo.resolveRev(refForLayer(first.state.manifest.layers[i]!)));
      }
    }
    // The same tree as a pull of the gzip image into an empty repo.
    const fresh = await freshRepo();
    expect(await fresh.contentChecksum((await pull(fresh, `oci:${v1}`)).state.mergeCommit)).toBe(tree);
    expect(await fsck(repo.path)).toMatch(/no errors found/);
  });

  it('a layer whose tar does not have the diff_id its configuration names is refused, and recorded nowhere', async () => {
    const lying = await editOciImage(v1, path.join(work, 'lying'), (_oci, _m, config) => {
      config.rootfs.diff_ids[config.rootfs.diff_ids.length - 1] = digestOf(Buffer.from('something else'));
    });
    const manifest = (await (await OciDir.open(lying)).readManifest()).manifest;
    const last = manifest.layers[manifest.layers.length - 1]!;
    const repo = await freshRepo();
    await expect(pull(repo, `oci:${lying}`)).rejects.toThrow(
      new RegExp(`^Importing: Parsing layer blob ${last.digest}: Layer content does not match the configuration: diff_id sha256:[0-9a-f]{64}, expected ${digestOf(Buffer.from('something else'))}$`),
    );
    expect(await repo.resolveRev(refForLayer(last), { allowNoent: true })).toBeNull();
    expect(await listImages(repo)).toEqual([]);
  });
});

describe('offline, and download now, apply later', () => {
  it('--download-only stores the update and leaves the image; --offline applies it with skopeo unavailable', async () => {
    const tag = await tagged(v1);
    const repoPath = path.join(await tmpdir('store-pull-dl-'), 'repo');
    const repo = await Repo.create(repoPath, 'bare-user');
    const imgref = `ostree-unverified-image:${tag.ref}`;
    expect((await runCli('image', 'pull', '--quiet', repoPath, imgref)).code).toBe(0);
    const before = (await queryImage(repo, tag.ref))!;

    await tag.retag(v2);
    const v2Manifest = (await (await OciDir.open(v2)).readManifest()).manifest;
    const added = v2Manifest.layers[v2Manifest.layers.length - 1]!;
    const dl = await runCli('image', 'pull', '--download-only', '--quiet', repoPath, imgref);
    expect(dl.stderr).toBe('');
    expect(dl.stdout).toMatch(new RegExp(`layers already present: ${v2Manifest.layers.length - 1}; layers needed: 1 \\(.*\\)\nDownloaded: ${imgref.replaceAll('/', '\\/')} sha256:[0-9a-f]{64} \\(not applied\\)\n$`));
    const pending = (await queryImage(repo, tag.ref))!;
    expect(pending.mergeCommit).toBe(before.mergeCommit);
    expect(pending.cachedUpdate?.manifest.layers.map((l) => l.digest)).toEqual(v2Manifest.layers.map((l) => l.digest));
    expect(await repo.resolveRev(refForLayer(added), { allowNoent: true })).not.toBeNull();
    // The layer GC keeps what was downloaded for the pending update.
    expect(await runCli('image', 'prune-layers', '--repo', repoPath)).toMatchObject({ code: 0, stderr: '' });
    expect(await repo.resolveRev(refForLayer(added), { allowNoent: true })).not.toBeNull();

    // The source is gone and skopeo cannot run: the update applies from the store alone.
    await rm(tag.dir, { recursive: true });
    const applied = await withoutSkopeo(() => runCli('image', 'pull', '--offline', '--quiet', repoPath, imgref));
    expect(applied.stderr).toBe('');
    const merge = /^Wrote: \S+ => ([0-9a-f]{64})$/m.exec(applied.stdout)?.[1];
    // The very merge commit an online pull of v2 writes.
    const online = await freshRepo();
    expect(merge).toBe((await pull(online, `oci:${v2}`)).state.mergeCommit);
    expect((await queryImage(repo, tag.ref))!.mergeCommit).toBe(merge);
    expect(await withoutSkopeo(() => runCli('image', 'pull', '--offline', repoPath, imgref))).toEqual({ code: 0, stdout: `No changes in ${imgref} => ${merge}\n`, stderr: '' });
    // Without --offline the same pull needs skopeo (what the offline runs did without).
    const online2 = await withoutSkopeo(() => runCli('image', 'pull', repoPath, imgref));
    expect(online2.stderr).toMatch(/^error: Preparing import: Fetching manifest: skopeo spawn error: No such file or directory/);
    expect(await fsck(repoPath)).toMatch(/no errors found/);
  });

  it('offline pulls that need the network fail naming what is missing, and start no skopeo', async () => {
    const noSkopeo = { skopeoCmd: { program: '/nonexistent/skopeo' } };
    const tag = await tagged(v1);
    const repo = await freshRepo();
    // Nothing stored: the manifest itself is missing.
    await expect(new ImageImporter(repo, unverified(tag.ref), noSkopeo).setOffline().prepare()).rejects.toThrow(
      `Preparing import: Fetching manifest: Offline: ${tag.ref} is not stored and no update of it was downloaded; its manifest must be fetched`,
    );
    await pull(repo, tag.ref);
    // Stored, no update known: already present, from the store alone.
    const present = await new ImageImporter(repo, unverified(tag.ref), noSkopeo).setOffline().prepare();
    expect(present.kind).toBe('already-present');
    // An update seen (prepare() caches it) but not downloaded: its new layer is missing.
    await tag.retag(v2);
    expect((await runCli('image', 'pull', '--check', path.join(work, 'checked.json'), repo.path, `ostree-unverified-image:${tag.ref}`)).code).toBe(0);
    const v2Manifest = (await (await OciDir.open(v2)).readManifest()).manifest;
    const added = v2Manifest.layers[v2Manifest.layers.length - 1]!;
    await expect(new ImageImporter(repo, unverified(tag.ref), noSkopeo).setOffline().prepare()).rejects.toThrow(
      new RegExp(`^Preparing import: Fetching manifest: Offline: 1 layers \\(.+\\) of the update sha256:[0-9a-f]{64} of ${tag.ref.replaceAll('/', '\\/')} are not stored: ${added.digest}$`),
    );
    expect(childProcesses().filter((c) => / skopeo$/.test(c))).toEqual([]);
  });
});

describe('free space', () => {
  it('refuses before writing a byte when the layers do not fit, with both numbers; disableSpaceCheck() skips it', async () => {
    const big = await withLayer(v1, path.join(work, 'big'), Array.from({ length: 6 }, (_, i) => ({ name: `usr/share/big/f${i}`, data: randomBytes(1024 * 1024) })), 'RUN big');
    const mnt = await tmpdir('store-pull-tmpfs-');
    await sh('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mnt]).catch((e: Error) => {
      throw new Error(`the free-space test mounts a small tmpfs (root needed): ${e.message}`);
    });
    try {
      const repo = await Repo.create(path.join(mnt, 'repo'), 'bare-user');
      const objectsBefore = await readdir(path.join(repo.path, 'objects'), { recursive: true });
      await expect(pull(repo, `oci:${big}`)).rejects.toThrow(
        new RegExp(`^Importing: Not enough free space in ${repo.path.replaceAll('/', '\\/')} for \\d+ layers of oci:${big.replaceAll('/', '\\/')}: needs 6\\.\\d\\sMB, [\\d.]+\\s[kM]B free$`),
      );
      expect(await readdir(path.join(repo.path, 'objects'), { recursive: true })).toEqual(objectsBefore);
      expect(await repo.listRefs()).toEqual(new Map());
      expect(await repoTmpLeftovers(repo.path)).toEqual([]);
      // Skipped, the pull starts fetching and runs into the full disk.
      let started = 0;
      await expect(pull(repo, `oci:${big}`, (imp) => imp.disableSpaceCheck(), (e) => e.type === 'layer-started' && started++)).rejects.toThrow(
        /No space left on device|min-free-space/,
      );
      expect(started).toBeGreaterThan(0);
    } finally {
      await sh('umount', ['-l', mnt]);
    }
  });
});

describe('--progress-fd: bootc progress-v0 JSON lines', () => {
  it('Start, ProgressBytes per layer as subtasks, ProgressSteps importing; canonical JSON with bootc field names', async () => {
    const repoPath = path.join(await tmpdir('store-pull-fd-'), 'repo');
    await Repo.create(repoPath, 'bare-user');
    const file = path.join(path.dirname(repoPath), 'progress.jsonl');
    const fd = openSync(file, 'w');
    let r;
    try {
      r = await runCli('image', 'pull', '--quiet', '--progress-fd', String(fd), repoPath, `ostree-unverified-image:oci:${v1}`);
    } finally {
      closeSync(fd);
    }
    expect(r.code).toBe(0);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    // Canonical JSON: keys sorted at every level.
    const canonical = (v: unknown): unknown =>
      Array.isArray(v) ? v.map(canonical) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => [k, canonical(x)])) : v;
    expect(lines).toEqual(events.map((e) => JSON.stringify(canonical(e))));
    expect(events[0]).toEqual({ type: 'Start', version: '0.1.0' });
    const bytes = events.filter((e) => e.type === 'ProgressBytes');
    const manifest = (await (await OciDir.open(v1)).readManifest()).manifest;
    const digest = (await (await OciDir.open(v1)).readManifest()).descriptor.digest;
    for (const e of bytes) {
      expect(Object.keys(e).sort()).toEqual(['bytes', 'bytesCached', 'bytesTotal', 'description', 'id', 'steps', 'stepsCached', 'stepsTotal', 'subtasks', 'task', 'type']);
      expect(e).toMatchObject({ task: 'pulling', description: `Pulling Image: ${digest}`, bytesCached: 0, stepsCached: 0, stepsTotal: manifest.layers.length });
      for (const s of e.subtasks as Record<string, unknown>[]) {
        expect(Object.keys(s).sort()).toEqual(['bytes', 'bytesCached', 'bytesTotal', 'description', 'id', 'subtask']);
        expect(s.id).toMatch(/^[0-9a-f]{21}$/);
        expect(s.description).toBe(`${s.subtask as string}: ${s.id as string}`);
        expect(['ostree chunk', 'layer']).toContain(s.subtask);
        expect(s.bytes as number).toBeLessThanOrEqual(s.bytesTotal as number);
      }
    }
    const total = manifest.layers.reduce((n, l) => n + l.size, 0);
    expect(bytes[bytes.length - 1]).toMatchObject({ bytes: total, bytesTotal: total, steps: manifest.layers.length });
    expect((bytes[bytes.length - 1]!.subtasks as unknown[]).length).toBe(manifest.layers.length);
    const steps = events.filter((e) => e.type === 'ProgressSteps');
    expect(steps.map((e) => [e.task, e.steps, e.stepsTotal])).toEqual([
      ['importing', 0, 1],
      ['importing', 1, 1],
    ]);
    expect(events[events.length - 1]).toEqual({
      type: 'ProgressSteps', task: 'importing', description: 'Importing Image', id: digest, stepsCached: 0, steps: 1, stepsTotal: 1,
      subtasks: [{ subtask: 'importing', description: 'Importing Image', id: 'importing', completed: true }],
    });
    expect((await runCli('image', 'pull', '--progress-fd', '2', repoPath, `oci:${v1}`)).stderr).toMatch(/Cannot use fd 2 for progress JSON/);
  });
});

describe('journal', () => {
  it("a pull logs upstream's messages: Fetching <imgref>, then the layers present and needed", async () => {
    const j = await journalReceiver();
    process.env.OSTREE_CONTAINER_JOURNAL_SOCKET = j.socket;
    try {
      const repo = await freshRepo();
      const { state } = await pull(repo, `oci:${v1}`);
      await until(() => j.entries.length === 2);
      expect(j.entries.map((e) => [e.fields.MESSAGE, e.fields.PRIORITY])).toEqual([
        [`Fetching ostree-unverified-image:oci:${v1}`, '6'],
        [expect.stringMatching(new RegExp(`^layers already present: 0; layers needed: ${state.manifest.layers.length} \\(.+\\)$`)), '6'],
      ]);
    } finally {
      delete process.env.OSTREE_CONTAINER_JOURNAL_SOCKET;
      j.stop();
    }
  });
});

describe('one skopeo per pull', () => {
  it('an oci-archive: pull runs one proxy (so the archive is unpacked once)', async () => {
    const archive = path.join(work, 'v1.ociarchive');
    await skopeoCopy(`oci:${v1}`, `oci-archive:${archive}:latest`);
    const repo = await freshRepo();
    let most = 0;
    const { fetched, state } = await pull(repo, `oci-archive:${archive}:latest`, undefined, () => {
      most = Math.max(most, childProcesses().filter((c) => / skopeo$/.test(c)).length);
    });
    expect(fetched).toHaveLength(state.manifest.layers.length);
    expect(most).toBe(1);
  });

  it('a registry pull fetches through one proxy per layer in flight (the fetch concurrency) and stops them all', async () => {
    const registry = await startRegistry();
    try {
      const ref = `${registry.ref('exampleos/v1')}:latest`;
      await skopeoCopy(`oci:${v1}`, ref, { destTlsVerify: false });
      const repo = await freshRepo();
      const skopeos = () => childProcesses().filter((c) => / skopeo$/.test(c)).length;
      let most = 0;
      const imp = new ImageImporter(repo, unverified(ref), { insecureSkipTlsVerification: true })
        .setFetchConcurrency(3)
        .onProgress(() => {
        most = Math.max(most, skopeos());
      });
      const r = await imp.prepare();
      if (r.kind !== 'ready') throw new Error(`expected a ready import, got ${r.kind}`);
      expect(r.prepared.layersToFetch().length).toBeGreaterThan(3);
      const state = await imp.import(r.prepared);
      // The others start as the first fetches: all three run by the first layer's events.
      expect(most).toBe(3);
      expect(skopeos()).toBe(0);
      expect((await queryImage(repo, ref))?.mergeCommit).toBe(state.mergeCommit);
      expect(await fsck(repo.path)).toMatch(/no errors found/);
    } finally {
      await registry.stop();
    }
  });
});
