// The image proxy client against real skopeo, over every transport, including a real registry.
import { randomBytes } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { buffer as collect } from 'node:stream/consumers';
import { beforeAll, describe, expect, it } from 'vitest';
import { concurrency } from '../../src/concurrency.js';
import { digestOf } from '../../src/oci/digest.js';
import { hostOciArch } from '../../src/oci/platform.js';
import { OstreeImageReference } from '../../src/ref/image-reference.js';
import { ImageProxy, joinFetch, protocolSatisfies, type OpenedImage } from '../../src/proxy/image-proxy.js';
import { ImageProxyPool } from '../../src/proxy/pool.js';
import { fetchManifest, fetchManifestAndConfig } from '../../src/proxy/fetch.js';
import { skopeoCopy } from '../../src/proxy/skopeo-copy.js';
import { mergeDefaultContainerProxyOpts } from '../../src/proxy/auth.js';
import { buildDirImage, buildDirIndex, copyToLocalTransports, type BuiltImage, type BuiltIndex } from '../helpers/images.js';
import { expectNoLeaksAfterEach } from '../helpers/process.js';
import { installedSkopeo, KNOWN_SKOPEO_PROTOCOLS, type InstalledSkopeo } from '../helpers/proxy.js';
import { registryFixture } from '../helpers/registry.js';

let skopeo: InstalledSkopeo;
let image: BuiltImage;
let multi: BuiltIndex;
const refs: Record<string, string> = {};

const fx = registryFixture('ostree-container-proxy-');
beforeAll(async () => {
  skopeo = await installedSkopeo();
  image = await buildDirImage(path.join(fx.tmp, 'dir'), {
    layers: [{ 'etc/os-release': 'ID=test\n' }, { 'usr/bin/hello': '#!/bin/sh\necho hello\n' }, { 'var/x': 'x'.repeat(100_000) }],
    labels: { 'ostree.bootable': 'true' },
  });
  refs.dir = image.ref;
  Object.assign(refs, await copyToLocalTransports(image.ref, fx.tmp));
  refs.registry = `${fx.registry.ref('test/single')}:latest`;
  await skopeoCopy(image.ref, refs.registry, { destTlsVerify: false });
  multi = await buildDirIndex(path.join(fx.tmp, 'multi'), {
    amd64: { layers: [{ arch: 'amd64' }] },
    arm64: { layers: [{ arch: 'arm64' }] },
  });
  await skopeoCopy(multi.ref, `${fx.registry.ref('test/multi')}:latest`, { destTlsVerify: false, multiArch: 'all' });
});

expectNoLeaksAfterEach();

const tlsOff = { insecureSkipTlsVerification: true };

describe.each(['oci', 'ociArchive', 'dir', 'dockerArchive', 'registry'])('transport %s', (transport) => {
  it('fetches manifest, config and every blob, verified', async () => {
    const proxy = await ImageProxy.create(tlsOff);
    try {
      const img = await proxy.openImage(refs[transport]);
      const { digest, manifest } = await proxy.fetchManifest(img);
      const raw = await proxy.fetchManifestRaw(img);
      expect(raw.digest).toBe(digest);
      if (transport === 'dockerArchive') {
        // Docker schema 2 source: the proxy hands out a converted OCI manifest.
        expect(digest).not.toBe(image.manifestDigest);
      } else {
        expect(digest).toBe(image.manifestDigest);
        expect(digestOf(raw.manifest)).toBe(digest);
      }
      expect(manifest.layers).toHaveLength(3);
      const config = await proxy.fetchConfig(img);
      expect(config.architecture).toBe('amd64');
      expect(config.rootfs.diff_ids).toEqual(image.layers.map((l) => l.diffId));
      expect(config.config?.Labels).toEqual({ 'ostree.bootable': 'true' });
      for (const layer of manifest.layers) {
        const blob = await proxy.getDescriptor(img, layer);
        expect(blob.size).toBe(layer.size);
        const bytes = await collect(blob.stream);
        expect(bytes.length).toBe(layer.size);
        expect(digestOf(bytes)).toBe(layer.digest);
      }
      // GetLayerInfoPiped from protocol 0.2.7, GetLayerInfo from 0.2.5, nothing before.
      const info = await proxy.getLayerInfo(img);
      if (skopeo.has('getLayerInfo')) {
        expect(info?.map((l) => [l.digest, l.size])).toEqual(manifest.layers.map((l) => [l.digest, l.size]));
        // Media types as the source stores them: Docker's for a docker-archive (whose manifest the
        // proxy converts to OCI), else the manifest's.
        const docker = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
        expect(info?.map((l) => l.mediaType)).toEqual(manifest.layers.map((l) => (transport === 'dockerArchive' ? docker : l.mediaType)));
      } else {
        expect(info).toBeNull();
      }
      await proxy.closeImage(img);
    } finally {
      await proxy.finalize();
    }
  });
});

