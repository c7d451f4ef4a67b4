// The Sysroot binding (native/sysroot/sysroot.cc) in throwaway sysroots (spec §5.5), checked with the
// `ostree admin` CLI. Runs as root.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TESTREF } from '../../src/fixture/constants.js';
import type { ExampleOs } from '../../src/fixture/exampleos.js';
import { packageRoot } from '../../src/native.js';
import { SYSROOT_LOCK_WAITING, SysrootLock, withSysrootLock } from '../../src/deploy/lock.js';
import { Sysroot } from '../../src/deploy/sysroot.js';
import {
  adminStatus, bootEntries, createBootableExampleOs, createSysroot, entryOptions, removeSysroot, spawnLockWaiter, tempDir,
} from '../helpers/sysroot.js';

let tmp: string;
let fx: ExampleOs;
const sysroots: string[] = [];

beforeAll(async () => {
  tmp = await tempDir('sysroot-binding-');
  fx = await createBootableExampleOs(path.join(tmp, 'fx'));
});

afterAll(async () => {
  if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
});

afterEach(async () => {
  for (const s of sysroots.splice(0)) await removeSysroot(s);
});

/** A loaded throwaway sysroot whose repo holds the bootable example OS commit. */
async function freshSysroot(stateroot = 'default'): Promise<{ dir: string; sysroot: Sysroot }> {
  const dir = await createSysroot(tmp, stateroot);
  sysroots.push(dir);
  const sysroot = await Sysroot.load(dir);
  const repo = await sysroot.repo();
  await repo.pull(`file://${fx.repoPath}`, { refs: [TESTREF] });
  return { dir, sysroot };
}

const ORIGIN = '[origin]\ncontainer-image-reference=ostree-unverified-image:oci:/x\n';

