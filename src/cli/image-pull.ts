// `image pull REPO IMGREF` (spec store §6): prepare, report what changes, fetch with progress,
// write the merge commit (or, with --download-only, stop before it).
import { Option, type Command } from 'commander';
import path from 'node:path';
import { writeFileAtomic } from '../oci/atomic.js';
import { progressFdWriter } from '../progress/progress-fd.js';
import { progressRenderer, type ProgressMode } from '../progress/render.js';
import { ImageImporter } from '../store/importer.js';
import { imageFilteredContentWarning } from '../store/maintenance.js';
import { openRepoArg } from './repo-arg.js';
import { parseImgrefArg } from './imgref-arg.js';
import { addProxyOptions, proxyConfigOf, type ProxyCliOptions } from './proxy-options.js';
import { addPullOptions, pullSettingsOf, type PullCliOptions } from './pull-options.js';

interface PullOptions extends ProxyCliOptions, PullCliOptions {
  quiet?: boolean;
  check?: string;
  downloadOnly?: boolean;
  progress: 'auto' | ProgressMode;
}

export function registerImagePull(image: Command): void {
  const cmd = image
    .command('pull')
    .description('Pull (or update) a container image into the layered store of an ostree repository')
    .argument('<repo>', 'path to the ostree repository')
    .argument('<imgref>', 'image reference, e.g. ostree-unverified-registry:quay.io/exampleos/foo:latest')
    .option('--quiet', "don't display progress")
    .option('--check <path>', 'only check for an update: write the new manifest to PATH (relative to the current directory) and stop')
    .addOption(
      new Option('--progress <mode>', 'progress display: bars on a terminal, plain lines elsewhere, or JSON lines on stdout')
        .choices(['auto', 'bars', 'plain', 'json', 'none'])
        .default('auto'),
    )
    .addOption(
      new Option('--download-only', 'fetch and store every layer of the update, but leave the image as it is: a later pull (also --offline) or image deploy applies it').conflicts(['check', 'offline']),
    );
  addPullOptions(addProxyOptions(cmd)).action(async (repoArg: string, imgrefArg: string, o: PullOptions) => {
    const repo = await openRepoArg(repoArg);
    const imgref = parseImgrefArg(imgrefArg);
    const importer = new ImageImporter(repo, imgref, proxyConfigOf(o)).applySettings(pullSettingsOf(o));
    const prepared = await importer.prepare();
    if (prepared.kind === 'already-present') {
      process.stdout.write(`No changes in ${imgref.toString()} => ${prepared.state.mergeCommit}\n`);
      return;
    }
    const p = prepared.prepared;
    if (o.check !== undefined) {
      await importer.close();
      // Upstream resolves the path against `/`; relative to the working directory is what a user means.
      await writeFileAtomic(path.resolve(o.check), JSON.stringify(p.manifest));
      return;
    }
    const diff = p.manifestDiff();
    if (diff) process.stdout.write(diff.format());
    const status = p.formatLayerStatus();
    if (status !== null) process.stdout.write(`${status}\n`);
    const mode: ProgressMode = o.quiet ? 'none' : o.progress === 'auto' ? (process.stderr.isTTY ? 'bars' : 'plain') : o.progress;
    // Bars draw on the terminal (stderr); lines and JSON events go with the rest of the output.
    const renderer = progressRenderer(mode, mode === 'bars' ? process.stderr : process.stdout);
    const fdWriter = o.progressFd !== undefined ? progressFdWriter(o.progressFd) : null;
    importer.onProgress(fdWriter ? (e) => (renderer.listener(e), fdWriter.listener(e)) : renderer.listener);
    let state;
    try {
      state = o.downloadOnly ? await importer.download(p) : await importer.import(p);
      fdWriter?.done();
    } finally {
      renderer.stop();
      await fdWriter?.close();
    }
    if (state === null) {
      process.stdout.write(`Downloaded: ${imgref.toString()} ${p.manifestDigest} (not applied)\n`);
      return;
    }
    const target = imgref.toString();
    const warning = await imageFilteredContentWarning(repo, imgref.imgref).catch(() => null);
    if (warning !== null) process.stderr.write(`${warning}\n`);
    if (state.verifyText !== null) process.stdout.write(`${state.verifyText}\n`);
    process.stdout.write(`Wrote: ${target} => ${state.mergeCommit}\n`);
  });
}
