// `skopeo copy` between transports (pushing an OCI directory to a registry, archives, …).
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatExitStatus } from './image-proxy.js';
import { notInstalled } from '../system-tools.js';

export interface SkopeoCopyOptions {
  /** `--authfile` (source and destination). */
  authfile?: string;
  /** Source registry: `--src-tls-verify=<v>` when set. */
  srcTlsVerify?: boolean;
  /** Destination registry: `--dest-tls-verify=<v>` when set. */
  destTlsVerify?: boolean;
  srcCertDir?: string;
  destCertDir?: string;
  /** `--dest-no-creds`: push anonymously. */
  destNoCreds?: boolean;
  /** `--multi-arch`: which instances of a manifest list to copy (skopeo's default: `system`). */
  multiArch?: 'system' | 'all' | 'index-only';
  /** `--format`: manifest type to write (default: the source's, with fallbacks). */
  format?: 'oci' | 'v2s2';
  /** `--preserve-digests`: fail rather than change the manifest. */
  preserveDigests?: boolean;
  /**
   * `--dest-oci-accept-uncompressed-layers`: keep uncompressed layers as they are when writing
   * `oci:` / `oci-archive:` (skopeo gzips them otherwise; registries always get them gzipped).
   */
  acceptUncompressedLayers?: boolean;
  signal?: AbortSignal;
}

/** skopeo's argv for a copy, without `--digestfile` (exposed for tests). */
export function skopeoCopyArgs(src: string, dest: string, opts: SkopeoCopyOptions = {}): string[] {
  const args = ['copy', '--quiet'];
  if (opts.authfile !== undefined) args.push('--authfile', opts.authfile);
  if (opts.srcTlsVerify !== undefined) args.push(`--src-tls-verify=${opts.srcTlsVerify}`);
  if (opts.destTlsVerify !== undefined) args.push(`--dest-tls-verify=${opts.destTlsVerify}`);
  if (opts.srcCertDir !== undefined) args.push('--src-cert-dir', opts.srcCertDir);
  if (opts.destCertDir !== undefined) args.push('--dest-cert-dir', opts.destCertDir);
  if (opts.destNoCreds) args.push('--dest-no-creds');
  if (opts.multiArch !== undefined) args.push('--multi-arch', opts.multiArch);
  if (opts.format !== undefined) args.push('--format', opts.format);
  if (opts.preserveDigests) args.push('--preserve-digests');
  if (opts.acceptUncompressedLayers) args.push('--dest-oci-accept-uncompressed-layers');
  args.push(src, dest);
  return args;
}

/**
 * Copies an image with `skopeo copy` and returns the digest of the manifest written to `dest`.
 * Failures carry skopeo's exit status and stderr.
 */
export async function skopeoCopy(
  src: string | { toString(): string },
  dest: string | { toString(): string },
  opts: SkopeoCopyOptions = {},
): Promise<string> {
  const from = String(src);
  const to = String(dest);
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ostree-container-copy-'));
  try {
    const digestfile = path.join(tmp, 'digest');
    const args = skopeoCopyArgs(from, to, opts);
    args.splice(2, 0, '--digestfile', digestfile);
    await new Promise<void>((resolve, reject) => {
      execFile('skopeo', args, { signal: opts.signal, maxBuffer: 16 * 1024 * 1024 }, (err, _stdout, stderr) => {
        if (!err) return resolve();
        const e = err as NodeJS.ErrnoException & { code?: unknown; signal?: NodeJS.Signals | null };
        const status =
          typeof e.code === 'number' || e.signal ? formatExitStatus(typeof e.code === 'number' ? e.code : null, e.signal ?? null) : err.message;
        // Upstream's text is `skopeo failed: <stderr>`; the command and exit status follow it.
        const why = e.code === 'ENOENT' ? notInstalled('skopeo') : stderr.trim();
        reject(new Error(`skopeo failed: ${why}\n(skopeo copy ${from} ${to}: ${status})`, { cause: err }));
      });
    });
    return (await fsp.readFile(digestfile, 'utf8')).trim();
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
}
