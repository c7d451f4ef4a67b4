// Does the installed skopeo's image proxy enforce the signature policy (/etc/containers/policy.json)
// on OpenImage? Measured against real skopeo: the proxy child runs in a private mount namespace
// where a test policy is bind-mounted over /etc/containers/policy.json (the machine's file is not
// touched), and opens an unsigned image from an oci: layout and from a real registry.
// Upstream added the check in protocol 0.2.6 ("Policy Verification before pulling OCI").
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { POLICY_PATH } from '../../src/container/constants.js';
import type { ProxyCommand } from '../../src/proxy/config.js';
import { ImageProxy } from '../../src/proxy/image-proxy.js';
import { skopeoCopy } from '../../src/proxy/skopeo-copy.js';
import { buildDirImage, type BuiltImage } from '../helpers/images.js';
import { expectNoLeaksAfterEach } from '../helpers/process.js';
import { installedSkopeo, type InstalledSkopeo } from '../helpers/proxy.js';
import { registryFixture } from '../helpers/registry.js';

let skopeo: InstalledSkopeo;
let image: BuiltImage;
let oci: string;
let registry: string;

const fx = registryFixture('ostree-container-policy-');
beforeAll(async () => {
  skopeo = await installedSkopeo();
  image = await buildDirImage(path.join(fx.tmp, 'dir'), { layers: [{ 'etc/os-release': 'ID=policy\n' }] });
  oci = `oci:${path.join(fx.tmp, 'oci')}:latest`;
  await skopeoCopy(image.ref, oci);
  registry = `${fx.registry.ref('policy/img')}:latest`;
  await skopeoCopy(image.ref, registry, { destTlsVerify: false });
});

expectNoLeaksAfterEach();

const REJECT_ALL = { default: [{ type: 'reject' }] };
const REJECT_DOCKER = { default: [{ type: 'insecureAcceptAnything' }], transports: { docker: { '': [{ type: 'reject' }] } } };

/** Writes `policy` to a file of the test's own; returns its path. */
async function policyFile(name: string, policy: unknown): Promise<string> {
  const p = path.join(fx.tmp, `${name}.json`);
  await fsp.writeFile(p, JSON.stringify(policy));
  return p;
}

/** skopeo (arguments follow) reading `policy` at the default path, /etc/containers/policy.json. */
function skopeoUnderSystemPolicy(policy: string): ProxyCommand {
  const script = `mount --bind "$0" ${POLICY_PATH} && exec skopeo "$@"`;
  return { program: 'unshare', args: ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, policy] };
}

function proxyWithSystemPolicy(policy: string): Promise<ImageProxy> {
  return ImageProxy.create({ insecureSkipTlsVerification: true, skopeoCmd: skopeoUnderSystemPolicy(policy) });
}

/** The manifest digest OpenImage + GetManifest give under `policy`, or OpenImage's error. */
async function openUnder(policy: string, ref: string): Promise<string | Error> {
  const proxy = await proxyWithSystemPolicy(policy);
  try {
    const img = await proxy.openImage(ref);
    return (await proxy.fetchManifest(img)).digest;
  } catch (e) {
    return e as Error;
  } finally {
    await proxy.finalize();
  }
}

describe('signature policy on OpenImage, real skopeo', () => {
  it('the control: skopeo copy in the same setup reads the test policy and is refused', async () => {
    const reject = skopeoUnderSystemPolicy(await policyFile('reject-all', REJECT_ALL));
    const copy = promisify(execFile)(reject.program, [...reject.args!, 'copy', oci, `oci:${path.join(fx.tmp, 'copy')}:latest`]);
    await expect(copy).rejects.toThrow(/Source image rejected: Running image oci:.* is rejected by policy\./);
  });

  it('a reject-everything default: OpenImage refuses from protocol 0.2.6, opens anyway before', async () => {
    const reject = await policyFile('reject-all', REJECT_ALL);
    for (const ref of [oci, registry]) {
      const outcome = await openUnder(reject, ref);
      if (skopeo.has('policyOnOpen')) {
        expect(outcome).toBeInstanceOf(Error);
        expect((outcome as Error).message).toMatch(/^failed to invoke method OpenImage: Running image .* is rejected by policy\.$/);
      } else {
        // No policy check at all: the image opens as if the policy accepted it.
        expect(outcome).toBe(image.manifestDigest);
      }
    }
  });

  it('a policy scoped to the docker transport applies only there', async () => {
    const rejectDocker = await policyFile('reject-docker', REJECT_DOCKER);
    expect(await openUnder(rejectDocker, oci)).toBe(image.manifestDigest);
    const fromRegistry = await openUnder(rejectDocker, registry);
    if (skopeo.has('policyOnOpen')) expect(String(fromRegistry)).toMatch(/Running image docker:\/\/.* is rejected by policy\./);
    else expect(fromRegistry).toBe(image.manifestDigest);
  });

  it('a signedBy requirement and an unsigned image: refused from protocol 0.2.6, opened before', async () => {
    const key = path.join(fx.tmp, 'no-key.gpg');
    await fsp.writeFile(key, '');
    const signed = await policyFile('signed-by', { default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: key }] });
    const outcome = await openUnder(signed, registry);
    if (skopeo.has('policyOnOpen')) expect(String(outcome)).toMatch(/A signature was required, but no signature exists/);
    else expect(outcome).toBe(image.manifestDigest);
  });
});
