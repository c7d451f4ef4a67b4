// `Sysroot`: an OSTree system root through libostree (native/sysroot/sysroot.cc): load, lock, its
// repository, deployments, deploying/staging a commit, writing the deployment list, origin
// files, cleanup. Every call that touches the disk runs off the main thread; errors are
// libostree's GError as a JS Error with `.message`, `.code` and `.domain`.
import { native, withCancellable } from '../native.js';
import { Repo, type Cancelable } from '../repo/repo.js';
import type {
  Deployment,
  NativeSimpleWriteFlags,
  NativeSysroot,
  NativeSysrootModule,
  OriginKeyfile,
} from './native.js';

export type { Deployment, OriginKeyfile } from './native.js';

export interface DeployTreeOptions extends Cancelable {
  /** Origin keyfile of the new deployment. */
  origin?: OriginKeyfile | null;
  /** Deployment whose /etc and kernel arguments are inherited; default none. */
  merge?: Deployment | null;
  /** Kernel arguments replacing the merge deployment's (null: inherit them). */
  overrideKernelArgv?: string[] | null;
  overlayInitrds?: string[] | null;
}

export interface SimpleWriteOptions extends Cancelable, NativeSimpleWriteFlags {}

export interface LockOptions extends Cancelable {
  /** Called once, when the first attempt finds the lock taken. */
  onWait?: () => void;
  /** Delay between attempts (default 3000 ms, as upstream). */
  retryMs?: number;
}

/** Delay between attempts to take a busy sysroot lock (upstream: 3 s). */
export const SYSROOT_LOCK_RETRY_MS = 3000;

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export class Sysroot {
  /** @internal The addon's handle. */
  readonly native: NativeSysroot;

  /** A handle on the sysroot at `path` (default `/`); nothing is read until load(). */
  constructor(path?: string) {
    this.native = new (native<NativeSysrootModule>().Sysroot)(path ?? null);
  }

  /** Opens and loads the sysroot at `path` (default `/`). */
  static async load(path?: string, opts: Cancelable = {}): Promise<Sysroot> {
    const s = new Sysroot(path);
    await s.load(opts);
    return s;
  }

  get path(): string {
    return this.native.path;
  }

  /** (Re)reads the deployment list and boot state. */
  async load(opts: Cancelable = {}): Promise<void> {
    await withCancellable(opts.signal, (c) => this.native.load(c));
  }

  /** Takes the sysroot lock if free; false when another holder has it. */
  tryLock(): Promise<boolean> {
    return this.native.tryLock();
  }

  /**
   * Takes the sysroot lock, retrying every `retryMs` while another process holds it (calling
   * `onWait` once). Polling keeps the wait cancellable and off the thread pool.
   */
  async lock(opts: LockOptions = {}): Promise<void> {
    let waited = false;
    for (;;) {
      opts.signal?.throwIfAborted();
      if (await this.native.tryLock()) return;
      if (!waited) {
        waited = true;
        opts.onWait?.();
      }
      await delay(opts.retryMs ?? SYSROOT_LOCK_RETRY_MS, opts.signal);
    }
  }

  /** Releases the lock (a no-op when not held). */
  unlock(): Promise<void> {
    return this.native.unlock();
  }

  /** The sysroot's repository (`<sysroot>/ostree/repo`) as an ordinary Repo. */
  async repo(opts: Cancelable = {}): Promise<Repo> {
    return Repo.fromNative(await withCancellable(opts.signal, (c) => this.native.repo(c)));
  }

  /** Creates a stateroot (`ostree admin os-init`). */
  async initOsname(stateroot: string, opts: Cancelable = {}): Promise<void> {
    await withCancellable(opts.signal, (c) => this.native.initOsname(stateroot, c));
  }

  /** Deployments in boot order (index 0 = the default). */
  deployments(): Promise<Deployment[]> {
    return this.native.deployments();
  }

  bootedDeployment(): Promise<Deployment | null> {
    return this.native.bootedDeployment();
  }

  stagedDeployment(): Promise<Deployment | null> {
    return this.native.stagedDeployment();
  }

  /**
   * The deployment a new one for `stateroot` merges /etc and kernel arguments from: the booted
   * one if it has that stateroot, else that stateroot's first. Without `stateroot`, the booted one's.
   */
  mergeDeployment(stateroot?: string | null): Promise<Deployment | null> {
    return this.native.mergeDeployment(stateroot ?? null);
  }

  /** Checks `commit` out as a new deployment of `stateroot` (not yet in the boot list). */
  async deployTree(stateroot: string | null, commit: string, opts: DeployTreeOptions = {}): Promise<Deployment> {
    return withCancellable(opts.signal, (c) =>
      this.native.deployTree(stateroot, commit, opts.origin ?? null, opts.merge ?? null, treeOpts(opts), c),
    );
  }

  /** Stages `commit` to become the default at the next shutdown (needs a booted system). */
  async stageTree(stateroot: string | null, commit: string, opts: DeployTreeOptions = {}): Promise<Deployment> {
    return withCancellable(opts.signal, (c) =>
      this.native.stageTree(stateroot, commit, opts.origin ?? null, opts.merge ?? null, treeOpts(opts), c),
    );
  }

  /**
   * Adds `deployment` to the boot list (as the default unless `notDefault`), dropping older ones
   * of the stateroot unless `retain*`, and writes the boot configuration. `noClean` skips cleanup.
   */
  async simpleWriteDeployment(
    stateroot: string | null,
    deployment: Deployment,
    merge: Deployment | null,
    opts: SimpleWriteOptions = {},
  ): Promise<void> {
    const { signal, ...flags } = opts;
    await withCancellable(signal, (c) => this.native.simpleWriteDeployment(stateroot, deployment, merge, flags, c));
  }

  /** Writes the full boot list; deployments left out are removed. */
  async writeDeployments(deployments: Deployment[], opts: Cancelable & { doPostclean?: boolean } = {}): Promise<void> {
    await withCancellable(opts.signal, (c) =>
      this.native.writeDeployments(deployments, { doPostclean: opts.doPostclean ?? false }, c),
    );
  }

  /** Removes the deployment at `index` (`ostree admin undeploy`), cleaning up after it. */
  async undeploy(index: number, opts: Cancelable = {}): Promise<void> {
    const list = await this.deployments();
    if (!Number.isInteger(index) || index < 0 || index >= list.length) {
      throw new RangeError(`Out of range deployment index ${index}, expected < ${list.length}`);
    }
    await this.writeDeployments(list.filter((d) => d.index !== index), { ...opts, doPostclean: true });
  }

  /** Replaces the origin file of `deployment`. */
  async writeOrigin(deployment: Deployment, origin: OriginKeyfile, opts: Cancelable = {}): Promise<void> {
    await withCancellable(opts.signal, (c) => this.native.writeOrigin(deployment, origin, c));
  }

  /** Removes unused boot entries and deployment dirs, then prunes the repository. */
  async cleanup(opts: Cancelable = {}): Promise<void> {
    await withCancellable(opts.signal, (c) => this.native.cleanup(c));
  }
}

function treeOpts(o: DeployTreeOptions) {
  return { overrideKernelArgv: o.overrideKernelArgv ?? null, overlayInitrds: o.overlayInitrds ?? null };
}