describe('ImageProxy', () => {
  it('hands out raw blob fds that a concurrent reader drains while FinishPipe runs', async () => {
    const proxy = await ImageProxy.create();
    try {
      const img = await proxy.openImage(refs.oci);
      const layer = image.layers[2];
      const blob = await proxy.getBlobFd(img, layer.descriptor.digest, layer.descriptor.size);
      expect(blob.size).toBe(layer.descriptor.size);
      const bytes = await joinFetch(collect(createReadStream('', { fd: blob.fd })), blob.finish());
      expect(bytes.equals(layer.blob)).toBe(true);
    } finally {
      await proxy.finalize();
    }
  });

  it('keeps several images and pipes in flight on one proxy', async () => {
    const proxy = await ImageProxy.create(tlsOff);
    try {
      const images: OpenedImage[] = await Promise.all([refs.oci, refs.dir, refs.registry].map((r) => proxy.openImage(r)));
      expect(new Set(images.map((i) => i.id)).size).toBe(3);
      const blobs = await Promise.all(
        images.flatMap((img) => image.layers.map(async (l) => collect((await proxy.getDescriptor(img, l.descriptor)).stream))),
      );
      expect(blobs.map((b) => digestOf(b))).toEqual(images.flatMap(() => image.layers.map((l) => l.descriptor.digest)));
      await Promise.all(images.map((i) => proxy.closeImage(i)));
      await expect(proxy.closeImage(images[0])).rejects.toThrow(`failed to invoke method CloseImage: no image ${images[0].id}`);
    } finally {
      await proxy.finalize();
    }
  });

  it('speaks the protocol of the installed skopeo', async () => {
    const proxy = await ImageProxy.create();
    try {
      expect(proxy.protocolVersion).toBe(skopeo.protocol);
      expect(protocolSatisfies(proxy.protocolVersion, '0.2.3')).toBe(true);
      // The releases the README lists as tested must say what their protocol is.
      const known = KNOWN_SKOPEO_PROTOCOLS[skopeo.version];
      if (known) expect(proxy.protocolVersion).toBe(known);
    } finally {
      await proxy.finalize();
    }
  });

  it('OpenImageOptional: null for a missing image from protocol 0.2.4, an unknown method before', async () => {
    const proxy = await ImageProxy.create(tlsOff);
    try {
      // A registry's "manifest unknown" is what every proxy with the method calls not found (1.18
      // reports an oci: layout's missing tag as an error instead).
      const missing = proxy.openImageOptional(`${fx.registry.ref('test/single')}:nosuchtag`);
      if (skopeo.has('openImageOptional')) {
        expect(await missing).toBeNull();
        const img = await proxy.openImageOptional(refs.oci);
        expect(img).not.toBeNull();
        expect((await proxy.fetchManifest(img!)).digest).toBe(image.manifestDigest);
      } else {
        await expect(missing).rejects.toThrow('failed to invoke method OpenImageOptional: unknown method: OpenImageOptional');
      }
      // The proxy stays usable afterwards.
      const img = await proxy.openImage(refs.oci);
      expect((await proxy.fetchManifest(img)).digest).toBe(image.manifestDigest);
    } finally {
      await proxy.finalize();
    }
  });

  it('GetRawBlob: unverified blob and error channel from protocol 0.2.8, an unknown method before', async () => {
    const proxy = await ImageProxy.create();
    try {
      const img = await proxy.openImage(refs.oci);
      const layer = image.layers[2];
      const raw = proxy.getRawBlob(img, layer.descriptor.digest);
      if (skopeo.has('getRawBlob')) {
        const blob = await raw;
        expect(blob.size).toBe(layer.descriptor.size);
        expect((await joinFetch(collect(createReadStream('', { fd: blob.fd })), blob.finish())).equals(layer.blob)).toBe(true);
      } else {
        await expect(raw).rejects.toThrow('failed to invoke method GetRawBlob: unknown method: GetRawBlob');
      }
      expect((await proxy.fetchManifest(img)).digest).toBe(image.manifestDigest);
    } finally {
      await proxy.finalize();
    }
  });

  it('resolves a multi-arch index to the host instance (registry, dir:, oci: and oci-archive:)', async () => {
    const arch = hostOciArch();
    const expected = multi.instances[arch];
    expect(expected, `test index has no ${arch} instance`).toBeDefined();
    const ociMulti = `oci:${path.join(fx.tmp, 'multi-oci')}:latest`;
    const archiveMulti = `oci-archive:${path.join(fx.tmp, 'multi.ociarchive')}:latest`;
    for (const dest of [ociMulti, archiveMulti]) await skopeoCopy(multi.ref, dest, { multiArch: 'all' });
    for (const ref of [`${fx.registry.ref('test/multi')}:latest`, multi.ref, ociMulti, archiveMulti]) {
      const proxy = await ImageProxy.create(tlsOff);
      try {
        const img = await proxy.openImage(ref);
        const { digest, manifest } = await proxy.fetchManifest(img);
        expect(digest).toBe(expected.manifestDigest);
        expect((await proxy.fetchConfig(img)).architecture).toBe(arch);
        const bytes = await collect((await proxy.getDescriptor(img, manifest.layers[0])).stream);
        expect(bytes.equals(expected.layers[0].blob)).toBe(true);
      } finally {
        await proxy.finalize();
      }
    }
  });
});

