// Deploying container images into throwaway sysroots (spec store §5, §6 `image deploy` and
// `image prune-images`): upstream's CI sequence (§5.6) against our local registry, oci: and dir:
// images, origins, kernel arguments in the BLS entry, merge deployments, prune, refusals, the
// sysroot lock. Checked with `ostree admin status` and the files libostree writes. Runs as root.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encapsulate } from '../../src/container/encapsulate.js';
import { deploy, prune, removeUndeployedImages } from '../../src/deploy/deploy.js';
import { SYSROOT_LOCK_WAITING } from '../../src/deploy/lock.js';
import { Sysroot } from '../../src/deploy/sysroot.js';
import type { ExampleOs } from '../../src/fixture/exampleos.js';
import { packageRoot } from '../../src/native.js';
import { OciDir } from '../../src/oci/layout.js';
import { hostOciArch } from '../../src/oci/platform.js';
import { containerPolicyIsDefaultInsecure } from '../../src/proxy/policy.js';
import { skopeoCopy } from '../../src/proxy/skopeo-copy.js';
import { ImageReference, OstreeImageReference } from '../../src/ref/image-reference.js';
import type { Repo } from '../../src/repo/repo.js';
import { ImageImporter } from '../../src/store/importer.js';
import { countLayerReferences, removeImages } from '../../src/store/maintenance.js';
import { listImages, queryImage } from '../../src/store/state.js';
import { runCli } from '../helpers/cli.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import {
  adminStatus, bootEntries, createBootableExampleOs, createSysroot, deriveOciImage, editOciImage, entryOptions, ostree,
  removeSysroot, spawnLockWaiter, tempDir,
} from '../helpers/sysroot.js';

let tmp: string;
let fx: ExampleOs;
let registry: TestRegistry;
/** OCI directories: the bootable example OS, a derived image, the same OS gzip-1 compressed (other layers). */
let base: string;
let derived: string;
let derivedDir: string;
let other: string;
let unbootable: string;
let foreign: string;
/** `<host>/exampleos:latest` in the registry (= base). */
let registryImage: string;
const sysroots: string[] = [];

beforeAll(async () => {
  tmp = await tempDir('deploy-');
  [fx, registry] = await Promise.all([createBootableExampleOs(path.join(tmp, 'fx')), startRegistry()]);
  base = path.join(tmp, 'base');
  await encapsulate(fx.repo, fx.ref, {}, {}, ImageReference.parse(`oci:${base}`));
  other = path.join(tmp, 'other');
  await encapsulate(fx.repo, fx.ref, {}, { skipCompression: true }, ImageReference.parse(`oci:${other}`));
  derived = await deriveOciImage(base, path.join(tmp, 'derived'), { 'usr/share/somefile': '' }, 'RUN touch /usr/share/somefile');
  derivedDir = path.join(tmp, 'derived-dir');
  await skopeoCopy(`oci:${derived}`, `dir:${derivedDir}`);
  unbootable = await editOciImage(base, path.join(tmp, 'unbootable'), (_o, _m, config) => {
    const labels = config.config?.Labels ?? {};
    delete labels['ostree.bootable'];
    delete labels['containers.bootc'];
  });
  foreign = await editOciImage(base, path.join(tmp, 'foreign'), (_o, _m, config) => {
    config.architecture = 'mips64le';
  });
  registryImage = `${registry.host}/exampleos:latest`;
  await skopeoCopy(`oci:${base}`, `docker://${registryImage}`, { destTlsVerify: false });
});

afterAll(async () => {
  await registry?.stop();
  if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
});

afterEach(async () => {
  for (const s of sysroots.splice(0)) await removeSysroot(s);
});

async function freshSysroot(stateroot = 'default'): Promise<string> {
  const dir = await createSysroot(tmp, stateroot);
  sysroots.push(dir);
  return dir;
}

async function sysrootRepo(dir: string): Promise<Repo> {
  return (await Sysroot.load(dir)).repo();
}

const ociRef = (dir: string) => `ostree-unverified-image:oci:${dir}`;

/** `image deploy --sysroot DIR ARGS…`, expected to succeed silently. */
async function deployCli(dir: string, ...args: string[]): Promise<void> {
  const r = await runCli('image', 'deploy', '--sysroot', dir, ...args);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toBe('');
}

