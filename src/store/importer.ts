// ImageImporter (spec store §2): prepare() reads the manifest and configuration (or, offline,
// the update recorded in the store) and decides per layer whether the store holds it, by digest
// or by diff_id; import() runs the missing layers through the pull pipeline (./pipeline.ts: one
// skopeo proxy, up to four from a registry, several layers in flight), each layer committed with
// its blob ref as soon as it is complete, then writes the merge commit and the image ref;
// download() stops before that.
import { concurrency } from '../concurrency.js';
import { ContextError, messageOf, withContext } from '../errors.js';
import { CACHED_CONFIG, CACHED_MANIFEST, CACHED_MANIFEST_DIGEST, DOCKER_TYPE_LAYER_TAR, META_FILTERED } from '../container/constants.js';
import { native } from '../native.js';
import { MediaType } from '../oci/media-types.js';
import type { Descriptor, ImageConfiguration, ImageManifest } from '../oci/types.js';
import { explicitJournal, journalSend, JournalPriority } from '../journal.js';
import { mergeDefaultContainerProxyOpts, mergeDefaultContainerProxyOptsWithIsolation } from '../proxy/auth.js';
import { BlobStreams, type BlobSource } from '../proxy/blob-streams.js';
import type { ImageProxyConfig } from '../proxy/config.js';
import { ImageProxy } from '../proxy/image-proxy.js';
import { closeProxies } from '../proxy/pool.js';
import { requireSecureContainerPolicy, requirePolicyEnforcingProxy } from '../proxy/policy.js';
import type { OstreeImageReference } from '../ref/image-reference.js';
import { Transport } from '../ref/transport.js';
import type { Repo } from '../repo/repo.js';
import type { TypedVariant } from '../repo/variant.js';
import { importTar, importTarObjects } from '../tar/import.js';
import { importDerivedLayer } from './derived.js';
import { DEFAULT_FETCH_CONCURRENCY } from './fetch-concurrency.js';
import { checkFreeSpace } from './free-space.js';
import { recordReusedLayers } from './layer-reuse.js';
import { gcImageLayers } from './maintenance.js';
import { mergeCommitMetadata, writeMergeCommit } from './merge.js';
import { layerSources, LayerPipeline, type ImportedLayer, type LayerSource, type LayerTask } from './pipeline.js';
import { planImport, planOffline } from './plan.js';
import type { PreparedImport, ManifestLayerState, PrepareResult } from './prepared.js';
import { ProgressTracker, type ProgressListener } from './progress.js';
import { rootIsTransient } from './prepare-root.js';
import { queryImage, queryImageCommit, refForImage, type LayeredImageState } from './state.js';

/**
 * `ostree.importer.version` of the commits the store writes: the ostree-ext release whose store
 * format they follow. Upstream writes its crate version (still 0.15.3 in 2026), so the same image
 * gives the same commits with either tool.
 */
export const IMPORTER_VERSION = '0.15.3';

/** Layer media types an ostree layer may have (spec references §2). */
const OSTREE_LAYER_MEDIA_TYPES: readonly string[] = [
  MediaType.ImageLayerGzip,
  MediaType.ImageLayerZstd,
  MediaType.ImageLayer,
  DOCKER_TYPE_LAYER_TAR,
  MediaType.DockerLayerGzip,
];

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

/** How a pull fetches; each field is also a setter of ImageImporter. */
export interface PullSettings {
  /** {@link ImageImporter.setFetchConcurrency} */
  fetchConcurrency?: number;
  /** {@link ImageImporter.setOffline} */
  offline?: boolean;
  /** false: {@link ImageImporter.disableSpaceCheck} */
  spaceCheck?: boolean;
}

export class ImageImporter {
  private target: OstreeImageReference | null = null;
  private noImgref = false;
  private bootable = false;
  private ostreeV2024_3: boolean;
  private gc = true;
  private parallelism = Math.min(4, concurrency());
  private fetchConcurrency = DEFAULT_FETCH_CONCURRENCY;
  private offline = false;
  private spaceCheck = true;
  private listener: ProgressListener | undefined;
  /** The skopeo proxy with the image open, from prepare() until import() is done. */
  private source: BlobStreams | null = null;

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

