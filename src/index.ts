// Public API of ostree-container: named exports only.
export { formatSize } from './format.js';
// OSTree repository (libostree)
export type {
  RepoMode, ObjectType, MetadataObjectType, Cancelable, TransactionStats, CommitInfo, ContentObjectInfo, TreeRoot,
  DirTree, DirMeta, CommitModifier, TreeEntry, TreeSpec, WriteCommitOptions, ContentAttributes, FileContent,
  CheckoutOptions, PruneOptions, PruneResult, RemoteOptions, PullOptions, ObjectName, CommitPath,
} from './repo/repo.js';
export { Repo, DevInoCache, vardictToBytes, vardictFromBytes } from './repo/repo.js';
export type { TypedVariant, VariantValue, VariantDict, Xattr } from './repo/variant.js';
export { variant, variantToBytes, variantFromBytes, variantIsNormal, variantPrint, xattrName } from './repo/variant.js';
export type { NativeRepo } from './repo/native.js';
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
export { canonicalJson } from './oci/canonical-json.js';
export { ociArchFromNode, hostOciArch, hostPlatform } from './oci/platform.js';
export type { BlobInfo, ExpectedBlob, ResolvedManifest } from './oci/layout.js';
export { OciDir, MAX_DOCUMENT_SIZE } from './oci/layout.js';
export type { ExtractedArchive } from './oci/archive.js';
export { writeOciArchive, extractOciArchive, openOciArchive } from './oci/archive.js';
export type { LocalManifest } from './oci/local-image.js';
export { readLocalManifest } from './oci/local-image.js';
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
  Chunk, Chunking, basicPacking, computeSizes, sizeObjectMeta, chunkName, componentsAnnotation, parseObjectSourceMetaSized,
  parseContentMetaFile, contentMetaToSized, MAX_CHUNKS, MIN_CHUNKED_LAYERS, MAX_FREQUENCY,
} from './container/chunking.js';
export type { Config, ExportOpts, Compression, BuiltLayer } from './container/encapsulate.js';
export { encapsulate, encapsulateToOciDir, commitLabels, buildImage, effectiveCompression, formatTimestamp } from './container/encapsulate.js';
export type { UnencapsulateOpts, Import } from './container/unencapsulate.js';
export { unencapsulate } from './container/unencapsulate.js';
export type { ManifestLayout } from './container/manifest-layout.js';
export { parseManifestLayout, parseOstreeManifestLayout } from './container/manifest-layout.js';
export type { UpdateDetachedMetadataOpts } from './container/update-detached-metadata.js';
export { updateDetachedMetadata } from './container/update-detached-metadata.js';
// The example OS of upstream's tests: the test fixture and the CLI demo's input
export type { ExampleOsOptions, ExampleOsBuilder, FileDef, Tree, TreeNode, NonOstreeExampleImage } from './fixture/index.js';
export {
  ExampleOs, createExampleOs, createNonOstreeExampleImage, parseFileDefs, applyFileDefs, selinuxLabelFor, objectMetaFor, treeToPaxTar,
  TESTREF, CONTENTS_CHECKSUM_V0, CONTENTS_CHECKSUM_V1, COMMIT_V0, COMMIT_V1, CONTENTS_V0, LAYERS_V0_LEN, PKGS_V0_LEN,
  GPG_KEY_ID, GPG_KEY_FINGERPRINT,
} from './fixture/index.js';
// skopeo image proxy, auth defaults, skopeo copy
export type { ImageProxyConfig, ProxyCommand } from './proxy/config.js';
export { proxyArgs, AUTH_DATA_CHILD_FD } from './proxy/config.js';
export type { BlobDescriptor, BlobFd, BlobStream, ConvertedLayerInfo } from './proxy/image-proxy.js';
export { ImageProxy, OpenedImage, RawBlobError, joinFetch, MAX_MSG_SIZE, BASE_PROTOCOL_VERSION } from './proxy/image-proxy.js';
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
export { skopeoCopy, skopeoCopyArgs } from './proxy/skopeo-copy.js';
// ostree-ext tar format: export, import, detached-metadata rewrite (native data plane)
export * as tar from './tar/index.js';
