// ImageImporter (spec store §2): prepare() reads the manifest and configuration and decides per
// layer whether the store holds it; import() fetches the missing layers side by side through a
// pool of skopeo proxies, each layer committed with its blob ref as soon as it is complete,
// then writes the merge commit and the image ref.
import { concurrency } from '../concurrency.js';
import { ContextError, messageOf, withContext } from '../errors.js';
import { CACHED_CONFIG, CACHED_MANIFEST, CACHED_MANIFEST_DIGEST, BOOTC_LABEL, METADATA_KEY_BOOTABLE, META_FILTERED } from '../container/constants.js';
import { parseManifestLayout } from '../container/manifest-layout.js';
import { labelsOf } from '../container/version.js';
import { native } from '../native.js';
import { hostOciArch } from '../oci/platform.js';
import type { Descriptor, ImageConfiguration, ImageManifest } from '../oci/types.js';
import { mergeDefaultContainerProxyOpts, mergeDefaultContainerProxyOptsWithIsolation } from '../proxy/auth.js';
import type { ImageProxyConfig } from '../proxy/config.js';
import { requireSecureContainerPolicy } from '../proxy/policy.js';
import { ImageProxyPool } from '../proxy/pool.js';
import type { OstreeImageReference } from '../ref/image-reference.js';
import { Transport } from '../ref/transport.js';
import type { Repo } from '../repo/repo.js';
import type { TypedVariant } from '../repo/variant.js';
import { importTar, importTarObjects } from '../tar/import.js';
import { importDerivedLayer } from './derived.js';
import { fetchLayer, layerSources, LayerSlots, OSTREE_LAYER_MEDIA_TYPES, RepoHandles, type LayerFetchContext, type LayerSource } from './layer-fetch.js';
import { gcImageLayers } from './maintenance.js';
import { mergeCommitMetadata, writeMergeCommit } from './merge.js';
import { PreparedImport, type ManifestLayerState, type PrepareResult } from './prepared.js';
import { ProgressTracker, type ProgressListener } from './progress.js';
import { rootIsTransient } from './prepare-root.js';
import { queryImage, queryImageCommit, refForImage, refForLayer, type LayeredImageState } from './state.js';

/**
 * `ostree.importer.version` of the commits the store writes: the ostree-ext release whose store
 * format they follow. Upstream writes its crate version (still 0.15.3 in 2026), so the same image
 * gives the same commits with either tool.
 */
export const IMPORTER_VERSION = '0.15.3';

/** Annotation of the image creation time, the merge commit's timestamp when present. */
const ANNOTATION_CREATED = 'org.opencontainers.image.created';

/** The merge commit's timestamp: the image's creation time (annotation, then config), else now. */
export function imageTimestamp(manifest: ImageManifest, config: ImageConfiguration): number {
  const created = manifest.annotations?.[ANNOTATION_CREATED] ?? config.created;
  const ms = created !== undefined ? Date.parse(created) : NaN;
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : Math.floor(Date.now() / 1000);
}

/**
 * Waits for every promise (so no rejection goes unobserved and no job outlives the import),
 * then reports the first failure, if any.
 */
