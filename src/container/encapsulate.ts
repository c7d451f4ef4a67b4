// encapsulate(): an ostree commit → an OCI image (spec tar-and-encapsulation §3).
// The layer bytes are produced by the native exporter straight into temp files of the OCI
// layout; this module plans the layers, assembles labels, config, manifest and index, and hands
// non-`oci:` destinations to `skopeo copy`.
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { withContext } from '../errors.js';
import { OciDir } from '../oci/layout.js';
import { hostPlatform } from '../oci/platform.js';
import type { Descriptor, History, ImageConfiguration, ImageManifest, RuntimeConfig } from '../oci/types.js';
import { ImageReference, parseOciPathAndTag } from '../ref/image-reference.js';
import { Transport } from '../ref/transport.js';
import { componentsAnnotation, type ChunkPlan, type ObjectMetaSized, type PriorBuildManifest } from './chunking.js';
import { formatTimestamp, historyCreated } from './created.js';
import { planLayers, type ChunkingSummary } from './layer-plan.js';
import {
  ANNOTATION_VERSION,
  BOOTC_LABEL,
  COMMIT_META_CONTAINER_CMD,
  CONTENT_ANNOTATION,
  DIFFID_LABEL,
  LEGACY_VERSION_LABEL,
  METADATA_KEY_BOOTABLE,
  METADATA_KEY_LINUX,
  OSTREE_COMMIT_LABEL,
} from './constants.js';
import { skopeoCopy } from '../proxy/skopeo-copy.js';
import type { CommitInfo, Repo } from '../repo/repo.js';
import { exportLayers, type LayerSpec } from '../tar/export.js';
import type { LayerCompression, ObjectAssignment } from '../tar/native.js';
import { bigTempDir } from '../tmpdir.js';

/** What encapsulate needs from a commit object (the repository's one `CommitInfo`). */
export type CommitFields = Pick<CommitInfo, 'checksum' | 'timestamp' | 'subject' | 'metadata'>;

/** Image-level overrides. */
export interface Config {
  /** Extra labels, applied after all computed ones (but before `ostree.final-diffid`). */
  labels?: Map<string, string> | Record<string, string>;
  /** Image `Cmd`; wins over commit metadata `ostree.container-cmd`. */
  cmd?: string[];
}

/** Layer compression: gzip level 6, gzip level 1, zstd (level 3), or plain tar. */
export type Compression = LayerCompression;

export interface ExportOpts {
  /** Upstream's misnomer: gzip level 1 instead of 6 (CLI `--compression-fast`). */
  skipCompression?: boolean;
  /** Layer compression; default `gzip` (or `gzip-fast` with `skipCompression`). */
  compression?: Compression;
  /**
   * gzip layers by zlib in one stream per layer, as upstream ostree-ext writes them: the same
   * blobs (and digests) as upstream's from the same zlib, at one thread per layer (zlib level 6 is
   * about half as fast as the default parallel encoder).
   */
  upstreamGzip?: boolean;
  /** Commit metadata keys (string-typed) copied to labels; a missing one is an error. */
  copyMetaKeys?: string[];
  /** Like `copyMetaKeys`, but missing keys are skipped. */
  copyMetaOptKeys?: string[];
  /** Chunk-layer budget (default 64 with `contentmeta`, 128 with automatic chunking). */
  maxLayers?: number;
  /** Passed as `--authfile` to `skopeo copy` when pushing. */
  authfile?: string;
  /** Push without TLS verification (e.g. a plain-HTTP registry); `--dest-tls-verify=false`. */
  insecureSkipTlsVerification?: boolean;
  /** Push with the TLS certificates in this directory (`*.crt`, `*.cert`, `*.key`); `--dest-cert-dir`. */
  certDir?: string;
  /** Push without any credentials; `--dest-no-creds`. */
  authAnonymous?: boolean;
  /** Also write the pre-OCI `version` label. */
  legacyVersionLabel?: boolean;
  /** Base for the image's runtime `config` (labels are merged into it). */
  containerConfig?: RuntimeConfig;
  /** The previous build's manifest, to keep the layer packing stable. */
  priorBuild?: PriorBuildManifest;
  /** Object → component mapping with sizes; enables the chunked (multi-layer) export. */
  contentmeta?: ObjectMetaSized;
  /**
   * `auto`: components from the commit itself (package databases, `user.component` xattrs, big
   * files, directories), packed to keep updates small; exclusive with `contentmeta`.
   */
  chunking?: 'auto';
  /** Automatic chunking: unowned files of this many bytes or more get a layer each (default 1 MiB). */
  bigFileThreshold?: number;
  /** Automatic chunking: called with what was found (package databases, components, layers). */
  onChunking?: (summary: ChunkingSummary) => void;
  /**
   * Image `created` (RFC 3339); default the commit timestamp as `YYYY-MM-DDTHH:MM:SSZ`. History
   * entries get the same moment in UTC seconds. No time in the image comes from the clock: the
   * same commit and options give the same image, byte for byte.
   */
  created?: string;
  /** Layers written at once (default and cap: `concurrency()`; see `tar.exportLayers`). */
  parallelism?: number;
  signal?: AbortSignal;
}

