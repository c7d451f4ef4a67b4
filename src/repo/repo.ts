// `Repo`: an OSTree repository through libostree (native/repo*.cc). Every method that touches
// the disk runs on a thread of the addon's scheduler (never libuv's pool) and returns a promise; errors are libostree's GError as a JS
// Error with `.message`, `.code` and `.domain`. Option objects accept `signal` (AbortSignal,
// cancels through a GCancellable). Object, tree and commit writes need an open transaction
// (`withTransaction`); outside one they reject with code TRANSACTION_STATE.
import { open as openFile } from 'node:fs/promises';

import { native, withCancellable } from '../native.js';
import type {
  NativeCheckoutOptions,
  NativeCommit,
  NativeContentInfo,
  NativeDevInoCache,
  NativeModifier,
  NativeMtreeSpec,
  NativePruneResult,
  NativePullOptions,
  NativeRepo,
  NativeRepoModule,
  NativeTransactionStats,
  NativeTreeScan,
} from './native.js';
import type { TreeEntry } from './tree-entry.js';
import { variantFromBytes, variantToBytes, type TypedVariant, type VariantDict, type Xattr } from './variant.js';

export type RepoMode = 'bare' | 'archive' | 'bare-user' | 'bare-user-only' | 'bare-split-xattrs';
export type ObjectType =
  | 'file'
  | 'dirtree'
  | 'dirmeta'
  | 'commit'
  | 'commitmeta'
  | 'tombstone-commit'
  | 'payload-link'
  | 'file-xattrs'
  | 'file-xattrs-link';
export type MetadataObjectType = 'commit' | 'dirtree' | 'dirmeta' | 'commitmeta';

export interface Cancelable {
  signal?: AbortSignal;
}

export type TransactionStats = NativeTransactionStats;

export type CommitInfo = NativeCommit;
export type ContentObjectInfo = NativeContentInfo;
export type TreeScan = NativeTreeScan;

/** A tree written to the repo: the root dirtree and dirmeta checksums. */
export interface TreeRoot {
  contents: string;
  metadata: string;
}

export interface DirTree {
  files: { name: string; checksum: string }[];
  dirs: { name: string; contents: string; metadata: string }[];
}

export interface DirMeta {
  uid: number;
  gid: number;
  /** Full st_mode (S_IFDIR included). */
  mode: number;
  xattrs: Xattr[];
}

/** How host files become objects when a directory is committed (an OstreeRepoCommitModifier). */
export interface CommitModifier extends Omit<NativeModifier, 'devinoCache'> {
  devinoCache?: DevInoCache;
}

export type { TreeEntry } from './tree-entry.js';

/**
 * A tree to build: start from `base` (a tree or a commit), add host directories, then single
 * entries; parents created on the way get `parentDirMetadata`.
 */
export interface TreeSpec {
  base?: TreeRoot | { commit: string };
  /** Host directories to add; `destination` is a path inside the tree (default: the root). */
  directories?: { source: string; destination?: string }[];
  entries?: TreeEntry[];
  parentDirMetadata?: string;
  rootMetadata?: string;
  modifier?: CommitModifier;
}

export interface WriteCommitOptions extends Cancelable {
  /** An already written tree, or a spec to build one. */
  root: TreeRoot | TreeSpec;
  parent?: string | null;
  subject?: string;
  body?: string;
  metadata?: VariantDict | Record<string, TypedVariant>;
  /** Seconds since the epoch (or a Date); default: now (libostree honours SOURCE_DATE_EPOCH). */
  timestamp?: number | bigint | Date;
}

export interface ContentAttributes extends Cancelable {
  uid?: number;
  gid?: number;
  /** Permission bits (S_IFREG is added); default 0o644. */
  mode?: number;
  xattrs?: Xattr[] | null;
  /** libostree verifies the object against it and refuses a mismatch. */
  expectedChecksum?: string;
}

/** Regular file content: bytes, `size` bytes read from an open fd, or a file path. */
export type FileContent = Uint8Array | { fd: number; size: number } | { path: string };

export interface CheckoutOptions extends Cancelable, Omit<NativeCheckoutOptions, 'devinoCache'> {
  devinoCache?: DevInoCache;
}

