// Tar entry points (the `tar` namespace of the public API): ostree-ext tar format v1 export,
// import (commit and object-set modes) and the tar-level detached-metadata update.
export type { LayerCompression, LayerResult, LayerTarget, ObjectAssignment, RepoHandle } from './native.js';
export type { ChunkObjectSpec, LayerSpec, ExportLayersOptions, ExportCommitOptions } from './export.js';
export { exportLayers, exportCommit } from './export.js';
export type { TarImportOptions, TarImportObjectsOptions, TarImportResult } from './import.js';
export { importTar, importTarObjects, TAR_MEDIA_TYPE } from './import.js';
export type { UpdateDetachedMetadataTarOptions } from './update-detached-metadata.js';
export { updateDetachedMetadata } from './update-detached-metadata.js';