describe('Sysroot', () => {
  it('loads an empty sysroot: no deployments, its repo is a bare Repo', async () => {
    const { dir, sysroot } = await freshSysroot();
    expect(sysroot.path).toBe(dir);
    expect(await sysroot.deployments()).toEqual([]);
    expect(await sysroot.bootedDeployment()).toBeNull();
    expect(await sysroot.stagedDeployment()).toBeNull();
    expect(await sysroot.mergeDeployment('default')).toBeNull();
    const repo = await sysroot.repo();
    expect(repo.mode).toBe('bare');
    expect(repo.path).toBe(path.join(dir, 'ostree/repo'));
    expect(await repo.resolveRev(TESTREF)).toBe(fx.commit);
    expect(await adminStatus(dir)).toContain('No deployments.');
  });

  it('deploys a commit with an origin and kernel arguments; ostree admin status agrees', async () => {
    const { dir, sysroot } = await freshSysroot();
    const d = await sysroot.deployTree('default', fx.commit, { origin: ORIGIN, overrideKernelArgv: ['foo=bar', 'quiet'] });
    expect(d).toMatchObject({ osname: 'default', csum: fx.commit, deploySerial: 0, staged: false, pinned: false });
    expect(d.dirPath).toBe(`ostree/deploy/default/deploy/${fx.commit}.0`);
    expect(d.originGroups).toEqual({ origin: { 'container-image-reference': 'ostree-unverified-image:oci:/x' } });
    await sysroot.simpleWriteDeployment('default', d, null);

    const [listed, ...rest] = await sysroot.deployments();
    expect(rest).toEqual([]);
    expect(listed).toMatchObject({ index: 0, osname: 'default', csum: fx.commit, origin: ORIGIN });
    expect(listed!.kernelArgs?.split(' ').slice(0, 2)).toEqual(['foo=bar', 'quiet']);
    expect(await fsp.readFile(path.join(dir, d.dirPath + '.origin'), 'utf8')).toBe(ORIGIN);
    expect(await fsp.readFile(path.join(dir, d.dirPath, 'etc/os-release'), 'utf8')).toBe('ID=exampleos');

    const status = await adminStatus(dir);
    expect(status).toContain(`default ${fx.commit}.0`);
    expect(status).toContain('origin: <unknown origin type>');
    const entries = [...(await bootEntries(dir)).values()];
    expect(entries).toHaveLength(1);
    expect(entryOptions(entries[0]!)).toMatch(/^foo=bar quiet .*ostree=/);
    // libostree's GC root for the deployment
    const refs = await (await sysroot.repo()).listRefs('ostree');
    expect([...refs.values()]).toContain(fx.commit);
  });

  it('a second deployment merges from the first: kernel arguments inherited, both listed', async () => {
    const { dir, sysroot } = await freshSysroot();
    const first = await sysroot.deployTree('default', fx.commit, { origin: ORIGIN, overrideKernelArgv: ['foo=bar'] });
    await sysroot.simpleWriteDeployment('default', first, null);
    const merge = await sysroot.mergeDeployment('default');
    expect(merge).toMatchObject({ csum: fx.commit, deploySerial: 0 });
    const second = await sysroot.deployTree('default', fx.commit, { origin: ORIGIN, merge });
    expect(second.deploySerial).toBe(1);
    await sysroot.simpleWriteDeployment('default', second, merge);
    const list = await sysroot.deployments();
    expect(list.map((d) => [d.index, d.deploySerial])).toEqual([[0, 1], [1, 0]]);
    expect(list[0]!.kernelArgs).toMatch(/^foo=bar /);
    const status = await adminStatus(dir);
    expect(status.indexOf(`${fx.commit}.1`)).toBeLessThan(status.indexOf(`${fx.commit}.0`));
    // 2022.7 marks `(rollback)` only on a booted system, which a test sysroot never is.

    await sysroot.undeploy(1);
    expect((await sysroot.deployments()).map((d) => d.deploySerial)).toEqual([1]);
    await expect(fsp.access(path.join(dir, first.dirPath))).rejects.toThrow(/ENOENT/);
    await expect(sysroot.undeploy(5)).rejects.toThrow('Out of range deployment index 5, expected < 1');
  });

  it('writes origin files; a reload reads them back', async () => {
    const { dir, sysroot } = await freshSysroot();
    const d = await sysroot.deployTree('default', fx.commit);
    expect(d.origin).toBeNull();
    await sysroot.simpleWriteDeployment('default', d, null);
    const [listed] = await sysroot.deployments();
    await sysroot.writeOrigin(listed!, { origin: { 'container-image-reference': 'ostree-unverified-registry:quay.io/a/b:c' } });
    expect(await fsp.readFile(path.join(dir, d.dirPath + '.origin'), 'utf8')).toBe(
      '[origin]\ncontainer-image-reference=ostree-unverified-registry:quay.io/a/b:c\n',
    );
    await sysroot.load();
    expect((await sysroot.deployments())[0]!.originGroups).toEqual({
      origin: { 'container-image-reference': 'ostree-unverified-registry:quay.io/a/b:c' },
    });
  });

  it('noClean leaves the replaced deployment on disk until cleanup()', async () => {
    const { dir, sysroot } = await freshSysroot();
    const a = await sysroot.deployTree('default', fx.commit);
    await sysroot.simpleWriteDeployment('default', a, null);
    const b = await sysroot.deployTree('default', fx.commit);
    await sysroot.simpleWriteDeployment('default', b, null, { noClean: true });
    expect((await sysroot.deployments()).map((d) => d.deploySerial)).toEqual([1]);
    await fsp.access(path.join(dir, a.dirPath));
    await sysroot.cleanup();
    await expect(fsp.access(path.join(dir, a.dirPath))).rejects.toThrow(/ENOENT/);
    await fsp.access(path.join(dir, b.dirPath));
  });

  it('creates a stateroot', async () => {
    const { dir, sysroot } = await freshSysroot();
    await sysroot.initOsname('other');
    expect((await fsp.stat(path.join(dir, 'ostree/deploy/other/var'))).isDirectory()).toBe(true);
    const d = await sysroot.deployTree('other', fx.commit);
    expect(d.osname).toBe('other');
  });

  it('refuses bad input with clear errors and deploys nothing', async () => {
    const { dir, sysroot } = await freshSysroot();
    const unloaded = new Sysroot(dir);
    await expect(unloaded.deployments()).rejects.toThrow('Sysroot is not loaded (call load() first)');
    await expect(Sysroot.load(path.join(tmp, 'nonexistent'))).rejects.toThrow(/Loading sysroot at '.*nonexistent'/);
    await expect(sysroot.deployTree('default', 'not-a-checksum')).rejects.toThrow(TypeError);
    await expect(sysroot.deployTree('default', 'a'.repeat(64))).rejects.toMatchObject({ message: expect.stringMatching(/aaaa/) });
    await expect(sysroot.deployTree('default', fx.commit, { origin: 'not a keyfile' })).rejects.toThrow(/^deployTree: origin: /);
    await expect(sysroot.deployTree('default', fx.commit, { origin: { origin: { k: 1 as unknown as string } } })).rejects.toThrow(TypeError);
    for (const bad of [{ 'a]': { k: 'v' } }, { origin: { 'k=': 'v' } }, { origin: { ' k': 'v' } }, { origin: { 'k\n': 'v' } }, { '': { k: 'v' } }]) {
      await expect(sysroot.deployTree('default', fx.commit, { origin: bad })).rejects.toThrow(/^deployTree: origin: invalid group or key name/);
    }
    await expect(sysroot.deployTree('default', fx.commit, { merge: {} as never })).rejects.toThrow('deployTree: merge deployment must be a Deployment');
    // libostree's own words for a stateroot with no deploy dir (newer releases name the stateroot).
    await expect(sysroot.deployTree('nosuchstateroot', fx.commit)).rejects.toThrow(
      /^(opendir\(var\): No such file or directory|Deploying tree: Initializing deployment: No such stateroot: nosuchstateroot)$/,
    );
    const foreign = await (await Sysroot.load(dir)).deployTree('default', fx.commit);
    await expect(sysroot.deployTree('default', fx.commit, { merge: foreign })).rejects.toThrow(
      'deployTree: merge deployment was read through another Sysroot handle',
    );
    await expect(sysroot.simpleWriteDeployment('default', foreign, null)).rejects.toThrow(TypeError);
    // Staging needs a booted system: a test sysroot never is one.
    await expect(sysroot.stageTree('default', fx.commit)).rejects.toThrow(/booted/i);
    const ac = new AbortController();
    ac.abort();
    await expect(sysroot.deployTree('default', fx.commit, { signal: ac.signal })).rejects.toThrow('This operation was aborted');
    await sysroot.load();
    expect(await sysroot.deployments()).toEqual([]);
    expect(await adminStatus(dir)).toContain('No deployments.');
    await sysroot.cleanup();
  });

  it('serialises concurrent calls on one handle', async () => {
    const { sysroot } = await freshSysroot();
    const made = await Promise.all([0, 1, 2].map(() => sysroot.deployTree('default', fx.commit)));
    expect(made.map((d) => d.deploySerial).sort()).toEqual([0, 1, 2]);
  });
});

