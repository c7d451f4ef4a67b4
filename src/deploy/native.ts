// The slice of the addon the Sysroot wrapper uses (native/sysroot/sysroot.cc). Argument order mirrors
// the C++ bindings; the public, option-object API is in sysroot.ts.
import type { NativeCancellable } from '../native.js';
import type { NativeRepo } from '../repo/native.js';

type C = NativeCancellable | undefined;

/** An origin keyfile: its text, or `{ group: { key: value } }`. */
export type OriginKeyfile = string | Record<string, Record<string, string>>;

/** A deployment as libostree knew it when it was read (a snapshot; reload for changes). */
export interface Deployment {
  /** Position in the boot order (0 = default). */
  readonly index: number;
  /** Stateroot. */
  readonly osname: string;
  /** The deployed commit. */
  readonly csum: string;
  readonly deploySerial: number;
  readonly bootCsum: string;
  readonly bootSerial: number;
  /** Relative to the sysroot: `ostree/deploy/<osname>/deploy/<csum>.<serial>`. */
  readonly dirPath: string;
  /** `none`, `development`, `hotfix`, `transient`. */
  readonly unlocked: string;
  readonly staged: boolean;
  readonly pinned: boolean;
  /** The origin keyfile text, or null without one. */
  readonly origin: string | null;
  /** The origin parsed (values unescaped), or null without one. */
  readonly originGroups: Record<string, Record<string, string>> | null;
  /** The `options` line of its boot entry (kernel arguments). */
  readonly kernelArgs: string | null;
}

export interface NativeDeployTreeOptions {
  overrideKernelArgv?: string[] | null;
  overlayInitrds?: string[] | null;
}

/** deployTree and stageTree take the same arguments (ostree_sysroot_deploy_tree / stage_tree). */
type NativeTreeDeploy = (
  osname: string | null,
  revision: string,
  origin: OriginKeyfile | null,
  merge: Deployment | null,
  opts: NativeDeployTreeOptions,
  c: C,
) => Promise<Deployment>;

export interface NativeSimpleWriteFlags {
  retain?: boolean;
  notDefault?: boolean;
  noClean?: boolean;
  retainPending?: boolean;
  retainRollback?: boolean;
}

export interface NativeSysroot {
  readonly path: string;
  load(c: C): Promise<void>;
  tryLock(): Promise<boolean>;
  unlock(): Promise<void>;
  repo(c: C): Promise<NativeRepo>;
  initOsname(osname: string, c: C): Promise<void>;
  deployments(): Promise<Deployment[]>;
  bootedDeployment(): Promise<Deployment | null>;
  stagedDeployment(): Promise<Deployment | null>;
  mergeDeployment(osname: string | null): Promise<Deployment | null>;
  deployTree: NativeTreeDeploy;
  stageTree: NativeTreeDeploy;
  simpleWriteDeployment(
    osname: string | null,
    deployment: Deployment,
    merge: Deployment | null,
    flags: NativeSimpleWriteFlags,
    c: C,
  ): Promise<void>;
  writeDeployments(deployments: Deployment[], opts: { doPostclean?: boolean }, c: C): Promise<void>;
  writeOrigin(deployment: Deployment, origin: OriginKeyfile, c: C): Promise<void>;
  cleanup(c: C): Promise<void>;
}

export interface NativeSysrootModule {
  Sysroot: new (path?: string | null) => NativeSysroot;
}