async function commitObjects(dir: string): Promise<string[]> {
  const objects = path.join(dir, 'ostree/repo/objects');
  const out: string[] = [];
  for (const sub of await fsp.readdir(objects)) {
    for (const f of await fsp.readdir(path.join(objects, sub))) if (f.endsWith('.commit')) out.push(sub + f);
  }
  return out;
}

describe('upstream CI sequence (spec §5.6) with the local registry', () => {
  it('steps 1–6: prune on a fresh sysroot, deploy by --imgref and --image, the policy refusal, prune, layer and object GC', async () => {
    const dir = await freshSysroot('testos');
    const insecure = '--insecure-skip-tls-verification';
    // 1
    expect(await runCli('image', 'prune-images', '--sysroot', dir)).toEqual({ code: 0, stdout: 'No unreferenced images.\n', stderr: '' });
    // 2
    await deployCli(dir, '--stateroot', 'testos', '--imgref', `ostree-unverified-registry:${registryImage}`, insecure);
    const repoPath = path.join(dir, 'ostree/repo');
    const repo = await sysrootRepo(dir);
    const state = await queryImage(repo, `docker://${registryImage}`);
    expect(await adminStatus(dir)).toContain(`testos ${state!.mergeCommit}.0`);
    const meta = await runCli('image', 'metadata', '--repo', repoPath, `registry:${registryImage}`);
    expect(meta.code).toBe(0);
    expect((JSON.parse(meta.stdout) as { schemaVersion?: number }).schemaVersion).toBe(2);
    // The deployment's ref keeps the layers: the removal's GC drops none.
    expect(await runCli('image', 'remove', '--repo', repoPath, `registry:${registryImage}`)).toEqual({
      code: 0, stdout: 'Removed images: 1 layers: 0\n', stderr: '',
    });
    await ostree('admin', 'undeploy', `--sysroot=${dir}`, '0');
    // 3
    await deployCli(dir, '--stateroot', 'testos', '--transport', 'registry', '--image', registryImage, insecure);
    expect(await adminStatus(dir)).toContain(`testos ${state!.mergeCommit}.0`);
    await ostree('admin', 'undeploy', `--sysroot=${dir}`, '0');
    // 4: the host's containers-policy.json decides (Debian's and Fedora's accept anything by default).
    const r = await runCli('image', 'deploy', '--sysroot', dir, '--stateroot', 'testos', '--image', registryImage, '--enforce-container-sigpolicy', insecure);
    if (await containerPolicyIsDefaultInsecure()) {
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/insecureAcceptAnything.*refusing usage/);
      expect(await adminStatus(dir)).toContain('No deployments.');
    } else {
      expect(r.stderr).not.toMatch(/insecureAcceptAnything/);
    }
    // 5
    expect(await runCli('image', 'prune-images', '--sysroot', dir)).toEqual({
      code: 0, stdout: `Removed: docker://${registryImage}\n`, stderr: '',
    });
    expect(await runCli('image', 'list', '--repo', repoPath)).toEqual({ code: 0, stdout: '', stderr: '' });
    // 6
    await deployCli(dir, '--stateroot', 'testos', '--imgref', `ostree-unverified-registry:${registryImage}`, insecure);
    const refsBefore = (await repo.listRefs()).size;
    await ostree('refs', `--repo=${repoPath}`, '--delete', 'ostree/container/image');
    expect((await repo.listRefs()).size).toBe(refsBefore - 1);
    const layers = await countLayerReferences(repo);
    expect(layers).toBeGreaterThan(0);
    await ostree('admin', 'undeploy', `--sysroot=${dir}`, '0');
    // The undeploy's cleanup pruned the merge commit; the layer commits stay with their refs.
    expect(await repo.hasObject('commit', state!.mergeCommit)).toBe(false);
    expect((await commitObjects(dir)).length).toBeGreaterThan(0);
    expect(await runCli('image', 'prune-layers', '--repo', repoPath)).toEqual({ code: 0, stdout: `Removed layers: ${layers}\n`, stderr: '' });
    expect(await ostree('refs', `--repo=${repoPath}`)).toBe('');
    const full = await runCli('image', 'prune-images', '--sysroot', dir, '--full');
    expect(full.code).toBe(0);
    expect(full.stdout).toMatch(/^Removed images: 0\nRemoved layers: 0\nRemoved objects: [1-9]\d*\nFreed: \d+(\.\d)?\s(bytes|kB|MB)\n$/);
    expect(await commitObjects(dir)).toEqual([]);
  });

  it('step 9: compare an image with itself', async () => {
    const img = `ostree-unverified-registry:${registryImage}`;
    const r = await runCli('compare', img, img, '--insecure-skip-tls-verification');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Removed layers: *0 *Size: 0 bytes/);
    expect(r.stdout).toMatch(/Added layers: *0 *Size: 0 bytes/);
  });

  it('step 10: a derived oci: image deploys twice to the identical merge commit; the dir: copy deploys', async () => {
    const dir = await freshSysroot();
    const commitFile = path.join(tmp, 'commit-derived');
    await deployCli(dir, '--imgref', ociRef(derived), '--write-commitid-to', commitFile);
    const first = await fsp.readFile(commitFile, 'utf8');
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    const repo = await sysrootRepo(dir);
    expect(await repo.lookupPath(first, '/usr/share/somefile')).not.toBeNull();
    await removeImages(repo, [`oci:${derived}`]);
    await deployCli(dir, '--imgref', ociRef(derived), '--write-commitid-to', commitFile);
    expect(await fsp.readFile(commitFile, 'utf8')).toBe(first);
    await deployCli(dir, '--imgref', `ostree-unverified-image:dir:${derivedDir}`, '--write-commitid-to', commitFile);
    const fromDir = await fsp.readFile(commitFile, 'utf8');
    expect(await repo.lookupPath(fromDir, '/usr/share/somefile')).not.toBeNull();
    const [newest] = await (await Sysroot.load(dir)).deployments();
    expect(newest?.csum).toBe(fromDir);
    expect(newest?.originGroups).toEqual({ origin: { 'container-image-reference': `ostree-unverified-image:dir:${derivedDir}` } });
  });
});

