// Labels, annotations, ref prefixes, metadata keys and media types of the container module
// (spec references §2). Values are upstream's, exactly.

/** Label holding the ostree commit checksum. */
export const OSTREE_COMMIT_LABEL = 'ostree.commit';
/** A commonly used pre-OCI label for versions; read by `versionForConfig` after the OCI one. */
export const LABEL_VERSION = 'version';
/** The label optionally written (`legacyVersionLabel`) in addition to the OCI version annotation. */
export const LEGACY_VERSION_LABEL = 'version';
/** Label = `sha256:<hex>` diffid of the last ostree-generated layer; derived layers follow it. */
export const DIFFID_LABEL = 'ostree.final-diffid';
/** Label set to `1` whenever the commit metadata has `ostree.bootable`. */
export const BOOTC_LABEL = 'containers.bootc';
/** Per-layer annotation: sorted component names joined by `COMPONENT_SEPARATOR`. */
export const CONTENT_ANNOTATION = 'ostree.components';
/** Separator of the values in `CONTENT_ANNOTATION`. */
export const COMPONENT_SEPARATOR = ',';
/** Upstream defines this annotation (value `true`) but never attaches it. */
export const BLOB_OSTREE_ANNOTATION = 'ostree.encapsulated';
// OCI standard annotations: the image version (also our label) and a layout index entry's tag.
export { ANNOTATION_VERSION, ANNOTATION_REF_NAME } from '../oci/media-types.js';

/** libostree commit metadata key `ostree.bootable` (copied as a `true`/`false` label). */
export const METADATA_KEY_BOOTABLE = 'ostree.bootable';
/** libostree commit metadata key `ostree.linux` (copied as a label when present). */
export const METADATA_KEY_LINUX = 'ostree.linux';
/** Commit metadata key (type `as`) that becomes the image `Cmd`. */
export const COMMIT_META_CONTAINER_CMD = 'ostree.container-cmd';

/** Origin file key holding the formatted OstreeImageReference of a deployment. */
export const ORIGIN_CONTAINER = 'container-image-reference';
/** Default stateroot for deployments. */
export const STATEROOT_DEFAULT = 'default';

/** Refs owned by external tools (`ostree/container/baseimage/<project>/<name>`); only read as GC roots. */
export const BASE_IMAGE_PREFIX = 'ostree/container/baseimage';
/** One commit per fetched layer: `ostree/container/blob/<escaped layer digest>`. */
export const LAYER_PREFIX = 'ostree/container/blob';
/** Merge commit of a pulled image: `ostree/container/image/<escaped image reference>`. */
export const IMAGE_PREFIX = 'ostree/container/image';

/** Commit metadata: the manifest digest of a stored image. */
export const META_MANIFEST_DIGEST = 'ostree.manifest-digest';
/** Commit metadata: the manifest JSON of a stored image. */
export const META_MANIFEST = 'ostree.manifest';
/** Commit metadata: the image configuration JSON of a stored image. */
export const META_CONFIG = 'ostree.container.image-config';
/** Commit metadata (`a{sa{su}}`): paths filtered out of derived layers. */
export const META_FILTERED = 'ostree.tar-filtered';
/** Commit metadata of a cached (fetched but not imported) update. */
export const CACHED_MANIFEST_DIGEST = 'ostree-ext.cached.manifest-digest';
export const CACHED_MANIFEST = 'ostree-ext.cached.manifest';
export const CACHED_CONFIG = 'ostree-ext.cached.config';

/**
 * Docker's uncompressed layer media type, accepted like the OCI uncompressed one. The other layer
 * media types (`MediaType.ImageLayerGzip`, `…Zstd`, `MediaType.ImageLayer`) are in oci/media-types.
 */
export const DOCKER_TYPE_LAYER_TAR = 'application/vnd.docker.image.rootfs.diff.tar';

/** The containers signature policy file. */
export const POLICY_PATH = '/etc/containers/policy.json';
/** Policy requirement type that accepts anything (refused as a default). */
export const INSECURE_ACCEPT_ANYTHING = 'insecureAcceptAnything';
/** User the skopeo proxy runs as when isolated. */
export const DEFAULT_UNPRIVILEGED_USER = 'nobody';
