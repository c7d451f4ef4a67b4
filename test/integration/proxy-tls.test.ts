// TLS against a real HTTPS registry with a self-signed certificate: skopeo trusts it only through
// a certificate directory (--cert-dir, --src/dest-cert-dir) or with verification off.
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageProxyConfig } from '../../src/proxy/config.js';
import { skopeoCopy } from '../../src/proxy/skopeo-copy.js';
import { buildDirImage, type BuiltImage } from '../helpers/images.js';
import { runCli } from '../helpers/cli.js';
import { expectNoLeaksAfterEach } from '../helpers/process.js';
import { manifestDigestVia } from '../helpers/proxy.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

// What skopeo 1.9.3 (Go's crypto/x509) says about a certificate it has no anchor for.
const UNTRUSTED = /x509: certificate signed by unknown authority/;

let tmp: string;
let registry: TestRegistry;
let certDir: string;
let image: BuiltImage;
let ref: string;

const digestWith = (config: ImageProxyConfig) => manifestDigestVia(config, ref);

beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ostree-container-tls-'));
  registry = await startRegistry({ tls: true });
  certDir = registry.certDir!;
  image = await buildDirImage(path.join(tmp, 'dir'), { layers: [{ 'tls.txt': 'over https\n' }] });
  ref = `${registry.ref('secure/img')}:latest`;
});

afterAll(async () => {
  await registry?.stop();
  if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
});

expectNoLeaksAfterEach();

describe('an HTTPS registry with a self-signed certificate', () => {
  it('skopeoCopy pushes with destCertDir and pulls with srcCertDir; refuses without them', async () => {
    await expect(skopeoCopy(image.ref, ref)).rejects.toThrow(UNTRUSTED);
    expect(await skopeoCopy(image.ref, ref, { destCertDir: certDir })).toBe(image.manifestDigest);
    const back = `oci:${path.join(tmp, 'back')}:latest`;
    await fsp.mkdir(path.join(tmp, 'back'));
    await expect(skopeoCopy(ref, back)).rejects.toThrow(UNTRUSTED);
    expect(await skopeoCopy(ref, back, { srcCertDir: certDir })).toBe(image.manifestDigest);
  });

  it('the proxy verifies through certificateDirectory, or not at all when told to', async () => {
    expect(await digestWith({ certificateDirectory: certDir })).toBe(image.manifestDigest);
    expect(await digestWith({ insecureSkipTlsVerification: true })).toBe(image.manifestDigest);
    await expect(digestWith({})).rejects.toThrow(new RegExp(`^failed to invoke method OpenImage: .*${UNTRUSTED.source}`));
    // A certificate directory without the registry's certificate is no anchor.
    const emptyDir = path.join(tmp, 'no-certs');
    await fsp.mkdir(emptyDir);
    await expect(digestWith({ certificateDirectory: emptyDir })).rejects.toThrow(UNTRUSTED);
  });

  it('the CLI passes --cert-dir', async () => {
    expect(await runCli('info', '--cert-dir', certDir, ref)).toEqual({
      code: 0,
      stdout: `ostree-unverified-registry:${registry.host}/secure/img:latest digest: ${image.manifestDigest}\n`,
      stderr: '',
    });
    const untrusted = await runCli('info', ref);
    expect([untrusted.code, untrusted.stdout]).toEqual([1, '']);
    expect(untrusted.stderr).toMatch(new RegExp(`^error: Fetching manifest: failed to invoke method OpenImage: .*${UNTRUSTED.source}`));
  });
});
