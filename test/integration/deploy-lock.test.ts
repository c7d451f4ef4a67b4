// `image deploy` and the sysroot lock (spec store §5.4, §6): a deploy started while another
// process holds the lock waits, then reloads the sysroot, so what was deployed meanwhile is kept and
// becomes its merge deployment; deploy() aborted while it runs writes nothing and can be rerun.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encapsulate } from '../../src/container/encapsulate.js';
import { deploy } from '../../src/deploy/deploy.js';
import { SYSROOT_LOCK_WAITING } from '../../src/deploy/lock.js';
import { Sysroot } from '../../src/deploy/sysroot.js';
import { packageRoot } from '../../src/native.js';
import { ImageReference, OstreeImageReference } from '../../src/ref/image-reference.js';
import { countLayerReferences } from '../../src/store/maintenance.js';
import { listImages, queryImage } from '../../src/store/state.js';
import {
  adminStatus, bootEntries, createBootableExampleOs, createSysroot, entryOptions, ostree, removeSysroot, spawnLockWaiter, tempDir,
} from '../helpers/sysroot.js';

let tmp: string;
/** The bootable example OS as an oci: image, and the same OS with uncompressed layers (other layers, same commit). */
let base: string;
let other: string;
const sysroots: string[] = [];

beforeAll(async () => {
  tmp = await tempDir('deploy-lock-');
  const fx = await createBootableExampleOs(path.join(tmp, 'fx'));
  base = path.join(tmp, 'base');
  await encapsulate(fx.repo, fx.ref, {}, {}, ImageReference.parse(`oci:${base}`));
  other = path.join(tmp, 'other');
  await encapsulate(fx.repo, fx.ref, {}, { skipCompression: true }, ImageReference.parse(`oci:${other}`));
}, 180_000);
afterAll(async () => {
  if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
});
afterEach(async () => {
  for (const s of sysroots.splice(0)) await removeSysroot(s);
});

async function freshSysroot(): Promise<string> {
  const dir = await createSysroot(tmp);
  sysroots.push(dir);
  return dir;
}

const ociRef = (dir: string) => `ostree-unverified-image:oci:${dir}`;

describe('image deploy and the sysroot lock', () => {
  it('waits for the lock, then reloads: the deployment written meanwhile is kept and is its merge deployment', async () => {
    const dir = await freshSysroot();
    const holder = await Sysroot.load(dir);
    await holder.lock();
    // Loaded (no deployments yet), then waiting for the lock.
    const child = await spawnLockWaiter([path.join(packageRoot, 'lib/cli/main.js'), 'image', 'deploy', '--sysroot', dir, '--imgref', ociRef(base)]);
    // Meanwhile the holder deploys the other image with its own kernel arguments.
    const meanwhile = await deploy(holder, 'default', OstreeImageReference.parse(ociRef(other)), { kargs: ['written=meanwhile'] });
    await new Promise((r) => setTimeout(r, 200));
    expect(child.stdout).toBe('');
    await holder.unlock();
    expect(await child.exited).toBe(0);
    expect(child.stderr).toBe(`${SYSROOT_LOCK_WAITING}\n`);

    const after = await Sysroot.load(dir);
    const repo = await after.repo();
    const deployed = (await queryImage(repo, `oci:${base}`))!;
    // The child's deployment first, then the one written while it waited.
    const list = await after.deployments();
    expect(list.map((d) => d.csum)).toEqual([deployed.mergeCommit, meanwhile.mergeCommit]);
    expect(list.map((d) => d.originGroups?.origin?.['container-image-reference'])).toEqual([ociRef(base), ociRef(other)]);
    // Without --karg the child inherited the kernel arguments of its merge deployment.
    const entries = [...(await bootEntries(dir)).values()].map((e) => entryOptions(e)!);
    expect(entries).toHaveLength(2);
    for (const o of entries) expect(o).toMatch(/^written=meanwhile /);
    expect(await listImages(repo)).toEqual([`oci:${base}`, `oci:${other}`]);
  });

  it('a deploy whose signal aborts while it runs rejects, writes no deployment or image, and a rerun deploys', async () => {
    const dir = await freshSysroot();
    const sysroot = await Sysroot.load(dir);
    const imgref = OstreeImageReference.parse(ociRef(base));
    const ac = new AbortController();
    const seen: string[] = [];
    const aborted = deploy(sysroot, 'default', imgref, {
      signal: ac.signal,
      onProgress: (e) => {
        seen.push(e.type);
        // Mid-import: the first layer is being fetched.
        if (e.type === 'layer-started') ac.abort(new Error('stop: the user pressed ^C'));
      },
    });
    // The abort's reason, in the import's context chain.
    await expect(aborted).rejects.toThrow(/^Performing deployment: Importing: Layer sha256:[0-9a-f]{64}: stop: the user pressed \^C$/);
    expect(seen.slice(0, 2)).toEqual(['import-started', 'layer-started']);
    expect(await sysroot.deployments()).toEqual([]);
    expect(await adminStatus(dir)).toContain('No deployments.');
    const repo = await sysroot.repo();
    expect(await listImages(repo)).toEqual([]);
    expect(await ostree('fsck', `--repo=${dir}/ostree/repo`)).toMatch(/no errors found|Verifying content integrity/);

    const state = await deploy(sysroot, 'default', imgref);
    expect((await sysroot.deployments()).map((d) => d.csum)).toEqual([state.mergeCommit]);
    expect(await countLayerReferences(repo)).toBe(state.manifest.layers.length);
  });
});
