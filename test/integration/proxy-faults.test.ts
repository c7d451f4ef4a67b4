// Bad input and faults with real skopeo and a real registry: each error is clear, nothing hangs,
// and no fd or child process (zombies included) is left behind.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import fs from 'node:fs';
import path from 'node:path';
import { buffer as collect } from 'node:stream/consumers';
import { beforeAll, describe, expect, it } from 'vitest';
import { ImageProxy, joinFetch } from '../../src/proxy/image-proxy.js';
import { ImageProxyPool } from '../../src/proxy/pool.js';
import { skopeoCopy } from '../../src/proxy/skopeo-copy.js';
import { buildDirImage, type BuiltImage } from '../helpers/images.js';
import { expectNoLeaksAfterEach } from '../helpers/process.js';
import { registryFixture } from '../helpers/registry.js';
import { withOwnTmpdir } from '../helpers/tmpdir.js';

let image: BuiltImage;
let big: BuiltImage;
let ociRef: string;
let bigRef: string;
const tlsOff = { insecureSkipTlsVerification: true };

const fx = registryFixture('ostree-container-faults-');
beforeAll(async () => {
  image = await buildDirImage(path.join(fx.tmp, 'small'), { layers: [{ 'a.txt': `faults ${randomBytes(8).toString('hex')}\n` }] });
  ociRef = `oci:${path.join(fx.tmp, 'oci')}:latest`;
  await skopeoCopy(image.ref, ociRef);
  // Incompressible, far larger than a pipe buffer: the transfer is still running when we strike.
  big = await buildDirImage(path.join(fx.tmp, 'big'), { layers: [{ 'big.bin': randomBytes(8 << 20) }] });
  bigRef = `oci:${path.join(fx.tmp, 'oci')}:big`;
  await skopeoCopy(big.ref, bigRef);
});

expectNoLeaksAfterEach();

describe('starting the proxy', () => {
  it('reports a missing skopeo or setpriv with the package that provides it', async () => {
    const skopeoHint = 'skopeo is not installed: apt-get install skopeo (Debian, Ubuntu) or dnf install skopeo (Fedora)';
    const onlySkopeo = path.join(fx.tmp, 'only-skopeo');
    await fsp.mkdir(onlySkopeo);
    await fsp.symlink(execFileSync('sh', ['-c', 'command -v skopeo']).toString().trim(), path.join(onlySkopeo, 'skopeo'));
    const saved = process.env.PATH;
    try {
      process.env.PATH = fx.tmp;
      // An Error, not only its text: vitest's rejects.toThrow(text) also passes for a rejection with undefined.
      await expect(ImageProxy.create()).rejects.toThrow(new Error(`skopeo spawn error: No such file or directory (${skopeoHint})`));
      await expect(skopeoCopy(ociRef, `oci:${fx.tmp}/never`)).rejects.toThrow(new RegExp(`^skopeo failed: ${skopeoHint.replace(/[()]/g, '\\$&')}\n`));
      process.env.PATH = onlySkopeo;
      await expect(ImageProxy.create()).rejects.toThrow(
        new Error('skopeo spawn error: No such file or directory (setpriv is not installed: apt-get install util-linux (Debian, Ubuntu) or dnf install util-linux (Fedora))'),
      );
    } finally {
      process.env.PATH = saved;
    }
    await expect(ImageProxy.create({ skopeoCmd: { program: 'no-skopeo' } })).rejects.toThrow(
      /^skopeo spawn error: No such file or directory \(no-skopeo is not installed\)$/,
    );
  });

  it('refuses conflicting auth options before spawning anything', async () => {
    await expect(ImageProxy.create({ authfile: '/etc/hostname', authAnonymous: true })).rejects.toThrow(
      'Conflicting authentication options',
    );
  });

  it('reports the exit and stderr of a proxy that rejects its arguments', async () => {
    // No skopeo proxy knows --decryption-key (spec §5.8).
    await expect(ImageProxy.create({ decryptionKeys: ['/k'] })).rejects.toThrow(
      /^skopeo proxy unexpectedly exited during request method Initialize: exit status: 1\n[^]*unknown flag: --decryption-key/,
    );
  });

  it("keeps the last 64 KiB of a failed proxy's stderr", async () => {
    const loud = { program: 'sh', args: ['-c', 'head -c 100000 /dev/zero | tr "\\0" x >&2; exit 3', 'sh'] };
    const err = (await ImageProxy.create({ skopeoCmd: loud }).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/^skopeo proxy unexpectedly exited during request method Initialize: exit status: 3\nx{65536}$/);
  });

  it('reports auth data that cannot be read', async () => {
    const fd = fs.openSync(path.join(fx.tmp, 'writeonly'), 'w');
    try {
      await expect(ImageProxy.create({ authData: fd })).rejects.toMatchObject({ code: 'EBADF' });
    } finally {
      fs.closeSync(fd);
    }
  });

  it('reports an auth file skopeo cannot use', async () => {
    const authfile = path.join(fx.tmp, 'auth.json');
    await fsp.writeFile(authfile, '{not json');
    const proxy = await ImageProxy.create({ ...tlsOff, authfile });
    try {
      await expect(proxy.openImage(`${fx.registry.ref('test/none')}:latest`)).rejects.toThrow(
        /^failed to invoke method OpenImage: getting username and password/,
      );
    } finally {
      await proxy.finalize();
    }
  });
});

