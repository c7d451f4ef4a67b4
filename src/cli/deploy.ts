// `image deploy` and `image prune-images` (spec §6): the sysroot-aware commands, both run with
// the sysroot lock held.
import { Option, type Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { STATEROOT_DEFAULT } from '../container/constants.js';
import { deploy, prune, removeUndeployedImages } from '../deploy/deploy.js';
import { withSysrootLock } from '../deploy/lock.js';
import { Sysroot } from '../deploy/sysroot.js';
import { withContext } from '../errors.js';
import { formatSize } from '../format.js';
import { ImageReference, OstreeImageReference, SignatureSource } from '../ref/image-reference.js';
import { parseTransport } from '../ref/transport.js';
import { filteredContentWarning, gcImageLayers } from '../store/maintenance.js';
import { imageCommand } from './image-group.js';
import { progressFdWriter } from '../progress/progress-fd.js';
import { addProxyOptions, proxyConfigOf, type ProxyCliOptions } from './proxy-options.js';
import { addPullOptions, pullSettingsOf, type PullCliOptions } from './pull-options.js';

interface DeployCliOptions extends ProxyCliOptions, PullCliOptions {
  sysroot?: string;
  stateroot?: string;
  imgref?: string;
  image?: string;
  transport: string;
  noSignatureVerification?: boolean;
  enforceContainerSigpolicy?: boolean;
  ostreeRemote?: string;
  targetImgref?: string;
  noImgref?: boolean;
  karg?: string[];
  writeCommitidTo?: string;
}

/**
 * A flag spelled `--no-…` that means what it says. Commander would otherwise read `--no-imgref`
 * as the negation of `--imgref <ref>` and overwrite that option's value.
 */
function literalNoFlag(flags: string, description: string): Option {
  const o = new Option(flags, description);
  o.negate = false;
  return o;
}

/** The image to deploy: `--image` (with `--transport`) wins over `--imgref` (spec §6). */
function deployImgref(o: DeployCliOptions): OstreeImageReference {
  if (o.image !== undefined) {
    const imgref = new ImageReference(parseTransport(o.transport), o.image);
    const sigverify = !o.enforceContainerSigpolicy
      ? SignatureSource.ContainerPolicyAllowInsecure
      : o.ostreeRemote !== undefined
        ? SignatureSource.OstreeRemote(o.ostreeRemote)
        : SignatureSource.ContainerPolicy;
    return new OstreeImageReference(sigverify, imgref);
  }
  if (o.imgref === undefined) throw new Error('Either --imgref or --image is required');
  return OstreeImageReference.parse(o.imgref);
}

/** Loads the sysroot, then takes its lock (reloading: another holder may have changed it). */
async function withLockedSysroot<R>(path: string | undefined, fn: (s: Sysroot) => Promise<R>): Promise<R> {
  const sysroot = await Sysroot.load(path);
  return withSysrootLock(sysroot, async () => {
    await sysroot.load();
    return fn(sysroot);
  });
}

export function registerDeploy(program: Command): void {
  const image = imageCommand(program);

  addPullOptions(addProxyOptions(
    image
      .command('deploy')
      .description('Pull a container image into an ostree sysroot and deploy it as the next boot')
      .option('--sysroot <path>', 'path to the system root (default: /)')
      .option('--stateroot <name>', `stateroot (default: the booted deployment's, else ${STATEROOT_DEFAULT})`)
      .option('--imgref <ostree-imgref>', 'image to deploy, e.g. ostree-unverified-registry:quay.io/example/os:latest')
      .option('--image <name>', 'image name to deploy (with --transport; wins over --imgref)')
      .option('--transport <transport>', 'transport of --image', 'registry')
      .addOption(
        literalNoFlag('--no-signature-verification', 'deprecated; does nothing').conflicts('enforceContainerSigpolicy'),
      )
      .option('--enforce-container-sigpolicy', "verify --image with containers-policy.json (or --ostree-remote's keys)")
      .option('--ostree-remote <remote>', 'with --enforce-container-sigpolicy: verify through this ostree remote'),
  ))
    .option('--target-imgref <ostree-imgref>', 'record and store the image under this reference instead')
    .addOption(literalNoFlag('--no-imgref', 'do not write the image ref (the deployment alone keeps the commit)'))
    .option('--karg <arg>', 'kernel argument (repeatable); default: those of the merge deployment', (v: string, prev: string[] = []) => [...prev, v])
    .option('--write-commitid-to <path>', 'write the deployed merge commit to this file')
    .action(async (o: DeployCliOptions) => {
      if (o.imgref === undefined && o.image === undefined) throw new Error('Either --imgref or --image is required');
      const imgref = deployImgref(o);
      const targetImgref = o.targetImgref !== undefined ? OstreeImageReference.parse(o.targetImgref) : null;
      await withLockedSysroot(o.sysroot, async (sysroot) => {
        const stateroot = o.stateroot ?? (await sysroot.bootedDeployment())?.osname ?? STATEROOT_DEFAULT;
        const progress = o.progressFd !== undefined ? progressFdWriter(o.progressFd) : null;
        let state;
        try {
          state = await deploy(sysroot, stateroot, imgref, {
            kargs: o.karg ?? null,
            targetImgref,
            proxyCfg: proxyConfigOf(o),
            noImgref: !!o.noImgref,
            ...pullSettingsOf(o),
            ...(progress ? { onProgress: progress.listener } : {}),
          });
          progress?.done();
        } finally {
          await progress?.close();
        }
        const commitPath = o.writeCommitidTo;
        if (commitPath !== undefined) {
          await withContext(`Failed to write commitid to ${commitPath}`, () => writeFile(commitPath, state.mergeCommit));
        }
        // Read from the deployed merge commit: upstream looks it up by the image ref, which
        // --no-imgref did not write, nor --target-imgref for an image already stored under its
        // source (spec §6 QUIRK: it fails after a successful deploy).
        const warning = await filteredContentWarning(await sysroot.repo(), state.mergeCommit);
        if (warning) process.stderr.write(`${warning}\n`);
      });
    });

  image
    .command('prune-images')
    .description('Remove images no deployment uses (and with --and-layers their layers; --full: also objects)')
    .requiredOption('--sysroot <path>', 'path to the system root')
    .option('--and-layers', 'also remove layers no image or deployment uses')
    .addOption(new Option('--full', 'remove images, layers and unreferenced objects').conflicts('andLayers'))
    .action(async (o: { sysroot: string; andLayers?: boolean; full?: boolean }) => {
      await withLockedSysroot(o.sysroot, async (sysroot) => {
        if (o.full) {
          const r = await prune(sysroot);
          if (r.isEmpty()) {
            process.stdout.write('No content was pruned.\n');
            return;
          }
          process.stdout.write(
            `Removed images: ${r.nImages}\nRemoved layers: ${r.nLayers}\nRemoved objects: ${r.nObjectsPruned}\n` +
              `Freed: ${formatSize(r.objsize)}\n`,
          );
          return;
        }
        const removed = await removeUndeployedImages(sysroot);
        if (removed.length === 0) {
          // Upstream returns here even with --and-layers (spec §9 QUIRK, kept).
          process.stdout.write('No unreferenced images.\n');
          return;
        }
        for (const imgref of removed) process.stdout.write(`Removed: ${imgref.toString()}\n`);
        if (o.andLayers) process.stdout.write(`Removed layers: ${await gcImageLayers(await sysroot.repo())}\n`);
      });
    });
}