function metaValue(info: CommitFields, key: string): unknown {
  return info.metadata.get(key)?.value;
}

function requireStringMeta(info: CommitFields, key: string, optional: boolean): string | undefined {
  const v = info.metadata.get(key);
  if (v === undefined) {
    if (optional) return undefined;
    throw new Error(`Could not find commit metadata key: ${key}`);
  }
  if (v.type !== 's' || typeof v.value !== 'string') throw new Error('Expected string for commit metadata value');
  return v.value;
}

/**
 * Labels of the image, in upstream's order (later writes win); `ostree.final-diffid` is added
 * once the layers exist.
 */
export function commitLabels(info: CommitFields, config: Config, opts: ExportOpts): Map<string, string> {
  const labels = new Map<string, string>();
  for (const k of opts.copyMetaKeys ?? []) labels.set(k, requireStringMeta(info, k, false)!);
  for (const k of opts.copyMetaOptKeys ?? []) {
    const v = requireStringMeta(info, k, true);
    if (v !== undefined) labels.set(k, v);
  }
  const bootable = info.metadata.get(METADATA_KEY_BOOTABLE);
  if (bootable?.type === 'b') {
    labels.set(METADATA_KEY_BOOTABLE, bootable.value ? 'true' : 'false');
    // Upstream sets it even when the commit says "not bootable".
    labels.set(BOOTC_LABEL, '1');
  }
  const linux = metaValue(info, METADATA_KEY_LINUX);
  if (typeof linux === 'string') labels.set(METADATA_KEY_LINUX, linux);
  const version = metaValue(info, 'version');
  if (typeof version === 'string') {
    if (opts.legacyVersionLabel) labels.set(LEGACY_VERSION_LABEL, version);
    labels.set(ANNOTATION_VERSION, version);
  }
  labels.set(OSTREE_COMMIT_LABEL, info.checksum);
  const extra = config.labels instanceof Map ? config.labels : Object.entries(config.labels ?? {});
  for (const [k, v] of extra) labels.set(k, v);
  return labels;
}

/** The effective compression for a destination (containers-storage forces fast gzip). */
export function effectiveCompression(opts: ExportOpts, dest: ImageReference): Compression {
  const requested = opts.compression ?? (opts.skipCompression ? 'gzip-fast' : 'gzip');
  if (dest.transport === Transport.ContainerStorage && requested === 'gzip') return 'gzip-fast';
  return requested;
}

/** A written layer: its descriptor, uncompressed digest and history line. */
export interface BuiltLayer {
  descriptor: Descriptor;
  diffId: string;
  createdBy: string;
}

/**
 * Image config and manifest from the written layers (commit layer first, then the chunk
 * layers), per §3.1 steps 6–8 and §3.4.
 */
