// `ostree-container info` and `compare` against real skopeo and a real registry, over every transport.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { skopeoCopy } from '../../src/proxy/skopeo-copy.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { buildDirImage, copyToLocalTransports, type BuiltImage } from '../helpers/images.js';
import { runCli } from '../helpers/cli.js';
import { expectNoLeaksAfterEach } from '../helpers/process.js';
import { registryFixture } from '../helpers/registry.js';

let image: BuiltImage;

const fx = registryFixture('ostree-container-info-');
beforeAll(async () => {
  image = await buildDirImage(path.join(fx.tmp, 'dir'), { layers: [{ 'hello.txt': 'info\n' }] });
  await skopeoCopy(image.ref, `oci:${fx.tmp}/oci:latest`);
  await skopeoCopy(image.ref, `${fx.registry.ref('test/info')}:v1`, { destTlsVerify: false });
});

// Every proxy the commands start, on success and on error, is reaped and its fds closed.
expectNoLeaksAfterEach();

describe('ostree-container info', () => {
  it('prints the digest for every transport and reference form', async () => {
    const cases: [string, string][] = [
      [`ostree-unverified-registry:${fx.registry.host}/test/info:v1`, `ostree-unverified-registry:${fx.registry.host}/test/info:v1`],
      [`docker://${fx.registry.host}/test/info:v1`, `ostree-unverified-registry:${fx.registry.host}/test/info:v1`],
      [`ostree-unverified-image:oci:${fx.tmp}/oci:latest`, `ostree-unverified-image:oci:${fx.tmp}/oci:latest`],
      [`dir:${fx.tmp}/dir`, `ostree-unverified-image:dir:${fx.tmp}/dir`],
      [`ostree-remote-image:myremote:oci:${fx.tmp}/oci:latest`, `ostree-remote-image:myremote:oci:${fx.tmp}/oci:latest`],
    ];
    for (const [arg, shown] of cases) {
      expect(await runCli('info', '--insecure-skip-tls-verification', arg)).toEqual({ code: 0, stdout: `${shown} digest: ${image.manifestDigest}\n`, stderr: '' });
    }
  });

  it('fails with a clear error', async () => {
    const tls = await runCli('info', `docker://${fx.registry.host}/test/info:v1`);
    expect(tls.code).toBe(1);
    expect(tls.stderr).toContain('error: Fetching manifest: failed to invoke method OpenImage: pinging container registry');
    expect(await runCli('info', '--auth-anonymous', '--authfile', '/a', `oci:${fx.tmp}/oci`)).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: Fetching manifest: Conflicting authentication options\n',
    });
    expect(await runCli('info', 'quay.io/foo')).toEqual({ code: 1, stdout: '', stderr: "error: Missing ':' in quay.io/foo\n" });
    const missing = await runCli('info', '--insecure-skip-tls-verification', `docker://${fx.registry.host}/test/info:nope`);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: Fetching manifest: failed to invoke method OpenImage: .*manifest unknown/);
  });
});

describe('info and compare over the local archive transports', () => {
  // skopeo as the independent reader: what it says an image's manifest is.
  async function rawManifest(ref: string): Promise<{ digest: string; layers: { size: number }[] }> {
    const { stdout } = await promisify(execFile)('skopeo', ['inspect', '--raw', ref]);
    const { Digest } = JSON.parse((await promisify(execFile)('skopeo', ['inspect', ref])).stdout) as { Digest: string };
    return { digest: Digest, layers: (JSON.parse(stdout) as { layers: { size: number }[] }).layers };
  }
  const subdir = async (name: string) => {
    const d = path.join(fx.tmp, name);
    await fsp.mkdir(d);
    return d;
  };

  it('info prints the digest skopeo reports for oci-archive:, docker-archive: and dir:', async () => {
    const local = await copyToLocalTransports(image.ref, await subdir('v1'));
    for (const ref of [local.ociArchive, local.dockerArchive, image.ref]) {
      const { digest } = await rawManifest(ref);
      expect(await runCli('info', ref)).toEqual({ code: 0, stdout: `ostree-unverified-image:${ref} digest: ${digest}\n`, stderr: '' });
    }
  });

  it('compare reads both sides from any transport', async () => {
    const v2 = await buildDirImage(path.join(fx.tmp, 'dir2'), { layers: [{ 'hello.txt': 'info v2\n' }] });
    const [a, b] = await Promise.all([
      copyToLocalTransports(image.ref, await subdir('cmp1')),
      copyToLocalTransports(v2.ref, await subdir('cmp2')),
    ]);
    const pairs: [string, string][] = [
      [a.dockerArchive, b.dockerArchive],
      [image.ref, b.ociArchive],
      [a.ociArchive, v2.ref],
    ];
    for (const [from, to] of pairs) {
      const [m1, m2] = await Promise.all([rawManifest(from), rawManifest(to)]);
      const r = await runCli('compare', '--json', from, to);
      expect(r, `${from} → ${to}`).toEqual({
        code: 0,
        stdout: `${JSON.stringify({ total: 1, total_size: m2.layers[0].size, n_removed: 1, removed_size: m1.layers[0].size, n_added: 1, added_size: m2.layers[0].size })}\n`,
        stderr: '',
      });
    }
    // The same image through two transports that keep its blobs: nothing changed.
    const same = await runCli('compare', '--json', image.ref, a.ociArchive);
    expect(JSON.parse(same.stdout)).toMatchObject({ n_removed: 0, n_added: 0 });
  });
});
