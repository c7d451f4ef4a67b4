// The corners of src/deploy that the main deploy tests leave out (found by mutation testing,
// test/MUTATION.md): an abort that lands while the tree is deployed, when the completion hook runs
// relative to libostree's cleanup, deployments without a container origin, the sysroot lock's
// defaults and its release, argument checks of Sysroot.undeploy, overlay initrds passed through.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { encapsulate } from '../../src/container/encapsulate.js';
import { deploy, deploymentImageReference, Pruned, removeUndeployedImages } from '../../src/deploy/deploy.js';
import { SYSROOT_LOCK_WAITING, SysrootLock } from '../../src/deploy/lock.js';
import { Sysroot, type Deployment } from '../../src/deploy/sysroot.js';
import { TESTREF } from '../../src/fixture/constants.js';
import type { ExampleOs } from '../../src/fixture/exampleos.js';
import { ImageReference, OstreeImageReference } from '../../src/ref/image-reference.js';
import { listImages } from '../../src/store/state.js';
import { adminStatus, createBootableExampleOs, createSysroot, removeSysroot, tempDir } from '../helpers/sysroot.js';

let tmp: string;
let fx: ExampleOs;
let imgref: OstreeImageReference;
const sysroots: string[] = [];

beforeAll(async () => {
  tmp = await tempDir('deploy-edges-');
  fx = await createBootableExampleOs(path.join(tmp, 'fx'));
  const image = path.join(tmp, 'image');
  await encapsulate(fx.repo, fx.ref, {}, {}, ImageReference.parse(`oci:${image}`));
  imgref = OstreeImageReference.parse(`ostree-unverified-image:oci:${image}`);
}, 180_000);
afterAll(async () => {
  if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
});
afterEach(async () => {
  for (const s of sysroots.splice(0)) await removeSysroot(s);
});

async function freshSysroot(): Promise<{ dir: string; sysroot: Sysroot }> {
  const dir = await createSysroot(tmp);
  sysroots.push(dir);
  return { dir, sysroot: await Sysroot.load(dir) };
}

describe('deploy()', () => {
  it('an abort that lands as the tree is being deployed stops it: no deployment, the image stays stored', async () => {
    const { dir, sysroot } = await freshSysroot();
    const ac = new AbortController();
    // The abort comes exactly when deploy() asks for the checkout (timing alone could not place it).
    const deployTree = sysroot.deployTree.bind(sysroot);
    sysroot.deployTree = (...args: Parameters<Sysroot['deployTree']>) => {
      ac.abort(new Error('stop during the checkout'));
      return deployTree(...args);
    };
    await expect(deploy(sysroot, 'default', imgref, { signal: ac.signal })).rejects.toThrow('Performing deployment: stop during the checkout');
    expect(await (await Sysroot.load(dir)).deployments()).toEqual([]);
    expect(await adminStatus(dir)).toContain('No deployments.');
    expect(await listImages(await sysroot.repo())).toEqual([`oci:${imgref.imgref.name}`]);
  });

  it('the completion hook runs after libostree cleaned up the replaced deployment (unless noClean)', async () => {
    const { dir, sysroot } = await freshSysroot();
    await deploy(sysroot, 'default', imgref);
    await deploy(sysroot, 'default', imgref);
    const [, oldest] = await sysroot.deployments();
    // The third deploy keeps the new one and its merge deployment; the oldest is dropped.
    const seen: boolean[] = [];
    const hook = async () => {
      seen.push(await fsp.access(path.join(dir, oldest!.dirPath)).then(() => true, () => false));
    };
    await deploy(sysroot, 'default', imgref, { completionHook: hook });
    expect(seen).toEqual([false]);
  });
});

