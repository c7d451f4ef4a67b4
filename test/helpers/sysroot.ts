// Throwaway OSTree sysroots (spec §5.5, as root), a bootable example OS to deploy into them, and
// images derived from it.
import { execFile, spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { SYSROOT_LOCK_WAITING } from '../../src/deploy/lock.js';
import { ExampleOs } from '../../src/fixture/exampleos.js';
import { digestOf } from '../../src/oci/digest.js';
import { OciDir } from '../../src/oci/layout.js';
import { MediaType } from '../../src/oci/media-types.js';
import type { ImageConfiguration, ImageManifest } from '../../src/oci/types.js';
import { layerTar } from './tar.js';

const run = promisify(execFile);

/** Runs `ostree ARGS…` and resolves to its stdout; fails with the command and its stderr. */
export async function ostree(...args: string[]): Promise<string> {
  try {
    return (await run('ostree', args, { maxBuffer: 64 << 20 })).stdout;
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new Error('the ostree command is not installed (scripts/install-deps.sh installs it)');
    throw new Error(`ostree ${args.join(' ')}: ${(err.stderr ?? err.message).trim()}`);
  }
}

/**
 * A fresh sysroot with stateroot `stateroot` and no bootloader, built by the `ostree` CLI as in
 * spec §5.5 (2022.7 needs the directory to exist; `os-init`, not `stateroot-init`).
 */
export async function createSysroot(parent: string, stateroot = 'default'): Promise<string> {
  if (process.getuid?.() !== 0) throw new Error('sysroot tests need root (bare repositories, ostree admin)');
  const dir = await fsp.mkdtemp(path.join(parent, 'sysroot-'));
  await ostree('admin', 'init-fs', '--modern', dir);
  await ostree('admin', 'os-init', stateroot, `--sysroot=${dir}`);
  await ostree('config', `--repo=${dir}/ostree/repo`, 'set', 'sysroot.bootloader', 'none');
  return dir;
}

/** Deployment roots carry the immutable attribute: clear it, then remove the whole tree. */
export async function removeSysroot(dir: string): Promise<void> {
  const deployRoot = path.join(dir, 'ostree/deploy');
  for (const stateroot of await fsp.readdir(deployRoot).catch(() => [] as string[])) {
    const deploys = path.join(deployRoot, stateroot, 'deploy');
    for (const d of await fsp.readdir(deploys).catch(() => [] as string[])) {
      const p = path.join(deploys, d);
      if ((await fsp.lstat(p)).isDirectory()) await run('chattr', ['-i', p]);
    }
  }
  await fsp.rm(dir, { recursive: true, force: true });
}

/** `ostree admin status --sysroot=DIR` */
export function adminStatus(dir: string): Promise<string> {
  return ostree('admin', 'status', `--sysroot=${dir}`);
}

/** The boot entries (`loader/entries/*.conf`) of a sysroot, as name → text. */
export async function bootEntries(dir: string): Promise<Map<string, string>> {
  const loader = path.join(dir, 'boot/loader/entries');
  const out = new Map<string, string>();
  for (const name of (await fsp.readdir(loader)).sort()) {
    if (name.endsWith('.conf')) out.set(name, await fsp.readFile(path.join(loader, name), 'utf8'));
  }
  return out;
}

/** The `options` line of a boot entry. */
export function entryOptions(entry: string): string | undefined {
  return /^options (.*)$/m.exec(entry)?.[1];
}

/**
 * What libostree needs to deploy a tree besides a kernel: /etc/os-release (spec §5.5). Also
 * drops the fixture's `security.capability` on arping: its value is upstream's literal text
 * `0sAAAA…`, which the kernel refuses (EINVAL) in the `bare` repo of a sysroot.
 */
export const BOOTABLE_DEFS = 'r usr/etc/os-release ID=exampleos\nm 0 0 755\nr usr/bin/arping arping-binary\n';

/**
 * The example OS (kernel under usr/lib/modules, `ostree.bootable`) changed by an update to
 * BOOTABLE_DEFS, so libostree can deploy it; unsigned. The fixture's own v0/v1 commits stay as
 * they are (other tests pin their checksums).
 */
export async function createBootableExampleOs(dir: string, opts: { repo?: string } = {}): Promise<ExampleOs> {
  const fx = await ExampleOs.create({ dir, signed: false, ...(opts.repo ? { repo: opts.repo } : {}) });
  await fx.update(BOOTABLE_DEFS);
  return fx;
}

/** A temp dir for a test file (under the system temp dir). */
export function tempDir(prefix: string): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), prefix));
}

/**
 * Copies the OCI image layout at `src` to `dest` and rewrites its one manifest after `edit` has
 * changed manifest and config (edit may write blobs, e.g. a new layer, through the OciDir).
 */
export async function editOciImage(
  src: string,
  dest: string,
  edit: (oci: OciDir, manifest: ImageManifest, config: ImageConfiguration) => Promise<void> | void,
): Promise<string> {
  await fsp.cp(src, dest, { recursive: true });
  const oci = await OciDir.open(dest);
  const { manifest } = await oci.readManifest();
  const config = await oci.readConfig(manifest);
  await edit(oci, manifest, config);
  manifest.config = await oci.writeConfig(config);
  await oci.insertManifest(manifest);
  return dest;
}

/** A derived image: `src` plus one gzip layer holding `files` (as `podman build` would add). */
export function deriveOciImage(src: string, dest: string, files: Record<string, string | Buffer>, createdBy: string): Promise<string> {
  return editOciImage(src, dest, async (oci, manifest, config) => {
    const tar = await layerTar(files);
    const blob = gzipSync(tar);
    const info = await oci.writeBlob(blob);
    manifest.layers.push({ mediaType: MediaType.ImageLayerGzip, digest: info.digest, size: info.size });
    config.rootfs.diff_ids.push(digestOf(tar));
    config.history = [...(config.history ?? []), { created_by: createdBy }];
  });
}

/** A child node process waiting for the sysroot lock; stdout and stderr grow as it writes. */
export interface LockWaiter {
  stdout: string;
  stderr: string;
  /** Its exit code once it has closed. */
  exited: Promise<number | null>;
}

/**
 * Starts `node args…` and resolves once its stderr shows the sysroot lock's waiting message;
 * rejects if it exits before that.
 */
export async function spawnLockWaiter(args: string[]): Promise<LockWaiter> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const w: LockWaiter = { stdout: '', stderr: '', exited: new Promise((resolve) => child.on('close', resolve)) };
  child.stdout.on('data', (b: Buffer) => (w.stdout += b));
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (b: Buffer) => {
      w.stderr += b;
      if (w.stderr.includes(SYSROOT_LOCK_WAITING)) resolve();
    });
    child.on('close', () => reject(new Error(`child exited before waiting: ${w.stderr}`)));
  });
  return w;
}
