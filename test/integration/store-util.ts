// Helpers for the store's tests: a pull through the importer, layer files for the native jobs
// (derived layers, merge commits), repos made by the ostree CLI, and what a commit holds, read
// back with the CLI.
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ostreeCli } from '../../src/fixture/index.js';
import type { ImageProxyConfig } from '../../src/proxy/config.js';
import { OstreeImageReference } from '../../src/ref/image-reference.js';
import { Repo } from '../../src/repo/repo.js';
import { ImageImporter } from '../../src/store/importer.js';
import type { PreparedImport } from '../../src/store/prepared.js';
import type { LayeredImageState } from '../../src/store/state.js';
import { tmpdir } from './tar-util.js';

/** The plain tar layer media type. */
export const TAR = 'application/vnd.oci.image.layer.v1.tar';
/** The importer version the store tests write (upstream's at the time of the vectors). */
export const VERSION = '0.15.3';
/** A file under test/fixtures/. */
export const fixture = (name: string): string => path.join(import.meta.dirname, '..', 'fixtures', name);

/**
 * prepare() and import() of `imgref` (an ostree image reference such as
 * `ostree-unverified-image:oci:DIR`) into `repo`; prepare() must find it missing. `setup`
 * configures the importer first.
 */
export async function pullImage(
  repo: Repo,
  imgref: string,
  o: { proxyConfig?: ImageProxyConfig; setup?: (i: ImageImporter) => void } = {},
): Promise<{ state: LayeredImageState; prepared: PreparedImport }> {
  const imp = new ImageImporter(repo, OstreeImageReference.parse(imgref), o.proxyConfig ?? {});
  o.setup?.(imp);
  const r = await imp.prepare();
  if (r.kind !== 'ready') throw new Error(`expected a ready import of ${imgref}, got ${r.kind}`);
  return { state: await imp.import(r.prepared), prepared: r.prepared };
}

/** Writes `data` to a new file in a temp dir and returns its path. */
export async function tempFile(data: Buffer, name = 'layer.tar'): Promise<string> {
  const f = path.join(await tmpdir('store-'), name);
  await writeFile(f, data);
  return f;
}

/** A fresh repo made by the ostree CLI, opened through the Repo wrapper. */
export async function cliRepo(mode = 'bare-user'): Promise<{ path: string; repo: Repo }> {
  const p = path.join(await tmpdir('store-repo-'), 'repo');
  await ostreeCli(p, ['init', `--mode=${mode}`]);
  return { path: p, repo: await Repo.open(p) };
}

/** `ostree ls -R` of a commit: path → the CLI's line (mode, uid, gid, size, name [-> target]). */
export async function listCommit(repoPath: string, rev: string, opts: { xattrs?: boolean; checksums?: boolean } = {}): Promise<Map<string, string>> {
  const args = ['ls', '-R', rev];
  if (opts.xattrs) args.splice(1, 0, '-X');
  if (opts.checksums) args.splice(1, 0, '-C');
  const out = await ostreeCli(repoPath, args);
  const m = new Map<string, string>();
  for (const line of out.split('\n')) {
    const tokens = line.trim().split(/\s+/);
    if (tokens.length < 2) continue;
    const arrow = tokens.indexOf('->');
    m.set(arrow > 0 ? tokens[arrow - 1]! : tokens[tokens.length - 1]!, line.trim());
  }
  return m;
}

/**
 * Upstream's commit of a layer tar: `ostree commit --tree=tar=` (libarchive into libostree, what
 * upstream's derived-layer import runs) with the metadata and timestamp our import is given.
 */
export async function upstreamCommit(repoPath: string, tarPath: string, timestamp: number): Promise<string> {
  const args = ['commit', `--tree=tar=${tarPath}`, '--tar-autocreate-parents', '--no-bindings', `--add-metadata-string=ostree.importer.version=${VERSION}`, `--timestamp=@${timestamp}`, '--orphan'];
  return (await ostreeCli(repoPath, args)).trim();
}

/** File content of `p` in a commit, through the CLI. */
export async function catFile(repoPath: string, rev: string, p: string): Promise<string> {
  return ostreeCli(repoPath, ['cat', rev, p]);
}

/** The content checksum the CLI reports for a file (`ostree ls -C`). */
export async function fileChecksum(repoPath: string, rev: string, p: string): Promise<string> {
  const out = await ostreeCli(repoPath, ['ls', '-C', rev, p]);
  const m = /\b([0-9a-f]{64})\b/.exec(out);
  if (!m) throw new Error(`no checksum for ${p}: ${out}`);
  return m[1]!;
}

/** Names left in the repo's tmp/ by anything but libostree's own staging and lock files. */
export async function repoTmpLeftovers(repoPath: string): Promise<string[]> {
  const names = await readdir(path.join(repoPath, 'tmp'));
  return names.filter((n) => !n.startsWith('staging-') && !n.startsWith('cache') && n !== 'fsverity-test');
}

/** An OS pipe (from a FIFO): the job reads `readFd` while the test writes, or stalls. */
export async function fifoPipe(): Promise<{ readFd: number; write(b: Buffer): void; closeWrite(): void; close(): void }> {
  const { execFileSync } = await import('node:child_process');
  const fs = await import('node:fs');
  const p = path.join(await tmpdir('store-fifo-'), 'fifo');
  execFileSync('mkfifo', [p]);
  const r = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const w = fs.openSync(p, 'w');
  fs.unlinkSync(p);
  let open = true;
  const closeWrite = () => {
    if (open) fs.closeSync(w);
    open = false;
  };
  return {
    readFd: r,
    write: (b) => {
      for (let off = 0; off < b.length; ) off += fs.writeSync(w, b, off);
    },
    closeWrite,
    close: () => {
      closeWrite();
      fs.closeSync(r);
    },
  };
}
