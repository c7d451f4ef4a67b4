// Deploying container images into an ostree sysroot (spec store §5) and the deployment-aware
// maintenance of the store (§4): removing images no deployment uses, pruning layers and objects.
import { ORIGIN_CONTAINER } from '../container/constants.js';
import { withContext } from '../errors.js';
import type { ImageProxyConfig } from '../proxy/config.js';
import { ImageReference, OstreeImageReference } from '../ref/image-reference.js';
import { ImageImporter, type PullSettings } from '../store/importer.js';
import { gcImageLayers, removeImage } from '../store/maintenance.js';
import type { ProgressListener } from '../store/progress.js';
import type { LayeredImageState } from '../store/state.js';
import { listImages } from '../store/state.js';
import type { Deployment, Sysroot } from './sysroot.js';

/** Origin keyfile group of deployments. */
export const ORIGIN_GROUP = 'origin';

/**
 * Runs after a deployment is written, before cleanup, with the sysroot path and stateroot
 * (upstream's bootc build runs `bootc internals bootc-install-completion` here).
 */
export type CompletionHook = (sysrootPath: string, stateroot: string) => Promise<void> | void;

/** How the image is pulled (fetch concurrency, offline, the free-space check) and deployed. */
export interface DeployOpts extends PullSettings {
  /** Kernel arguments of the new deployment; null: inherit the merge deployment's. */
  kargs?: string[] | null;
  /** Store and record the image under this reference instead of the source (e.g. a mirror's). */
  targetImgref?: OstreeImageReference | null;
  proxyCfg?: ImageProxyConfig;
  /** Do not write the image ref: the deployment is the only thing holding the merge commit. */
  noImgref?: boolean;
  /** Do not run the completion hook. */
  skipCompletion?: boolean;
  /** Neither clean up nor let libostree clean up after writing the deployment. */
  noClean?: boolean;
  completionHook?: CompletionHook;
  onProgress?: ProgressListener;
  signal?: AbortSignal;
}

/** The origin of a deployment of `imgref`: `[origin] container-image-reference=<imgref>`. */
export function originFor(imgref: OstreeImageReference): Record<string, Record<string, string>> {
  return { [ORIGIN_GROUP]: { [ORIGIN_CONTAINER]: imgref.toString() } };
}

/** The image reference a deployment's origin records, or null when it has none; invalid → error. */
export function deploymentImageReference(d: Deployment): OstreeImageReference | null {
  const value = d.originGroups?.[ORIGIN_GROUP]?.[ORIGIN_CONTAINER];
  return value === undefined ? null : OstreeImageReference.parse(value);
}

/**
 * Pulls `imgref` into the sysroot's repository (only layers it lacks) and deploys its merge
 * commit in `stateroot` (spec §5.2). The caller loads and should lock the sysroot. On a booted
 * system the deployment is staged for the next shutdown; otherwise it is written as the new
 * default at once, the completion hook runs, and the sysroot is cleaned up (unless `noClean`).
 */
export async function deploy(
  sysroot: Sysroot,
  stateroot: string,
  imgref: OstreeImageReference,
  opts: DeployOpts = {},
): Promise<LayeredImageState> {
  return withContext('Performing deployment', async () => {
    const repo = await sysroot.repo();
    const merge = await sysroot.mergeDeployment(stateroot);
    const importer = new ImageImporter(repo, imgref, opts.proxyCfg ?? {}).applySettings(opts);
    importer.requireBootable();
    if (opts.targetImgref) importer.setTarget(opts.targetImgref);
    if (opts.noImgref) importer.setNoImgref();
    if (opts.onProgress) importer.onProgress(opts.onProgress);
    const prepared = await importer.prepare();
    const state =
      prepared.kind === 'already-present'
        ? prepared.state
        : await importer.import(prepared.prepared, opts.signal ? { signal: opts.signal } : {});
    opts.signal?.throwIfAborted();
    const treeOpts = {
      origin: originFor(opts.targetImgref ?? imgref),
      merge,
      overrideKernelArgv: opts.kargs ?? null,
      ...(opts.signal ? { signal: opts.signal } : {}),
    };
    if (await sysroot.bootedDeployment()) {
      await sysroot.stageTree(stateroot, state.mergeCommit, treeOpts);
      return state;
    }
    const deployment = await sysroot.deployTree(stateroot, state.mergeCommit, treeOpts);
    await sysroot.simpleWriteDeployment(stateroot, deployment, merge, { noClean: opts.noClean ?? false });
    if (!opts.skipCompletion && opts.completionHook) {
      await withContext('Completing deployment', () => opts.completionHook!(sysroot.path, stateroot));
    }
    if (!opts.noClean) await sysroot.cleanup();
    return state;
  });
}

/**
 * Removes every stored image that no deployment's origin names (spec §4); returns the removed
 * references. An origin that is not a valid image reference is an error; stored names that do
 * not parse are left alone.
 */
export async function removeUndeployedImages(sysroot: Sysroot): Promise<ImageReference[]> {
  const repo = await sysroot.repo();
  const deployed = new Set<string>();
  for (const d of await sysroot.deployments()) {
    const imgref = deploymentImageReference(d);
    if (imgref) deployed.add(imgref.imgref.toString());
  }
  const removed: ImageReference[] = [];
  for (const name of await listImages(repo)) {
    let imgref: ImageReference;
    try {
      imgref = ImageReference.parse(name);
    } catch {
      continue;
    }
    if (deployed.has(imgref.toString())) continue;
    if (await removeImage(repo, imgref)) removed.push(imgref);
  }
  return removed;
}

/** What prune() removed. */
export class Pruned {
  constructor(
    readonly nImages: number,
    readonly nLayers: number,
    readonly nObjectsPruned: number,
    /** Bytes freed by the removed objects. */
    readonly objsize: number,
  ) {}

  isEmpty(): boolean {
    return this.nImages === 0 && this.nLayers === 0 && this.nObjectsPruned === 0;
  }
}

/**
 * Removes undeployed images, then the layers nothing uses any more, then the objects no ref
 * reaches (spec §4 `prune`). The caller loads and should lock the sysroot.
 */
export async function prune(sysroot: Sysroot): Promise<Pruned> {
  const repo = await sysroot.repo();
  const nImages = (await removeUndeployedImages(sysroot)).length;
  const nLayers = await gcImageLayers(repo);
  const objects = await repo.prune({ refsOnly: true, depth: 0 });
  return new Pruned(nImages, nLayers, objects.objectsPruned, objects.bytesPruned);
}