describe('finalize', () => {
  it('closes images left open, so an oci-archive: extraction does not stay behind', async () => {
    // skopeo extracts an oci-archive: image to <tmpdir>/oci<N> (1.18: container_images_oci<N>; default /var/tmp, shared with
    // everything else on the machine) and removes it only on CloseImage. Its global --tmpdir
    // gives this test a directory of its own to list.
    const tmp = await fsp.mkdtemp(path.join(fx.tmp, 'skopeo-tmp-'));
    const extracted = async () => (await fsp.readdir(tmp)).filter((n) => /^(container_images_)?oci\d+$/.test(n));
    const proxy = await ImageProxy.create({ ...tlsOff, skopeoCmd: { program: 'skopeo', args: ['--tmpdir', tmp] } });
    try {
      const img = await proxy.openImage(refs.ociArchive);
      await proxy.fetchManifest(img);
      expect(await extracted()).toHaveLength(1);
    } finally {
      await proxy.finalize();
    }
    expect(await extracted()).toEqual([]);
  });
});

describe('blobs larger than a pipe buffer', () => {
  // skopeo blocks writing such a blob until we drain it, and answers FinishPipe only then: a
  // client that waited for FinishPipe before reading (or sent the next request) would hang.
  it('are drained while FinishPipe is in flight, with other requests queued behind it', { timeout: 60_000 }, async () => {
    const big = await buildDirImage(path.join(fx.tmp, 'big'), { layers: [{ 'big.bin': randomBytes(6 << 20) }] });
    const { digest, size } = big.layers[0].descriptor;
    expect(size).toBeGreaterThan(4 << 20);
    const proxy = await ImageProxy.create();
    try {
      const img = await proxy.openImage(big.ref);
      const blob = await proxy.getBlob(img, digest, size);
      const [bytes, manifest] = await Promise.all([collect(blob.stream), proxy.fetchManifest(img)]);
      expect(digestOf(bytes)).toBe(digest);
      expect(manifest.digest).toBe(big.manifestDigest);
      const fdBlob = await proxy.getBlobFd(img, digest, size);
      const [fdBytes, config] = await Promise.all([
        joinFetch(collect(createReadStream('', { fd: fdBlob.fd })), fdBlob.finish()),
        proxy.fetchConfig(img),
      ]);
      expect(digestOf(fdBytes)).toBe(digest);
      expect(config.rootfs.diff_ids).toEqual([big.layers[0].diffId]);
    } finally {
      await proxy.finalize();
    }
  });
});

