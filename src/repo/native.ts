// The slice of the addon the Repo wrapper uses (native/repo/*_js.cc). Argument order mirrors the
// C++ bindings; the public, option-object API is in repo.ts.
import type { NativeCancellable } from '../native.js';
import type { TreeEntry } from './tree-entry.js';
import type { TypedVariant, VariantDict, Xattr } from './variant.js';

type C = NativeCancellable | undefined;

/**
 * Documented under its public name.
 * @inline
 */
export interface NativeTransactionStats {
  metadataObjectsTotal: number;
  metadataObjectsWritten: number;
  contentObjectsTotal: number;
  contentObjectsWritten: number;
  contentBytesWritten: number;
  devinoCacheHits: number;
}

/**
 * Documented under its public name.
 * @inline
 */
export interface NativeCommit {
  checksum: string;
  subject: string;
  body: string;
  /** Seconds since the epoch. */
  timestamp: number;
  parent: string | null;
  /** Root dirtree checksum. */
  rootContents: string;
  /** Root dirmeta checksum. */
  rootMetadata: string;
  /** Commit metadata `a{sv}` in serialized order; writing it back reproduces the same bytes. */
  metadata: VariantDict;
  /** `ostree_commit_get_content_checksum`: sha256 over root dirtree + dirmeta, independent of metadata. */
  contentChecksum: string;
  /** Marked partial (objects may be missing). */
  partial: boolean;
}

/**
 * Documented under its public name.
 * @inline
 */
export interface NativeContentInfo {
  size: number;
  uid: number;
  gid: number;
  /** Full st_mode (file type bits included). */
  mode: number;
  symlinkTarget: string | null;
  xattrs: Xattr[];
}

/**
 * Documented under its public name.
 * @inline
 */
export interface NativeTreeScan {
  /** Tree paths of the files (`/usr/bin/bash`), in walk order: files, then subdirectories. */
  files: string[];
  /** Index of each file's content object. */
  fileObject: Uint32Array;
  /** 32 raw checksum bytes per object, in first-seen order. */
  checksums: Buffer;
  /** Content size per object (0 for symlinks). */
  sizes: Float64Array;
  /** 1 per object whose content starts with ELF's magic (compiled code), else 0. */
  elf: Uint8Array;
  /** [object, target] of each symlink object. */
  symlinkTargets: [number, string][];
  /** [object, value] of each object carrying the requested xattr. */
  objectXattr: [number, string][];
  /** Directory paths in walk order, `/` first. */
  dirs: string[];
  /** [directory, value] of each directory carrying the requested xattr. */
  dirXattr: [number, string][];
}

/**
 * Documented under its public name.
 * @inline
 */
export interface NativePruneResult {
  objectsTotal: number;
  objectsPruned: number;
  bytesPruned: number;
}

/** How host files become objects when a directory is committed (an OstreeRepoCommitModifier). */
export interface NativeModifier {
  skipXattrs?: boolean;
  canonicalPermissions?: boolean;
  /** Delete the source files once committed. */
  consume?: boolean;
  generateSizes?: boolean;
  errorOnUnlabeled?: boolean;
  devinoCanonical?: boolean;
  /** Owner override for every file and directory. */
  uid?: number;
  gid?: number;
  /** Label files with the SELinux policy of this commit. */
  sepolicyFromCommit?: string;
  devinoCache?: NativeDevInoCache;
}

export interface NativeMtreeSpec {
  base?: { contents: string; metadata: string };
  baseCommit?: string;
  directories?: { source: string; destination?: string }[];
  entries?: TreeEntry[];
  parentDirMetadata?: string;
  rootMetadata?: string;
  modifier?: NativeModifier;
}

export interface NativeCheckoutOptions {
  /** `user`: no ownership/xattrs (as `ostree checkout -U`); default `none`. */
  mode?: 'user' | 'none';
  overwrite?: 'none' | 'union-files' | 'add-files' | 'union-identical';
  processWhiteouts?: boolean;
  processPassthroughWhiteouts?: boolean;
  subpath?: string;
  devinoCache?: NativeDevInoCache;
  noCopyFallback?: boolean;
  forceCopy?: boolean;
  forceCopyZerosized?: boolean;
  bareuseronlyDirs?: boolean;
}

/** Opaque handle on an OstreeRepoDevInoCache. */
export interface NativeDevInoCache {
  readonly __devinoCache?: never;
}

