// The slice of the addon's layer data plane (native/layer_export.cc, layer_import.cc,
// tar_rewrite.cc) that encapsulate/unencapsulate drive.
import { native, withCancellable, type NativeCancellable } from '../native.js';
import type { Repo } from '../repo/repo.js';
import type { Compression } from './encapsulate.js';

export interface ExportLayerSpec {
  kind: 'full' | 'commit' | 'chunk';
  /** For `full` and `commit`. */
  rev?: string;
  /** Chunk objects, or the commit layer's remainder (ascending checksum order). */
  objects?: { checksum: string; paths: string[] }[];
  compression: Compression;
  /** Output: an fd (left open) or a path (created; removed again on failure). */
  fd?: number;
  path?: string;
}

export interface ExportedLayer {
  diffId: string;
  digest: string;
  size: number;
  uncompressedSize: number;
  mediaType: string;
  commit?: string;
}

export interface ImportLayerSpec {
  fd?: number;
  path?: string;
  mediaType: string;
  mode: 'commit' | 'objects';
  remote?: string;
  finish?: boolean;
  transaction?: 'own' | 'caller';
}

export interface ImportedLayer {
  commit?: string;
  verifyText?: string;
  objectsWritten: number;
  objectsReused: number;
  bytesWritten: number;
  diffId: string;
  digest: string;
  size: number;
  uncompressedSize: number;
}

export interface RewriteSpec {
  input: number | string;
  inputMediaType?: string;
  output: number | string;
  compression?: Compression;
}

export interface RewrittenLayer extends Omit<ExportedLayer, 'commit'> {
  commit: string;
}

interface NativeLayers {
  exportLayers(
    repo: Repo['native'],
    layers: ExportLayerSpec[],
    opts: { threads?: number; parallel?: number },
    c: NativeCancellable | undefined,
  ): Promise<ExportedLayer[]>;
  importLayer(repo: Repo['native'], spec: ImportLayerSpec, c: NativeCancellable | undefined): Promise<ImportedLayer>;
  rewriteDetachedMetadata(spec: RewriteSpec, detached: Uint8Array | null, c: NativeCancellable | undefined): Promise<RewrittenLayer>;
}

/** Writes several layers at once (up to `parallel`), each compressed on `threads` threads. */
export function exportLayers(
  repo: Repo,
  layers: ExportLayerSpec[],
  opts: { threads?: number; parallel?: number; signal?: AbortSignal } = {},
): Promise<ExportedLayer[]> {
  const { signal, ...o } = opts;
  return withCancellable(signal, (c) => native<NativeLayers>().exportLayers(repo.native, layers, o, c));
}

/** Imports one layer from an fd or file into `repo`. */
export function importLayer(repo: Repo, spec: ImportLayerSpec, signal?: AbortSignal): Promise<ImportedLayer> {
  return withCancellable(signal, (c) => native<NativeLayers>().importLayer(repo.native, spec, c));
}

/** Copies a commit layer, replacing (or with `null` removing) its detached metadata. */
export function rewriteDetachedMetadata(spec: RewriteSpec, detached: Uint8Array | null, signal?: AbortSignal): Promise<RewrittenLayer> {
  return withCancellable(signal, (c) => native<NativeLayers>().rewriteDetachedMetadata(spec, detached, c));
}
