// `image …` subcommands of the encapsulation issue: replace-detached-metadata.
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { updateDetachedMetadata } from '../container/update-detached-metadata.js';
import { withContext } from '../errors.js';
import { ImageReference } from '../ref/image-reference.js';

/** The `image` command group (created once; other files add subcommands to it). */
export function imageCommand(program: Command): Command {
  return program.commands.find((c) => c.name() === 'image') ?? program.command('image').description('Operations on container images');
}

export function registerImage(program: Command): void {
  imageCommand(program)
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
