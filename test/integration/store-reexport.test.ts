// Reexport of a stored image (spec store §4 `export`, CLI `image reexport`): the layers are
// rewritten, so what must survive is checked layer by layer against the original: each chunk
// layer carries the same objects (its stored commit lists the same files as the original's), the
// derived layer the same tree, every diff_id is the sha256 of the decompressed blob, labels,
// history and annotations are kept. To `oci:` directly; to `oci-archive:`, a registry and
// `containers-storage:` through skopeo, each read back and imported again.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeSizes } from '../../src/container/chunking.js';
import { DIFFID_LABEL } from '../../src/container/constants.js';
import { encapsulate } from '../../src/container/encapsulate.js';
import { ExampleOs } from '../../src/fixture/exampleos.js';
import { createNonOstreeExampleImage } from '../../src/fixture/non-ostree.js';
import { openOciArchive } from '../../src/oci/archive.js';
import { OciDir } from '../../src/oci/layout.js';
import { MediaType } from '../../src/oci/media-types.js';
import type { ImageConfiguration, ImageManifest } from '../../src/oci/types.js';
import { skopeoCopy } from '../../src/proxy/skopeo-copy.js';
import { ImageReference } from '../../src/ref/image-reference.js';
import type { Repo } from '../../src/repo/repo.js';
import { copy } from '../../src/store/copy.js';
import { exportImage } from '../../src/store/export.js';
import { queryImage, refForLayer, type LayeredImageState } from '../../src/store/state.js';
import { registryFixture } from '../helpers/registry.js';
import { childProcesses } from '../helpers/process.js';
import { deriveOciImage, editOciImage } from '../helpers/sysroot.js';
import { withOwnTmpdir } from '../helpers/tmpdir.js';
import { withSilentServer } from '../helpers/silent-server.js';
import { cleanupTmp, freshRepo, tmpdir } from './encapsulate-util.js';
import { fileChecksum, listCommit, pullImage } from './store-util.js';
import { fsck } from './tar-util.js';

const reg = registryFixture('store-reexport-');
let work: string;
/** The ostree commit of the image. */
let baseCommit: string;
/** The chunked example OS with one derived layer, and the repo it was pulled into. */
let derived: string;
let repo: Repo;
let stored: LayeredImageState;
/** `ostree ls -R` of each stored layer commit of the original image, in manifest order. */
let listings: Map<string, string>[];

/** `ostree ls -R` of the commit each layer of `manifest` is stored as in `r`. */
async function layerListings(r: Repo, manifest: ImageManifest): Promise<Map<string, string>[]> {
  const out = [];
  for (const l of manifest.layers) out.push(await listCommit(r.path, await r.resolveRev(refForLayer(l))));
  return out;
}

const pull = async (r: Repo, imgref: string, proxyConfig = {}): Promise<LayeredImageState> => (await pullImage(r, imgref, { proxyConfig })).state;

beforeAll(async () => {
  work = await tmpdir('store-reexport-');
  // The example OS with arping rewritten: the fixture's carries a security.capability value the
  // kernel refuses, which containers-storage would have to write (as in helpers/sysroot.ts).
  const fx = await ExampleOs.create({ dir: path.join(work, 'fx'), signed: false });
  await fx.update('m 0 0 755\nr usr/bin/arping arping-binary\n');
  baseCommit = await fx.repo.resolveRev(fx.ref);
  const chunked = path.join(work, 'chunked');
  const contentmeta = await computeSizes(fx.repo, await fx.getObjectMeta());
  await encapsulate(fx.repo, fx.ref, { labels: { foo: 'bar', 'org.example.role': 'reexport-test' } }, { contentmeta }, ImageReference.parse(`oci:${chunked}`));
  derived = await deriveOciImage(chunked, path.join(work, 'derived'), { 'usr/share/derived/note': 'from a derived layer\n', 'usr/bin/bash': 'replaced bash\n' }, 'RUN add a note');
  repo = await freshRepo();
  stored = await pull(repo, `ostree-unverified-image:oci:${derived}`);
  listings = await layerListings(repo, stored.manifest);
}, 180_000);
afterAll(cleanupTmp);

