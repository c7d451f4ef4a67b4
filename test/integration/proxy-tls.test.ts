// TLS against a real HTTPS registry with a self-signed certificate: skopeo trusts it only through
// a certificate directory (--cert-dir, --src/dest-cert-dir) or with verification off.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ImageProxyConfig } from '../../src/proxy/config.js';
import { skopeoCopy } from '../../src/proxy/skopeo-copy.js';
import { buildDirImage, type BuiltImage } from '../helpers/images.js';
import { runCli } from '../helpers/cli.js';
import { expectNoLeaksAfterEach } from '../helpers/process.js';
import { manifestDigestVia } from '../helpers/proxy.js';
import { registryFixture } from '../helpers/registry.js';

// What skopeo 1.9.3 (Go's crypto/x509) says about a certificate it has no anchor for.
const UNTRUSTED = /x509: certificate signed by unknown authority/;

let certDir: string;
let image: BuiltImage;
let ref: string;

const digestWith = (config: ImageProxyConfig) => manifestDigestVia(config, ref);

const fx = registryFixture('ostree-container-tls-', { tls: true });
beforeAll(async () => {
  certDir = fx.registry.certDir!;
  image = await buildDirImage(path.join(fx.tmp, 'dir'), { layers: [{ 'tls.txt': 'over https\n' }] });
  ref = `${fx.registry.ref('secure/img')}:latest`;
});

expectNoLeaksAfterEach();

describe('an HTTPS registry with a self-signed certificate', () => {
  it('skopeoCopy pushes with destCertDir and pulls with srcCertDir; refuses without them', async () => {
    await expect(skopeoCopy(image.ref, ref)).rejects.toThrow(UNTRUSTED);
    expect(await skopeoCopy(image.ref, ref, { destCertDir: certDir })).toBe(image.manifestDigest);
    const back = `oci:${path.join(fx.tmp, 'back')}:latest`;
    await fsp.mkdir(path.join(fx.tmp, 'back'));
    await expect(skopeoCopy(ref, back)).rejects.toThrow(UNTRUSTED);
    expect(await skopeoCopy(ref, back, { srcCertDir: certDir })).toBe(image.manifestDigest);
  });

  it('the proxy verifies through certificateDirectory, or not at all when told to', async () => {
    expect(await digestWith({ certificateDirectory: certDir })).toBe(image.manifestDigest);
    expect(await digestWith({ insecureSkipTlsVerification: true })).toBe(image.manifestDigest);
    await expect(digestWith({})).rejects.toThrow(new RegExp(`^failed to invoke method OpenImage: .*${UNTRUSTED.source}`));
    // A certificate directory without the registry's certificate is no anchor.
    const emptyDir = path.join(fx.tmp, 'no-certs');
    await fsp.mkdir(emptyDir);
    await expect(digestWith({ certificateDirectory: emptyDir })).rejects.toThrow(UNTRUSTED);
  });

  it('the CLI passes --cert-dir', async () => {
    expect(await runCli('info', '--cert-dir', certDir, ref)).toEqual({
      code: 0,
      stdout: `ostree-unverified-registry:${fx.registry.host}/secure/img:latest digest: ${image.manifestDigest}\n`,
      stderr: '',
    });
    const untrusted = await runCli('info', ref);
    expect([untrusted.code, untrusted.stdout]).toEqual([1, '']);
    expect(untrusted.stderr).toMatch(new RegExp(`^error: Fetching manifest: failed to invoke method OpenImage: .*${UNTRUSTED.source}`));
  });
});
