import type { Command } from 'commander';
import { ManifestDiff } from '../container/manifest-diff.js';
import { withContext } from '../errors.js';
import { fetchManifest } from '../proxy/fetch.js';
import { parseImgrefArg } from './imgref-arg.js';
import { addProxyOptions, proxyConfigOf, type ProxyCliOptions } from './proxy-options.js';

/** `compare OLD NEW`: the ManifestDiff between two images' manifests, over any transport. */
export function registerCompare(program: Command): void {
  addProxyOptions(
    program
      .command('compare')
      .description('Compare the layers of two container images')
      .argument('<old>', 'old image (e.g. oci:DIR:TAG, ostree-unverified-registry:HOST/NAME:TAG)')
      .argument('<new>', 'new image')
      .option('--json', 'print the summary as JSON'),
  ).action(async (oldArg: string, newArg: string, opts: ProxyCliOptions & { json?: boolean }) => {
    const config = proxyConfigOf(opts);
    const [a, b] = await Promise.all(
      [oldArg, newArg].map((s) => withContext(`Fetching manifest of ${s}`, () => fetchManifest(parseImgrefArg(s), config))),
    );
    const diff = new ManifestDiff(a.manifest, b.manifest);
    process.stdout.write(opts.json ? `${JSON.stringify(diff)}\n` : diff.format());
  });
}