describe('deployments and their origins', () => {
  const deployment = (originGroups: Deployment['originGroups']) => ({ originGroups }) as Deployment;

  it('deploymentImageReference: null without an origin, without the origin group or without the key; an invalid reference is an error', () => {
    expect(deploymentImageReference(deployment(null))).toBeNull();
    expect(deploymentImageReference(deployment({ other: { 'container-image-reference': 'ostree-unverified-image:oci:/x' } }))).toBeNull();
    expect(deploymentImageReference(deployment({ origin: { refspec: 'exampleos:main' } }))).toBeNull();
    expect(deploymentImageReference(deployment({ origin: { 'container-image-reference': 'ostree-unverified-image:oci:/x' } }))).toEqual(
      OstreeImageReference.parse('ostree-unverified-image:oci:/x'),
    );
    expect(() => deploymentImageReference(deployment({ origin: { 'container-image-reference': 'oci' } }))).toThrow(/oci/);
  });

  it('removeUndeployedImages: a deployment of a plain commit keeps nothing; a stored name that is not an image reference is left alone', async () => {
    const { sysroot } = await freshSysroot();
    const repo = await sysroot.repo();
    await deploy(sysroot, 'default', imgref);
    await repo.pull(`file://${fx.repoPath}`, { refs: [TESTREF] });
    // A second deployment, of the plain commit with a refspec origin (as `ostree admin deploy`).
    const plain = await sysroot.deployTree('default', fx.commit, { origin: { origin: { refspec: TESTREF } } });
    await sysroot.simpleWriteDeployment('default', plain, null, { retain: true });
    await sysroot.load();
    await repo.setRefImmediate('ostree/container/image/garbage', fx.commit);
    // The image is deployed (second in the list): nothing to remove, the garbage name stays.
    expect(await removeUndeployedImages(sysroot)).toEqual([]);
    expect((await repo.listRefs('ostree/container/image')).has('ostree/container/image/garbage')).toBe(true);
    // Once only the plain deployment is left, the image goes; the garbage name still stays.
    await sysroot.writeDeployments((await sysroot.deployments()).filter((d) => d.csum === fx.commit));
    await sysroot.load();
    expect((await removeUndeployedImages(sysroot)).map(String)).toEqual([imgref.imgref.toString()]);
    expect([...(await repo.listRefs('ostree/container/image')).keys()]).toEqual(['ostree/container/image/garbage']);
  });

  it('Pruned.isEmpty: only when nothing at all was removed', () => {
    expect(new Pruned(0, 0, 0, 0).isEmpty()).toBe(true);
    expect(new Pruned(1, 0, 0, 0).isEmpty()).toBe(false);
    expect(new Pruned(0, 1, 0, 0).isEmpty()).toBe(false);
    expect(new Pruned(0, 0, 1, 0).isEmpty()).toBe(false);
  });
});

describe('the sysroot lock', () => {
  it('SysrootLock.acquire: the waiting message on stderr by default, once; the retry interval as given', async () => {
    const { dir } = await freshSysroot();
    const holder = await Sysroot.load(dir);
    const waiter = await Sysroot.load(dir);
    await holder.lock();
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const taking = SysrootLock.acquire(waiter, { retryMs: 20 });
      await new Promise((r) => setTimeout(r, 300));
      expect(err.mock.calls).toEqual([[`${SYSROOT_LOCK_WAITING}\n`]]);
      await holder.unlock();
      const t0 = Date.now();
      const lock = await taking;
      // Polled every 20 ms, not every 3 s (the default).
      expect(Date.now() - t0).toBeLessThan(2000);
      await lock.release();
    } finally {
      err.mockRestore();
    }
  });

  it('release() is done once: after a new lock on the same handle, a second release leaves that one held', async () => {
    const { dir } = await freshSysroot();
    const a = await Sysroot.load(dir);
    const b = await Sysroot.load(dir);
    const lock = await SysrootLock.acquire(a);
    await lock.release();
    expect(await a.tryLock()).toBe(true);
    await lock.release();
    expect(await b.tryLock()).toBe(false);
    await a.unlock();
  });

  it('Sysroot.lock: an abort while it waits between attempts ends the wait at once', async () => {
    const { dir } = await freshSysroot();
    const holder = await Sysroot.load(dir);
    await holder.lock();
    const ac = new AbortController();
    const waiting = (await Sysroot.load(dir)).lock({ retryMs: 60_000, signal: ac.signal });
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    ac.abort(new Error('gave up waiting'));
    await expect(waiting).rejects.toThrow('gave up waiting');
    expect(Date.now() - t0).toBeLessThan(5000);
    await holder.unlock();
  });
});

describe('Sysroot', () => {
  it('undeploy checks the index against the deployment list', async () => {
    const { sysroot } = await freshSysroot();
    await deploy(sysroot, 'default', imgref);
    for (const bad of [-1, 0.5, 1]) {
      await expect(sysroot.undeploy(bad)).rejects.toThrow(new RangeError(`Out of range deployment index ${bad}, expected < 1`));
    }
    expect(await sysroot.deployments()).toHaveLength(1);
    await sysroot.undeploy(0);
    await sysroot.load();
    expect(await sysroot.deployments()).toEqual([]);
  });

  it('overlay initrds reach libostree: one that was never staged is refused', async () => {
    const { sysroot } = await freshSysroot();
    await (await sysroot.repo()).pull(`file://${fx.repoPath}`, { refs: [TESTREF] });
    // libostree looks the overlay up when it writes the boot configuration.
    const d = await sysroot.deployTree('default', fx.commit, { overlayInitrds: ['0'.repeat(64)] });
    await expect(sysroot.simpleWriteDeployment('default', d, null)).rejects.toThrow(/0{64}/);
    await sysroot.load();
    expect(await sysroot.deployments()).toEqual([]);
  });
});
