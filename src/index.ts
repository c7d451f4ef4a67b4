// Public API of ostree-container: named exports only, what users need and nothing internal.
// The example OS of upstream's tests (with its private test keys) is the subpath export
// `ostree-container/fixture` (src/fixture/index.ts).
export { formatSize } from './format.js';
export { ContextError } from './errors.js';
export { concurrency, CONCURRENCY_ENV } from './concurrency.js';
// OSTree repository (libostree)
export type {
  RepoMode, ObjectType, MetadataObjectType, Cancelable, TransactionStats, CommitInfo, ContentObjectInfo, TreeRoot,
  DirTree, DirMeta, CommitModifier, TreeEntry, TreeSpec, WriteCommitOptions, ContentAttributes, FileContent,
  CheckoutOptions, PruneOptions, PruneResult, RemoteOptions, PullOptions, ObjectName, CommitPath, TreeScan,
} from './repo/repo.js';
export { Repo, DevInoCache, vardictToBytes, vardictFromBytes } from './repo/repo.js';
export type { TypedVariant, VariantValue, VariantDict, Xattr } from './repo/variant.js';
export { variant, variantToBytes, variantFromBytes, variantIsNormal, variantPrint, xattrName } from './repo/variant.js';
// Image references and ref escaping
export { Transport, parseTransport, transportPrefix, transportSerializableName } from './ref/transport.js';
export { ImageReference, OstreeImageReference, SignatureSource, parseOciPathAndTag } from './ref/image-reference.js';
export { escapeRef, unescapeRef, prefixEscapeForRef, unprefixUnescapeRef } from './ref/refescape.js';
// OCI documents and image layouts
export { MediaType, OCI_LAYOUT_VERSION } from './oci/media-types.js';
export type { DigestAlgorithm, ParsedDigest } from './oci/digest.js';
export { parseDigest, digestOf, createDigester } from './oci/digest.js';
export type { Descriptor, Platform, ImageManifest, ImageIndex, ImageConfiguration, RuntimeConfig, RootFs, History } from './oci/types.js';
export { parseImageManifest, parseImageIndex, parseImageConfiguration } from './oci/types.js';
export { ociArchFromNode, hostOciArch, hostPlatform } from './oci/platform.js';
export type { BlobInfo, ExpectedBlob, ResolvedManifest } from './oci/layout.js';
export { OciDir, MAX_DOCUMENT_SIZE } from './oci/layout.js';
export type { ExtractedArchive } from './oci/archive.js';
export { writeOciArchive, extractOciArchive, openOciArchive } from './oci/archive.js';
// Container-level constants, ManifestDiff, versions
export * from './container/constants.js';
export type { ManifestDiffJson } from './container/manifest-diff.js';
export { ManifestDiff } from './container/manifest-diff.js';
export { labelsOf, versionForConfig } from './container/version.js';
// encapsulate / unencapsulate, chunking, detached-metadata update
export type {
  ObjectSourceMeta, ObjectMeta, ObjectSourceMetaSized, ObjectMetaSized, ChunkObject, TreeFile, PriorBuildManifest,
  ContentMetaFile, ParsedContentMeta,
} from './container/chunking.js';
export {
  Chunk, Chunking, computeSizes, parseContentMetaFile, contentMetaToSized, MAX_CHUNKS, MIN_CHUNKED_LAYERS, MAX_FREQUENCY,
} from './container/chunking.js';
export type { Config, ExportOpts, Compression } from './container/encapsulate.js';
export type { ChunkingSummary } from './container/layer-plan.js';
export { encapsulate } from './container/encapsulate.js';
export type { UnencapsulateOpts, Import } from './container/unencapsulate.js';
export { unencapsulate } from './container/unencapsulate.js';
export type { ManifestLayout } from './container/manifest-layout.js';
export { parseManifestLayout, parseOstreeManifestLayout } from './container/manifest-layout.js';
export type { UpdateDetachedMetadataOpts } from './container/update-detached-metadata.js';
export { updateDetachedMetadata } from './container/update-detached-metadata.js';
// The build side: container commit's check and cleanup, IMA signatures
export { isOstreeContainer, prepareOstreeCommitIn } from './build/container-commit.js';
export type { ImaSignOpts } from './build/ima.js';
export { imaSign, IMA_XATTR } from './build/ima.js';
// skopeo image proxy, auth defaults, skopeo copy
export type { ImageProxyConfig, ProxyCommand } from './proxy/config.js';
export type { BlobDescriptor, BlobFd, BlobStream, ConvertedLayerInfo } from './proxy/image-proxy.js';
export { ImageProxy, OpenedImage, RawBlobError, BASE_PROTOCOL_VERSION } from './proxy/image-proxy.js';
export type { ImageProxyPoolOptions } from './proxy/pool.js';
export { ImageProxyPool } from './proxy/pool.js';
export type { AuthfileLookupOptions, GlobalAuthfile, MergeOptions } from './proxy/auth.js';
export {
  getGlobalAuthfile, mergeDefaultContainerProxyOpts, mergeDefaultContainerProxyOptsWithIsolation,
  unprivilegedSubprocess,
} from './proxy/auth.js';
export { policyIsDefaultInsecure, containerPolicyIsDefaultInsecure, requireSecureContainerPolicy } from './proxy/policy.js';
export { POLICY_ENFORCING_PROXY, requirePolicyEnforcingProxy } from './proxy/policy.js';
export type { FetchedManifest, FetchedManifestAndConfig } from './proxy/fetch.js';
export { fetchManifest, fetchManifestAndConfig, withImageProxy } from './proxy/fetch.js';
export type { SkopeoCopyOptions } from './proxy/skopeo-copy.js';
export { skopeoCopy } from './proxy/skopeo-copy.js';
// ostree-ext tar format: export, import, detached-metadata rewrite (native data plane)
export * as tar from './tar/index.js';
// The layered image store: pull (prepare/import), query, maintenance, copy, reexport, progress
export type { LayeredImageState, CachedUpdate } from './store/state.js';
export { queryImage, queryImageCommit, listImages, manifestDigestFromCommit, refForImage, refForLayer, imageVersion } from './store/state.js';
export type { ManifestLayerState, PrepareResult } from './store/prepared.js';
export { PreparedImport } from './store/prepared.js';
export { ImageImporter, IMPORTER_VERSION } from './store/importer.js';
export type { PullSettings } from './store/importer.js';
export { DEFAULT_FETCH_CONCURRENCY } from './store/fetch-concurrency.js';
export type { ImportProgress, LayerKind, ProgressListener } from './store/progress.js';
export { removeImage, removeImages, gcImageLayers, countLayerReferences, imageFilteredContentWarning, clearCachedUpdate } from './store/maintenance.js';
export { copy } from './store/copy.js';
export { exportImage } from './store/export.js';
// Sysroots and deployment
export type { Deployment, DeployTreeOptions, SimpleWriteOptions, LockOptions, OriginKeyfile } from './deploy/sysroot.js';
export { Sysroot, SYSROOT_LOCK_RETRY_MS } from './deploy/sysroot.js';
export type { SysrootLockOptions } from './deploy/lock.js';
export { SysrootLock, withSysrootLock, SYSROOT_LOCK_WAITING } from './deploy/lock.js';
export type { DeployOpts, CompletionHook } from './deploy/deploy.js';
export { deploy, removeUndeployedImages, prune, Pruned, originFor, deploymentImageReference, ORIGIN_GROUP } from './deploy/deploy.js';