export interface PruneOptions extends Cancelable {
  refsOnly?: boolean;
  noPrune?: boolean;
  /** -1 (default): all history. */
  depth?: number;
}

export type PruneResult = NativePruneResult;

export type RemoteOptions = Record<string, string | boolean | string[]>;

export interface PullOptions extends Cancelable, NativePullOptions {}

/** One object reachable from a commit. */
export interface ObjectName {
  type: ObjectType;
  checksum: string;
}

/** A path inside a committed tree (paths start with `/`). */
export type CommitPath =
  | { path: string; kind: 'file'; checksum: string }
  | { path: string; kind: 'dir'; contents: string; metadata: string };

const CHECKSUM = /^[0-9a-f]{64}$/;
const S_IFDIR = 0o040000;

function mod(): NativeRepoModule {
  return native<NativeRepoModule>();
}

/** Shared (dev, ino) → checksum cache: lets a commit of a checkout skip re-hashing hardlinked files. */
export class DevInoCache {
  /** @internal the addon's cache */
  readonly native: NativeDevInoCache = new (mod().DevInoCache)();
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

// dirmeta stores uid, gid and mode big-endian inside its `u` fields.
function bswap32(n: number): number {
  return (((n & 0xff) << 24) | ((n & 0xff00) << 8) | ((n >>> 8) & 0xff00) | (n >>> 24)) >>> 0;
}

function modifierToNative(m: CommitModifier | undefined): NativeModifier | undefined {
  if (!m) return undefined;
  const { devinoCache, ...rest } = m;
  return { ...rest, devinoCache: devinoCache?.native };
}

function specToNative(spec: TreeSpec): NativeMtreeSpec {
  const out: NativeMtreeSpec = {
    directories: spec.directories,
    entries: spec.entries,
    parentDirMetadata: spec.parentDirMetadata,
    rootMetadata: spec.rootMetadata,
    modifier: modifierToNative(spec.modifier),
  };
  if (spec.base && 'commit' in spec.base) out.baseCommit = spec.base.commit;
  else if (spec.base) out.base = spec.base;
  return out;
}

function isTreeRoot(r: TreeRoot | TreeSpec): r is TreeRoot {
  return typeof (r as TreeRoot).contents === 'string' && typeof (r as TreeRoot).metadata === 'string';
}

export class Repo {
  /** @internal The native handle; other native modules (layer import/export) take this. */
  readonly native: NativeRepo;

  private constructor(n: NativeRepo) {
    this.native = n;
  }

  /** @internal Wraps a native repo handed out by another native module (e.g. a sysroot's repo). */
  static fromNative(n: NativeRepo): Repo {
    return new Repo(n);
  }

  /** Opens an existing repository. */
  static async open(path: string, opts: Cancelable = {}): Promise<Repo> {
    return new Repo(await withCancellable(opts.signal, (c) => mod().Repo.open(path, c)));
  }

  /**
   * Creates a repository (default mode `bare`). An existing repository is opened as it is:
   * libostree never changes the mode of one.
   */
  static async create(path: string, mode: RepoMode = 'bare', opts: Cancelable = {}): Promise<Repo> {
    return new Repo(await withCancellable(opts.signal, (c) => mod().Repo.create(path, mode, c)));
  }

  get path(): string {
    return this.native.path;
  }

  get mode(): RepoMode {
    return this.native.mode as RepoMode;
  }

  /** The repository directory fd (owned by the repo; do not close). */
  get dfd(): number {
    return this.native.dfd;
  }

  /** Whether this is the booted system's repository (/ostree/repo). */
  get isSystem(): boolean {
    return this.native.isSystem;
  }

  // ---- refs ----

  /** Resolves a ref or checksum to a commit checksum; unknown refs throw unless `allowNoent`. */
  resolveRev(rev: string): Promise<string>;
  resolveRev(rev: string, opts: { allowNoent: true }): Promise<string | null>;
  resolveRev(rev: string, opts: { allowNoent?: boolean }): Promise<string | null>;
  async resolveRev(rev: string, opts: { allowNoent?: boolean } = {}): Promise<string | null> {
    return this.native.resolveRev(rev, opts.allowNoent ?? false);
  }

