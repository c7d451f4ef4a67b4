// `unencapsulate` (alias `import`): an encapsulated image → its ostree commit in a repo.
import type { Command } from 'commander';
import { unencapsulate } from '../container/unencapsulate.js';
import { OstreeImageReference } from '../ref/image-reference.js';
import { openRepoArg } from './repo-arg.js';
import { addProxyOptions, proxyConfigOf, type ProxyCliOptions } from './proxy-options.js';

interface UnencapsulateCliOptions extends ProxyCliOptions {
  repo: string;
  writeRef?: string;
  quiet?: boolean;
}

export function registerUnencapsulate(program: Command): void {
  const cmd = program
    .command('unencapsulate')
    .alias('import')
    .description('Import an ostree commit from an encapsulated container image')
    .requiredOption('--repo <path>', 'path to the ostree repository')
    .argument('<imgref>', 'image reference, e.g. ostree-unverified-image:oci:DIR, ostree-remote-image:REMOTE:docker://…')
    .option('--write-ref <ref>', 'create a ref pointing to the imported commit')
    .option('--quiet', "don't display progress");
  addProxyOptions(cmd).action(async (imgrefArg: string, o: UnencapsulateCliOptions) => {
    const imgref = OstreeImageReference.parse(imgrefArg);
    const repo = await openRepoArg(o.repo);
    const spinner = !o.quiet && process.stderr.isTTY;
    if (spinner) process.stderr.write('Downloading...');
    let result;
    try {
      result = await unencapsulate(repo, imgref, { proxyConfig: proxyConfigOf(o) });
    } finally {
      if (spinner) process.stderr.write('\r\x1b[K');
    }
    if (o.writeRef !== undefined) {
      await repo.setRefImmediate(o.writeRef, result.ostreeCommit);
      process.stdout.write(`Imported: ${o.writeRef} => ${result.ostreeCommit}\n`);
    } else {
      process.stdout.write(`Imported: ${result.ostreeCommit}\n`);
    }
  });
}
