// `ostree-image-signed:` either verifies through a proxy that applies containers-policy.json in
// OpenImage (protocol 0.2.6, skopeo 1.13.0) or is refused before any image is opened. The
// installed skopeo is tested as it is; protocol 0.2.6 is not installed here, so the newer side
// runs against the FAKE proxy (test/helpers/fake-proxy.mjs), which answers OpenImage the way a
// policy-enforcing skopeo does.
//
// Our own pre-check reads /etc/containers/policy.json, which on this machine accepts anything:
// the end-to-end cases run in a child in a private mount namespace (root, `unshare --mount`) with
// a rejecting policy bind-mounted over it, so the machine's file is never touched.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encapsulate } from '../../src/container/encapsulate.js';
import type { ExampleOs } from '../../src/fixture/index.js';
import { packageRoot } from '../../src/native.js';
import { ImageProxy } from '../../src/proxy/image-proxy.js';
import { POLICY_ENFORCING_PROXY, requirePolicyEnforcingProxy } from '../../src/proxy/policy.js';
import { ImageReference } from '../../src/ref/image-reference.js';
import type { Repo } from '../../src/repo/repo.js';
import { cleanupTmp, exampleWork, freshRepo } from './encapsulate-util.js';
import { repoSnapshot } from './tar-util.js';

const fake = path.join(path.dirname(fileURLToPath(import.meta.url)), '../helpers/fake-proxy.mjs');
const fakeCmd = { program: process.execPath, args: [fake] };

let fx: ExampleOs;
let repo: Repo;
let work: string;
let image: string;
let policy: string;

beforeAll(async () => {
  ({ fx, repo, work } = await exampleWork('signed-image-'));
  image = path.join(work, 'image');
  await encapsulate(repo, fx.ref, {}, {}, ImageReference.parse(`oci:${image}`));
  policy = path.join(work, 'policy.json');
  await writeFile(policy, JSON.stringify({ default: [{ type: 'reject' }] }));
});
afterAll(cleanupTmp);

/** The installed skopeo's version, e.g. [1, 9, 3]. */
async function skopeoVersion(): Promise<number[]> {
  const { stdout } = await promisify(execFile)('skopeo', ['--version']).catch((e: NodeJS.ErrnoException) => {
    throw new Error(e.code === 'ENOENT' ? 'skopeo is not installed (scripts/install-deps.sh installs it)' : String(e));
  });
  const m = /version (\d+)\.(\d+)\.(\d+)/.exec(stdout);
  if (!m) throw new Error(`unexpected skopeo --version output: ${stdout}`);
  return m.slice(1).map(Number);
}

/**
 * unencapsulate(`ostree-image-signed:oci:<image>`) into `repoPath` in a child whose
 * /etc/containers/policy.json is the rejecting policy; resolves to the child's error message or
 * 'ok'. `env` reaches the fake proxy.
 */
async function signedImportInNamespace(repoPath: string, skopeoCmd?: typeof fakeCmd, env: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'signed-child-'));
  try {
    const script = path.join(dir, 'import.mjs');
    await writeFile(
      script,
      `import { OstreeImageReference, Repo, unencapsulate } from ${JSON.stringify(path.join(packageRoot, 'lib/index.js'))};
const repo = await Repo.open(${JSON.stringify(repoPath)});
const ref = OstreeImageReference.parse(${JSON.stringify(`ostree-image-signed:oci:${image}`)});
try {
  await unencapsulate(repo, ref, { proxyConfig: ${JSON.stringify(skopeoCmd ? { skopeoCmd } : {})} });
  process.stdout.write('ok');
} catch (e) {
  process.stdout.write(e.message);
}
`,
    );
    const child = spawn(
      'unshare',
      ['--mount', 'sh', '-c', 'mount --bind "$1" /etc/containers/policy.json && exec "$2" "$3"', 'sh', policy, process.execPath, script],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } },
    );
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    if (code !== 0) throw new Error(`child failed (${code}): ${err}`);
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// unencapsulate goes through the layered store's importer, which opens the image while preparing
// and puts its context chain before the proxy's refusal.
const PREPARE_CONTEXT = 'Preparing import: Fetching manifest: ';

describe('ostree-image-signed', () => {
  it('the threshold is protocol 0.2.6 = skopeo 1.13.0', () => {
    expect(POLICY_ENFORCING_PROXY).toEqual({ protocol: '0.2.6', skopeo: '1.13.0' });
  });

  it('the FAKE proxy: 0.2.5 is refused naming the skopeo version, 0.2.6 passes', async () => {
    for (const [version, refused] of [['0.2.5', true], ['0.2.6', false], ['0.2.8', false]] as const) {
      process.env.FAKE_PROXY_VERSION = version;
      const proxy = await ImageProxy.create({ skopeoCmd: fakeCmd });
      try {
        if (refused) {
          expect(() => requirePolicyEnforcingProxy(proxy)).toThrow(
            `ostree-image-signed needs skopeo 1.13.0 or newer: the installed skopeo's image proxy (protocol ${version}) does not enforce containers-policy.json; signature verification needs protocol 0.2.6`,
          );
        } else {
          expect(() => requirePolicyEnforcingProxy(proxy)).not.toThrow();
        }
      } finally {
        delete process.env.FAKE_PROXY_VERSION;
        await proxy.finalize();
      }
    }
  });

  it('the installed skopeo: refused (before 1.13.0) or verified against the policy', async () => {
    const [major, minor] = await skopeoVersion();
    const dest = await freshRepo();
    const before = await repoSnapshot(dest.path);
    const message = await signedImportInNamespace(dest.path);
    if (major === 1 && minor < 13) {
      const proxy = await ImageProxy.create();
      const protocol = proxy.protocolVersion;
      await proxy.finalize();
      expect(message).toBe(
        `${PREPARE_CONTEXT}ostree-image-signed needs skopeo 1.13.0 or newer: the installed skopeo's image proxy (protocol ${protocol}) does not enforce containers-policy.json; signature verification needs protocol 0.2.6`,
      );
    } else {
      // A proxy that enforces the rejecting policy refuses to open the image.
      expect(message).toMatch(/rejected by policy/);
    }
    expect(await repoSnapshot(dest.path)).toEqual(before);
  });

  it('a policy-enforcing proxy (FAKE, protocol 0.2.6): its refusal is the error', async () => {
    const dest = await freshRepo();
    const before = await repoSnapshot(dest.path);
    const message = await signedImportInNamespace(dest.path, fakeCmd, { FAKE_PROXY_VERSION: '0.2.6', FAKE_PROXY_POLICY: 'reject' });
    expect(message).toBe(`${PREPARE_CONTEXT}failed to invoke method OpenImage: Running image oci:${image} is rejected by policy.`);
    expect(await repoSnapshot(dest.path)).toEqual(before);
    // An accepted image gets past the gate to the manifest (which the fake has not got).
    const accepted = await signedImportInNamespace(dest.path, fakeCmd, { FAKE_PROXY_VERSION: '0.2.6' });
    expect(accepted).not.toMatch(/needs skopeo|rejected by policy/);
  });
});
