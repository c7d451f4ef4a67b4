// `image deploy` of what hosts meet besides plain images (spec store §5.2, §6): a GPG-signed image
// verified through an ostree remote of the sysroot's repository (`ostree-remote-image:`, the store
// writing its refs), refused when the signature does not verify; a derived image with paths the
// store filters, whose warning `image deploy` prints.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encapsulate } from '../../src/container/encapsulate.js';
import { updateDetachedMetadata } from '../../src/container/update-detached-metadata.js';
import { Sysroot } from '../../src/deploy/sysroot.js';
import { ExampleOs } from '../../src/fixture/exampleos.js';
import { OciDir } from '../../src/oci/layout.js';
import { ImageReference } from '../../src/ref/image-reference.js';
import { vardictToBytes, type Repo } from '../../src/repo/repo.js';
import { countLayerReferences } from '../../src/store/maintenance.js';
import { listImages, queryImage } from '../../src/store/state.js';
import { runCli } from '../helpers/cli.js';
import { BOOTABLE_DEFS, adminStatus, createSysroot, deriveOciImage, ostree, removeSysroot, tempDir } from '../helpers/sysroot.js';

let tmp: string;
let fx: ExampleOs;
/** The bootable example OS, GPG-signed, as an oci: image; the same with its signature tampered; a derived image with filtered paths. */
let signed: string;
let tampered: string;
let derived: string;
const sysroots: string[] = [];

beforeAll(async () => {
  tmp = await tempDir('deploy-images-');
  fx = await ExampleOs.create({ dir: path.join(tmp, 'fx'), signed: true });
  await fx.update(BOOTABLE_DEFS);
  signed = path.join(tmp, 'signed');
  await encapsulate(fx.repo, fx.ref, {}, {}, ImageReference.parse(`oci:${signed}`));
  const sig = vardictToBytes((await fx.repo.readCommitDetachedMetadata(await fx.repo.resolveRev(fx.ref)))!);
  sig[sig.length >> 1] ^= 0xff;
  tampered = path.join(tmp, 'tampered');
  await updateDetachedMetadata(ImageReference.parse(`oci:${signed}`), ImageReference.parse(`oci:${tampered}`), sig);
  derived = await deriveOciImage(signed, path.join(tmp, 'derived'), { 'usr/share/kept': 'kept', 'run/cache/a': 'run state', 'run/cache/b': 'more run state', 'srv/data': 'outside /usr' }, 'RUN build');
}, 180_000);
afterAll(async () => {
  if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
});
afterEach(async () => {
  for (const s of sysroots.splice(0)) await removeSysroot(s);
});

/** A fresh sysroot whose repository has the remote `myremote` (no URL) trusting the fixture's key. */
async function sysrootWithRemote(): Promise<{ dir: string; repo: Repo }> {
  const dir = await createSysroot(tmp);
  sysroots.push(dir);
  const repo = await (await Sysroot.load(dir)).repo();
  await repo.remoteAdd('myremote', null, { 'gpg-verify': true, 'custom-backend': 'ostree-rs-ext' });
  await repo.remoteGpgImport('myremote', await fsp.readFile(path.join(fx.gpgHome, 'key1.asc')));
  return { dir, repo };
}