describe('image deploy', () => {
  it('records the origin, puts --karg in the BLS entry, writes the commit id; a second deploy merges from the first', async () => {
    const dir = await freshSysroot();
    const commitFile = path.join(tmp, 'commit-base');
    await deployCli(dir, '--imgref', ociRef(base), '--karg', 'foo=bar', '--karg', 'quiet', '--write-commitid-to', commitFile);
    const merge = await fsp.readFile(commitFile, 'utf8');
    const sysroot = await Sysroot.load(dir);
    const [d] = await sysroot.deployments();
    expect(d).toMatchObject({ osname: 'default', csum: merge, deploySerial: 0 });
    expect(await fsp.readFile(path.join(dir, `${d!.dirPath}.origin`), 'utf8')).toBe(
      `[origin]\ncontainer-image-reference=ostree-unverified-image:oci:${base}\n`,
    );
    const entries = [...(await bootEntries(dir)).values()];
    expect(entries).toHaveLength(1);
    expect(entryOptions(entries[0]!)).toMatch(/^foo=bar quiet .*ostree=/);
    expect(await listImages(await sysroot.repo())).toEqual([`oci:${base}`]);

    // The image is stored: the second deploy reuses it and takes the first as merge deployment,
    // inheriting its kernel arguments.
    await deployCli(dir, '--imgref', ociRef(base));
    await sysroot.load();
    const list = await sysroot.deployments();
    expect(list.map((x) => [x.csum, x.deploySerial])).toEqual([[merge, 1], [merge, 0]]);
    const status = await adminStatus(dir);
    expect(status.indexOf(`default ${merge}.1`)).toBeGreaterThanOrEqual(0);
    expect(status.indexOf(`default ${merge}.1`)).toBeLessThan(status.indexOf(`default ${merge}.0`));
    const after = [...(await bootEntries(dir)).values()].map((e) => entryOptions(e)!);
    expect(after).toHaveLength(2);
    for (const o of after) expect(o).toMatch(/^foo=bar quiet /);

    await expect(runCli('image', 'deploy', '--sysroot', dir, '--imgref', ociRef(base), '--write-commitid-to', path.join(tmp, 'no/such/dir/f'))).resolves.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^error: Failed to write commitid to .*no\/such\/dir\/f: ENOENT/),
    });
  });

  it('--target-imgref stores and records the image under the target', async () => {
    const dir = await freshSysroot();
    const target = 'ostree-unverified-registry:quay.io/exampleos/os:stable';
    await deployCli(dir, '--imgref', ociRef(base), '--target-imgref', target);
    const sysroot = await Sysroot.load(dir);
    expect((await sysroot.deployments())[0]!.originGroups).toEqual({ origin: { 'container-image-reference': target } });
    expect(await listImages(await sysroot.repo())).toEqual(['docker://quay.io/exampleos/os:stable']);
  });

  it('--no-imgref: no image ref; the deployment keeps the layers until it is undeployed (spec §9.1)', async () => {
    const dir = await freshSysroot();
    await deployCli(dir, '--imgref', ociRef(base), '--no-imgref');
    const repo = await sysrootRepo(dir);
    expect(await listImages(repo)).toEqual([]);
    const layers = await countLayerReferences(repo);
    expect(layers).toBeGreaterThan(0);
    expect(await runCli('image', 'prune-images', '--sysroot', dir, '--full')).toEqual({ code: 0, stdout: 'No content was pruned.\n', stderr: '' });
    expect(await countLayerReferences(repo)).toBe(layers);
    await ostree('admin', 'undeploy', `--sysroot=${dir}`, '0');
    const r = await runCli('image', 'prune-images', '--sysroot', dir, '--full');
    expect(r.stdout).toMatch(new RegExp(`^Removed images: 0\nRemoved layers: ${layers}\nRemoved objects: [1-9]`));
    expect(await commitObjects(dir)).toEqual([]);
  });

  it('--image with --transport: unverified unless --enforce-container-sigpolicy; --ostree-remote only counts with it', async () => {
    const dir = await freshSysroot();
    // Without the enforce flag --ostree-remote is ignored (spec §6 QUIRK, kept).
    await deployCli(dir, '--transport', 'oci', '--image', base, '--ostree-remote', 'nosuchremote');
    const sysroot = await Sysroot.load(dir);
    expect((await sysroot.deployments())[0]!.originGroups).toEqual({
      origin: { 'container-image-reference': `ostree-unverified-image:oci:${base}` },
    });
    const r = await runCli('image', 'deploy', '--sysroot', dir, '--transport', 'oci', '--image', other, '--enforce-container-sigpolicy', '--ostree-remote', 'nosuchremote');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: Performing deployment: .*nosuchremote/);
    await sysroot.load();
    expect((await sysroot.deployments()).map((d) => d.originGroups?.origin?.['container-image-reference'])).toEqual([
      `ostree-unverified-image:oci:${base}`,
    ]);
    expect(await listImages(await sysroot.repo())).toEqual([`oci:${base}`]);
  });

  it('--offline deploys an update fetched earlier by image pull --download-only, with skopeo nowhere on PATH', async () => {
    const dir = await freshSysroot();
    // One image location, first holding `base`, then `derived` (what a moving tag is).
    const tag = path.join(tmp, 'tagged');
    await fsp.cp(base, tag, { recursive: true });
    await deployCli(dir, '--imgref', ociRef(tag));
    await fsp.rm(tag, { recursive: true });
    await fsp.cp(derived, tag, { recursive: true });
    const repoPath = path.join(dir, 'ostree/repo');
    expect((await runCli('image', 'pull', '--download-only', '--quiet', repoPath, ociRef(tag))).code).toBe(0);
    await fsp.rm(tag, { recursive: true });
    const saved = process.env.PATH;
    process.env.PATH = path.join(tmp, 'empty-path');
    try {
      await deployCli(dir, '--imgref', ociRef(tag), '--offline');
    } finally {
      process.env.PATH = saved;
    }
    const state = (await queryImage(await sysrootRepo(dir), `oci:${tag}`))!;
    expect(state.manifestDigest).toBe((await OciDir.open(derived).then((o) => o.readManifest())).descriptor.digest);
    const [newest] = await (await Sysroot.load(dir)).deployments();
    expect(newest?.csum).toBe(state.mergeCommit);
  });

  it('refuses a non-bootable image and a foreign architecture; nothing is deployed or stored', async () => {
    const dir = await freshSysroot();
    const a = await runCli('image', 'deploy', '--sysroot', dir, '--imgref', ociRef(unbootable));
    expect(a.code).toBe(1);
    expect(a.stderr).toMatch(/^error: Performing deployment: .*Target image does not have ostree\.bootable label\n$/);
    const b = await runCli('image', 'deploy', '--sysroot', dir, '--imgref', ociRef(foreign));
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(new RegExp(`^error: Performing deployment: .*Image has architecture mips64le; expected ${hostOciArch()}\n$`));
    expect(await adminStatus(dir)).toContain('No deployments.');
    const repo = await sysrootRepo(dir);
    expect(await listImages(repo)).toEqual([]);
    expect(await countLayerReferences(repo)).toBe(0);
  });

  it('rejects bad arguments', async () => {
    const dir = await freshSysroot();
    expect(await runCli('image', 'deploy', '--sysroot', dir)).toMatchObject({ code: 1, stderr: 'error: Either --imgref or --image is required\n' });
    expect((await runCli('image', 'deploy', '--sysroot', dir, '--imgref', 'oci:/x')).stderr).toMatch(/^error: /);
    const c = await runCli('image', 'deploy', '--sysroot', dir, '--image', 'x', '--no-signature-verification', '--enforce-container-sigpolicy');
    expect(c.code).not.toBe(0);
    expect(c.stderr).toMatch(/cannot be used with/);
    const p = await runCli('image', 'prune-images', '--sysroot', dir, '--full', '--and-layers');
    expect(p.code).not.toBe(0);
    expect(p.stderr).toMatch(/cannot be used with/);
    expect((await runCli('image', 'deploy', '--sysroot', path.join(tmp, 'nonexistent'), '--imgref', ociRef(base))).stderr).toMatch(
      /^error: Loading sysroot at '.*nonexistent'/,
    );
  });
});