describe('auth files skopeo cannot read', () => {
  it('names an auth file that is a directory; a missing one means no credentials (skopeo\'s rule)', async () => {
    const proxy = await ImageProxy.create({ ...tlsOff, authfile: fx.tmp });
    try {
      await expect(proxy.openImage(`${fx.registry.ref('test/none')}:latest`)).rejects.toThrow(
        new RegExp(`^failed to invoke method OpenImage: getting username and password: [^]*reading JSON file "${fx.tmp}": read ${fx.tmp}: is a directory`),
      );
    } finally {
      await proxy.finalize();
    }
    // As with upstream (which passes --authfile through), skopeo treats a missing file as empty:
    // the request goes on anonymously and fails only for its own reason.
    const anon = await ImageProxy.create({ ...tlsOff, authfile: path.join(fx.tmp, 'no-such-auth.json') });
    try {
      await expect(anon.openImage(`${fx.registry.ref('test/none')}:latest`)).rejects.toThrow(/^failed to invoke method OpenImage: .*manifest unknown/);
    } finally {
      await anon.finalize();
    }
  });
});

describe('bad references', () => {
  it('names the unknown image or tag', async () => {
    const proxy = await ImageProxy.create(tlsOff);
    try {
      await expect(proxy.openImage('oci:/nonexistent')).rejects.toThrow(
        'failed to invoke method OpenImage: open /nonexistent/index.json: no such file or directory',
      );
      await expect(proxy.openImage(`${fx.registry.ref('test/none')}:latest`)).rejects.toThrow(
        /^failed to invoke method OpenImage: .*manifest unknown/,
      );
      await expect(proxy.openImage(`oci:${fx.tmp}/oci:nosuchtag`)).rejects.toThrow('no descriptor found for reference "nosuchtag"');
      await expect(proxy.openImage('nonsense')).rejects.toThrow(
        'Invalid image name "nonsense", expected colon-separated transport:reference',
      );
      // Still serving afterwards.
      const img = await proxy.openImage(ociRef);
      expect((await proxy.fetchManifest(img)).digest).toBe(image.manifestDigest);
    } finally {
      await proxy.finalize();
    }
  });

  it('lets the pool fail cleanly when the image is missing', async () => {
    await expect(ImageProxyPool.open(`oci:${fx.tmp}/oci:nosuchtag`, { size: 2 })).rejects.toThrow('no descriptor found');
  });

  it('rejects pool fetches still waiting for a proxy when the pool closes', async () => {
    const pool = await ImageProxyPool.open(bigRef, { size: 1 });
    const { digest, size } = big.layers[0].descriptor;
    const first = await pool.getBlobFd(digest, size);
    const waiting = pool.getBlobFd(digest, size).catch((e: unknown) => e);
    await pool.close();
    expect(await waiting).toEqual(new Error('Image proxy pool is closed'));
    await expect(pool.getBlob(digest, size)).rejects.toThrow('Image proxy pool is closed');
    fs.closeSync(first.fd);
  });

  it('rejects a blob requested with the wrong size', async () => {
    const proxy = await ImageProxy.create();
    try {
      const img = await proxy.openImage(ociRef);
      const { digest, size } = image.layers[0].descriptor;
      const blob = await proxy.getBlob(img, digest, size + 1);
      await expect(collect(blob.stream)).rejects.toThrow(`failed to invoke method FinishPipe: expected ${size + 1} bytes in blob, got ${size}`);
    } finally {
      await proxy.finalize();
    }
  });
});

