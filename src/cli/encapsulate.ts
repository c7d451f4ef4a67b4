// `encapsulate` (alias `export`): an ostree commit → a container image.
import { Option, type Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { contentMetaToSized, parseContentMetaFile } from '../container/chunking.js';
import { encapsulate, type Compression, type ExportOpts } from '../container/encapsulate.js';
import { withContext } from '../errors.js';
import type { RuntimeConfig } from '../oci/types.js';
import { ImageReference } from '../ref/image-reference.js';
import { openRepoArg } from './repo-arg.js';

/** The `--compression` choices (encapsulate and demo). */
export const COMPRESSIONS: Compression[] = ['gzip', 'gzip-fast', 'zstd', 'none'];

/** Accumulates a repeatable option. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** `k=v` labels (split at the first `=`), in order; later ones win. */
export function parseLabels(args: string[]): Map<string, string> {
  const labels = new Map<string, string>();
  for (const l of args) {
    const i = l.indexOf('=');
    if (i < 0) throw new Error(`Missing '=' in label ${l}`);
    labels.set(l.slice(0, i), l.slice(i + 1));
  }
  return labels;
}

function parsePositiveInt(value: string, what: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n <= 0) throw new Error(`Invalid ${what}: ${value}`);
  return n;
}

interface EncapsulateCliOptions {
  repo: string;
  label?: string[];
  authfile?: string;
  config?: string;
  copymeta?: string[];
  copymetaOpt?: string[];
  cmd?: string[];
  compressionFast?: boolean;
  compression?: string;
  contentmeta?: string;
  maxLayers?: string;
  insecureSkipTlsVerification?: boolean;
  certDir?: string;
  authAnonymous?: boolean;
}

/** Builds `(labels, opts)` for encapsulate() from the command-line options. */
export async function encapsulateOptions(o: EncapsulateCliOptions): Promise<{ labels: Map<string, string>; opts: ExportOpts }> {
  let labels = parseLabels(o.label ?? []);
  const opts: ExportOpts = {
    copyMetaKeys: o.copymeta ?? [],
    copyMetaOptKeys: o.copymetaOpt ?? [],
    ...(o.compressionFast ? { skipCompression: true } : {}),
    ...(o.authfile !== undefined ? { authfile: o.authfile } : {}),
    ...(o.insecureSkipTlsVerification ? { insecureSkipTlsVerification: true } : {}),
    ...(o.certDir !== undefined ? { certDir: o.certDir } : {}),
    ...(o.authAnonymous ? { authAnonymous: true } : {}),
  };
  if (o.authfile !== undefined && o.authAnonymous) throw new Error('Conflicting authentication options');
  // commander checks the choice
  if (o.compression !== undefined) opts.compression = o.compression as Compression;
  if (o.config !== undefined) {
    const path = o.config;
    opts.containerConfig = await withContext(`Reading container config ${path}`, async () => {
      const v = JSON.parse(await readFile(path, 'utf8')) as unknown;
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('expected a JSON object');
      return v as RuntimeConfig;
    });
  }
  if (o.contentmeta !== undefined) {
    const path = o.contentmeta;
    const text = await withContext(`Reading content metadata ${path}`, () => readFile(path, 'utf8'));
    // Like upstream, what the file says is reported without context (`Unsupported metadata version: …`).
    const parsed = contentMetaToSized(parseContentMetaFile(text), labels);
    labels = parsed.labels;
    opts.contentmeta = parsed.meta;
    opts.maxLayers = parsed.maxLayers;
    if (parsed.created !== undefined) opts.created = parsed.created;
  }
  if (o.maxLayers !== undefined) opts.maxLayers = parsePositiveInt(o.maxLayers, '--max-layers');
  return { labels, opts };
}

export function registerEncapsulate(program: Command): void {
  program
    .command('encapsulate')
    .alias('export')
    .description('Export an ostree commit as a container image')
    .requiredOption('--repo <path>', 'path to the ostree repository')
    .argument('<rev>', 'ostree branch or commit')
    .argument('<imgref>', 'destination image, e.g. oci:DIR[:TAG], docker://registry/name:tag')
    .option('-l, --label <key=value>', 'additional label (repeatable)', collect)
    .option('--authfile <path>', 'authentication file for pushing')
    .option('--config <path>', 'JSON file with the image runtime configuration (Docker/OCI "config" object)')
    .option('--copymeta <key>', 'copy this commit metadata key (a string) to a label (repeatable)', collect)
    .option('--copymeta-opt <key>', 'like --copymeta, but skipped when absent (repeatable)', collect)
    .option('--cmd <arg>', 'image Cmd, one argument per occurrence', collect)
    .option('--compression-fast', 'compress layers with gzip level 1')
    .addOption(new Option('--compression <type>', 'layer compression (default: gzip)').choices(COMPRESSIONS))
    .option('--contentmeta <path>', 'JSON content metadata file: splits content into layers')
    .option('--max-layers <n>', 'layer budget for chunking (with --contentmeta)')
    .option('--insecure-skip-tls-verification', 'push without TLS verification (plain-HTTP registry)')
    .option('--cert-dir <dir>', 'push with the TLS certificates in this directory (*.crt, *.cert, *.key)')
    .option('--auth-anonymous', 'push without any credentials')
    .action(async (rev: string, imgref: string, o: EncapsulateCliOptions) => {
      const dest = ImageReference.parse(imgref);
      const { labels, opts } = await encapsulateOptions(o);
      const repo = await openRepoArg(o.repo);
      const digest = await encapsulate(repo, rev, { labels, ...(o.cmd ? { cmd: o.cmd } : {}) }, opts, dest);
      process.stdout.write(`${digest}\n`);
    });
}