export function buildImage(args: {
  info: CommitFields;
  labels: Map<string, string>;
  layers: BuiltLayer[];
  config: Config;
  opts: ExportOpts;
  created: string;
}): { config: ImageConfiguration; labels: Record<string, string>; manifest: (configDesc: Descriptor) => ImageManifest } {
  const { info, layers, opts, created } = args;
  const labels = new Map(args.labels);
  labels.set(DIFFID_LABEL, layers[layers.length - 1]!.diffId);
  const labelObj = Object.fromEntries(labels);
  const runtime: RuntimeConfig = structuredClone(opts.containerConfig ?? {});
  const metaCmd = info.metadata.get(COMMIT_META_CONTAINER_CMD);
  if (args.config.cmd) runtime.Cmd = [...args.config.cmd];
  else if (metaCmd?.type === 'as' && Array.isArray(metaCmd.value)) runtime.Cmd = [...(metaCmd.value as string[])];
  runtime.Labels = { ...(runtime.Labels ?? {}), ...labelObj };
  const platform = hostPlatform();
  const historyTime = historyCreated(created);
  const history: History[] = layers.map((l) => ({ created: historyTime, created_by: l.createdBy }));
  const config: ImageConfiguration = {
    architecture: platform.architecture,
    os: platform.os,
    config: runtime,
    created,
    history,
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
  };
  return {
    config,
    labels: labelObj,
    manifest: (configDesc) => ({
      schemaVersion: 2,
      config: configDesc,
      layers: layers.map((l) => l.descriptor),
      annotations: labelObj,
    }),
  };
}

/**
 * Readers find the last ostree layer by the first diff_id equal to `ostree.final-diffid`, so an
 * earlier chunk layer with the same content (an empty one: a component without objects) would
 * make the image unimportable.
 */
function checkFinalLayerUnique(chunks: [name: string, diffId: string][]): void {
  const last = chunks.at(-1);
  const twin = last && chunks.slice(0, -1).find(([, d]) => d === last[1]);
  if (twin) {
    throw new Error(
      `Chunk layer "${twin[0]}" has the same content as the final chunk layer "${last[0]}" (components without content objects?); such an image cannot be imported`,
    );
  }
}

const CHECKSUM = /^[0-9a-f]{64}$/;

/**
 * Each mapped object's chunk, compactly (32 bytes + an index per object) for the exporter, which
 * fails on tree objects the mapping leaves out. Without a mapping everything goes to the commit
 * layer. Mapped objects the tree lacks are ignored there, as by Chunking.processMapping.
 */
function objectAssignment(rev: string, mapping: { meta: ObjectMetaSized; plan: ChunkPlan } | undefined, commitLayer: number): ObjectAssignment {
  if (!mapping) return { rev, checksums: new Uint8Array(0), layers: new Uint32Array(0), defaultLayer: commitLayer };
  const { meta, plan } = mapping;
  const checksums = Buffer.alloc(meta.map.size * 32);
  const layers = new Uint32Array(meta.map.size);
  let n = 0;
  for (const [checksum, id] of meta.map) {
    const chunk = plan.chunkOf.get(id);
    // A checksum that is not lowercase hex names no object of the tree.
    if (chunk === undefined || !CHECKSUM.test(checksum)) continue;
    checksums.write(checksum, n * 32, 'hex');
    layers[n++] = chunk;
  }
  return { rev, checksums: checksums.subarray(0, n * 32), layers: layers.subarray(0, n) };
}

/**
 * Writes the image for `rev` into the OCI layout `oci` and returns the manifest descriptor.
 * `tag` names it in the index (kept alongside other tags); without, the index holds only it.
 */
