// encapsulate() → OCI layout → unencapsulate() round trips of the example OS (spec §3, §5, §7.5):
// single-layer and chunked, every compression; image documents as upstream writes them; the
// chunked layout and its stability across an update.
import { cp, readdir, readFile, stat, truncate } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Chunking, computeSizes, packChunks, type ObjectMetaSized } from '../../src/container/chunking.js';
import { encapsulate, type Compression, type ExportOpts } from '../../src/container/encapsulate.js';
import { COMMIT_V0, COMMIT_V1, CONTENTS_CHECKSUM_V1, PKGS_V0_LEN, LAYERS_V0_LEN, type ExampleOs } from '../../src/fixture/index.js';
import { canonicalJson } from '../../src/oci/canonical-json.js';
import { OciDir } from '../../src/oci/layout.js';
import { hostOciArch } from '../../src/oci/platform.js';
import { fetchManifest } from '../../src/proxy/fetch.js';
import { ImageReference, OstreeImageReference } from '../../src/ref/image-reference.js';
import { Repo } from '../../src/repo/repo.js';
import { cleanupTmp, exampleOs, exampleWork, expectRoundTrip, tmpdir } from './encapsulate-util.js';
import { LAYER_MT, parseTar } from './tar-util.js';

const LABELS = { foo: 'bar', test: 'value' };
/** Upstream's test_container_import_export_v1 options. */
const V1_OPTS: ExportOpts = {
  copyMetaKeys: ['buildsys.checksum'],
  copyMetaOptKeys: ['nosuchvalue'],
  containerConfig: { StopSignal: 'SIGRTMIN+3' },
};

let fx: ExampleOs;
let repo: Repo;
let meta: ObjectMetaSized;
let work: string;
beforeAll(async () => ({ fx, repo, meta, work } = await exampleWork('oci-')));
afterAll(cleanupTmp);

async function readImage(dir: string, tag?: string) {
  const oci = await OciDir.open(dir);
  const { descriptor, manifest } = await oci.readManifest(tag);
  return { oci, descriptor, manifest, config: await oci.readConfig(manifest) };
}

