// `encapsulate` (alias `export`): an ostree commit → a container image.
import { Option, type Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { contentMetaToSized, parseContentMetaFile } from '../container/chunking.js';
import { createdFromSourceDateEpoch, historyCreated } from '../container/created.js';
import { encapsulate, type Compression, type ExportOpts } from '../container/encapsulate.js';
import { withContext } from '../errors.js';
import { parseImageManifest, type RuntimeConfig } from '../oci/types.js';
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

/** A byte count: digits with an optional binary suffix K, M or G (`1M` = 1048576). */
function parseSize(value: string, what: string): number {
  const m = /^(\d+)([KMG]?)$/.exec(value);
  const n = m ? Number(m[1]) * 1024 ** ' KMG'.indexOf(m[2] || ' ') : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`Invalid ${what}: ${value}`);
  return n;
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
  chunking?: 'auto';
  bigFileThreshold?: string;
  previousBuildManifest?: string;
  insecureSkipTlsVerification?: boolean;
  certDir?: string;
  authAnonymous?: boolean;
  created?: string;
  upstreamGzip?: boolean;
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
    ...(o.upstreamGzip ? { upstreamGzip: true } : {}),
  };
  if (o.authfile !== undefined && o.authAnonymous) throw new Error('Conflicting authentication options');
  if (o.chunking !== undefined && o.contentmeta !== undefined) throw new Error('--chunking and --contentmeta cannot be combined');
  if (o.bigFileThreshold !== undefined && o.chunking === undefined) throw new Error('--big-file-threshold needs --chunking auto');
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
  if (o.chunking !== undefined) opts.chunking = o.chunking;
  if (o.bigFileThreshold !== undefined) opts.bigFileThreshold = parseSize(o.bigFileThreshold, '--big-file-threshold');
  if (o.previousBuildManifest !== undefined) {
    const path = o.previousBuildManifest;
    opts.priorBuild = await withContext(`Reading previous build manifest ${path}`, async () =>
      parseImageManifest(await readFile(path), path),
    );
  }
  // --created, else SOURCE_DATE_EPOCH, else the content metadata's time, else the commit's.
  const created = o.created ?? createdFromSourceDateEpoch(process.env.SOURCE_DATE_EPOCH);
  if (created !== undefined) opts.created = created;
  if (opts.created !== undefined) historyCreated(opts.created);
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
    .option('--max-layers <n>', 'chunk-layer budget (default 64 with --contentmeta, 128 with --chunking auto)')
    .addOption(new Option('--chunking <mode>', 'auto: split content into layers by the package databases, user.component xattrs and big files found in the commit').choices(['auto']))
    .option('--big-file-threshold <size>', 'with --chunking auto: unowned files of this size or more get a layer each (bytes, or with K/M/G; default 1M)')
    .option('--previous-build-manifest <path>', "the previous build's image manifest (JSON): keeps its layer layout")
    .option('--upstream-gzip', "gzip layers as upstream does (zlib, one stream per layer): upstream's blobs from the same zlib, about half as fast")
    .option('--created <time>', 'image creation time, RFC 3339 (default: $SOURCE_DATE_EPOCH, else the commit timestamp)')
    .option('--insecure-skip-tls-verification', 'push without TLS verification (plain-HTTP registry)')
    .option('--cert-dir <dir>', 'push with the TLS certificates in this directory (*.crt, *.cert, *.key)')
    .option('--auth-anonymous', 'push without any credentials')
    .action(async (rev: string, imgref: string, o: EncapsulateCliOptions) => {
      const dest = ImageReference.parse(imgref);
      const { labels, opts } = await encapsulateOptions(o);
      opts.onChunking = (c) => {
        const dbs = c.databases.map((d) => `${d.format} ${d.path} (${d.packages} packages)`).join(', ') || 'no package database';
        process.stderr.write(`Automatic chunking: ${dbs}; ${c.components} components in ${c.layers} layers\n`);
      };
      const repo = await openRepoArg(o.repo);
      const digest = await encapsulate(repo, rev, { labels, ...(o.cmd ? { cmd: o.cmd } : {}) }, opts, dest);
      process.stdout.write(`${digest}\n`);
    });
}