/** The uncompressed bytes of a layer blob. */
function decompressed(mediaType: string, blob: Buffer): Buffer {
  if (mediaType === MediaType.ImageLayerGzip || mediaType === 'application/vnd.docker.image.rootfs.diff.tar.gzip') return gunzipSync(blob);
  if (mediaType === MediaType.ImageLayer || mediaType === 'application/vnd.docker.image.rootfs.diff.tar') return blob;
  throw new Error(`unexpected layer media type ${mediaType}`);
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** What a reexported image written as an OCI layout must be, compared with the stored original. */
/** `annotations: false`: the copy went through something that drops them (checked elsewhere). */
async function expectFaithful(oci: OciDir, manifest: ImageManifest, config: ImageConfiguration, o: { annotations?: boolean } = {}): Promise<void> {
  const orig = stored.manifest;
  const origConfig = stored.configuration;
  expect(manifest.layers).toHaveLength(orig.layers.length);
  expect(config.rootfs).toEqual({ type: 'layers', diff_ids: expect.any(Array) });
  expect(config.rootfs.diff_ids).toHaveLength(orig.layers.length);
  for (const [i, l] of manifest.layers.entries()) {
    const blob = await readFile(oci.blobPath(l.digest));
    expect(sha256(blob), `layer ${i} digest`).toBe(l.digest);
    expect(blob.length, `layer ${i} size`).toBe(l.size);
    expect(sha256(decompressed(l.mediaType, blob)), `layer ${i} diff_id`).toBe(config.rootfs.diff_ids[i]);
    if (o.annotations ?? true) expect(l.annotations, `layer ${i} annotations`).toEqual(orig.layers[i]!.annotations);
  }
  // The ostree part is commit layer + chunk layers; the label names its last layer's new diff_id.
  const ostreeLayers = orig.layers.length - 1;
  const labels = config.config?.Labels ?? {};
  expect(labels[DIFFID_LABEL]).toBe(config.rootfs.diff_ids[ostreeLayers - 1]);
  expect({ ...labels, [DIFFID_LABEL]: 'x' }).toEqual({ ...origConfig.config!.Labels, [DIFFID_LABEL]: 'x' });
  expect(labels).toMatchObject({ foo: 'bar', 'org.example.role': 'reexport-test', 'ostree.commit': baseCommit });
  // The manifest keeps its media type and annotations, the final diff_id annotation updated too.
  expect(manifest.mediaType).toBe(orig.mediaType);
  expect(orig.annotations?.[DIFFID_LABEL]).toBe(origConfig.config!.Labels![DIFFID_LABEL]);
  if (o.annotations ?? true) expect(manifest.annotations).toEqual({ ...orig.annotations, [DIFFID_LABEL]: labels[DIFFID_LABEL] });
  expect(config.history).toEqual(origConfig.history);
  expect(config.history!.at(-1)!.created_by).toBe('RUN add a note');
  expect({ ...config, config: undefined, rootfs: undefined }).toEqual({ ...origConfig, config: undefined, rootfs: undefined });
}

/** Imports `imgref` into a fresh repo: each layer stored as the original's, the same merged tree. */
async function expectReimports(imgref: string, proxyConfig = {}): Promise<LayeredImageState> {
  const again = await freshRepo();
  const back = await pull(again, imgref, proxyConfig);
  expect(back.baseCommit).toBe(baseCommit);
  const relisted = await layerListings(again, back.manifest);
  for (const [i, l] of relisted.entries()) expect(l, `layer ${i}`).toEqual(listings[i]);
  expect(await again.contentChecksum(back.mergeCommit)).toBe(await repo.contentChecksum(stored.mergeCommit));
  expect(await fsck(again.path)).toMatch(/no errors found/);
  return back;
}

describe('reexport to oci:', () => {
  it('the chunk layers hold the same objects, diff_ids are the decompressed blobs\' digests, labels and history survive', async () => {
    // What the original holds (else the comparisons below prove nothing): chunk layers with
    // objects (and upstream's reserved last one, empty).
    expect(listings.slice(1, -1).filter((l) => l.size > 1).length).toBeGreaterThan(3);

    const out = path.join(work, 'reexported');
    const digest = await exportImage(repo, ImageReference.parse(`oci:${derived}`), ImageReference.parse(`oci:${out}:v1`));
    const oci = await OciDir.open(out);
    const { manifest, descriptor } = await oci.readManifest('v1');
    expect(descriptor.digest).toBe(digest);
    await expectFaithful(oci, manifest, await oci.readConfig(manifest));
    // The layers were rewritten (not copied): the derived layer is now a plain tar.
    expect(manifest.layers.at(-1)!.mediaType).toBe(MediaType.ImageLayer);
    await expectReimports(`ostree-unverified-image:oci:${out}:v1`);
  });

  it('an image that is not stored is refused, naming it; nothing is written', async () => {
    const out = path.join(work, 'never');
    await expect(exportImage(repo, ImageReference.parse('oci:/nonexistent'), ImageReference.parse(`oci:${out}`))).rejects.toThrow('No such image: oci:/nonexistent');
    await expect(readFile(path.join(out, 'index.json'))).rejects.toThrow(/ENOENT/);
  });
});

describe('reexport to other transports (through skopeo)', () => {
  it('oci-archive:', async () => {
    const archive = path.join(work, 'reexported.ociarchive');
    const digest = await exportImage(repo, ImageReference.parse(`oci:${derived}`), ImageReference.parse(`oci-archive:${archive}:v1`));
    const opened = await openOciArchive(archive, await tmpdir('store-reexport-archive-'));
    try {
      const { manifest, descriptor } = await opened.dir.readManifest('v1');
      expect(descriptor.digest).toBe(digest);
      await expectFaithful(opened.dir, manifest, await opened.dir.readConfig(manifest));
    } finally {
      await opened.remove();
    }
    await expectReimports(`ostree-unverified-image:oci-archive:${archive}:v1`);
  });

  it('a registry (docker://)', async () => {
    const dest = `${reg.registry.ref('exampleos/reexported')}:v1`;
    const digest = await exportImage(repo, ImageReference.parse(`oci:${derived}`), ImageReference.parse(dest), { insecureSkipTlsVerification: true });
    // What the registry serves is what was reported and what we wrote.
    const back = await expectReimports(`ostree-unverified-registry:${dest.slice('docker://'.length)}`, { insecureSkipTlsVerification: true });
    expect(back.manifestDigest).toBe(digest);
    const copy = path.join(work, 'from-registry');
    await skopeoCopy(dest, `oci:${copy}:v1`, { srcTlsVerify: false, preserveDigests: true });
    const oci = await OciDir.open(copy);
    const { manifest } = await oci.readManifest('v1');
    await expectFaithful(oci, manifest, await oci.readConfig(manifest));
  });

  it('containers-storage: (a private vfs store)', async () => {
    // containers/storage reads its configuration from CONTAINERS_STORAGE_CONF: a store of our own
    // in the work dir, so the machine's images are never touched.
    const root = await tmpdir('store-reexport-cs-');
    const conf = path.join(root, 'storage.conf');
    await writeFile(conf, `[storage]\ndriver = "vfs"\ngraphroot = "${root}/graph"\nrunroot = "${root}/run"\n`);
    const saved = process.env.CONTAINERS_STORAGE_CONF;
    process.env.CONTAINERS_STORAGE_CONF = conf;
    try {
      const dest = 'containers-storage:localhost/exampleos-reexported:v1';
      const digest = await exportImage(repo, ImageReference.parse(`oci:${derived}`), ImageReference.parse(dest));
      const { stdout } = await promisify(execFile)('skopeo', ['inspect', dest]);
      expect((JSON.parse(stdout) as { Digest: string }).Digest).toBe(digest);
      const raw = JSON.parse((await promisify(execFile)('skopeo', ['inspect', '--raw', dest])).stdout) as ImageManifest;
      expect(raw.layers.map((l) => l.annotations)).toEqual(stored.manifest.layers.map((l) => l.annotations));
      expect(Object.keys(raw.annotations ?? {}).sort()).toEqual(Object.keys(stored.manifest.annotations ?? {}).sort());
      // Debian 12's skopeo cannot serve containers-storage: to the importer (proxy protocol 0.2.3):
      // read it back through an OCI layout (skopeo's copy out of the store drops layer annotations).
      const copy = path.join(work, 'from-containers-storage');
      await skopeoCopy(dest, `oci:${copy}:v1`);
      const oci = await OciDir.open(copy);
      const { manifest } = await oci.readManifest('v1');
      await expectFaithful(oci, manifest, await oci.readConfig(manifest), { annotations: false });
      await expectReimports(`ostree-unverified-image:oci:${copy}:v1`);
    } finally {
      if (saved === undefined) delete process.env.CONTAINERS_STORAGE_CONF;
      else process.env.CONTAINERS_STORAGE_CONF = saved;
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('failures', () => {
  /** A fresh repo holding the derived image, for a test that damages it. */
  async function damaged(): Promise<Repo> {
    const r = await freshRepo();
    await pull(r, `ostree-unverified-image:oci:${derived}`);
    return r;
  }
  const objectFile = (r: Repo, checksum: string) => path.join(r.path, 'objects', checksum.slice(0, 2), `${checksum.slice(2)}.file`);
  const src = () => ImageReference.parse(`oci:${derived}`);
  /** The layout at `dir` holds no image and no temporary file; its blobs are returned. */
  async function noImageIn(dir: string): Promise<string[]> {
    expect((await (await OciDir.open(dir)).readIndex()).manifests).toEqual([]);
    expect((await readdir(dir, { recursive: true })).filter((n) => path.basename(n).startsWith('.tmp-'))).toEqual([]);
    return readdir(path.join(dir, 'blobs/sha256'));
  }

  it('an image without an ostree commit layer is refused before the destination is created', async () => {
    const generic = await createNonOstreeExampleImage({ dir: await tmpdir('store-reexport-generic-') });
    const r = await freshRepo();
    await pull(r, `ostree-unverified-image:${generic.imageReference}`);
    const out = path.join(work, 'generic-out');
    await expect(exportImage(r, ImageReference.parse(generic.imageReference), ImageReference.parse(`oci:${out}`))).rejects.toThrow(/^Missing ostree\.final-diffid$/);
    await expect(readdir(out)).rejects.toThrow(/ENOENT/);
  });

  it('a chunk layer that cannot be written: Exporting layers, no layer file left', async () => {
    const r = await damaged();
    const chunk = await r.resolveRev(refForLayer(stored.manifest.layers[1]!));
    const { rootContents } = await r.loadCommit(chunk);
    const [victim] = (await r.readDirTree(rootContents)).files.map((f) => f.name);
    await rm(objectFile(r, victim!));
    const out = path.join(work, 'chunk-fails');
    await expect(exportImage(r, src(), ImageReference.parse(`oci:${out}`))).rejects.toThrow(new RegExp(`^Exporting layers: .*${victim}`));
    expect(await noImageIn(out)).toEqual([]);
  });

  it('a derived layer ostree cannot export: the command, its status and stderr; the partial blob removed', async () => {
    const r = await damaged();
    const layer = stored.manifest.layers.at(-1)!;
    const commit = await r.resolveRev(refForLayer(layer));
    await rm(objectFile(r, await fileChecksum(r.path, commit, '/usr/share/derived/note')));
    const out = path.join(work, 'derived-fails');
    await expect(exportImage(r, src(), ImageReference.parse(`oci:${out}`))).rejects.toThrow(
      new RegExp(`^Exporting layer ${layer.digest}: ostree export ${commit} failed \\(1\\): error: .+`),
    );
    // What was written before it (the ostree layers) stays as unreferenced blobs; not the partial one.
    expect(await noImageIn(out)).toHaveLength(stored.manifest.layers.length - 1);
  });

  /** Runs `fn` with `dir` first on PATH (`alone`: the only entry). */
  async function withPath<T>(dir: string, alone: boolean, fn: () => Promise<T>): Promise<T> {
    const saved = process.env.PATH;
    process.env.PATH = alone ? dir : `${dir}:${saved}`;
    try {
      return await fn();
    } finally {
      process.env.PATH = saved;
    }
  }
  const derivedLayer = () => stored.manifest.layers.at(-1)!.digest;

  it('ostree missing from PATH: named with its package, the spawn error as the cause', async () => {
    const e = await withPath(await tmpdir('store-reexport-empty-path-'), true, () => exportImage(repo, src(), ImageReference.parse(`oci:${path.join(work, 'no-ostree')}`)).catch((x: Error) => x));
    expect((e as Error).message).toMatch(/^Exporting layer sha256:[0-9a-f]{64}: ostree is not installed: apt-get install ostree /);
    expect(((e as Error).cause as Error).cause).toMatchObject({ code: 'ENOENT', syscall: 'spawn ostree' });
  });

  it('an ostree on PATH that cannot be executed: the spawn error itself (EACCES), not "not installed"', async () => {
    const dir = await tmpdir('store-reexport-noexec-');
    await writeFile(path.join(dir, 'ostree'), '#!/bin/sh\n', { mode: 0o644 });
    const out = path.join(work, 'noexec-ostree');
    await expect(withPath(dir, true, () => exportImage(repo, src(), ImageReference.parse(`oci:${out}`)))).rejects.toThrow(
      new RegExp(`^Exporting layer ${derivedLayer()}: spawn ostree EACCES$`),
    );
  });

  it("ostree export's stderr in the error: its last 4 KiB, trimmed (a fake ostree failing with a long message)", async () => {
    const dir = await tmpdir('store-reexport-fake-ostree-');
    const stderr = `${'e'.repeat(5000)}\nthe end\n`;
    await writeFile(path.join(dir, 'ostree'), `#!/bin/sh\n# A fake injecting a fault: ostree export failing with a long message.\ncat >&2 <<'EOF'\n${stderr}EOF\nexit 1\n`, { mode: 0o755 });
    const commit = await repo.resolveRev(refForLayer(stored.manifest.layers.at(-1)!));
    const out = path.join(work, 'long-stderr');
    const e = await withPath(dir, false, () => exportImage(repo, src(), ImageReference.parse(`oci:${out}`)).catch((x: Error) => x));
    expect((e as Error).message).toBe(`Exporting layer ${derivedLayer()}: ostree export ${commit} failed (1): ${stderr.slice(-4096).trim()}`);
    expect(await noImageIn(out)).toHaveLength(stored.manifest.layers.length - 1);
  });

  it('the layout on a file system too small for the derived layer: ENOSPC, ostree stopped, no partial blob left', async () => {
    const big = await deriveOciImage(derived, path.join(work, 'big-derived'), { 'usr/share/big': Buffer.alloc(4 << 20) }, 'RUN add 4 MiB');
    const r = await freshRepo();
    const bigState = await pull(r, `ostree-unverified-image:oci:${big}`);
    // Room for the ostree layers (their sizes in the original), not for the 4 MiB tar of the last layer.
    const ostreeBytes = bigState.manifest.layers.slice(0, -1).reduce((n, l) => n + l.size, 0);
    const mnt = await tmpdir('store-reexport-tmpfs-');
    await promisify(execFile)('mount', ['-t', 'tmpfs', '-o', `size=${ostreeBytes * 2 + (1 << 20)}`, 'tmpfs', mnt]).catch((e: Error) => {
      throw new Error(`this test mounts a small tmpfs (root needed): ${e.message}`);
    });
    try {
      const out = path.join(mnt, 'out');
      await expect(exportImage(r, ImageReference.parse(`oci:${big}`), ImageReference.parse(`oci:${out}`))).rejects.toThrow(
        new RegExp(`^Exporting layer ${bigState.manifest.layers.at(-1)!.digest}: ENOSPC: no space left on device, write$`),
      );
      expect(await noImageIn(out)).toHaveLength(bigState.manifest.layers.length - 1);
      expect(childProcesses().filter((c) => / ostree$/.test(c))).toEqual([]);
    } finally {
      await promisify(execFile)('umount', ['-l', mnt]);
    }
  }, 30_000);

  it('an aborted signal stops the export before anything is stored', async () => {
    const out = path.join(work, 'aborted');
    const ac = new AbortController();
    ac.abort();
    await expect(exportImage(repo, src(), ImageReference.parse(`oci:${out}`), { signal: ac.signal })).rejects.toThrow('This operation was aborted');
    expect(await noImageIn(out)).toEqual([]);
  });

  it('through skopeo: its failure with context, the temporary layout under $TMPDIR removed; the authfile given is used', async () => {
    await withOwnTmpdir(work, async (tmp) => {
      await expect(exportImage(repo, src(), ImageReference.parse('docker://127.0.0.1:9/exampleos/nowhere:v1'), { insecureSkipTlsVerification: true })).rejects.toThrow(
        /^Skopeo copy: skopeo failed: .*127\.0\.0\.1:9/s,
      );
      expect(await readdir(tmp)).toEqual([]);
      const dest = ImageReference.parse(`${reg.registry.ref('exampleos/auth')}:v1`);
      const authfile = path.join(work, 'broken-auth.json');
      await writeFile(authfile, 'not json');
      await expect(exportImage(repo, src(), dest, { authfile, insecureSkipTlsVerification: true })).rejects.toThrow(/broken-auth\.json/);
      expect(await readdir(tmp)).toEqual([]);
    });
    // The temporary layout goes where $TMPDIR says (podman's choice; default /var/tmp).
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = path.join(work, 'no-such-tmpdir');
    try {
      await expect(exportImage(repo, src(), ImageReference.parse(`oci-archive:${path.join(work, 'never.ociarchive')}`))).rejects.toThrow(/ENOENT.*no-such-tmpdir/);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
  });

  it('an abort reaches skopeo copy: a registry that never answers, the copy stopped at once, the temporary layout removed', async () => {
    const ac = new AbortController();
    // Without the abort, skopeo would wait for its own timeouts.
    await withSilentServer(
      () => ac.abort(),
      (port) =>
        withOwnTmpdir(work, async (tmp) => {
          const started = Date.now();
          await expect(
            exportImage(repo, src(), ImageReference.parse(`docker://127.0.0.1:${port}/exampleos/silent:v1`), { insecureSkipTlsVerification: true, signal: ac.signal }),
          ).rejects.toThrow(/^Skopeo copy: skopeo failed: .*\(skopeo copy oci:\S+ docker:\/\/127\.0\.0\.1:\d+\/exampleos\/silent:v1: The operation was aborted\)$/s);
          expect(Date.now() - started).toBeLessThan(8000);
          expect(await readdir(tmp)).toEqual([]);
        }),
    );
  }, 20_000);
});

describe('manifest fields', () => {
  it('a manifest with a media type and a stale ostree.final-diffid annotation: the type kept, the annotation set to the new diff_id', async () => {
    const stale = `sha256:${'0'.repeat(64)}`;
    const typed = await editOciImage(derived, path.join(work, 'typed'), (_oci, manifest) => {
      manifest.mediaType = MediaType.ImageManifest;
      manifest.annotations = { ...manifest.annotations, [DIFFID_LABEL]: stale };
    });
    const r = await freshRepo();
    await pull(r, `ostree-unverified-image:oci:${typed}`);
    const out = path.join(work, 'typed-out');
    await exportImage(r, ImageReference.parse(`oci:${typed}`), ImageReference.parse(`oci:${out}`));
    const oci = await OciDir.open(out);
    const { manifest } = await oci.readManifest();
    const labels = (await oci.readConfig(manifest)).config?.Labels ?? {};
    expect(manifest.mediaType).toBe(MediaType.ImageManifest);
    expect(labels[DIFFID_LABEL]).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(manifest.annotations?.[DIFFID_LABEL]).toBe(labels[DIFFID_LABEL]);
  });
});

describe('copy to another repository', () => {
  it('an archive repo gets the image and every layer ref, queryable the same; a missing image is named', async () => {
    const archive = await freshRepo('archive');
    await copy(repo, `oci:${derived}`, archive);
    expect(await queryImage(archive, `oci:${derived}`)).toEqual({ ...stored, verifyText: null });
    for (const l of stored.manifest.layers) expect(await archive.resolveRev(refForLayer(l))).toBe(await repo.resolveRev(refForLayer(l)));
    expect(await fsck(archive.path)).toMatch(/no errors found/);
    await expect(copy(repo, 'oci:/nonexistent', archive)).rejects.toThrow(/^Copying image: No such image: oci:\/nonexistent$/);
  });
});

it('the stored original is untouched by the reexports', async () => {
  expect(await queryImage(repo, `oci:${derived}`)).toEqual({ ...stored, verifyText: null });
  expect(await layerListings(repo, stored.manifest)).toEqual(listings);
});