describe('isolation', () => {
  it('runs skopeo as nobody under systemd, reading auth data through fd 100', async () => {
    await fsp.chmod(fx.tmp, 0o755); // the layouts must be readable by nobody
    const authfile = path.join(fx.tmp, 'auth.json');
    const isolated = async (auth: string) => {
      await fsp.writeFile(authfile, auth);
      const config = await mergeDefaultContainerProxyOpts({ authfile, ...tlsOff }, { env: { INVOCATION_ID: 'test' } });
      expect(config.skopeoCmd?.program).toBe('setpriv');
      expect(config.authfile).toBeUndefined();
      return ImageProxy.create(config);
    };
    const proxy = await isolated(`{"auths":{"${fx.registry.host}":{"auth":"${Buffer.from('u:p').toString('base64')}"}}}`);
    try {
      const status = await fsp.readFile(`/proc/${proxy.pid}/status`, 'utf8');
      expect(status).toMatch(/^Uid:\s+65534\s+65534\s+65534\s+65534$/m);
      expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
      for (const ref of [refs.oci, refs.registry]) {
        const img = await proxy.openImage(ref);
        expect((await proxy.fetchManifest(img)).digest).toBe(image.manifestDigest);
      }
    } finally {
      await proxy.finalize();
    }
    // Unparseable auth data proves the child really reads the fd-100 copy.
    const broken = await isolated('{not json');
    try {
      await expect(broken.openImage(refs.registry)).rejects.toThrow(/getting username and password/);
    } finally {
      await broken.finalize();
    }
  });
});