  /** Refs (full names; remote refs as `remote:ref`) → checksums, sorted by name. */
  async listRefs(prefix?: string, opts: Cancelable = {}): Promise<Map<string, string>> {
    const pairs = await withCancellable(opts.signal, (c) => this.native.listRefs(prefix ?? null, c));
    return new Map(pairs);
  }

  /** Sets (or with `null` deletes) a ref right away, outside any transaction. */
  async setRefImmediate(
    ref: string,
    checksum: string | null,
    opts: Cancelable & { remote?: string } = {},
  ): Promise<void> {
    await withCancellable(opts.signal, (c) => this.native.setRefImmediate(opts.remote ?? null, ref, checksum, c));
  }

  async deleteRef(ref: string, opts: Cancelable & { remote?: string } = {}): Promise<void> {
    await this.setRefImmediate(ref, null, opts);
  }

  // ---- transactions ----

  /** Starts a transaction; true when resuming an interrupted one. */
  async prepareTransaction(opts: Cancelable = {}): Promise<boolean> {
    return withCancellable(opts.signal, (c) => this.native.prepareTransaction(c));
  }

  async commitTransaction(opts: Cancelable = {}): Promise<TransactionStats> {
    return withCancellable(opts.signal, (c) => this.native.commitTransaction(c));
  }

  /** Drops the transaction's staged objects and ref changes; a no-op without one. */
  async abortTransaction(opts: Cancelable = {}): Promise<void> {
    await withCancellable(opts.signal, (c) => this.native.abortTransaction(c));
  }

  /** Records a ref change applied when the transaction commits. */
  transactionSetRef(ref: string, checksum: string | null, opts: { remote?: string } = {}): void {
    this.native.transactionSetRef(opts.remote ?? null, ref, checksum);
  }

  /**
   * Runs `fn` inside a transaction: commits it when `fn` resolves, aborts it (staged objects and
   * ref changes dropped) when `fn` or the commit fails, then rethrows.
   */
  async withTransaction<T>(fn: (repo: this) => Promise<T>, opts: Cancelable = {}): Promise<T> {
    await this.prepareTransaction(opts);
    try {
      const result = await fn(this);
      await this.commitTransaction();
      return result;
    } catch (e) {
      // The caller's error is what matters; an abort failure must not hide it.
      await this.abortWhenIdle().catch(() => undefined);
      throw e;
    }
  }