describe('single-layer image', () => {
  it('writes upstream documents and round-trips', async () => {
    const dir = path.join(work, 'single');
    const digest = await encapsulate(repo, fx.ref, { labels: LABELS }, V1_OPTS, ImageReference.parse(`oci:${dir}:latest`));
    // The digest is the one the image proxy reports.
    const fetched = await fetchManifest(OstreeImageReference.parse(`ostree-unverified-image:oci:${dir}:latest`));
    expect(fetched.digest).toBe(digest);

    const { descriptor, manifest, config } = await readImage(dir, 'latest');
    expect(descriptor.digest).toBe(digest);
    expect(descriptor.platform).toEqual({ architecture: hostOciArch(), os: 'linux' });
    expect(manifest.mediaType).toBeUndefined();
    expect(manifest.layers).toHaveLength(1);
    expect(manifest.layers[0]!.mediaType).toBe(LAYER_MT.gzip);
    expect(manifest.layers[0]!.annotations).toBeUndefined();
    const labels = config.config!.Labels!;
    expect(labels).toEqual({
      'buildsys.checksum': '41af286dc0b172ed2f1ca934fd2278de4a1192302ffa07087cea2682e7d372e3',
      'containers.bootc': '1',
      foo: 'bar',
      'org.opencontainers.image.version': '42.0',
      'ostree.bootable': 'true',
      'ostree.commit': COMMIT_V0,
      'ostree.final-diffid': config.rootfs.diff_ids[0],
      test: 'value',
    });
    expect(manifest.annotations).toEqual(labels);
    expect(Date.parse(config.created!) / 1000).toBe(872879442);
    expect(config.config!.Cmd).toEqual(['/usr/bin/bash']);
    expect(config.config!.StopSignal).toBe('SIGRTMIN+3');
    expect(config.architecture).toBe(hostOciArch());
    expect(config.os).toBe('linux');
    expect(config.rootfs.diff_ids).toHaveLength(1);
    expect(config.history).toHaveLength(1);
    expect(config.history![0]!.created_by).toBe(`ostree export of commit ${COMMIT_V0}`);
    expect(config.history![0]!.created).toBe('1997-08-29T18:30:42Z');
    // Canonical JSON, as ocidir writes it.
    const raw = await readFile(path.join(dir, 'blobs/sha256', digest.slice(7)), 'utf8');
    expect(raw).toBe(canonicalJson(JSON.parse(raw)));

    await expectRoundTrip(repo, COMMIT_V0, `ostree-unverified-image:oci:${dir}:latest`);
  });

  it('an unbootable commit (test_unencapsulate_unbootable)', async () => {
    const own = await exampleOs({ bootable: false });
    const dir = path.join(work, 'unbootable');
    await encapsulate(own.repo, own.fx.ref, {}, {}, ImageReference.parse(`oci:${dir}`));
    const labels = (await readImage(dir)).config.config!.Labels!;
    expect(labels['ostree.bootable']).toBeUndefined();
    expect(labels['containers.bootc']).toBeUndefined();
    expect(labels['ostree.commit']).toBe(own.fx.commit);
    await expectRoundTrip(own.repo, own.fx.commit, `ostree-unverified-image:oci:${dir}`);
  });

  it('tagged writes keep other tags; untagged writes replace the index', async () => {
    const dir = path.join(work, 'tags');
    const a = await encapsulate(repo, fx.ref, {}, {}, ImageReference.parse(`oci:${dir}:a`));
    const b = await encapsulate(repo, fx.ref, { labels: { x: 'y' } }, {}, ImageReference.parse(`oci:${dir}:b`));
    const a2 = await encapsulate(repo, fx.ref, { labels: { x: 'z' } }, {}, ImageReference.parse(`oci:${dir}:a`));
    const tags = async () => (await (await OciDir.open(dir)).readIndex()).manifests.map((m) => [m.annotations?.['org.opencontainers.image.ref.name'], m.digest]);
    expect(new Set([a, b, a2]).size).toBe(3);
    expect(await tags()).toEqual([['b', b], ['a', a2]]);
    const c = await encapsulate(repo, fx.ref, {}, {}, ImageReference.parse(`oci:${dir}`));
    expect(await tags()).toEqual([[undefined, c]]);
  });

  it('a given creation time stamps the config and the history (reproducible digests)', async () => {
    const opts: ExportOpts = { created: '2025-03-10T13:42:57Z' };
    const d1 = await encapsulate(repo, fx.ref, {}, opts, ImageReference.parse(`oci:${path.join(work, 'repro1')}`));
    const d2 = await encapsulate(repo, fx.ref, {}, opts, ImageReference.parse(`oci:${path.join(work, 'repro2')}`));
    expect(d2).toBe(d1);
    const { config } = await readImage(path.join(work, 'repro1'));
    expect(config.created).toBe('2025-03-10T13:42:57Z');
    expect(config.history!.map((h) => h.created)).toEqual(['2025-03-10T13:42:57Z']);
  });

  it('errors leave no temp files behind', async () => {
    const dir = path.join(work, 'bad');
    await expect(encapsulate(repo, 'no/such/ref', {}, {}, ImageReference.parse(`oci:${dir}`))).rejects.toThrow(/no\/such\/ref/);
    await expect(encapsulate(repo, fx.ref, {}, { copyMetaKeys: ['nosuch'] }, ImageReference.parse(`oci:${dir}`))).rejects.toThrow(
      'Could not find commit metadata key: nosuch',
    );
    await expect(encapsulate(repo, fx.ref, {}, { signal: AbortSignal.abort() }, ImageReference.parse(`oci:${dir}`))).rejects.toThrow(/aborted/);
    // A repo with a truncated content object fails mid-export: no temp blob, no blob, no index entry.
    const broken = path.join(await tmpdir('broken-'), 'repo');
    await cp(fx.repoPath, broken, { recursive: true });
    const victim = path.join(broken, 'objects/79/0c7e29372cd7d6c26b67a0c92647c060a6ba5a61e20113034c9affc2d85ae5.filez');
    await truncate(victim, (await stat(victim)).size - 8);
    await expect(
      encapsulate(await Repo.open(broken), fx.ref, {}, { contentmeta: meta, maxLayers: PKGS_V0_LEN }, ImageReference.parse(`oci:${dir}`)),
    ).rejects.toThrow(/^Exporting layers: /);
    expect((await readdir(dir)).filter((n) => n.startsWith('.tmp'))).toEqual([]);
    expect(await readdir(path.join(dir, 'blobs/sha256'))).toEqual([]);
    expect((await (await OciDir.open(dir)).readIndex()).manifests).toEqual([]);
  });
});