describe('prune', () => {
  it('keeps what deployments use and removes the rest (images, layers, objects)', async () => {
    const dir = await freshSysroot();
    await deployCli(dir, '--imgref', ociRef(base));
    const sysroot = await Sysroot.load(dir);
    const repo = await sysroot.repo();
    const deployedLayers = await countLayerReferences(repo);
    const pulled = new ImageImporter(repo, OstreeImageReference.parse(ociRef(other)));
    const ready = await pulled.prepare();
    if (ready.kind !== 'ready') throw new Error('expected the other image to need an import');
    await pulled.import(ready.prepared);
    const otherLayers = (await countLayerReferences(repo)) - deployedLayers;
    expect(otherLayers).toBeGreaterThan(0);
    expect(await listImages(repo)).toEqual([`oci:${base}`, `oci:${other}`]);

    const r = await prune(sysroot);
    expect(r).toMatchObject({ nImages: 1, nLayers: otherLayers });
    expect(r.nObjectsPruned).toBeGreaterThan(0);
    expect(r.objsize).toBeGreaterThan(0);
    expect(r.isEmpty()).toBe(false);
    expect(await listImages(repo)).toEqual([`oci:${base}`]);
    expect(await countLayerReferences(repo)).toBe(deployedLayers);
    expect(await ostree('fsck', `--repo=${dir}/ostree/repo`)).toMatch(/no errors found|Verifying content integrity/);
    expect((await prune(sysroot)).isEmpty()).toBe(true);
  });

  it('prune-images: Removed: per image, and with --and-layers the layer count', async () => {
    const dir = await freshSysroot();
    const repo = await sysrootRepo(dir);
    for (const img of [base, other]) {
      const imp = new ImageImporter(repo, OstreeImageReference.parse(ociRef(img)));
      const ready = await imp.prepare();
      if (ready.kind === 'ready') await imp.import(ready.prepared);
    }
    const layers = await countLayerReferences(repo);
    const r = await runCli('image', 'prune-images', '--sysroot', dir, '--and-layers');
    expect(r).toEqual({ code: 0, stdout: `Removed: oci:${base}\nRemoved: oci:${other}\nRemoved layers: ${layers}\n`, stderr: '' });
    expect(await runCli('image', 'prune-images', '--sysroot', dir, '--and-layers')).toEqual({ code: 0, stdout: 'No unreferenced images.\n', stderr: '' });
  });
});