  /** Layers imported at once (decompressed and written: CPU work); default min(4, `concurrency()`). */
  setParallelism(n: number): this {
    if (!Number.isInteger(n) || n < 1) throw new Error(`Invalid parallelism ${n}`);
    this.parallelism = n;
    return this;
  }

  /**
   * Layers whose bytes are coming in at once; default {@link DEFAULT_FETCH_CONCURRENCY}. Four
   * times as many may wait for their import, spooled in the repo's tmp/. Fetching is I/O: this
   * bound is apart from the CPU budget. From a registry, also how many skopeo proxies the pull
   * runs (one per layer in flight; each about 6 MiB of its own memory).
   */
  setFetchConcurrency(n: number): this {
    if (!Number.isInteger(n) || n < 1) throw new Error(`Invalid fetch concurrency ${n}`);
    this.fetchConcurrency = n;
    return this;
  }

  /**
   * Never contact the network: prepare() answers from the store (the stored image, or the update
   * recorded beside it by an earlier prepare() or download()) without starting skopeo, and
   * fails, naming what is missing, when that needs anything fetched.
   */
  setOffline(): this {
    this.offline = true;
    return this;
  }

  /** Do not compare the layers to fetch with the repository's free space before fetching. */
  disableSpaceCheck(): this {
    this.spaceCheck = false;
    return this;
  }

  /** Applies {@link PullSettings} (fields left out keep their current value). */
  applySettings(s: PullSettings): this {
    if (s.fetchConcurrency !== undefined) this.setFetchConcurrency(s.fetchConcurrency);
    if (s.offline) this.setOffline();
    if (s.spaceCheck === false) this.disableSpaceCheck();
    return this;
  }

  /** Receive typed progress events during import(). */
  onProgress(listener: ProgressListener): this {
    this.listener = listener;
    return this;
  }

