// TLS against a real HTTPS registry with a self-signed certificate: skopeo trusts it only through
// a certificate directory (--cert-dir, --src/dest-cert-dir) or with verification off.
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { ImageProxyConfig } from '../../src/proxy/config.js';
import { ImageProxy } from '../../src/proxy/image-proxy.js';
import { skopeoCopy } from '../../src/proxy/skopeo-copy.js';
import { buildDirImage, type BuiltImage } from '../helpers/images.js';
import { leaksSince, snapshot, type Snapshot } from '../helpers/process.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

// What skopeo 1.9.3 (Go's crypto/x509) says about a certificate it has no anchor for.
const UNTRUSTED = /x509: certificate signed by unknown authority/;

let tmp: string;
let registry: TestRegistry;
let certDir: string;
let image: BuiltImage;
let ref: string;

async function digestWith(config: ImageProxyConfig): Promise<string> {
  const proxy = await ImageProxy.create(config);
  try {
    const img = await proxy.openImage(ref);
    return (await proxy.fetchManifest(img)).digest;
  } finally {
    await proxy.finalize();
  }
}

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

let before: Snapshot;
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  expect(await leaksSince(before)).toEqual({ fds: [], children: [] });
});

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
    const out: string[] = [];
    const err: string[] = [];
    const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
    const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
    let trusted: number;
    let untrusted: number;
    try {
      trusted = await main(['info', '--cert-dir', certDir, ref]);
      untrusted = await main(['info', ref]);
    } finally {
      o.mockRestore();
      e.mockRestore();
    }
    expect(trusted).toBe(0);
    expect(out.join('')).toBe(`ostree-unverified-registry:${registry.host}/secure/img:latest digest: ${image.manifestDigest}\n`);
    expect(untrusted).toBe(1);
    expect(err.join('')).toMatch(new RegExp(`^error: Fetching manifest: failed to invoke method OpenImage: .*${UNTRUSTED.source}`));
  });
});