describe('deploy()', () => {
  it('runs the completion hook after writing the deployment, unless skipped', async () => {
    const dir = await freshSysroot();
    const sysroot = await Sysroot.load(dir);
    const imgref = OstreeImageReference.parse(ociRef(base));
    const calls: [string, string, number][] = [];
    const hook = async (p: string, s: string) => {
      // The deployment is written by the time the hook runs.
      calls.push([p, s, (await (await Sysroot.load(p)).deployments()).length]);
    };
    const state = await deploy(sysroot, 'default', imgref, { completionHook: hook, kargs: ['a=b'] });
    expect(calls).toEqual([[dir, 'default', 1]]);
    await deploy(sysroot, 'default', imgref, { completionHook: hook, skipCompletion: true });
    expect(calls).toHaveLength(1);
    await expect(deploy(sysroot, 'default', imgref, { completionHook: () => { throw new Error('boom'); } })).rejects.toThrow(
      'Performing deployment: Completing deployment: boom',
    );
    // The failing hook ran after its deployment was written (the first one, neither booted nor
    // the merge deployment, was dropped by then).
    const list = await sysroot.deployments();
    expect(list.map((d) => [d.csum, d.deploySerial])).toEqual([[state.mergeCommit, 2], [state.mergeCommit, 1]]);
  });

  it('an aborted deploy writes no deployment', async () => {
    const dir = await freshSysroot();
    const sysroot = await Sysroot.load(dir);
    const ac = new AbortController();
    ac.abort(new Error('stop'));
    await expect(deploy(sysroot, 'default', OstreeImageReference.parse(ociRef(base)), { signal: ac.signal })).rejects.toThrow(/stop/);
    expect(await sysroot.deployments()).toEqual([]);
    expect(await adminStatus(dir)).toContain('No deployments.');
  });

  it('removeUndeployedImages refuses an origin that is not an image reference', async () => {
    const dir = await freshSysroot();
    const sysroot = await Sysroot.load(dir);
    await deploy(sysroot, 'default', OstreeImageReference.parse(ociRef(base)));
    const [d] = await sysroot.deployments();
    await sysroot.writeOrigin(d!, { origin: { 'container-image-reference': 'not-an-imgref' } });
    await sysroot.load();
    await expect(removeUndeployedImages(sysroot)).rejects.toThrow(/not-an-imgref/);
    expect(await listImages(await sysroot.repo())).toEqual([`oci:${base}`]);
  });

  it('noClean leaves the replaced deployment directory for a later cleanup', async () => {
    const dir = await freshSysroot();
    const sysroot = await Sysroot.load(dir);
    const imgref = OstreeImageReference.parse(ociRef(base));
    await deploy(sysroot, 'default', imgref);
    const [first] = await sysroot.deployments();
    // Undeploy through the CLI's list rewrite without cleaning, then deploy with noClean.
    await sysroot.writeDeployments([]);
    await deploy(sysroot, 'default', imgref, { noClean: true });
    await fsp.access(path.join(dir, first!.dirPath));
    await sysroot.cleanup();
    await expect(fsp.access(path.join(dir, first!.dirPath))).rejects.toThrow(/ENOENT/);
  });
});

describe('sysroot lock', () => {
  it('image prune-images in a second process waits for the lock with the message', async () => {
    const dir = await freshSysroot();
    const holder = await Sysroot.load(dir);
    await holder.lock();
    const child = await spawnLockWaiter([path.join(packageRoot, 'lib/cli/main.js'), 'image', 'prune-images', '--sysroot', dir]);
    expect(child.stdout).toBe('');
    await holder.unlock();
    expect(await child.exited).toBe(0);
    expect(child.stderr).toBe(`${SYSROOT_LOCK_WAITING}\n`);
    expect(child.stdout).toBe('No unreferenced images.\n');
  });
});
