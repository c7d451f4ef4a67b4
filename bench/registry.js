// A throwaway local registry (Debian docker-registry, Fedora docker-distribution's `registry`) on
// 127.0.0.1 with temp storage, for the pull benchmark.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const BINS = ['/usr/bin/docker-registry', '/usr/bin/registry'];

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Starts the registry; resolves to `{ host, stop() }` once `/v2/` answers. */
export async function startRegistry() {
  const bin = BINS.find((b) => existsSync(b));
  if (!bin) throw new Error(`registry server missing: none of ${BINS.join(', ')} (scripts/install-deps.sh installs it)`);
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'bench-registry-'));
  const host = `127.0.0.1:${await freePort()}`;
  const config = path.join(tmp, 'config.yml');
  await writeFile(config, `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${tmp}/storage\nhttp:\n  addr: ${host}\n`);
  const child = spawn(bin, ['serve', config], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('close', resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    await rm(tmp, { recursive: true, force: true });
  };
  for (let i = 0; i < 200; i++) {
    const ok = await fetch(`http://${host}/v2/`).then((r) => r.status === 200, () => false);
    if (ok) return { host, stop };
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`${bin} did not answer on ${host}`);
}
