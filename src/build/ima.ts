// IMA signatures for an ostree commit (upstream ostree-ext `ima.rs`): every regular file of the
// commit gets a `security.ima` xattr made by `evmctl ima_sign`; the files, trees and the commit
// are written anew (same metadata, subject and timestamp), and the new commit is returned.
import { execFile } from 'node:child_process';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { concurrency } from '../concurrency.js';
import { withContext } from '../errors.js';
import { formatExitStatus } from '../proxy/image-proxy.js';
import type { Repo } from '../repo/repo.js';
import { variantToBytes, xattrName, type TypedVariant, type Xattr } from '../repo/variant.js';
import { notInstalled } from '../system-tools.js';

/** The xattr IMA appraisal reads. */
export const IMA_XATTR = 'security.ima';

export interface ImaSignOpts {
  /** Digest algorithm for `evmctl --hashalgo` (sha256, sha512, …). */
  algorithm: string;
  /** The private key `evmctl --key` signs with. */
  key: string;
  /** Re-sign files that already have a `security.ima` (default: keep those as they are). */
  overwrite?: boolean;
  signal?: AbortSignal;
}

const IMA_NAME = xattrName(IMA_XATTR);

/** Runs `evmctl ima_sign` on `file` and returns the signature (the xattr value it would set). */
async function evmctlSign(file: string, opts: ImaSignOpts): Promise<Buffer> {
  // --sigfile writes `<file>.sig` instead of an xattr: the same bytes, on any filesystem.
  const args = ['ima_sign', '--sigfile', '--key', opts.key, '--hashalgo', opts.algorithm, path.basename(file)];
  await new Promise<void>((resolve, reject) => {
    execFile('evmctl', args, { cwd: path.dirname(file), signal: opts.signal }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const e = err as NodeJS.ErrnoException & { code?: unknown; signal?: NodeJS.Signals | null };
      if (e.code === 'ENOENT') return reject(new Error(`Spawning evmctl: ${notInstalled('evmctl')}`, { cause: err }));
      if (typeof e.code !== 'number' && !e.signal) return reject(err);
      reject(new Error(`evmctl failed: ${formatExitStatus(typeof e.code === 'number' ? e.code : null, e.signal ?? null)}\n${stderr.trim()}`, { cause: err }));
    });
  });
  return readFile(`${file}.sig`);
}

/** Rewrites a commit's files, trees and the commit itself with IMA signatures. */
class CommitRewriter {
  /** Content object → its signed object (or itself when it stays). */
  private readonly files = new Map<string, Promise<string>>();
  private readonly trees = new Map<string, Promise<string>>();
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private serial = 0;

  constructor(
    private readonly repo: Repo,
    private readonly opts: ImaSignOpts,
    private readonly tmp: string,
  ) {}

  /** One evmctl per CPU of the budget at a time. */
  private async slot<T>(fn: () => Promise<T>): Promise<T> {
    while (this.running >= concurrency()) await new Promise<void>((r) => this.waiting.push(r));
    if (this.opts.signal?.aborted) {
      this.waiting.shift()?.(); // pass the wake-up on: each waiter leaves the same way
      this.opts.signal.throwIfAborted();
    }
    this.running++;
    try {
      return await fn();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  private mapFile(checksum: string): Promise<string> {
    let p = this.files.get(checksum);
    if (!p) {
      p = withContext(`Content object ${checksum}`, () => this.signFile(checksum));
      this.files.set(checksum, p);
    }
    return p;
  }

  private async signFile(checksum: string): Promise<string> {
    const info = await this.repo.queryContent(checksum, { signal: this.opts.signal });
    if (info.symlinkTarget !== null) return checksum;
    const isIma = ([name]: Xattr) => Buffer.compare(Buffer.from(name), IMA_NAME) === 0;
    if (info.xattrs.some(isIma) && !this.opts.overwrite) return checksum;
    const file = path.join(this.tmp, `f${this.serial++}`);
    return this.slot(async () => {
      const fh = await open(file, 'wx', 0o600);
      try {
        await this.repo.readContentToFd(checksum, fh.fd, { signal: this.opts.signal });
      } finally {
        await fh.close();
      }
      try {
        const sig = await withContext('IMA signing object', () => evmctlSign(file, this.opts));
        // Names sorted by their bytes, as upstream's BTreeMap keeps them.
        const xattrs: Xattr[] = [...info.xattrs.filter((x) => !isIma(x)), [IMA_NAME, sig] as Xattr].sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
        return await this.repo.writeRegularFile({ path: file }, { uid: info.uid, gid: info.gid, mode: info.mode, xattrs, signal: this.opts.signal });
      } finally {
        await Promise.all([rm(file, { force: true }), rm(`${file}.sig`, { force: true })]);
      }
    });
  }

  /** Once every file and tree started so far (and any they started) has settled. */
  async settled(): Promise<void> {
    let started;
    do {
      started = this.files.size + this.trees.size;
      await Promise.allSettled([...this.files.values(), ...this.trees.values()]);
    } while (started !== this.files.size + this.trees.size);
  }

  mapTree(checksum: string): Promise<string> {
    let p = this.trees.get(checksum);
    if (!p) {
      p = this.rewriteTree(checksum);
      this.trees.set(checksum, p);
    }
    return p;
  }

  private async rewriteTree(checksum: string): Promise<string> {
    const tree = await this.repo.readDirTree(checksum);
    const files = await Promise.all(tree.files.map(async (f) => [f.name, Buffer.from(await this.mapFile(f.checksum), 'hex')]));
    const dirs = await Promise.all(
      tree.dirs.map(async (d) => [d.name, Buffer.from(await this.mapTree(d.contents), 'hex'), Buffer.from(d.metadata, 'hex')]),
    );
    return this.repo.writeMetadata('dirtree', variantToBytes({ type: '(a(say)a(sayay))', value: [files, dirs] }), { signal: this.opts.signal });
  }
}

/**
 * Writes a copy of commit `rev` whose regular files carry IMA signatures made by `evmctl` with
 * `opts.key`, and returns the new commit's checksum; it keeps the source commit's metadata,
 * parent, subject, body and timestamp. Files already signed are kept unless `overwrite`. Run it
 * inside a transaction (`repo.withTransaction`); the caller sets a ref to the result.
 * Differs from upstream: the xattr is named `security.ima` with the trailing NUL libostree
 * gives every xattr name (upstream's lacks it, so it also misses existing signatures).
 */
export async function imaSign(repo: Repo, rev: string, opts: ImaSignOpts): Promise<string> {
  return withContext(`Mapping ${rev}`, async () => {
    const checksum = (await repo.resolveRev(rev))!;
    const commit = await repo.loadVariant('commit', checksum);
    const parts = [...(commit.value as TypedVariant['value'][])];
    const tmp = await mkdtemp(path.join(repo.path, 'tmp', 'ima-sign-'));
    // The first failure stops the other signings, and the temporary directory goes only once
    // none of them writes into it any more.
    const stop = new AbortController();
    const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;
    const rewriter = new CommitRewriter(repo, { ...opts, signal }, tmp);
    try {
      const root = await rewriter.mapTree(Buffer.from(parts[6] as Uint8Array).toString('hex'));
      parts[6] = Buffer.from(root, 'hex');
      return await repo.writeMetadata('commit', variantToBytes({ type: commit.type, value: parts }), { signal: opts.signal });
    } catch (e) {
      stop.abort();
      throw e;
    } finally {
      await rewriter.settled();
      await rm(tmp, { recursive: true, force: true });
    }
  });
}
