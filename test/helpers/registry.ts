// A real registry (`docker-registry`, Fedora: docker-distribution) on 127.0.0.1 with a free port
// and temporary storage, for the duration of a test file.
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

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
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface RegistryOptions {
  /** One htpasswd line, `user:<bcrypt hash>`: the registry then requires HTTP basic auth. */
  htpasswd?: string;
}

async function waitReady(url: string, ready: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`docker-registry exited (${child.exitCode ?? child.signalCode}) before answering: ${log()}`);
    }
    try {
      const res = await fetch(url);
      if (res.status === ready) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`docker-registry did not answer ${url} within 20 s: ${log()}`);
}

/** Starts the registry and waits until `/v2/` answers (200, or 401 when it requires auth). */
export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  const bin = await findRegistryBin();
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ostree-container-registry-'));
  const storage = path.join(tmp, 'storage');
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const configPath = path.join(tmp, 'config.yml');
  const auth: string[] = [];
  if (opts.htpasswd !== undefined) {
    const htpasswd = path.join(tmp, 'htpasswd');
    await fsp.writeFile(htpasswd, `${opts.htpasswd}\n`);
    auth.push('auth:', '  htpasswd:', '    realm: ostree-container-test', `    path: ${htpasswd}`);
  }
  await fsp.writeFile(
    configPath,
    [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${storage}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: ${host}`,
      ...auth,
      '',
    ].join('\n'),
  );
  const child = spawn(bin, ['serve', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    log = (log + s).slice(-8192);
  });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    await fsp.rm(tmp, { recursive: true, force: true });
  };
  try {
    await waitReady(`http://${host}/v2/`, opts.htpasswd === undefined ? 200 : 401, child, () => log);
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
  };
}