describe('a blob altered in registry storage', () => {
  it('fails the stream and the fd fetch with the digest error, and the proxy stays usable', async () => {
    const ref = `${fx.registry.ref('test/corrupt')}:latest`;
    await skopeoCopy(image.ref, ref, { destTlsVerify: false });
    const { digest, size } = image.layers[0].descriptor;
    const stored = fx.registry.blobPath(digest);
    const bytes = await fsp.readFile(stored);
    bytes[bytes.length - 10] ^= 0xff; // same size, other content
    await fsp.writeFile(stored, bytes);

    const proxy = await ImageProxy.create(tlsOff);
    try {
      const img = await proxy.openImage(ref);
      const blob = await proxy.getBlob(img, digest, size);
      await expect(collect(blob.stream)).rejects.toThrow(`failed to invoke method FinishPipe: corrupted blob, expecting ${digest}`);
      const fdBlob = await proxy.getBlobFd(img, digest, size);
      await expect(joinFetch(collect(createReadStream('', { fd: fdBlob.fd })), fdBlob.finish())).rejects.toThrow(
        `corrupted blob, expecting ${digest}`,
      );
      expect((await proxy.fetchManifest(img)).digest).toBe(image.manifestDigest);
    } finally {
      await proxy.finalize();
    }
  });
});

describe('skopeo killed in the middle of a blob', () => {
  const killed = /^skopeo proxy unexpectedly exited during request method FinishPipe: signal: 9 \(SIGKILL\)/;

  it('fails FinishPipe of a raw fd fetch; finalize reports the death', async () => {
    const proxy = await ImageProxy.create();
    const img = await proxy.openImage(bigRef);
    const { digest, size } = big.layers[0].descriptor;
    const blob = await proxy.getBlobFd(img, digest, size);
    const reader = collect(createReadStream('', { fd: blob.fd }));
    const finishing = blob.finish();
    process.kill(proxy.pid, 'SIGKILL');
    await expect(joinFetch(reader, finishing)).rejects.toThrow(killed);
    await expect(proxy.fetchManifest(img)).rejects.toThrow(
      /^skopeo proxy unexpectedly exited during request method GetManifest: signal: 9 \(SIGKILL\)/,
    );
    await expect(proxy.finalize()).rejects.toThrow(/^proxy failed: signal: 9 \(SIGKILL\)/);
  });

  it('errors a blob stream after its first bytes', async () => {
    const proxy = await ImageProxy.create();
    const img = await proxy.openImage(bigRef);
    const { digest, size } = big.layers[0].descriptor;
    const { stream } = await proxy.getBlob(img, digest, size);
    let received = 0;
    const consumed = (async () => {
      for await (const chunk of stream) {
        if (received === 0) process.kill(proxy.pid, 'SIGKILL');
        received += (chunk as Buffer).length;
      }
    })();
    await expect(consumed).rejects.toThrow(killed);
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(size);
    await expect(proxy.finalize()).rejects.toThrow(/^proxy failed: signal: 9 \(SIGKILL\)/);
  });

  it('survives a consumer that stops reading early (broken pipe stays internal)', async () => {
    const proxy = await ImageProxy.create();
    try {
      const img = await proxy.openImage(bigRef);
      const { digest, size } = big.layers[0].descriptor;
      const { stream } = await proxy.getBlob(img, digest, size);
      for await (const _ of stream) break; // destroys the stream, closing our end of the pipe
      expect((await proxy.fetchManifest(img)).digest).toBe(big.manifestDigest);
    } finally {
      await proxy.finalize();
    }
  });
});

