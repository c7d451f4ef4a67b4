// What our OCI layout store writes must be what skopeo (containers/image) reads, and the reverse.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { expectNoLeaksAfterEach } from '../helpers/process.js';
import { startRegistry } from '../helpers/registry.js';
import { layerTar } from '../helpers/tar.js';
import {
  MediaType,
  OciDir,
  digestOf,
  extractOciArchive,
  hostPlatform,
  parseImageManifest,
  skopeoCopy,
  writeOciArchive,
  type ImageManifest,
} from '../../src/index.js';

const run = promisify(execFile);

async function skopeo(...args: string[]): Promise<string> {
  try {
    return (await run('skopeo', args)).stdout;
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new Error('skopeo is not installed (scripts/install-deps.sh installs it)');
    throw new Error(`skopeo ${args.join(' ')} failed: ${err.stderr ?? err.message}`);
  }
}

/** A small real image: one gzip layer with a file, labels, a tag. */
async function buildImage(dir: OciDir, version: string, tag: string) {
  const tar = await layerTar({ 'etc/os-release': `VERSION=${version}\n` });
  const gz = gzipSync(tar);
  const layer = await dir.writeBlob(gz);
  const config = await dir.writeConfig({
    architecture: hostPlatform().architecture,
    os: 'linux',
    created: '1997-08-30T10:30:42Z',
    config: { Labels: { 'org.opencontainers.image.version': version, 'ostree.commit': 'c'.repeat(64) }, Cmd: ['/usr/bin/bash'] },
    rootfs: { type: 'layers', diff_ids: [digestOf(tar)] },
    history: [{ created: '1997-08-30T10:30:42Z', created_by: 'test' }],
  });
  const manifest: ImageManifest = {
    schemaVersion: 2,
    config,
    layers: [{ mediaType: MediaType.ImageLayerGzip, ...layer }],
    annotations: { 'org.opencontainers.image.version': version },
  };
  return { manifest, desc: await dir.insertManifest(manifest, { tag }) };
}