  /** Stops the proxy (import() does this itself; needed when a prepared import is dropped). */
  async close(): Promise<void> {
    const source = this.source;
    this.source = null;
    if (!source) return;
    source.close();
    await closeProxies(source.sources);
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

  /** Starts the skopeo proxy and opens the image in it. */
  private async openSource(): Promise<BlobStreams> {
    if (this.source) return this.source;
    const { proxy, image } = await this.startProxy();
    this.source = new BlobStreams(proxy, image);
    return this.source;
  }

  /** A skopeo proxy with the image open in it. */
  private async startProxy(): Promise<BlobSource> {
    const config =
      this.imgref.imgref.transport === Transport.ContainerStorage
        ? await mergeDefaultContainerProxyOptsWithIsolation(this.proxyConfig, undefined)
        : await mergeDefaultContainerProxyOpts(this.proxyConfig);
    const proxy = await ImageProxy.create(config);
    try {
      if (this.imgref.sigverify.type === 'ContainerPolicy') requirePolicyEnforcingProxy(proxy);
      return { proxy, image: await proxy.openImage(this.imgref.imgref.toString()) };
    } catch (e) {
      await proxy.finalize().catch(() => undefined);
      throw e;
    }
  }

  /**
   * From a registry, one proxy per layer in flight (`n`): a proxy serves one request at a time,
   * and each `GetBlob` waits for the registry's response headers, so over a distant link fewer
   * proxies spend the pull waiting out round trips (README "Performance"). Other transports read
   * local files, where one proxy is as fast (and an archive is unpacked once per proxy). The first
   * proxy fetches while the others start; each joins once its image is open. Settles once every
   * start has (the proxies that came up are among the sources then); rejects with the first that
   * failed.
   */
  private addRegistryProxies(streams: BlobStreams, n: number): Promise<void> | null {
    if (this.imgref.imgref.transport !== Transport.Registry) return null;
    const more = n - streams.sources.length;
    if (more <= 0) return null;
    const starts = Array.from({ length: more }, async () => {
      const source = await this.startProxy();
      // Closed meanwhile (close() from outside): this one is not among the sources it stopped.
      if (this.source === streams) streams.addSource(source);
      else await closeProxies([source]);
    });
    return settleAll(starts).then(() => undefined);
  }

  /** libostree cannot check out (for the merge) from an archive repo: refuse before any work. */
  private checkRepoMode(): void {
    if (this.repo.mode === 'archive') {
      throw new Error(`Cannot import into archive repository ${this.repo.path}; use a bare or bare-user repository (an archive repo can only be a copy target)`);
    }
  }

  /**
   * Journal messages as upstream's importer writes them: for the system repository only, or for
   * any when OSTREE_CONTAINER_JOURNAL_SOCKET names a journal.
   */
  private journal(message: string): void {
    if (this.repo.isSystem || explicitJournal()) journalSend(JournalPriority.Info, message);
  }

  private async prepareInternal(): Promise<PrepareResult> {
    this.journal(`Fetching ${this.imgref.toString()}`);
    if (this.imgref.sigverify.type === 'ContainerPolicy') await requireSecureContainerPolicy();
    let previous: LayeredImageState | null = null;
    try {
      previous = await queryImage(this.repo, this.imgref.imgref);
    } catch (e) {
      process.stderr.write(`error: failed to query image commit: ${messageOf(e)}\n`);
    }
    if (this.offline) return planOffline(previous, this.imgref.imgref, (update) => this.plan(update.manifestDigest, update.manifest, update.config, previous));
    const { proxy, image } = await this.openSource();
    const { digest, manifest } = await proxy.fetchManifest(image);
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
    return { kind: 'ready', prepared: await this.plan(digest, manifest, config, previous) };
  }

  /** The plan of importing this image (`plan.ts`), with this importer's checks. */
  private plan(digest: string, manifest: ImageManifest, config: ImageConfiguration, previous: LayeredImageState | null): Promise<PreparedImport> {
    return planImport(this.repo, { digest, manifest, config, previous }, { bootable: this.bootable, verifyCommit: this.imgref.sigverify.type === 'OstreeRemote' });
  }

  /**
   * Runs `fn` with the pull pipeline (when anything is to be fetched: the proxy, a progress
   * tracker, a stop signal that is the caller's or the first failure's); closes the proxy
   * afterwards, reporting its errors only when everything else succeeded.
   */
  private async withPipeline<T>(prepared: PreparedImport, signal: AbortSignal | undefined, fn: (pipeline: LayerPipeline | null, fail: (e: unknown) => never) => Promise<T>): Promise<T> {
    const todo = prepared.layersToFetch();
    const bytesToFetch = todo.reduce((n, l) => n + Math.max(0, l.layer.layer.size), 0);
    const stop = new AbortController();
    const forward = () => stop.abort(signal?.reason);
    signal?.addEventListener('abort', forward, { once: true });
    const progress = this.listener ? new ProgressTracker(this.listener, bytesToFetch) : null;
    this.listener?.({
      type: 'import-started',
      manifestDigest: prepared.manifestDigest,
      layers: prepared.manifest.layers.length,
      layersToFetch: todo.length,
      bytes: prepared.manifest.layers.reduce((n, l) => n + Math.max(0, l.size), 0),
      bytesToFetch,
    });
    let failed = false;
    // The first failure in time is the story; the others are mostly its cancellations.
    let first: { error: unknown } | undefined;
    let joining: Promise<void> | null = null;
    try {
      signal?.throwIfAborted();
      if (todo.length > 0 && this.offline) {
        throw new Error(`Offline: ${todo.length} layers to fetch: ${todo.map((l) => l.layer.layer.digest).join(', ')}`);
      }
      if (todo.length > 0 && this.spaceCheck) await checkFreeSpace(this.repo, bytesToFetch, `${todo.length} layers of ${this.imgref.imgref.toString()}`);
      let pipeline: LayerPipeline | null = null;
      if (todo.length > 0) {
        const streams = await this.openSource();
        joining = this.addRegistryProxies(streams, Math.min(this.fetchConcurrency, todo.length));
        // A proxy that cannot start fails the pull, as one that stops serving would.
        joining?.catch((e: unknown) => {
          first ??= { error: e };
          stop.abort(e);
        });
        const sourceOf = await layerSources(streams, this.imgref.imgref.transport, prepared.manifest);
        ImageImporter.checkOstreeMediaTypes(prepared, sourceOf);
        pipeline = new LayerPipeline({
          repo: this.repo,
          streams,
          sourceOf,
          fetchConcurrency: this.fetchConcurrency,
          importConcurrency: this.parallelism,
          signal: stop.signal,
          observers: progress ? [progress] : [],
        });
      }
      const result = await fn(pipeline, (e: unknown) => {
        first ??= { error: e };
        stop.abort();
        throw e;
      });
      await joining;
      return result;
    } catch (e) {
      failed = true;
      throw first ? first.error : e;
    } finally {
      progress?.stop();
      signal?.removeEventListener('abort', forward);
      // Every proxy that started is among the sources before they are closed.
      await joining?.catch(() => undefined);
      const closing = this.close();
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

  /** A manifest layer as a pipeline task: its kind, blob ref (or none), import and what the import waits for. */
  private static task<R extends ImportedLayer>(prepared: PreparedImport, l: ManifestLayerState, how: Pick<LayerTask<R>, 'kind' | 'ref' | 'import' | 'after' | 'staysPartial'>): LayerTask<R> {
    const index = ImageImporter.indexOf(prepared, l.layer);
    return {
      ...how,
      index,
      layer: l.layer,
      context: how.kind === 'derived' ? `Parsing layer blob ${l.layer.digest}` : `Layer ${l.layer.digest}`,
      diffId: prepared.config.rootfs.diff_ids[index],
    };
  }

  /**
   * Step A: the commit layer and the chunk layers, side by side; the commit layer takes the
   * first slot. With `writeRefs` each layer is stored in a layer transaction with its blob ref (chunk
   * layers get their synthetic commit); without, everything goes into the transaction the caller
   * holds open and no ref is written. Either way the commit is stored marked partial: its
   * objects are spread over the chunk layers. `all` settles once every base layer has; with
   * `writeRefs` the commit is then marked complete (also when it was stored by an earlier,
   * interrupted pull), without, the caller does it once its transaction is committed.
   * `imported` names the commit once its layer was read, for `dropStalePartial`.
   */
  private importBase(prepared: PreparedImport, pipeline: LayerPipeline | null, writeRefs: boolean, fail: (e: unknown) => never): { all: Promise<BaseResult>; imported: () => string | null } {
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
        : pipeline!
            .run(
              ImageImporter.task(prepared, commitLayer, {
                kind: 'ostree-chunk',
                ref: ref(commitLayer),
                staysPartial: true,
                import: (repo, fd, source, signal) =>
                  importTar(repo, fd, { mediaType: source.mediaType, transaction: 'caller', signal, ...(remote !== undefined ? { remote } : {}) }).then((r) => {
                    imported = r.commit;
                    return r;
                  }),
              }),
            )
            .then((r) => ({ commit: r.commit, verifyText: r.verifyText ?? null }), fail);
    const chunkJobs = prepared.ostreeLayers
      .filter((l) => l.commit === null)
      .map((l) =>
        pipeline!
          .run(
            ImageImporter.task(prepared, l, {
              kind: 'ostree-chunk',
              ref: ref(l),
              import: (repo, fd, source, signal) => importTarObjects(repo, fd, { mediaType: source.mediaType, transaction: 'caller', finish: writeRefs, signal }),
            }),
          )
          .catch(fail),
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
   * Every layer of the image into the store, each with its blob ref (layers stored under another
   * digest get theirs too); returns what the merge commit is made of.
   */
  private async storeLayers(prepared: PreparedImport, signal: AbortSignal | undefined): Promise<{ base: BaseResult; derived: string[]; filtered: Map<string, Map<string, number>> }> {
    const status = prepared.formatLayerStatus();
    if (status !== null) this.journal(status);
    return this.withPipeline(prepared, signal, async (pipeline, fail) => {
      await recordReusedLayers(this.repo, prepared);
      const base = this.importBase(prepared, pipeline, true, fail);
      // Derived layers need the base commit (its SELinux policy, whether its root is
      // transient), read from files that may come in any chunk layer: they are fetched
      // meanwhile, and imported once the whole base is stored.
      const baseReady = base.all.then(async (b) => ({ ...b, transient: b.commit === null ? true : await rootIsTransient(this.repo, b.commit) }));
      const filtered = new Map<string, Map<string, number>>();
      const derivedJobs = prepared.layers.map(async (l): Promise<string> => {
        if (l.commit !== null) return l.commit;
        const r = await pipeline!
          .run(
            ImageImporter.task(prepared, l, {
              kind: 'derived',
              ref: l.ostreeRef,
              after: baseReady,
              import: async (repo, fd, source, signal) => {
                const b = await baseReady;
                return importDerivedLayer(repo, fd, {
                  mediaType: source.mediaType,
                  base: b.commit,
                  selinux: true,
                  allowNonusr: b.transient,
                  retainVar: this.ostreeV2024_3,
                  importerVersion: IMPORTER_VERSION,
                  transaction: 'caller',
                  signal,
                });
              },
            }),
          )
          .catch(fail);
        if (Object.keys(r.filtered).length > 0) filtered.set(l.layer.digest, new Map(Object.entries(r.filtered)));
        return r.commit;
      });
      const [b, ...commits] = await settleAll<unknown>([baseReady, ...derivedJobs]).catch(async (e: unknown) => {
        await this.dropStalePartial(base.imported()).catch(() => undefined);
        throw e;
      });
      return { base: b as BaseResult, derived: commits as string[], filtered };
    });
  }

  /**
   * Fetches the layers the store lacks (none when every layer is stored) and writes the merge
   * commit (spec §2.3). Layers that completed stay stored (with their blob refs) even when the
   * import fails; the image ref is written only with the merge commit.
   */
  async import(prepared: PreparedImport, opts: { signal?: AbortSignal } = {}): Promise<LayeredImageState> {
    return withContext('Importing', async () => {
      this.checkRepoMode();
      const { base, derived, filtered } = await this.storeLayers(prepared, opts.signal);
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
   * Fetches and stores every layer of the image (as import() does) but writes no merge commit
   * and leaves the image ref where it is: the update stays recorded beside the stored image
   * (prepare() cached its manifest and configuration there), and a later prepare() and import()
   * apply it without fetching anything, offline too. With no stored image there is nothing to
   * keep, and the image is imported as import() does; its state is returned then, else null.
   */
  async download(prepared: PreparedImport, opts: { signal?: AbortSignal } = {}): Promise<LayeredImageState | null> {
    if (!prepared.previousState) return this.import(prepared, opts);
    return withContext('Downloading', async () => {
      this.checkRepoMode();
      await this.storeLayers(prepared, opts.signal);
      return null;
    });
  }

  /**
   * unencapsulate's base step: the commit layer and the chunk layers' objects in one transaction
   * (all or nothing), no ref and no chunk commit written, the commit marked complete once that
   * transaction is committed; returns the ostree commit.
   */
  async importBaseOnly(prepared: PreparedImport, opts: { signal?: AbortSignal } = {}): Promise<{ commit: string; verifyText: string | null }> {
    return withContext('Importing', () =>
      this.withPipeline(prepared, opts.signal, async (pipeline, fail) => {
        let step: ReturnType<ImageImporter['importBase']> | undefined;
        const base = await this.repo
          .withTransaction(() => (step = this.importBase(prepared, pipeline, false, fail)).all, opts.signal ? { signal: opts.signal } : {})
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