describe('Chunking.create (spec §4.2)', () => {
  it('walks the tree files-first in dirtree order into the remainder', async () => {
    const c = await Chunking.create(repo, fx.ref);
    const paths = [...c.remainder.content.values()].flatMap((o) => o.paths);
    expect(paths).toEqual([
      '/opt',
      '/usr/bin/arping',
      '/usr/bin/bash',
      '/usr/bin/hardlink-a',
      '/usr/bin/hardlink-b',
      '/usr/bin/sh',
      '/usr/etc/polkit.conf',
      '/usr/etc/someconfig.conf',
      '/usr/lib/emptyfile',
      '/usr/lib64/emptyfile2',
      '/usr/lib/modules/5.10.18-200.x86_64/initramfs',
      '/usr/lib/modules/5.10.18-200.x86_64/vmlinuz',
      '/usr/lib/pkgdb/pkgdb',
      '/usr/lib/sysimage/pkgdb',
    ]);
    expect(c.remainder.content.size).toBe(11);
    expect(c.remainder.size).toBe(117);
    expect(c.chunks).toEqual([]);
    const unsized = await Chunking.create(repo, fx.ref, { sizes: false });
    expect([...unsized.remainder.content.keys()]).toEqual([...c.remainder.content.keys()]);
    expect(unsized.remainder.size).toBe(0);
    const mapped = await Chunking.fromMapping(repo, fx.ref, meta, PKGS_V0_LEN);
    expect(mapped.chunks.map((k) => [k.name, k.content.size, k.size])).toEqual([['9 components', 11, 117], ['Reserved for new packages', 0, 0]]);
    const sized = await computeSizes(repo, await fx.getObjectMeta());
    expect(sized.sizes.map((s) => [s.identifier, s.size])).toEqual([
      ['pkgdb', 21], ['initramfs', 20], ['kernel', 16], ['a-polkit-config', 15], ['bash', 14], ['arping', 13], ['someconfig', 10], ['testlink', 8], ['filesystem', 0],
    ]);
    // The signal reaches the walk and the size queries.
    const aborted = { name: 'AbortError', message: 'This operation was aborted' };
    await expect(Chunking.fromMapping(repo, fx.ref, meta, PKGS_V0_LEN, undefined, AbortSignal.abort())).rejects.toMatchObject(aborted);
    await expect(computeSizes(repo, await fx.getObjectMeta(), AbortSignal.abort())).rejects.toMatchObject(aborted);
  });
});