export async function encapsulateToOciDir(
  repo: Repo,
  rev: string,
  config: Config,
  opts: ExportOpts,
  oci: OciDir,
  tag: string | undefined,
  compression: Compression,
): Promise<Descriptor> {
  const info = await repo.loadCommit(await repo.resolveRev(rev));
  const labels = commitLabels(info, config, opts);
  const created = opts.created ?? formatTimestamp(info.timestamp);
  historyCreated(created); // an invalid time fails before any layer is written

  // Plan: one layer per chunk, then the commit layer carrying the remainder (everything when
  // unchunked). The exporter walks the tree and places the objects itself.
  const mapping = await planLayers(repo, info.checksum, opts);
  const chunks = mapping?.plan.chunks ?? [];
  const paths = [...chunks, undefined].map(() => oci.tempPath());
  const zlib = opts.upstreamGzip && compression.startsWith('gzip') ? { zlib: true } : {};
  const specs: LayerSpec[] = [
    ...chunks.map((_, i) => ({ kind: 'chunk' as const, compression, ...zlib, output: paths[i]! })),
    { kind: 'commit', rev: info.checksum, compression, ...zlib, output: paths.at(-1)! },
  ];
  const assign = objectAssignment(info.checksum, mapping, chunks.length);
  let results;
  try {
    results = await withContext('Exporting layers', () =>
      exportLayers(repo, specs, { ...(opts.parallelism ? { parallel: opts.parallelism } : {}), assign, signal: opts.signal }),
    );
    checkFinalLayerUnique(chunks.map((c, i) => [c.name, results![i]!.diffId]));
  } catch (e) {
    await Promise.all(paths.map((p) => rm(p, { force: true })));
    throw e;
  }
  // The native writer hashed the bytes as it wrote them: move the files into place unverified.
  await Promise.all(results.map((r, i) => oci.writeBlobFromFile(paths[i]!, { digest: r.digest, size: r.size }, { verify: false })));
  const toLayer = (i: number, createdBy: string, annotations?: Record<string, string>): BuiltLayer => {
    const r = results[i]!;
    return {
      descriptor: { mediaType: r.mediaType, digest: r.digest, size: r.size, ...(annotations ? { annotations } : {}) },
      diffId: r.diffId,
      createdBy,
    };
  };
  const commitLayer = toLayer(specs.length - 1, info.subject || `ostree export of commit ${info.checksum}`);
  const chunkLayers = chunks.map((c, i) => toLayer(i, c.name, { [CONTENT_ANNOTATION]: componentsAnnotation(c.packages) }));
  const image = buildImage({ info, labels, layers: [commitLayer, ...chunkLayers], config, opts, created });
  const configDesc = await oci.writeConfig(image.config);
  return oci.insertManifest(image.manifest(configDesc), tag === undefined ? {} : { tag });
}

/**
 * Exports `rev` as a container image to `dest` and returns the manifest digest. `oci:` is
 * written directly (`oci:DIR[:TAG]`); other transports via a temp layout and `skopeo copy`.
 */
export async function encapsulate(repo: Repo, rev: string, config: Config, opts: ExportOpts, dest: ImageReference): Promise<string> {
  const compression = effectiveCompression(opts, dest);
  if (dest.transport === Transport.OciDir) {
    const { path: dir, tag } = parseOciPathAndTag(dest.name);
    const oci = await OciDir.ensure(dir);
    return (await encapsulateToOciDir(repo, rev, config, opts, oci, tag, compression)).digest;
  }
  const tmp = await mkdtemp(path.join(bigTempDir(), 'ostree-container-encapsulate-'));
  try {
    const oci = await OciDir.ensure(path.join(tmp, 'oci'));
    await encapsulateToOciDir(repo, rev, config, opts, oci, undefined, compression);
    return await withContext('Skopeo copy', () =>
      skopeoCopy(new ImageReference(Transport.OciDir, oci.path), dest, {
        ...(opts.authfile !== undefined ? { authfile: opts.authfile } : {}),
        ...(opts.insecureSkipTlsVerification ? { destTlsVerify: false } : {}),
        ...(opts.certDir !== undefined ? { destCertDir: opts.certDir } : {}),
        ...(opts.authAnonymous ? { destNoCreds: true } : {}),
        // Uncompressed layers stay uncompressed in an OCI archive; a registry push gets them
        // gzipped by skopeo whatever we ask (c/image has no option for it).
        ...(compression === 'none' && dest.transport === Transport.OciArchive ? { acceptUncompressedLayers: true } : {}),
        // The registry gets this very image: c/image would otherwise swap in a blob of the same
        // diff_id the registry already holds, and the pushed digest would depend on its past.
        ...(compression !== 'none' && dest.transport === Transport.Registry ? { preserveDigests: true } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      }),
    );
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