describe('sysroot lock', () => {
  it('tryLock fails while another handle holds the lock; lock() waits for it', async () => {
    const { dir } = await freshSysroot();
    const a = await Sysroot.load(dir);
    const b = await Sysroot.load(dir);
    expect(await a.tryLock()).toBe(true);
    expect(await b.tryLock()).toBe(false);
    let waits = 0;
    const taking = b.lock({ retryMs: 50, onWait: () => waits++ });
    await new Promise((r) => setTimeout(r, 200));
    expect(waits).toBe(1);
    await a.unlock();
    await taking;
    expect(await a.tryLock()).toBe(false);
    await b.unlock();
    const ac = new AbortController();
    await a.lock();
    const aborted = b.lock({ retryMs: 50, signal: ac.signal });
    ac.abort(new Error('gave up'));
    await expect(aborted).rejects.toThrow('gave up');
    await a.unlock();
  });

  it('SysrootLock releases once; an assumed lock is left held', async () => {
    const { dir } = await freshSysroot();
    const a = await Sysroot.load(dir);
    const b = await Sysroot.load(dir);
    const lock = await SysrootLock.acquire(a);
    await SysrootLock.fromAssumedLocked(a).release();
    expect(await b.tryLock()).toBe(false);
    await lock.release();
    await lock.release();
    expect(await withSysrootLock(b, async () => a.tryLock())).toBe(false);
    expect(await a.tryLock()).toBe(true);
    await a.unlock();
  });

  it('a second process that wants the lock prints the waiting message and waits', async () => {
    const { dir } = await freshSysroot();
    const holder = await Sysroot.load(dir);
    await holder.lock();
    const script = `
      import { Sysroot } from ${JSON.stringify(path.join(packageRoot, 'lib/deploy/sysroot.js'))};
      import { SysrootLock } from ${JSON.stringify(path.join(packageRoot, 'lib/deploy/lock.js'))};
      const s = await Sysroot.load(process.argv[1]);
      const lock = await SysrootLock.acquire(s, { retryMs: 100 });
      process.stdout.write('locked\\n');
      await lock.release();`;
    const child = await spawnLockWaiter(['--input-type=module', '-e', script, dir]);
    await new Promise((r) => setTimeout(r, 400));
    expect(child.stdout).toBe('');
    await holder.unlock();
    expect(await child.exited).toBe(0);
    expect(child.stdout).toBe('locked\n');
    expect(child.stderr).toBe(`${SYSROOT_LOCK_WAITING}\n`);
  });
});