describe('chunked image (spec §7.5)', () => {
  for (const compression of ['gzip', 'gzip-fast', 'zstd', 'none'] as const) {
    it(`round-trips with ${compression}`, async () => {
      const dir = path.join(work, `chunked-${compression}`);
      const ref = `oci:${dir}:v0`;
      const digest = await encapsulate(
        repo,
        fx.ref,
        { labels: LABELS },
        { contentmeta: meta, maxLayers: PKGS_V0_LEN, compression },
        ImageReference.parse(ref),
      );
      const { descriptor, manifest, config } = await readImage(dir, 'v0');
      expect(descriptor.digest).toBe(digest);
      expect(manifest.layers).toHaveLength(LAYERS_V0_LEN);
      expect(manifest.layers.map((l) => l.mediaType)).toEqual(Array(3).fill(LAYER_MT[compression]));
      expect(manifest.layers.map((l) => l.annotations?.['ostree.components'])).toEqual([
        undefined,
        'a-polkit-config,arping,bash,filesystem,initramfs,kernel,pkgdb,someconfig,testlink',
        '',
      ]);
      expect(config.history!.map((h) => h.created_by)).toEqual([`ostree export of commit ${COMMIT_V0}`, '9 components', 'Reserved for new packages']);
      expect(config.rootfs.diff_ids).toHaveLength(3);
      if (compression === 'gzip' || compression === 'gzip-fast') {
        // flate2's member header: no mtime, XFL 0 (level 6) or 4 (level 1), OS 0xff (spec §3.5).
        const header = (await (await OciDir.open(dir)).readBlob(manifest.layers[0]!)).subarray(0, 10).toString('hex');
        expect(header).toBe(compression === 'gzip' ? '1f8b08000000000000ff' : '1f8b08000000000004ff');
      }
      expect(config.config!.Labels).toEqual({
        'containers.bootc': '1',
        foo: 'bar',
        'org.opencontainers.image.version': '42.0',
        'ostree.bootable': 'true',
        'ostree.commit': COMMIT_V0,
        'ostree.final-diffid': config.rootfs.diff_ids[2],
        test: 'value',
      });
      await expectRoundTrip(repo, COMMIT_V0, `ostree-unverified-image:${ref}`);
    });
  }

  it('puts the pkgdb hardlinks in the chunk layer and keeps layers reproducible', async () => {
    const dir = path.join(work, 'chunked-gzip');
    const { oci, manifest } = await readImage(dir, 'v0');
    const entries = parseTar(gunzipSync(await oci.readBlob(manifest.layers[1]!)));
    const pkgdb = entries.filter((e) => ['usr/lib/pkgdb/pkgdb', 'usr/lib/sysimage/pkgdb'].includes(e.name));
    expect(pkgdb.map((e) => [e.name, e.type, parseInt(e.header.subarray(100, 108).toString('latin1'), 8)])).toEqual([
      ['usr/lib/pkgdb/pkgdb', '1', 0o644],
      ['usr/lib/sysimage/pkgdb', '1', 0o644],
    ]);
    // The commit layer has the commit and the tree structure, but not the chunked content.
    const commitEntries = parseTar(gunzipSync(await oci.readBlob(manifest.layers[0]!)));
    expect(commitEntries.some((e) => e.name.endsWith(`${COMMIT_V0.slice(2)}.commit`))).toBe(true);
    expect(commitEntries.some((e) => e.name === 'usr/lib/pkgdb/pkgdb')).toBe(false);
    // Same input, same library → identical blobs.
    const again = path.join(work, 'chunked-gzip-again');
    await encapsulate(repo, fx.ref, { labels: LABELS }, { contentmeta: meta, maxLayers: PKGS_V0_LEN }, ImageReference.parse(`oci:${again}`));
    expect((await readImage(again)).manifest.layers).toEqual(manifest.layers);
  });

  it('after update() exactly two layers are new; the empty layer is byte-identical', async () => {
    const own = await exampleOs();
    const ownMeta = await computeSizes(own.repo, await own.fx.getObjectMeta());
    const dir = path.join(work, 'updated');
    await encapsulate(own.repo, own.fx.ref, {}, { contentmeta: ownMeta, maxLayers: PKGS_V0_LEN }, ImageReference.parse(`oci:${dir}:v0`));
    const v0 = await readImage(dir, 'v0');
    expect(await own.fx.update()).toBe(COMMIT_V1);
    const metaV1 = await computeSizes(own.repo, await own.fx.getObjectMeta());
    await encapsulate(own.repo, own.fx.ref, {}, { contentmeta: metaV1, maxLayers: PKGS_V0_LEN, priorBuild: v0.manifest }, ImageReference.parse(`oci:${dir}:v1`));
    const v1 = await readImage(dir, 'v1');
    const old = new Set(v0.manifest.layers.map((l) => l.digest));
    const fresh = v1.manifest.layers.map((l, i) => [i, old.has(l.digest)]);
    expect(fresh).toEqual([[0, false], [1, false], [2, true]]);
    expect(v1.manifest.layers[2]).toEqual(v0.manifest.layers[2]);
    expect(v1.config.history!.slice(0, 2).map((h) => h.created_by)).toEqual([`ostree export of commit ${COMMIT_V1}`, '9 components']);
    const { dest } = await expectRoundTrip(own.repo, COMMIT_V1, `ostree-unverified-image:oci:${dir}:v1`);
    expect(await dest.contentChecksum(COMMIT_V1)).toBe(CONTENTS_CHECKSUM_V1);
  });

  it('a mapping that misses content objects is an error', async () => {
    const partial: ObjectMetaSized = { map: new Map([...meta.map].slice(1)), sizes: meta.sizes };
    await expect(
      encapsulate(repo, fx.ref, {}, { contentmeta: partial, maxLayers: PKGS_V0_LEN }, ImageReference.parse(`oci:${path.join(work, 'partial')}`)),
    ).rejects.toThrow(/Content mapping does not cover 1 content object\(s\) of the commit/);
  });
});