export interface NativePullOptions {
  refs?: string[];
  mirror?: boolean;
  untrusted?: boolean;
  commitOnly?: boolean;
  depth?: number;
  gpgVerify?: boolean;
  gpgVerifySummary?: boolean;
  overrideRemoteName?: string;
}

export interface NativeRepo {
  readonly path: string;
  readonly mode: string;
  readonly dfd: number;
  readonly isSystem: boolean;
  resolveRev(rev: string, allowNoent: boolean): Promise<string | null>;
  listRefs(prefix: string | null, c: C): Promise<[string, string][]>;
  setRefImmediate(remote: string | null, ref: string, checksum: string | null, c: C): Promise<void>;
  prepareTransaction(c: C): Promise<boolean>;
  commitTransaction(c: C): Promise<NativeTransactionStats>;
  abortTransaction(c: C): Promise<void>;
  transactionSetRef(remote: string | null, ref: string, checksum: string | null): void;
  getConfig(group: string, key: string): Promise<string | null>;
  setConfig(group: string, key: string, value: string | null): Promise<void>;
  remoteAdd(
    name: string,
    url: string | null,
    options: Record<string, string | boolean | string[]>,
    ifNotExists: boolean,
    c: C,
  ): Promise<void>;
  remoteDelete(name: string, ifExists: boolean, c: C): Promise<void>;
  remoteList(): Promise<string[]>;
  remoteGpgImport(name: string, keys: Uint8Array | null, keyIds: string[] | null, c: C): Promise<number>;
  signatureVerifyCommitData(
    remote: string,
    commit: Uint8Array,
    detached: Uint8Array,
    flags: { noGpg?: boolean; noSignapi?: boolean },
  ): Promise<string>;
  signCommit(commit: string, keyId: string, homedir: string | null, c: C): Promise<void>;
  prune(
    opts: { refsOnly?: boolean; noPrune?: boolean; depth?: number },
    c: C,
  ): Promise<NativePruneResult>;
  markCommitPartial(commit: string, partial: boolean): Promise<void>;
  hasObject(type: string, checksum: string, c: C): Promise<boolean>;
  traverseCommit(checksum: string, maxDepth: number, c: C): Promise<[string, string][]>;
  pull(remote: string, opts: NativePullOptions, c: C): Promise<void>;
  loadCommit(checksum: string): Promise<NativeCommit>;
  readCommitDetachedMetadata(checksum: string, c: C): Promise<VariantDict | null>;
  writeCommitDetachedMetadata(checksum: string, metadata: VariantDict | null, c: C): Promise<void>;
  loadVariant(type: string, checksum: string): Promise<TypedVariant>;
  loadMetadataBytes(type: string, checksum: string): Promise<Buffer>;
  writeMetadata(type: string, expected: string | null, bytes: Uint8Array, c: C): Promise<string>;
  queryContent(checksum: string, c: C): Promise<NativeContentInfo>;
  scanTree(rev: string, xattrName: string, c: C): Promise<NativeTreeScan>;
  readContent(checksum: string, fd: undefined, c: C): Promise<Buffer>;
  readContent(checksum: string, fd: number, c: C): Promise<number>;
  writeRegfileInline(
    expected: string | null,
    uid: number,
    gid: number,
    mode: number,
    xattrs: Xattr[] | null,
    bytes: Uint8Array,
    c: C,
  ): Promise<string>;
  writeRegfileFromFd(
    expected: string | null,
    uid: number,
    gid: number,
    mode: number,
    xattrs: Xattr[] | null,
    size: number,
    fd: number,
    c: C,
  ): Promise<string>;
  writeSymlink(
    expected: string | null,
    uid: number,
    gid: number,
    xattrs: Xattr[] | null,
    target: string,
    c: C,
  ): Promise<string>;
  writeMtree(spec: NativeMtreeSpec, c: C): Promise<{ contents: string; metadata: string }>;
  writeCommit(
    opts: {
      rootContents: string;
      rootMetadata: string;
      parent?: string | null;
      subject?: string | null;
      body?: string | null;
      metadata?: VariantDict | Record<string, TypedVariant> | null;
      timestamp?: number | bigint;
    },
    c: C,
  ): Promise<string>;
  checkout(commit: string, destination: string, opts: NativeCheckoutOptions, c: C): Promise<void>;
}

export interface NativeRepoModule {
  Repo: {
    open(path: string, c: C): Promise<NativeRepo>;
    create(path: string, mode: string, c: C): Promise<NativeRepo>;
  };
  DevInoCache: new () => NativeDevInoCache;
}