let tmp: string;
let dir: OciDir;
let v1: Awaited<ReturnType<typeof buildImage>>;
let v2: Awaited<ReturnType<typeof buildImage>>;
beforeAll(async () => {
  tmp = await mkdtemp(path.join('/var/tmp', 'oci-skopeo-'));
  dir = await OciDir.ensure(path.join(tmp, 'ours'));
  v1 = await buildImage(dir, '1.0', 'v1');
  v2 = await buildImage(dir, '2.0', 'v2');
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

// skopeo children (inspect, copy, the proxy behind compare) are all reaped, their fds closed.
expectNoLeaksAfterEach();

describe('skopeo reads our OCI layout', () => {
  it('skopeo inspect oci:DIR:TAG', async () => {
    const info = JSON.parse(await skopeo('inspect', `oci:${dir.path}:v1`)) as Record<string, unknown>;
    expect(info.Digest).toBe(v1.desc.digest);
    expect(info.Architecture).toBe(hostPlatform().architecture);
    expect(info.Os).toBe('linux');
    expect(info.Labels).toEqual({ 'org.opencontainers.image.version': '1.0', 'ostree.commit': 'c'.repeat(64) });
    expect(info.Layers).toEqual([v1.manifest.layers[0].digest]);
    const raw = await skopeo('inspect', '--raw', `oci:${dir.path}:v2`);
    expect(digestOf(raw)).toBe(v2.desc.digest);
    const config = JSON.parse(await skopeo('inspect', '--config', `oci:${dir.path}:v2`)) as { config: { Cmd: string[] } };
    expect(config.config.Cmd).toEqual(['/usr/bin/bash']);
  });

  it('skopeo copy oci: → oci: and oci-archive:, and we read the results', async () => {
    const copied = path.join(tmp, 'copied');
    await skopeo('copy', `oci:${dir.path}:v1`, `oci:${copied}:again`);
    const theirs = await OciDir.open(copied);
    const got = await theirs.readManifest('again');
    expect(got.descriptor.digest).toBe(v1.desc.digest);
    expect(got.manifest).toEqual(v1.manifest);
    expect((await theirs.readBlob(got.manifest.layers[0])).length).toBe(v1.manifest.layers[0].size);

    const archive = path.join(tmp, 'skopeo.ociarchive');
    await skopeo('copy', `oci:${dir.path}:v2`, `oci-archive:${archive}:arch`);
    const extracted = await extractOciArchive(archive, path.join(tmp, 'extracted'));
    expect((await extracted.readManifest('arch')).descriptor.digest).toBe(v2.desc.digest);
  });

  it('skopeo reads our oci-archive', async () => {
    const archive = path.join(tmp, 'ours.ociarchive');
    await writeOciArchive(dir, archive);
    const info = JSON.parse(await skopeo('inspect', `oci-archive:${archive}:v2`)) as { Digest: string };
    expect(info.Digest).toBe(v2.desc.digest);
    await skopeo('copy', `oci-archive:${archive}:v1`, `dir:${path.join(tmp, 'plain')}`);
    const manifest = parseImageManifest(await readFile(path.join(tmp, 'plain', 'manifest.json')), 'dir manifest');
    expect(manifest.layers).toEqual(v1.manifest.layers);
  });
});

describe('ostree-container compare', () => {
  it('prints the spec figures for the upstream fixture manifests', async () => {
    const fixtures = await OciDir.ensure(path.join(tmp, 'fixtures'));
    for (const [n, tag] of [['manifest1.json', 'one'], ['manifest2.json', 'two']]) {
      const bytes = await readFile(new URL(`../fixtures/${n}`, import.meta.url));
      const blob = await fixtures.writeBlob(bytes);
      const index = await fixtures.readIndex();
      index.manifests.push({ mediaType: MediaType.ImageManifest, ...blob, annotations: { 'org.opencontainers.image.ref.name': tag } });
      await fixtures.writeIndex(index);
    }
    const text = await runCli('compare', `oci:${fixtures.path}:one`, `ostree-unverified-image:oci:${fixtures.path}:two`);
    expect(text).toEqual({
      code: 0,
      stdout: 'Total new layers: 51    Size: 697.0\u00a0MB\nRemoved layers:   4     Size: 170.5\u00a0MB\nAdded layers:     4     Size: 170.5\u00a0MB\n',
      stderr: '',
    });
    const json = await runCli('compare', '--json', `oci:${fixtures.path}:one`, `oci:${fixtures.path}:two`);
    expect(json.stdout).toBe('{"total":51,"total_size":697035490,"n_removed":4,"removed_size":170473141,"n_added":4,"added_size":170472856}\n');
  });

  it('compares two images we built, also through an archive', async () => {
    const archive = path.join(tmp, 'cmp.ociarchive');
    await writeOciArchive(dir, archive);
    const r = await runCli('compare', '--json', `oci:${dir.path}:v1`, `oci-archive:${archive}:v2`);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      total: 1,
      total_size: v2.manifest.layers[0].size,
      n_removed: 1,
      removed_size: v1.manifest.layers[0].size,
      n_added: 1,
      added_size: v2.manifest.layers[0].size,
    });
  });

  it('compares an image in the local registry with one in an OCI directory', async () => {
    const registry = await startRegistry();
    try {
      const pushed = registry.ref('cmp/v1:latest');
      await skopeoCopy(`oci:${dir.path}:v1`, pushed, { destTlsVerify: false });
      const r = await runCli('compare', '--json', '--insecure-skip-tls-verification', pushed, `oci:${dir.path}:v2`);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ total: 1, n_removed: 1, n_added: 1 });
    } finally {
      await registry.stop();
    }
  });

  it('reports bad references and missing images as errors', async () => {
    expect(await runCli('compare', 'quay.io/foo', `oci:${dir.path}:v1`)).toEqual({
      code: 1,
      stdout: '',
      stderr: "error: Fetching manifest of quay.io/foo: Missing ':' in quay.io/foo\n",
    });
    const missing = await runCli('compare', `oci:${dir.path}:v1`, `oci:${dir.path}:nope`);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(new RegExp(`^error: Fetching manifest of oci:${dir.path}:nope: .*nope`));
  });
});