describe('encapsulate options, edges', () => {
  async function layerBlobs(dir: string): Promise<Buffer[]> {
    const { oci, manifest } = await readImage(dir);
    return Promise.all(manifest.layers.map((l) => oci.readBlob(l)));
  }

  it('a layout refused after the export removes the layer files it wrote', async () => {
    const dir = path.join(work, 'ambiguous');
    // A component without objects: its layer has the content of the (empty) reserved last one.
    const base = { srcid: 'x', change_time_offset: 0, change_frequency: 1 };
    const contentmeta: ObjectMetaSized = {
      map: new Map([...meta.map.keys()].map((c) => [c, 'all'])),
      sizes: [{ ...base, identifier: 'all', name: 'all', size: 1000 }, { ...base, identifier: 'nothing', name: 'nothing', size: 0 }],
    };
    await expect(encapsulate(repo, fx.ref, {}, { contentmeta }, ImageReference.parse(`oci:${dir}`))).rejects.toThrow(
      /^Chunk layer "nothing" has the same content as the final chunk layer "Reserved for new packages"/,
    );
    expect((await readdir(dir)).filter((n) => n.startsWith('.tmp'))).toEqual([]);
    expect(await readdir(path.join(dir, 'blobs/sha256'))).toEqual([]);
  });

  it("upstreamGzip: zlib's own stream for gzip layers (other bytes, the same tar); nothing changes for zstd", async () => {
    for (const compression of ['gzip', 'gzip-fast'] as const) {
      const [ours, zlib] = await Promise.all(
        [false, true].map(async (upstreamGzip) => {
          const dir = path.join(work, `upstream-${compression}-${upstreamGzip}`);
          await encapsulate(repo, fx.ref, {}, { compression, upstreamGzip, created: '2024-01-01T00:00:00Z' }, ImageReference.parse(`oci:${dir}`));
          return (await layerBlobs(dir))[0]!;
        }),
      );
      expect(zlib.equals(ours!), compression).toBe(false);
      expect(gunzipSync(zlib).equals(gunzipSync(ours!))).toBe(true);
    }
    const digests = await Promise.all(
      [false, true].map((upstreamGzip) =>
        encapsulate(repo, fx.ref, {}, { compression: 'zstd', upstreamGzip, created: '2024-01-01T00:00:00Z' }, ImageReference.parse(`oci:${work}/upstream-zstd-${upstreamGzip}`)),
      ),
    );
    expect(digests[1]).toBe(digests[0]);
  });

  it('mapping keys that are not lowercase hex checksums name no object', async () => {
    const opts = (map: Map<string, string>): ExportOpts => ({ contentmeta: { map, sizes: meta.sizes }, created: '2024-01-01T00:00:00Z' });
    const clean = await encapsulate(repo, fx.ref, {}, opts(meta.map), ImageReference.parse(`oci:${work}/mapping-clean`));
    // Each junk key hides the checksum of an object of the tree, mapped to a component of another layer.
    const entries = [...meta.map];
    const chunkOf = packChunks(meta).chunkOf;
    const scan = await repo.scanTree(await repo.resolveRev(fx.ref), '');
    const inTree = new Set(Array.from({ length: scan.checksums.length / 32 }, (_, i) => scan.checksums.toString('hex', 32 * i, 32 * i + 32)));
    const [checksum, owner] = entries.find(([c]) => inTree.has(c))!;
    const other = entries.find(([, o]) => chunkOf.get(o) !== chunkOf.get(owner))![1];
    for (const junk of [checksum.toUpperCase(), `${checksum}g`, `${checksum}g${checksum}`]) {
      const before = await encapsulate(repo, fx.ref, {}, opts(new Map([[junk, other], ...entries])), ImageReference.parse(`oci:${work}/mapping-before`));
      const after = await encapsulate(repo, fx.ref, {}, opts(new Map([...entries, [junk, other]])), ImageReference.parse(`oci:${work}/mapping-after`));
      expect([before, after], junk).toEqual([clean, clean]);
    }
    // A component missing from the sized list has no layer: its objects are not covered.
    await expect(
      encapsulate(repo, fx.ref, {}, opts(new Map(entries.map(([c, o]) => [c, c === checksum ? 'unsized' : o]))), ImageReference.parse(`oci:${work}/mapping-unsized`)),
    ).rejects.toThrow(new RegExp(`^Exporting layers: Content mapping does not cover 1 content object\\(s\\) of the commit, e\\.g\\. ${checksum} \\(/`));
  });
});