describe('a GPG-signed image through an ostree remote', () => {
  for (const [how, args] of [
    ['--imgref ostree-remote-image:', (img: string) => ['--imgref', `ostree-remote-image:myremote:oci:${img}`]],
    ['--image with --enforce-container-sigpolicy --ostree-remote', (img: string) => ['--transport', 'oci', '--image', img, '--enforce-container-sigpolicy', '--ostree-remote', 'myremote']],
  ] as const) {
    it(`${how}: verified, stored with its refs and signature, deployed with its origin`, async () => {
      const { dir, repo } = await sysrootWithRemote();
      const r = await runCli('image', 'deploy', '--sysroot', dir, ...args(signed));
      expect(r).toEqual({ code: 0, stdout: '', stderr: '' });
      const state = (await queryImage(repo, `oci:${signed}`))!;
      expect(await listImages(repo)).toEqual([`oci:${signed}`]);
      const { manifest } = await (await OciDir.open(signed)).readManifest();
      expect(await countLayerReferences(repo)).toBe(manifest.layers.length);
      // The signature came along, and the ostree CLI verifies it against the remote's key.
      const commit = await fx.repo.resolveRev(fx.ref);
      expect(state.baseCommit).toBe(commit);
      expect(vardictToBytes((await repo.readCommitDetachedMetadata(commit))!)).toEqual(vardictToBytes((await fx.repo.readCommitDetachedMetadata(commit))!));
      expect(await ostree('show', `--repo=${dir}/ostree/repo`, '--gpg-verify-remote=myremote', commit)).toMatch(/Good signature from "Ostree Tester <test@test\.com>"/);
      const [d] = await (await Sysroot.load(dir)).deployments();
      expect(d!.csum).toBe(state.mergeCommit);
      expect(d!.originGroups).toEqual({ origin: { 'container-image-reference': `ostree-remote-image:myremote:oci:${signed}` } });
    });
  }

  it('a tampered signature: refused with libostree\'s BAD signature, nothing deployed or stored under the image', async () => {
    const { dir, repo } = await sysrootWithRemote();
    const r = await runCli('image', 'deploy', '--sysroot', dir, '--imgref', `ostree-remote-image:myremote:oci:${tampered}`);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error: Performing deployment: Importing: Layer sha256:[0-9a-f]{64}: .*\nBAD signature from "Ostree Tester <test@test\.com>"\n/s);
    expect(await adminStatus(dir)).toContain('No deployments.');
    expect(await listImages(repo)).toEqual([]);
    expect(await countLayerReferences(repo)).toBe(0);
    expect(await ostree('fsck', `--repo=${dir}/ostree/repo`)).toMatch(/no errors found|Verifying content integrity/);
  });

  it('a remote without the key: refused, nothing deployed', async () => {
    const { dir, repo } = await sysrootWithRemote();
    await repo.remoteAdd('nokey', null, { 'gpg-verify': true, 'custom-backend': 'ostree-rs-ext' });
    const r = await runCli('image', 'deploy', '--sysroot', dir, '--imgref', `ostree-remote-image:nokey:oci:${signed}`);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\nCan't check signature: public key not found\n$/);
    expect(await adminStatus(dir)).toContain('No deployments.');
    expect(await listImages(repo)).toEqual([]);
  });
});

describe('the filtered-content warning', () => {
  // Keyed by the component below run/ and by the top-level name otherwise (spec store §3.2), sorted.
  const WARNING = 'Image contains non-ostree compatible file paths: cache: 2 srv: 1\n';

  it('image deploy prints it on stderr after a successful deploy, also with --target-imgref for an image stored under its source', async () => {
    const { dir } = await sysrootWithRemote();
    expect(await runCli('image', 'deploy', '--sysroot', dir, '--imgref', `ostree-unverified-image:oci:${derived}`)).toEqual({ code: 0, stdout: '', stderr: WARNING });
    const target = 'ostree-unverified-registry:quay.io/exampleos/derived:1';
    expect(await runCli('image', 'deploy', '--sysroot', dir, '--imgref', `ostree-unverified-image:oci:${derived}`, '--target-imgref', target)).toEqual({ code: 0, stdout: '', stderr: WARNING });
    const list = await (await Sysroot.load(dir)).deployments();
    expect(list).toHaveLength(2);
    const repo = await (await Sysroot.load(dir)).repo();
    expect(await repo.lookupPath(list[0]!.csum, '/usr/share/kept')).not.toBeNull();
    expect(await repo.lookupPath(list[0]!.csum, '/run/cache/a')).toBeNull();
    expect(await repo.lookupPath(list[0]!.csum, '/srv/data')).toBeNull();
  });

  it('also with --no-imgref (read from the deployed commit, not the image ref; spec §6 QUIRK); not for an image without filtered paths', async () => {
    const { dir } = await sysrootWithRemote();
    expect(await runCli('image', 'deploy', '--sysroot', dir, '--imgref', `ostree-unverified-image:oci:${derived}`, '--no-imgref')).toEqual({ code: 0, stdout: '', stderr: WARNING });
    expect(await runCli('image', 'deploy', '--sysroot', dir, '--imgref', `ostree-unverified-image:oci:${signed}`)).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await (await Sysroot.load(dir)).deployments()).toHaveLength(2);
  });
});
