// Client paths no installed skopeo can give: protocol versions other than the installed one
// (Debian 12's skopeo 1.9.3 speaks 0.2.3, Debian 13's 1.18 speaks 0.2.6; GetLayerInfoPiped at 0.2.7
// and GetRawBlob at 0.2.8 exist in neither) and malformed replies. These run against a FAKE proxy
// (test/helpers/fake-proxy.mjs) speaking the real wire format through the addon. What the
// installed skopeo's version has runs against it for real in proxy.test.ts.
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buffer as collect } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { ImageProxy, RawBlobError, joinFetch } from '../../src/proxy/image-proxy.js';
import { expectNoLeaksAfterEach } from '../helpers/process.js';

const fake = path.join(path.dirname(fileURLToPath(import.meta.url)), '../helpers/fake-proxy.mjs');

function fakeProxy(env: Record<string, string> = {}): Promise<ImageProxy> {
  for (const k of ['FAKE_PROXY_VERSION', 'FAKE_PROXY_BAD', 'FAKE_PROXY_LAYERS']) delete process.env[k];
  Object.assign(process.env, env);
  return ImageProxy.create({ skopeoCmd: { program: process.execPath, args: [fake] } });
}

expectNoLeaksAfterEach();

const layer = { digest: `sha256:${'a'.repeat(64)}`, size: 5, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' };

describe('version gates', () => {
  it('refuses protocols outside ^0.2.3', async () => {
    for (const v of ['0.2.2', '0.3.0', '1.0.0']) {
      await expect(fakeProxy({ FAKE_PROXY_VERSION: v })).rejects.toThrow(`proxy too old (requested=${v} found=^0.2.3) error`);
    }
  });

  it('uses GetLayerInfoPiped from 0.2.7 (a list longer than a message) and GetLayerInfo from 0.2.5', async () => {
    for (const v of ['0.2.8', '0.2.5']) {
      const proxy = await fakeProxy({ FAKE_PROXY_VERSION: v });
      try {
        const img = await proxy.openImage('oci:/x');
        expect(await proxy.getLayerInfo(img)).toEqual([layer]);
      } finally {
        await proxy.finalize();
      }
    }
    // 300 layers: about 45 KiB of JSON, more than one message (32 KiB) holds.
    const many = await fakeProxy({ FAKE_PROXY_VERSION: '0.2.7', FAKE_PROXY_LAYERS: '300' });
    try {
      expect(await many.getLayerInfo(await many.openImage('oci:/x'))).toEqual(Array.from({ length: 300 }, () => layer));
    } finally {
      await many.finalize();
    }
    const old = await fakeProxy({ FAKE_PROXY_VERSION: '0.2.4' });
    try {
      expect(await old.getLayerInfo(await old.openImage('oci:/x'))).toBeNull();
    } finally {
      await old.finalize();
    }
  });

  it('names the image in the error for a manifest or configuration that is not one', async () => {
    const proxy = await fakeProxy();
    try {
      const img = await proxy.openImage('oci:/x');
      await expect(proxy.fetchManifest(img)).rejects.toThrow('Invalid image manifest manifest of oci:/x: schemaVersion: expected 2, got undefined');
      await expect(proxy.fetchConfig(img)).rejects.toThrow('Invalid image configuration configuration of oci:/x: architecture: expected a string');
    } finally {
      await proxy.finalize();
    }
  });

  it('maps OpenImageOptional 0 to null', async () => {
    const proxy = await fakeProxy();
    try {
      expect(await proxy.openImageOptional('oci:/missing')).toBeNull();
      expect((await proxy.openImageOptional('oci:/present'))?.id).toBe(1);
    } finally {
      await proxy.finalize();
    }
  });
});

describe('GetRawBlob', () => {
  it('reads data and the error channel', async () => {
    const proxy = await fakeProxy();
    try {
      const img = await proxy.openImage('oci:/x');
      const read = async (digest: string) => {
        const blob = await proxy.getRawBlob(img, digest);
        return joinFetch(collect(createReadStream('', { fd: blob.fd })), blob.finish());
      };
      expect((await read('sha256:ok')).toString()).toBe('hello');
      expect((await read('sha256:epipe')).toString()).toBe('hello');
      // An error channel holding only a newline reports nothing.
      expect((await read('sha256:blank')).toString()).toBe('hello');
      await expect(read('sha256:retryable')).rejects.toThrow(new RawBlobError('foo', 'retryable'));
      const other = await read('sha256:other').catch((e: unknown) => e);
      expect(other).toBeInstanceOf(RawBlobError);
      expect(other).toMatchObject({ message: 'bar', code: 'other', retryable: false });
      // a blob size the source does not know arrives as -1 (signed, unlike client 0.8.0's u64)
      const unknown = await proxy.getRawBlob(img, 'sha256:unknownsize');
      expect(unknown.size).toBe(-1);
      expect((await joinFetch(collect(createReadStream('', { fd: unknown.fd })), unknown.finish())).toString()).toBe('hello');
    } finally {
      await proxy.finalize();
    }
  });
});

describe('malformed replies', () => {
  const cases: [string, (p: ImageProxy) => Promise<unknown>, string][] = [
    ['nopipeid', async (p) => p.fetchManifestRaw(await p.openImage('oci:/x')), 'Expected pipeid for FinishPipe'],
    ['twofds', async (p) => p.fetchManifestRaw(await p.openImage('oci:/x')), 'Expected exactly one fd for FinishPipe'],
    ['dualpipeid', async (p) => p.getRawBlob(await p.openImage('oci:/x'), 'sha256:ok'), 'Unexpected pipeid with DualFds'],
    ['onefd', async (p) => p.getRawBlob(await p.openImage('oci:/x'), 'sha256:ok'), 'Expected two fds for DualFds'],
  ];
  it.each(cases)('%s is an error and its fds are closed', async (bad, op, message) => {
    const proxy = await fakeProxy({ FAKE_PROXY_BAD: bad });
    try {
      await expect(op(proxy)).rejects.toThrow(message);
    } finally {
      await proxy.finalize();
    }
  });
});
