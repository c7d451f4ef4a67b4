import type { Command } from 'commander';
import { ManifestDiff } from '../container/manifest-diff.js';
import { withContext } from '../errors.js';
import { readLocalManifest } from '../oci/local-image.js';
import { ImageReference, OstreeImageReference } from '../ref/image-reference.js';

/** An image argument: an ostree image reference, or a plain image reference like `oci:DIR:TAG`. */
function parseImageArg(s: string): ImageReference {
  try {
    return ImageReference.parse(s);
  } catch {
    return OstreeImageReference.parse(s).imgref;
  }
}

/** `compare OLD NEW`: the ManifestDiff between two images' manifests. */
export function registerCompare(program: Command): void {
  program
    .command('compare')
    .description('Compare the layers of two container images')
    .argument('<old>', 'old image (e.g. oci:DIR:TAG or ostree-unverified-image:oci:DIR)')
    .argument('<new>', 'new image')
    .option('--json', 'print the summary as JSON')
    .action(async (oldArg: string, newArg: string, opts: { json?: boolean }) => {
      const [a, b] = await Promise.all(
        [oldArg, newArg].map((s) => withContext(`Fetching manifest of ${s}`, async () => readLocalManifest(parseImageArg(s)))),
      );
      const diff = new ManifestDiff(a.manifest, b.manifest);
      process.stdout.write(opts.json ? `${JSON.stringify(diff)}\n` : diff.format());
    });
}