async function settleAll<T>(ps: Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(ps);
  const bad = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (bad) throw bad.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

/** What the base step (spec §2.3 A) produced. */
interface BaseResult {
  commit: string | null;
  verifyText: string | null;
}

export class ImageImporter {
  private target: OstreeImageReference | null = null;
  private noImgref = false;
  private bootable = false;
  private ostreeV2024_3: boolean;
  private gc = true;
  private parallelism = Math.min(4, concurrency());
  private listener: ProgressListener | undefined;
  private pool: ImageProxyPool | null = null;

  constructor(
    readonly repo: Repo,
    readonly imgref: OstreeImageReference,
    private readonly proxyConfig: ImageProxyConfig = {},
  ) {
    // The running library decides, not the headers a prebuild was compiled against.
    this.ostreeV2024_3 = native().ostreeCheckVersion(2024, 3);
  }

  /** Write the merge ref (and report) under this reference instead of the source. */
  setTarget(target: OstreeImageReference): this {
    this.target = target;
    return this;
  }

  /** Do not write the image ref (layer refs are still written). */
  setNoImgref(): this {
    this.noImgref = true;
    return this;
  }

  /** prepare() refuses images without a bootable label or for another architecture. */
  requireBootable(): this {
    this.bootable = true;
    return this;
  }

  /** Override the detected libostree version (it decides how `/var` content is kept). */
  setOstreeVersion(year: number, release: number): this {
    this.ostreeV2024_3 = year > 2024 || (year === 2024 && release >= 3);
    return this;
  }

  /** Skip the layer-ref GC at the end of import(). */
  disableGc(): this {
    this.gc = false;
    return this;
  }

  /** Layers fetched and imported at once (one skopeo proxy each); default min(4, `concurrency()`). */
  setParallelism(n: number): this {
    if (!Number.isInteger(n) || n < 1) throw new Error(`Invalid parallelism ${n}`);
    this.parallelism = n;
    return this;
  }

  /** Receive typed progress events during import(). */
  onProgress(listener: ProgressListener): this {
    this.listener = listener;
    return this;
  }

  /** Stops the proxies (import() does this itself; needed when a prepared import is dropped). */
  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    await pool?.close();
  }

  /** Reads manifest and configuration and plans the import (spec §2.2). */
  async prepare(): Promise<PrepareResult> {
    this.checkRepoMode();
    try {
      return await withContext('Preparing import', () => withContext('Fetching manifest', () => this.prepareInternal()));
    } catch (e) {
      await this.close().catch(() => undefined);
      throw e;
    }
  }

  private async openPool(): Promise<ImageProxyPool> {
    if (this.pool) return this.pool;
    const transport = this.imgref.imgref.transport;
    const config =
      transport === Transport.ContainerStorage
        ? await mergeDefaultContainerProxyOptsWithIsolation(this.proxyConfig, undefined)
        : await mergeDefaultContainerProxyOpts(this.proxyConfig);
    this.pool = await ImageProxyPool.open(this.imgref.imgref.toString(), {
      size: 1,
      config,
      enforcePolicy: this.imgref.sigverify.type === 'ContainerPolicy',
    });
    return this.pool;
  }

  /** libostree cannot check out (for the merge) from an archive repo: refuse before any work. */
  private checkRepoMode(): void {
    if (this.repo.mode === 'archive') {
      throw new Error(`Cannot import into archive repository ${this.repo.path}; use a bare or bare-user repository (an archive repo can only be a copy target)`);
    }
  }

  private async prepareInternal(): Promise<PrepareResult> {
    if (this.imgref.sigverify.type === 'ContainerPolicy') await requireSecureContainerPolicy();
    const pool = await this.openPool();
    const { proxy, image } = pool.primary;
    const { digest, manifest } = await proxy.fetchManifest(image);
    let previous: LayeredImageState | null = null;
    try {
      previous = await queryImage(this.repo, this.imgref.imgref);
    } catch (e) {
      process.stderr.write(`error: failed to query image commit: ${messageOf(e)}\n`);
    }
    if (previous && (previous.manifestDigest === digest || previous.manifest.config.digest === manifest.config.digest)) {
      await this.close();
      return { kind: 'already-present', state: previous };
    }
    const config = await proxy.fetchConfig(image);
    if (previous) {
      await withContext('Writing cached pending manifest', () =>
        this.repo.writeCommitDetachedMetadata(
          previous.mergeCommit,
          new Map<string, TypedVariant>([
            [CACHED_MANIFEST_DIGEST, { type: 's', value: digest }],
            [CACHED_MANIFEST, { type: 's', value: JSON.stringify(manifest) }],
            [CACHED_CONFIG, { type: 's', value: JSON.stringify(config) }],
          ]),
        ),
      );
    }
    if (this.bootable) {
      const labels = labelsOf(config) ?? {};
      if (!Object.hasOwn(labels, METADATA_KEY_BOOTABLE) && !Object.hasOwn(labels, BOOTC_LABEL)) {
        throw new Error(`Target image does not have ${METADATA_KEY_BOOTABLE} label`);
      }
      const host = hostOciArch();
      if (config.architecture !== host) throw new Error(`Image has architecture ${config.architecture}; expected ${host}`);
    }
    const layout = parseManifestLayout(manifest, config);
    const state = async (layer: Descriptor): Promise<ManifestLayerState> => {
      const ostreeRef = refForLayer(layer);
      return { layer, ostreeRef, commit: await this.repo.resolveRev(ostreeRef, { allowNoent: true }) };
    };
    const all = async (ls: Descriptor[]) => Promise.all(ls.map(state));
    return {
      kind: 'ready',
      prepared: new PreparedImport(
        digest,
        manifest,
        config,
        previous,
        layout.commitLayer ? await state(layout.commitLayer) : null,
        await all(layout.chunkLayers),
        await all(layout.derivedLayers),
      ),
    };
  }

  /**
   * Runs `fn` with the proxies grown to the parallelism, a tracker and a stop signal (the
   * caller's or the first failure's); closes the proxies afterwards, reporting their errors only
   * when everything else succeeded.
   */
  private async fetching<T>(prepared: PreparedImport, signal: AbortSignal | undefined, fn: (ctx: LayerFetchContext, fail: (e: unknown) => never) => Promise<T>): Promise<T> {
    if (!this.pool) throw new Error('import() needs a prepare() that returned ready');
    const pool = this.pool;
    const stop = new AbortController();
    const forward = () => stop.abort(signal?.reason);
    signal?.addEventListener('abort', forward, { once: true });
    const todo = prepared.layersToFetch();
    const progress = new ProgressTracker(this.listener, todo.reduce((n, l) => n + Math.max(0, l.layer.layer.size), 0));
    let failed = false;
    // The first failure in time is the story; the others are mostly its cancellations.
    let first: { error: unknown } | undefined;
    try {
      signal?.throwIfAborted();
      if (todo.length > 0) await pool.grow(Math.min(this.parallelism, todo.length));
      const { proxy, image } = pool.primary;
      const sourceOf = await layerSources(proxy, image, this.imgref.imgref.transport, prepared.manifest);
      const ctx: LayerFetchContext = { repo: this.repo, handles: new RepoHandles(this.repo), pool, slots: new LayerSlots(this.parallelism), sourceOf, signal: stop.signal, progress };
      return await fn(ctx, (e: unknown) => {
        first ??= { error: e };
        stop.abort();
        throw e;
      });
    } catch (e) {
      failed = true;
      throw first ? first.error : e;
    } finally {
      progress.stop();
      signal?.removeEventListener('abort', forward);
      this.pool = null;
      const closing = pool.close();
      if (failed) await closing.catch(() => undefined);
      else await closing;
    }
  }

  /** Index of a layer in the manifest. */
  private static indexOf(prepared: PreparedImport, layer: Descriptor): number {
    return prepared.manifest.layers.indexOf(layer);
  }

  private static checkOstreeMediaTypes(prepared: PreparedImport, sourceOf: (i: number) => LayerSource): void {
    for (const l of [...(prepared.ostreeCommitLayer ? [prepared.ostreeCommitLayer] : []), ...prepared.ostreeLayers]) {
      if (l.commit !== null) continue;
      const { mediaType } = sourceOf(ImageImporter.indexOf(prepared, l.layer));
      if (!OSTREE_LAYER_MEDIA_TYPES.includes(mediaType)) throw new Error(`Unhandled layer type: ${mediaType}`);
    }
  }

  /**
   * Step A: the commit layer and the chunk layers, side by side; the commit layer takes the
   * first slot. With `writeRefs` each layer is its own transaction with its blob ref (chunk
   * layers get their synthetic commit); without, everything goes into the transaction the caller
   * holds open and no ref is written. Either way the commit is stored marked partial: its
   * objects are spread over the chunk layers. `all` settles once every base layer has; with
   * `writeRefs` the commit is then marked complete (also when it was stored by an earlier,
   * interrupted pull), without, the caller does it once its transaction is committed.
   * `imported` names the commit once its layer was read, for `dropStalePartial`.
   */
  private importBase(prepared: PreparedImport, ctx: LayerFetchContext, writeRefs: boolean, fail: (e: unknown) => never): { all: Promise<BaseResult>; imported: () => string | null } {
    const commitLayer = prepared.ostreeCommitLayer;
    if (!commitLayer) {
      const none = Promise.resolve({ commit: null, verifyText: null });
      return { all: none, imported: () => null };
    }
    const remote = this.imgref.sigverify.type === 'OstreeRemote' ? this.imgref.sigverify.remote : undefined;
    const ref = (l: ManifestLayerState) => (writeRefs ? l.ostreeRef : null);
    let imported: string | null = null;
    const commit: Promise<BaseResult> =
      commitLayer.commit !== null
        ? Promise.resolve({ commit: commitLayer.commit, verifyText: null })
        : fetchLayer(ctx, commitLayer.layer, ImageImporter.indexOf(prepared, commitLayer.layer), 'ostree-chunk', `Layer ${commitLayer.layer.digest}`, ref(commitLayer), (repo, fd, source, signal) =>
            importTar(repo, fd, { mediaType: source.mediaType, transaction: 'caller', signal, ...(remote !== undefined ? { remote } : {}) }).then((r) => {
              imported = r.commit;
              return r;
            }),
          ).then((r) => ({ commit: r.commit, verifyText: r.verifyText ?? null }), fail);
    const chunkJobs = prepared.ostreeLayers
      .filter((l) => l.commit === null)
      .map((l) =>
        fetchLayer(ctx, l.layer, ImageImporter.indexOf(prepared, l.layer), 'ostree-chunk', `Layer ${l.layer.digest}`, ref(l), (repo, fd, source, signal) =>
          importTarObjects(repo, fd, { mediaType: source.mediaType, transaction: 'caller', finish: writeRefs, signal }),
        ).catch(fail),
      );
    const all = settleAll<unknown>([commit, ...chunkJobs]).then(async () => {
      const b = await commit;
      if (writeRefs) await withContext('Marking commit complete', () => this.repo.markCommitPartial(b.commit!, false));
      return b;
    });
    return { all, imported: () => imported };
  }

  /**
   * After a failed import: the commit layer's transaction was aborted after its commit was read
   * and marked partial; unless the commit is in the repo, that marker refers to nothing.
   */
  private async dropStalePartial(commit: string | null): Promise<void> {
    if (commit !== null && !(await this.repo.hasObject('commit', commit))) await this.repo.markCommitPartial(commit, false);
  }

  /**
   * Fetches the layers the store lacks and writes the merge commit (spec §2.3). Layers that
   * completed stay stored (with their blob refs) even when the import fails; the image ref is
   * written only with the merge commit.
   */
  async import(prepared: PreparedImport, opts: { signal?: AbortSignal } = {}): Promise<LayeredImageState> {
    return withContext('Importing', async () => {
      this.checkRepoMode();
      const { base, derived, filtered } = await this.fetching(prepared, opts.signal, async (ctx, fail) => {
        ImageImporter.checkOstreeMediaTypes(prepared, ctx.sourceOf);
        const base = this.importBase(prepared, ctx, true, fail);
        // Derived layers need the base commit (its SELinux policy, whether its root is
        // transient), read from files that may come in any chunk layer: they start once the
        // whole base is stored.
        const baseReady = base.all.then(async (b) => ({ ...b, transient: b.commit === null ? true : await rootIsTransient(this.repo, b.commit) }));
        const filtered = new Map<string, Map<string, number>>();
        const derivedJobs = prepared.layers.map(async (l): Promise<string> => {
          if (l.commit !== null) return l.commit;
          const b = await baseReady;
          const r = await fetchLayer(ctx, l.layer, ImageImporter.indexOf(prepared, l.layer), 'derived', `Parsing layer blob ${l.layer.digest}`, l.ostreeRef, (repo, fd, source, signal) =>
            importDerivedLayer(repo, fd, {
              mediaType: source.mediaType,
              base: b.commit,
              selinux: true,
              allowNonusr: b.transient,
              retainVar: this.ostreeV2024_3,
              importerVersion: IMPORTER_VERSION,
              transaction: 'caller',
              signal,
            }),
          ).catch(fail);
          if (Object.keys(r.filtered).length > 0) filtered.set(l.layer.digest, new Map(Object.entries(r.filtered)));
          return r.commit;
        });
        const [b, ...commits] = await settleAll<unknown>([baseReady, ...derivedJobs]).catch(async (e: unknown) => {
          await this.dropStalePartial(base.imported()).catch(() => undefined);
          throw e;
        });
        return { base: b as BaseResult, derived: commits as string[], filtered };
      });
      prepared.verifyText = base.verifyText;
      // Filtered counts of layers imported earlier are not known here; keep the previous
      // image's record for the layers it shares with this one.
      const merge = await this.writeMerge(prepared, base.commit, derived, await this.filteredRecord(prepared, filtered));
      if (this.gc) await gcImageLayers(this.repo, this.noImgref ? { keep: prepared.manifest } : {});
      const state = await queryImageCommit(this.repo, merge);
      return { ...state, verifyText: base.verifyText };
    });
  }

  /** `ostree.tar-filtered` for the new image: fresh counts, plus the previous image's for reused layers. */
  private async filteredRecord(prepared: PreparedImport, fresh: Map<string, Map<string, number>>): Promise<Map<string, Map<string, number>>> {
    const out = new Map<string, Map<string, number>>();
    const prev = prepared.previousState ? (await this.repo.loadCommit(prepared.previousState.mergeCommit)).metadata.get(META_FILTERED)?.value : undefined;
    for (const l of prepared.layers) {
      const counts = fresh.get(l.layer.digest) ?? (prev instanceof Map ? (prev.get(l.layer.digest) as Map<string, number> | undefined) : undefined);
      if (counts && counts.size > 0) out.set(l.layer.digest, counts);
    }
    return out;
  }

  private async writeMerge(prepared: PreparedImport, base: string | null, derived: string[], filtered: Map<string, Map<string, number>>): Promise<string> {
    const metadata = mergeCommitMetadata(prepared, IMPORTER_VERSION, filtered);
    const timestamp = imageTimestamp(prepared.manifest, prepared.config);
    return withContext('Writing merge commit', () =>
      this.repo.withTransaction(async () => {
        const merge = await writeMergeCommit(this.repo, { base, layers: derived, metadata, timestamp });
        if (!this.noImgref) this.repo.transactionSetRef(refForImage((this.target ?? this.imgref).imgref), merge);
        return merge;
      }),
    );
  }

  /**
   * unencapsulate's base step: the commit layer and the chunk layers' objects in one transaction
   * (all or nothing), no ref and no chunk commit written, the commit marked complete once that
   * transaction is committed; returns the ostree commit.
   */
  async importBaseOnly(prepared: PreparedImport, opts: { signal?: AbortSignal } = {}): Promise<{ commit: string; verifyText: string | null }> {
    return withContext('Importing', () =>
      this.fetching(prepared, opts.signal, async (ctx, fail) => {
        ImageImporter.checkOstreeMediaTypes(prepared, ctx.sourceOf);
        let step: ReturnType<ImageImporter['importBase']> | undefined;
        const base = await this.repo
          .withTransaction(() => (step = this.importBase(prepared, ctx, false, fail)).all, opts.signal ? { signal: opts.signal } : {})
          .catch(async (e: unknown) => {
            await this.dropStalePartial(step?.imported() ?? null).catch(() => undefined);
            throw e;
          });
        if (!base.commit) throw new ContextError('Unencapsulating base', new Error('No ostree.final-diffid label found, not an ostree encapsulated container'));
        // Only now are all its objects committed (a kill -9 before this leaves it partial).
        await withContext('Marking commit complete', () => this.repo.markCommitPartial(base.commit!, false));
        return { commit: base.commit, verifyText: base.verifyText };
      }),
    );
  }
}