  /**
   * abortTransaction, once jobs that `fn` left writing into the transaction are over: the
   * binding refuses to abort under them (`BUSY`), and they finish or fail on their own.
   */
  async abortWhenIdle(): Promise<void> {
    for (let delay = 5; ; delay = Math.min(delay * 2, 200)) {
      try {
        return await this.abortTransaction();
      } catch (e) {
        if ((e as { code?: unknown }).code !== 'BUSY') throw e;
      }
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  // ---- commits and metadata ----

  /** Loads a commit by checksum or ref. */
  async loadCommit(rev: string): Promise<CommitInfo> {
    return this.native.loadCommit(await this.toChecksum(rev));
  }

  /** Content checksum of a commit (what `ostree` fixtures call CONTENTS_CHECKSUM). */
  async contentChecksum(rev: string): Promise<string> {
    return (await this.loadCommit(rev)).contentChecksum;
  }

  async readCommitDetachedMetadata(checksum: string, opts: Cancelable = {}): Promise<VariantDict | null> {
    return withCancellable(opts.signal, (c) => this.native.readCommitDetachedMetadata(checksum, c));
  }

  /** Replaces the detached metadata; `null` empties it (libostree then reads an empty dictionary). */
  async writeCommitDetachedMetadata(
    checksum: string,
    metadata: VariantDict | null,
    opts: Cancelable = {},
  ): Promise<void> {
    await withCancellable(opts.signal, (c) => this.native.writeCommitDetachedMetadata(checksum, metadata, c));
  }

  /** GPG-signs a commit (adds to its `ostree.gpgsigs` detached metadata). */
  async signCommit(checksum: string, keyId: string, opts: Cancelable & { homedir?: string } = {}): Promise<void> {
    await withCancellable(opts.signal, (c) => this.native.signCommit(checksum, keyId, opts.homedir ?? null, c));
  }

  async markCommitPartial(checksum: string, partial = true): Promise<void> {
    await this.native.markCommitPartial(checksum, partial);
  }

  /** Builds and writes a tree (in the open transaction); returns its root checksums. */
  async writeTree(spec: TreeSpec, opts: Cancelable = {}): Promise<TreeRoot> {
    return withCancellable(opts.signal, (c) => this.native.writeMtree(specToNative(spec), c));
  }

  /** Writes a commit in the open transaction (does not set a ref). */
  async writeCommit(opts: WriteCommitOptions): Promise<string> {
    const root = isTreeRoot(opts.root) ? opts.root : await this.writeTree(opts.root, opts);
    const ts = opts.timestamp instanceof Date ? Math.floor(opts.timestamp.getTime() / 1000) : opts.timestamp;
    return withCancellable(opts.signal, (c) =>
      this.native.writeCommit(
        {
          rootContents: root.contents,
          rootMetadata: root.metadata,
          parent: opts.parent ?? null,
          subject: opts.subject ?? null,
          body: opts.body ?? null,
          metadata: opts.metadata ?? null,
          timestamp: ts,
        },
        c,
      ),
    );
  }

  // ---- objects ----

  async hasObject(type: ObjectType, checksum: string, opts: Cancelable = {}): Promise<boolean> {
    return withCancellable(opts.signal, (c) => this.native.hasObject(type, checksum, c));
  }

  /**
   * Every object reachable from a commit, sorted by checksum; `maxDepth` parent commits are
   * followed too (default 0: this commit only, -1: all history).
   */
  async traverseCommit(checksum: string, opts: Cancelable & { maxDepth?: number } = {}): Promise<ObjectName[]> {
    const pairs = await withCancellable(opts.signal, (c) => this.native.traverseCommit(checksum, opts.maxDepth ?? 0, c));
    return pairs.map(([type, csum]) => ({ type: type as ObjectType, checksum: csum }));
  }

  /** Finds a path (`/usr/bin/bash`) in a commit (checksum or ref); null when absent. */
  async lookupPath(rev: string, p: string): Promise<CommitPath | null> {
    const info = await this.loadCommit(rev);
    let dir = { contents: info.rootContents, metadata: info.rootMetadata };
    const parts = p.split('/').filter((x) => x !== '' && x !== '.');
    for (let i = 0; i < parts.length; i++) {
      const tree = await this.readDirTree(dir.contents);
      const sub = tree.dirs.find((d) => d.name === parts[i]);
      if (sub) {
        dir = sub;
        continue;
      }
      const file = tree.files.find((f) => f.name === parts[i]);
      return file && i === parts.length - 1 ? { path: `/${parts.join('/')}`, kind: 'file', checksum: file.checksum } : null;
    }
    return { path: `/${parts.join('/')}`, kind: 'dir', ...dir };
  }

  /**
   * Walks a commit's tree depth-first in dirtree order (files, then subdirectories, both sorted
   * by name as ostree stores them), yielding every directory before its contents.
   */
  async *walkTree(rev: string): AsyncGenerator<CommitPath> {
    const info = await this.loadCommit(rev);
    const walk = async function* (self: Repo, p: string, contents: string, metadata: string): AsyncGenerator<CommitPath> {
      yield { path: p, kind: 'dir', contents, metadata };
      const tree = await self.readDirTree(contents);
      const prefix = p === '/' ? '/' : `${p}/`;
      for (const f of tree.files) yield { path: prefix + f.name, kind: 'file', checksum: f.checksum };
      for (const d of tree.dirs) yield* walk(self, prefix + d.name, d.contents, d.metadata);
    };
    yield* walk(this, '/', info.rootContents, info.rootMetadata);
  }

  /** A metadata object as a typed GVariant. */
  async loadVariant(type: MetadataObjectType, checksum: string): Promise<TypedVariant> {
    return this.native.loadVariant(type, checksum);
  }

  /** A metadata object's serialized bytes, exactly as stored. */
  async loadMetadataBytes(type: MetadataObjectType, checksum: string): Promise<Buffer> {
    return this.native.loadMetadataBytes(type, checksum);
  }

  /** Writes a commit, dirtree or dirmeta from its serialized bytes, in the open transaction; verifies `expectedChecksum`. */
  async writeMetadata(
    type: 'commit' | 'dirtree' | 'dirmeta',
    bytes: Uint8Array,
    opts: Cancelable & { expectedChecksum?: string } = {},
  ): Promise<string> {
    return withCancellable(opts.signal, (c) =>
      this.native.writeMetadata(type, opts.expectedChecksum ?? null, bytes, c),
    );
  }

  async readDirTree(checksum: string): Promise<DirTree> {
    const v = await this.loadVariant('dirtree', checksum);
    const [files, dirs] = v.value as [[string, Uint8Array][], [string, Uint8Array, Uint8Array][]];
    return {
      files: files.map(([name, csum]) => ({ name, checksum: hex(csum) })),
      dirs: dirs.map(([name, contents, metadata]) => ({ name, contents: hex(contents), metadata: hex(metadata) })),
    };
  }

  async readDirMeta(checksum: string): Promise<DirMeta> {
    const v = await this.loadVariant('dirmeta', checksum);
    const [uid, gid, mode, xattrs] = v.value as [number, number, number, Xattr[]];
    return { uid: bswap32(uid), gid: bswap32(gid), mode: bswap32(mode), xattrs };
  }

  /** Writes a dirmeta object (as `ostree_create_directory_metadata`); S_IFDIR is added to `mode`. */
  async writeDirMeta(meta: DirMeta, opts: Cancelable = {}): Promise<string> {
    const bytes = variantToBytes({
      type: '(uuua(ayay))',
      value: [bswap32(meta.uid), bswap32(meta.gid), bswap32((meta.mode | S_IFDIR) >>> 0), meta.xattrs],
    });
    return this.writeMetadata('dirmeta', bytes, opts);
  }

  /** Owner, mode, size, symlink target and xattrs of a content object. */
  async queryContent(checksum: string, opts: Cancelable = {}): Promise<ContentObjectInfo> {
    return withCancellable(opts.signal, (c) => this.native.queryContent(checksum, c));
  }

  /**
   * One walk of a commit's tree (checksum or ref): every file path and its content object, each
   * object's size and symlink target, and the value of the xattr `xattrName` (UTF-8, e.g.
   * `user.component`) on objects and directories.
   */
  async scanTree(rev: string, xattrName: string, opts: Cancelable = {}): Promise<TreeScan> {
    return withCancellable(opts.signal, (c) => this.native.scanTree(rev, xattrName, c));
  }

  /** A regular file object's content. */
  async readContent(checksum: string, opts: Cancelable = {}): Promise<Buffer> {
    return withCancellable(opts.signal, (c) => this.native.readContent(checksum, undefined, c));
  }

  /** Copies a regular file object's content into `fd` (left open); returns the byte count. */
  async readContentToFd(checksum: string, fd: number, opts: Cancelable = {}): Promise<number> {
    return withCancellable(opts.signal, (c) => this.native.readContent(checksum, fd, c));
  }

  /**
   * Writes a regular file object, in the open transaction. Large content should come as an fd or
   * a path: it is read on a thread of the addon's own (not libuv's pool) and never passes through
   * JavaScript.
   */
  async writeRegularFile(content: FileContent, attrs: ContentAttributes = {}): Promise<string> {
    const { uid = 0, gid = 0, mode = 0o644, xattrs = null, expectedChecksum = null } = attrs;
    const perms = mode & 0o7777;
    if (content instanceof Uint8Array) {
      return withCancellable(attrs.signal, (c) =>
        this.native.writeRegfileInline(expectedChecksum, uid, gid, perms, xattrs, content, c),
      );
    }
    if ('fd' in content) {
      return withCancellable(attrs.signal, (c) =>
        this.native.writeRegfileFromFd(expectedChecksum, uid, gid, perms, xattrs, content.size, content.fd, c),
      );
    }
    const fh = await openFile(content.path, 'r');
    try {
      const { size } = await fh.stat();
      return await withCancellable(attrs.signal, (c) =>
        this.native.writeRegfileFromFd(expectedChecksum, uid, gid, perms, xattrs, size, fh.fd, c),
      );
    } finally {
      await fh.close();
    }
  }

  async writeSymlink(target: string, attrs: Omit<ContentAttributes, 'mode'> = {}): Promise<string> {
    const { uid = 0, gid = 0, xattrs = null, expectedChecksum = null } = attrs;
    return withCancellable(attrs.signal, (c) =>
      this.native.writeSymlink(expectedChecksum, uid, gid, xattrs, target, c),
    );
  }

  // ---- checkout and maintenance ----

  /** Checks out a commit (checksum or ref) to `destination`. */
  async checkout(rev: string, destination: string, opts: CheckoutOptions = {}): Promise<void> {
    const { signal, devinoCache, ...rest } = opts;
    const n: NativeCheckoutOptions = { ...rest, devinoCache: devinoCache?.native };
    const checksum = await this.toChecksum(rev);
    await withCancellable(signal, (c) => this.native.checkout(checksum, destination, n, c));
  }

  /** Deletes unreachable objects (as `ostree prune`; `refsOnly` as `--refs-only`). */
  async prune(opts: PruneOptions = {}): Promise<PruneResult> {
    const { signal, ...rest } = opts;
    return withCancellable(signal, (c) => this.native.prune(rest, c));
  }

  /** Pulls refs from a remote or URL (`file:///path/repo` for a local repository). */
  async pull(remoteOrUrl: string, opts: PullOptions = {}): Promise<void> {
    const { signal, ...rest } = opts;
    await withCancellable(signal, (c) => this.native.pull(remoteOrUrl, rest, c));
  }

  // ---- config, remotes, signatures ----

  async getConfig(group: string, key: string): Promise<string | null> {
    return this.native.getConfig(group, key);
  }

  /** Sets (or with `null` removes) a key in the repo config and reloads it. */
  async setConfig(group: string, key: string, value: string | null): Promise<void> {
    await this.native.setConfig(group, key, value);
  }

  /** Adds a remote; options land in its config section (`gpg-verify: true` → `gpg-verify=true`). */
  async remoteAdd(
    name: string,
    url: string | null,
    options: RemoteOptions = {},
    opts: Cancelable & { ifNotExists?: boolean } = {},
  ): Promise<void> {
    await withCancellable(opts.signal, (c) =>
      this.native.remoteAdd(name, url, options, opts.ifNotExists ?? false, c),
    );
  }

  async remoteDelete(name: string, opts: Cancelable & { ifExists?: boolean } = {}): Promise<void> {
    await withCancellable(opts.signal, (c) => this.native.remoteDelete(name, opts.ifExists ?? false, c));
  }

  async remoteList(): Promise<string[]> {
    return this.native.remoteList();
  }

  /** Imports GPG keys (armored or binary) for a remote; returns how many were imported. */
  async remoteGpgImport(
    name: string,
    keys: Uint8Array | null,
    opts: Cancelable & { keyIds?: string[] } = {},
  ): Promise<number> {
    return withCancellable(opts.signal, (c) => this.native.remoteGpgImport(name, keys, opts.keyIds ?? null, c));
  }

  /**
   * Verifies a commit's signatures with the remote's configuration and keys; returns the
   * verification text, throws when verification fails.
   */
  async signatureVerifyCommitData(
    remote: string,
    commitBytes: Uint8Array,
    detachedMetadataBytes: Uint8Array,
    opts: { noGpg?: boolean; noSignapi?: boolean } = {},
  ): Promise<string> {
    return this.native.signatureVerifyCommitData(remote, commitBytes, detachedMetadataBytes, opts);
  }

  private async toChecksum(rev: string): Promise<string> {
    return CHECKSUM.test(rev) ? rev : this.resolveRev(rev);
  }
}

/** Serialized `a{sv}` (e.g. detached metadata bytes for signatureVerifyCommitData). */
export function vardictToBytes(dict: VariantDict): Buffer {
  return variantToBytes({ type: 'a{sv}', value: dict });
}

/** Inverse of vardictToBytes. */
export function vardictFromBytes(bytes: Uint8Array): VariantDict {
  return variantFromBytes('a{sv}', bytes).value as VariantDict;
}
