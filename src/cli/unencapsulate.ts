// `unencapsulate` (alias `import`): an encapsulated image → its ostree commit in a repo.
import type { Command } from 'commander';
import { unencapsulate } from '../container/unencapsulate.js';
import type { ImageProxyConfig } from '../proxy/config.js';
import { OstreeImageReference } from '../ref/image-reference.js';
import { openRepoArg } from './encapsulate.js';

/** The proxy options shared by commands that fetch images. */
export interface ProxyCliOptions {
  authAnonymous?: boolean;
  authfile?: string;
  certDir?: string;
  insecureSkipTlsVerification?: boolean;
}

export function addProxyOptions(cmd: Command): Command {
  return cmd
    .option('--auth-anonymous', 'do not use any authentication')
    .option('--authfile <path>', 'path to a container authentication file')
    .option('--cert-dir <dir>', 'directory with TLS certificates (*.crt, *.cert, *.key)')
    .option('--insecure-skip-tls-verification', 'skip TLS verification');
}

export function proxyConfigOf(o: ProxyCliOptions): ImageProxyConfig {
  return {
    ...(o.authAnonymous ? { authAnonymous: true } : {}),
    ...(o.authfile !== undefined ? { authfile: o.authfile } : {}),
    ...(o.certDir !== undefined ? { certificateDirectory: o.certDir } : {}),
    insecureSkipTlsVerification: !!o.insecureSkipTlsVerification,
  };
}

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