describe('skopeoCopy', () => {
  it('carries the exit status and skopeo\'s stderr', async () => {
    const dest = `oci:${fx.tmp}/copy-dest`;
    await expect(skopeoCopy('oci:/nonexistent', dest)).rejects.toThrow(
      /^skopeo failed: .*open \/nonexistent\/index.json: no such file or directory"\n\(skopeo copy oci:\/nonexistent oci:\S+: exit status: 1\)$/s,
    );
    await expect(skopeoCopy(image.ref, `${fx.registry.ref('test/tls')}:latest`)).rejects.toThrow(
      /^skopeo failed: .*server gave HTTP response to HTTPS client.*exit status: 1\)$/s,
    );
  });

  it('stops on an AbortSignal: skopeo is killed and reaped, its temp dir removed', async () => {
    // skopeo waits for data from a FIFO nobody writes: a copy that would never end on its own.
    const fifo = path.join(fx.tmp, 'stalled.fifo');
    execFileSync('mkfifo', [fifo]);
    await withOwnTmpdir(fx.tmp, async (tmp) => {
      const copyDirs = async () => (await fsp.readdir(tmp)).filter((n) => n.startsWith('ostree-container-copy-'));
      const ac = new AbortController();
      const copy = skopeoCopy(`docker-archive:${fifo}`, `oci:${fx.tmp}/never`, { signal: ac.signal }).then(
        () => new Error('expected a rejection'),
        (e: unknown) => e as Error,
      );
      await new Promise((r) => setTimeout(r, 300));
      expect(await copyDirs()).toHaveLength(1);
      ac.abort();
      const err = await copy;
      expect(err.message).toMatch(/^skopeo failed: [^]*\(skopeo copy docker-archive:\S+ oci:\S+: The operation was aborted\)$/);
      expect((err.cause as Error).name).toBe('AbortError');
      expect(await copyDirs()).toEqual([]);
    });
  });

  it('names the signal that killed skopeo', async () => {
    const fifo = path.join(fx.tmp, 'killed.fifo');
    execFileSync('mkfifo', [fifo]);
    const copy = skopeoCopy(`docker-archive:${fifo}`, `oci:${fx.tmp}/never`).then(
      () => new Error('expected a rejection'),
      (e: unknown) => e as Error,
    );
    // skopeo waits for the FIFO: find it among our children and kill it.
    let pid: number | undefined;
    while (pid === undefined) {
      await new Promise((r) => setTimeout(r, 50));
      const children = fs.readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim().split(' ').filter(Boolean);
      pid = children.map(Number).find((p) => fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'skopeo');
    }
    process.kill(pid, 'SIGKILL');
    expect((await copy).message).toMatch(/^skopeo failed: [^]*\(skopeo copy docker-archive:\S+ oci:\S+: signal: 9 \(SIGKILL\)\)$/);
  });

  it('returns the digest it wrote, for a registry push with TLS off', async () => {
    expect(await skopeoCopy(image.ref, `${fx.registry.ref('test/pushed')}:latest`, { destTlsVerify: false })).toBe(image.manifestDigest);
  });
});
