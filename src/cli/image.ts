// `image …` subcommands: the layered store (list, history, metadata, remove,
// prune-layers, clear-cached-update, copy, reexport; `pull` is image-pull.ts) and replace-detached-metadata.
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { updateDetachedMetadata } from '../container/update-detached-metadata.js';
import { withContext } from '../errors.js';
import { formatSize } from '../format.js';
import { ImageReference } from '../ref/image-reference.js';
import { copy } from '../store/copy.js';
import { exportImage } from '../store/export.js';
import { clearCachedUpdate, gcImageLayers, removeImages } from '../store/maintenance.js';
import { listImages, queryImage, type LayeredImageState } from '../store/state.js';
import { imageCommand } from './image-group.js';
import { openRepoArg } from './repo-arg.js';
import { parseImgrefArg } from './imgref-arg.js';

async function requireImage(repoPath: string, imgrefArg: string): Promise<LayeredImageState> {
  const repo = await openRepoArg(repoPath);
  const imgref = ImageReference.parse(imgrefArg);
  const state = await queryImage(repo, imgref);
  if (!state) throw new Error(`No such image: ${imgref.toString()}`);
  return state;
}

/** A borderless table: columns padded to their widest cell, one space either side. */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => ` ${c.padEnd(widths[i]!)} `).join('').trimEnd() + '\n').join('');
}

function registerStore(image: Command): void {
  image
    .command('list')
    .description('List the images in the store')
    .requiredOption('--repo <path>', 'path to the ostree repository')
    .action(async (o: { repo: string }) => {
      for (const name of await listImages(await openRepoArg(o.repo))) process.stdout.write(`${name}\n`);
    });

  image
    .command('history')
    .description("Show a stored image's layers with their sizes and history")
    .requiredOption('--repo <path>', 'path to the ostree repository')
    .argument('<imgref>', 'image reference, e.g. docker://quay.io/exampleos/foo:latest')
    .action(async (imgref: string, o: { repo: string }) => {
      const state = await requireImage(o.repo, imgref);
      const history = state.configuration.history ?? [];
      // 0.15.3's header (bootc's "CRCEATED BY" is a typo, not a format to keep).
      const rows = [['ID', 'SIZE', 'CREATED BY']];
      state.manifest.layers.forEach((l, i) => {
        rows.push([l.digest.slice(l.digest.indexOf(':') + 1).slice(0, 20), formatSize(l.size), history[i]?.created_by ?? '']);
      });
      process.stdout.write(table(rows));
    });

  image
    .command('metadata')
    .description("Print a stored image's manifest (or configuration) as JSON")
    .requiredOption('--repo <path>', 'path to the ostree repository')
    .argument('<imgref>', 'image reference')
    .option('--config', 'print the image configuration instead of the manifest')
    .action(async (imgref: string, o: { repo: string; config?: boolean }) => {
      const state = await requireImage(o.repo, imgref);
      process.stdout.write(JSON.stringify(o.config ? state.configuration : state.manifest));
    });

  image
    .command('clear-cached-update')
    .description("Drop the cached pending update recorded for a stored image")
    .requiredOption('--repo <path>', 'path to the ostree repository')
    .argument('<imgref>', 'image reference')
    .action(async (imgref: string, o: { repo: string }) => {
      await clearCachedUpdate(await openRepoArg(o.repo), ImageReference.parse(imgref));
    });

  image
    .command('remove')
    .description('Remove images from the store (and, unless --skip-gc, the layers no image uses)')
    .requiredOption('--repo <path>', 'path to the ostree repository')
    .argument('<imgrefs...>', 'image references')
    .option('--skip-gc', 'keep the layers')
    .action(async (imgrefs: string[], o: { repo: string; skipGc?: boolean }) => {
      const repo = await openRepoArg(o.repo);
      await removeImages(repo, imgrefs.map((s) => ImageReference.parse(s)));
      if (o.skipGc) process.stdout.write(`Removed images: ${imgrefs.length}\n`);
      else process.stdout.write(`Removed images: ${imgrefs.length} layers: ${await gcImageLayers(repo)}\n`);
    });

  image
    .command('prune-layers')
    .description('Remove the layers no stored image uses')
    .requiredOption('--repo <path>', 'path to the ostree repository')
    .action(async (o: { repo: string }) => {
      process.stdout.write(`Removed layers: ${await gcImageLayers(await openRepoArg(o.repo))}\n`);
    });

  image
    .command('copy')
    .description('Copy a stored image (layers and merge commit) to another repository')
    .requiredOption('--src-repo <path>', 'source ostree repository')
    .requiredOption('--dest-repo <path>', 'destination ostree repository (may be an archive repo)')
    .argument('<imgref>', 'image reference (e.g. ostree-unverified-registry:…)')
    .action(async (imgref: string, o: { srcRepo: string; destRepo: string }) => {
      const ref = parseImgrefArg(imgref).imgref;
      await copy(await openRepoArg(o.srcRepo), ref, await openRepoArg(o.destRepo), ref);
    });

  image
    .command('reexport')
    .description('Export a stored image to a container image again (layers are rewritten)')
    .requiredOption('--repo <path>', 'path to the ostree repository')
    .argument('<src>', 'stored image reference')
    .argument('<dest>', 'destination image reference, e.g. oci:DIR:TAG')
    .option('--authfile <path>', 'authentication file for pushing')
    .option('--compression-fast', 'gzip level 1 instead of 6')
    .action(async (src: string, dest: string, o: { repo: string; authfile?: string; compressionFast?: boolean }) => {
      const digest = await exportImage(await openRepoArg(o.repo), ImageReference.parse(src), ImageReference.parse(dest), {
        ...(o.authfile !== undefined ? { authfile: o.authfile } : {}),
        ...(o.compressionFast ? { skipCompression: true } : {}),
      });
      process.stdout.write(`Exported: ${digest}\n`);
    });
}

export function registerImage(program: Command): void {
  const image = imageCommand(program);
  registerStore(image);
  image
    .command('replace-detached-metadata')
    .description("Replace the detached metadata (e.g. a signature) of an image's ostree commit")
    .requiredOption('--src <imgref>', 'source image reference, e.g. registry:quay.io/exampleos/foo:latest')
    .requiredOption('--dest <imgref>', 'destination image reference')
    .argument('[contents]', 'file with the new detached metadata (serialized a{sv}); absent = remove it')
    .option('--authfile <path>', 'authentication file for both copies')
    .option('--insecure-skip-tls-verification', 'copy without TLS verification (plain-HTTP registry)')
    .action(async (contents: string | undefined, o: { src: string; dest: string; authfile?: string; insecureSkipTlsVerification?: boolean }) => {
      const src = ImageReference.parse(o.src);
      const dest = ImageReference.parse(o.dest);
      const detached = contents === undefined ? undefined : await withContext(`Reading ${contents}`, () => readFile(contents));
      const digest = await updateDetachedMetadata(src, dest, detached, {
        ...(o.authfile !== undefined ? { authfile: o.authfile } : {}),
        ...(o.insecureSkipTlsVerification ? { insecureSkipTlsVerification: true } : {}),
      });
      process.stdout.write(`Pushed: ${digest}\n`);
    });
}
