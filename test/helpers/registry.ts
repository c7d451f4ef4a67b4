// A real registry (`docker-registry`, Fedora: docker-distribution) on 127.0.0.1 and temporary
// storage, for the duration of a test file. The registry binds port 0 itself and we read the port
// from its log, so no other process can take the port between choosing and binding it.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import https from 'node:https';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll } from 'vitest';

// Debian's docker-registry installs /usr/bin/docker-registry; Fedora's docker-distribution
// installs the same server as /usr/bin/registry.
const REGISTRY_BINS = process.env.OSTREE_CONTAINER_REGISTRY_BIN
  ? [process.env.OSTREE_CONTAINER_REGISTRY_BIN]
  : ['/usr/bin/docker-registry', '/usr/bin/registry'];

async function findRegistryBin(): Promise<string> {
  for (const bin of REGISTRY_BINS) {
    if (await fsp.access(bin, fsp.constants.X_OK).then(() => true, () => false)) return bin;
  }
  throw new Error(`registry server missing: none of ${REGISTRY_BINS.join(', ')} (Debian: docker-registry, Fedora: docker-distribution)`);
}

export interface TestRegistry {
  /** `127.0.0.1:<port>` */
  host: string;
  /** Storage root (`docker/registry/v2/…` beneath it), for tests that tamper with blobs. */
  storage: string;
  /** `docker://127.0.0.1:<port>/<repo>` */
  ref(repo: string): string;
  /** Path of a stored blob's data file. */
  blobPath(digest: string): string;
  /** With `tls`: a directory holding the registry's self-signed certificate as `ca.crt` (skopeo's --cert-dir). */
  certDir?: string;
  stop(): Promise<void>;
}

/**
 * What skopeo says when such a registry answers 401 without valid credentials: 1.9.3
 * `unauthorized: authentication required`, 1.18 `<what it was doing> in <repo>: authentication required`.
 */
export const AUTH_REFUSED = /: authentication required/;

export interface RegistryOptions {
  /** One htpasswd line, `user:<bcrypt hash>`: the registry then requires HTTP basic auth. */
  htpasswd?: string;
  /** Serve HTTPS with a fresh self-signed certificate for 127.0.0.1 (made with `openssl`). */
  tls?: boolean;
}

/** HTTP status of a GET, trusting `ca` for HTTPS. */
async function statusOf(url: string, ca?: Buffer): Promise<number> {
  if (!ca) return (await fetch(url)).status;
  return new Promise((resolve, reject) => {
    https.get(url, { ca }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}

/** A self-signed certificate and key for 127.0.0.1 in `dir` (cert also as `certs/ca.crt`). */
async function selfSignedCert(dir: string): Promise<{ cert: string; key: string; certDir: string }> {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert,
  ]).catch((e: unknown) => {
    throw new Error(`openssl could not make a test certificate: ${(e as Error).message}`);
  });
  const certDir = path.join(dir, 'certs');
  await fsp.mkdir(certDir);
  await fsp.copyFile(cert, path.join(certDir, 'ca.crt'));
  return { cert, key, certDir };
}

/** The address from the registry's `listening on 127.0.0.1:<port>` log line (info level). */
const LISTENING = /msg="listening on (127\.0\.0\.1:\d+)/;

async function waitReady(
  urlPath: string, ready: number, ca: Buffer | undefined, child: ChildProcess, log: () => string,
): Promise<string> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`docker-registry exited (${child.exitCode ?? child.signalCode}) before answering: ${log()}`);
    }
    const host = LISTENING.exec(log())?.[1];
    if (host !== undefined) {
      try {
        if ((await statusOf(`${ca ? 'https' : 'http'}://${host}${urlPath}`, ca)) === ready) return host;
      } catch {
        // not serving yet
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`docker-registry did not answer ${urlPath} within 20 s: ${log()}`);
}

/** Starts the registry and waits until `/v2/` answers (200, or 401 when it requires auth). */
export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  const bin = await findRegistryBin();
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ostree-container-registry-'));
  const storage = path.join(tmp, 'storage');
  const configPath = path.join(tmp, 'config.yml');
  const auth: string[] = [];
  if (opts.htpasswd !== undefined) {
    const htpasswd = path.join(tmp, 'htpasswd');
    await fsp.writeFile(htpasswd, `${opts.htpasswd}\n`);
    auth.push('auth:', '  htpasswd:', '    realm: ostree-container-test', `    path: ${htpasswd}`);
  }
  const tls = opts.tls
    ? await selfSignedCert(tmp).catch(async (e: unknown) => {
        await fsp.rm(tmp, { recursive: true, force: true });
        throw e;
      })
    : undefined;
  const tlsConfig = tls ? ['  tls:', `    certificate: ${tls.cert}`, `    key: ${tls.key}`] : [];
  await fsp.writeFile(
    configPath,
    [
      'version: 0.1',
      'log:',
      '  level: info', // for the `listening on` line
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${storage}`,
      '  delete:',
      '    enabled: true',
      'http:',
      '  addr: 127.0.0.1:0',
      ...tlsConfig,
      ...auth,
      '',
    ].join('\n'),
  );
  const child = spawn(bin, ['serve', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  // The first lines (with the address) and the latest ones (for error messages).
  let head = '';
  let tail = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    if (head.length < 4096) head += s;
    else tail = (tail + s).slice(-8192);
  });
  const log = () => head + tail;
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    await fsp.rm(tmp, { recursive: true, force: true });
  };
  let host: string;
  try {
    const ca = tls ? await fsp.readFile(tls.cert) : undefined;
    host = await waitReady('/v2/', opts.htpasswd === undefined ? 200 : 401, ca, child, log);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    host,
    storage,
    ref: (repo) => `docker://${host}/${repo}`,
    blobPath: (digest) => {
      const [algo, hex] = digest.split(':');
      return path.join(storage, 'docker/registry/v2/blobs', algo, hex.slice(0, 2), hex, 'data');
    },
    stop,
    ...(tls ? { certDir: tls.certDir } : {}),
  };
}

export interface RegistryFixture {
  /** A temp dir of the test file's own (removed after its tests). */
  readonly tmp: string;
  readonly registry: TestRegistry;
}

/**
 * For a whole test file: registers hooks that make a temp dir (`prefix` under os.tmpdir()) and
 * start a registry before its tests (ahead of before-hooks registered later), and stop and remove
 * both after them.
 */
export function registryFixture(prefix: string, opts: RegistryOptions = {}): RegistryFixture {
  let tmp: string | undefined;
  let registry: TestRegistry | undefined;
  beforeAll(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
    registry = await startRegistry(opts);
  });
  afterAll(async () => {
    await registry?.stop();
    if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
  });
  const ready = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('registryFixture: used before its beforeAll hook ran');
    return v;
  };
  return {
    get tmp() {
      return ready(tmp);
    },
    get registry() {
      return ready(registry);
    },
  };
}