describe('ImageProxyPool', () => {
  it('fetches the layers in parallel from several proxies, one blob per proxy at a time', async () => {
    const pool = await ImageProxyPool.open(refs.registry, { size: 2, config: tlsOff });
    try {
      expect(pool.size).toBe(2);
      const { proxy, image: img } = pool.primary;
      const { manifest } = await proxy.fetchManifest(img);
      const viaFd = await Promise.all(
        manifest.layers.map(async (l) => {
          const blob = await pool.getBlobFd(l.digest, l.size);
          return joinFetch(collect(createReadStream('', { fd: blob.fd })), blob.finish());
        }),
      );
      const viaStream = await Promise.all(manifest.layers.map(async (l) => collect((await pool.getBlob(l.digest, l.size)).stream)));
      // Both kinds at once, more blobs than proxies: later fetches wait for a free proxy.
      const mixed = await Promise.all(
        [...manifest.layers, ...manifest.layers].map(async (l, i) => {
          if (i % 2) return collect((await pool.getBlob(l.digest, l.size)).stream);
          const blob = await pool.getBlobFd(l.digest, l.size);
          return joinFetch(collect(createReadStream('', { fd: blob.fd })), blob.finish());
        }),
      );
      expect(mixed.map((b) => digestOf(b))).toEqual([...manifest.layers, ...manifest.layers].map((l) => l.digest));
      for (const [i, l] of manifest.layers.entries()) {
        expect(digestOf(viaFd[i])).toBe(l.digest);
        expect(digestOf(viaStream[i])).toBe(l.digest);
      }
    } finally {
      await pool.close();
    }
  });

  it('reports proxies that do not start, refuses a size that is not a positive integer, and is min(4, concurrency()) proxies by default', async () => {
    // No skopeo proxy knows --decryption-key (spec §5.8): none starts, and the pool says why.
    await expect(ImageProxyPool.open(refs.oci, { size: 2, config: { decryptionKeys: ['/k'] } })).rejects.toThrow(
      /^skopeo proxy unexpectedly exited during request method Initialize: exit status: 1\n[^]*unknown flag: --decryption-key/,
    );
    await expect(ImageProxyPool.open(refs.oci, { size: 0 })).rejects.toThrow(new Error('Invalid proxy pool size 0'));
    await expect(ImageProxyPool.open(refs.oci, { size: 1.5 })).rejects.toThrow(new Error('Invalid proxy pool size 1.5'));
    const budget = concurrency();
    concurrency(2);
    try {
      const pool = await ImageProxyPool.open(refs.oci);
      expect(pool.size).toBe(2);
      await pool.close();
    } finally {
      concurrency(budget);
    }
  });

  it('hands a proxy back after a failed request, grows with the image open, and is closed once', async () => {
    const pool = await ImageProxyPool.open(refs.oci, { size: 1 });
    const missing = '0'.repeat(64);
    const notFound = `failed to invoke method GetBlob: open ${fx.tmp}/oci/blobs/sha256/${missing}: no such file or directory`;
    // One proxy: a request after a failed one waits forever unless the failure handed it back.
    await expect(pool.getBlobFd(`sha256:${missing}`, 1)).rejects.toThrow(notFound);
    await expect(pool.getBlob(`sha256:${missing}`, 1)).rejects.toThrow(notFound);
    const { manifest } = await pool.primary.proxy.fetchManifest(pool.primary.image);
    const [layer] = manifest.layers;
    await pool.grow(1);
    expect(pool.size).toBe(1);
    await pool.grow(2);
    expect(pool.size).toBe(2);
    // Both proxies serve a blob at once: the one grown has the image open too.
    const blobs = await Promise.all([pool.getBlobFd(layer.digest, layer.size), pool.getBlobFd(layer.digest, layer.size)]);
    expect(new Set(blobs.map((b) => b.proxyPid)).size).toBe(2);
    const read = await Promise.all(blobs.map((b) => joinFetch(collect(createReadStream('', { fd: b.fd })), b.finish())));
    expect(read.map((b) => digestOf(b))).toEqual([layer.digest, layer.digest]);
    await pool.close();
    // A second close does not close the images again (that would fail: the proxies are gone).
    await pool.close();
    await expect(pool.grow(3)).rejects.toThrow(new Error('Image proxy pool is closed'));
  });

  it('refuses, with enforcePolicy, proxies that do not apply containers-policy.json', async () => {
    const opening = ImageProxyPool.open(refs.oci, { size: 1, enforcePolicy: true });
    if (skopeo.has('policyOnOpen')) await (await opening).close();
    else {
      await expect(opening).rejects.toThrow(
        new Error(
          `ostree-image-signed needs skopeo 1.13.0 or newer: the installed skopeo's image proxy (protocol ${skopeo.protocol}) ` +
            'does not enforce containers-policy.json; signature verification needs protocol 0.2.6',
        ),
      );
    }
  });

  it('closing reports the first failure after trying every proxy: finalizing first, then closing images', async () => {
    const pool = await ImageProxyPool.open(refs.oci, { size: 2 });
    // Closed behind the pool's back: its own close fails, the proxies are still finalized.
    await pool.primary.proxy.closeImage(pool.primary.image);
    await expect(pool.close()).rejects.toThrow(/CloseImage/);
    const killed = await ImageProxyPool.open(refs.oci, { size: 2 });
    process.kill(killed.primary.proxy.pid, 'SIGKILL');
    await expect(killed.close()).rejects.toThrow(/^proxy failed: signal: 9 \(SIGKILL\)/);
  });
});

describe('fetchManifest / fetchManifestAndConfig', () => {
  it('returns manifest and digest for an ostree image reference', async () => {
    const r = await fetchManifest(OstreeImageReference.parse(`ostree-unverified-image:${refs.oci}`));
    expect(r.digest).toBe(image.manifestDigest);
    expect(r.manifest.layers.map((l) => l.digest)).toEqual(image.layers.map((l) => l.descriptor.digest));
  });

  it('adds the configuration, from a registry', async () => {
    const r = await fetchManifestAndConfig(
      OstreeImageReference.parse(`ostree-unverified-registry:${fx.registry.host}/test/single:latest`),
      tlsOff,
    );
    expect(r.digest).toBe(image.manifestDigest);
    expect(r.config.rootfs.diff_ids).toEqual(image.layers.map((l) => l.diffId));
  });

  it('puts its context on errors', async () => {
    const missing = OstreeImageReference.parse(`ostree-unverified-image:oci:${fx.tmp}/oci:nosuchtag`);
    await expect(fetchManifest(missing)).rejects.toThrow(
      /^Fetching manifest: failed to invoke method OpenImage: .*no descriptor found for reference "nosuchtag"/,
    );
    await expect(fetchManifestAndConfig(missing)).rejects.toThrow(
      /^Fetching manifest and config: failed to invoke method OpenImage: .*no descriptor found for reference "nosuchtag"/,
    );
  });
});
