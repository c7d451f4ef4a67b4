// Spec references §2: upstream's constants with their exact values; the ones users need come from
// the package entry, the proxy's internal limits from their modules.
import { describe, expect, it } from 'vitest';
import * as api from '../../src/index.js';
import { AUTH_DATA_CHILD_FD } from '../../src/proxy/config.js';
import { MAX_MSG_SIZE } from '../../src/proxy/image-proxy.js';

describe('constants (spec references §2)', () => {
  it('labels, annotations, metadata keys, ref prefixes and policy names', () => {
    expect({
      OSTREE_COMMIT_LABEL: api.OSTREE_COMMIT_LABEL,
      LABEL_VERSION: api.LABEL_VERSION,
      LEGACY_VERSION_LABEL: api.LEGACY_VERSION_LABEL,
      DIFFID_LABEL: api.DIFFID_LABEL,
      BOOTC_LABEL: api.BOOTC_LABEL,
      CONTENT_ANNOTATION: api.CONTENT_ANNOTATION,
      COMPONENT_SEPARATOR: api.COMPONENT_SEPARATOR,
      BLOB_OSTREE_ANNOTATION: api.BLOB_OSTREE_ANNOTATION,
      ANNOTATION_VERSION: api.ANNOTATION_VERSION,
      METADATA_KEY_BOOTABLE: api.METADATA_KEY_BOOTABLE,
      METADATA_KEY_LINUX: api.METADATA_KEY_LINUX,
      COMMIT_META_CONTAINER_CMD: api.COMMIT_META_CONTAINER_CMD,
      ORIGIN_CONTAINER: api.ORIGIN_CONTAINER,
      STATEROOT_DEFAULT: api.STATEROOT_DEFAULT,
      BASE_IMAGE_PREFIX: api.BASE_IMAGE_PREFIX,
      LAYER_PREFIX: api.LAYER_PREFIX,
      IMAGE_PREFIX: api.IMAGE_PREFIX,
      META_MANIFEST_DIGEST: api.META_MANIFEST_DIGEST,
      META_MANIFEST: api.META_MANIFEST,
      META_CONFIG: api.META_CONFIG,
      META_FILTERED: api.META_FILTERED,
      CACHED_MANIFEST_DIGEST: api.CACHED_MANIFEST_DIGEST,
      CACHED_MANIFEST: api.CACHED_MANIFEST,
      CACHED_CONFIG: api.CACHED_CONFIG,
      DOCKER_TYPE_LAYER_TAR: api.DOCKER_TYPE_LAYER_TAR,
      POLICY_PATH: api.POLICY_PATH,
      INSECURE_ACCEPT_ANYTHING: api.INSECURE_ACCEPT_ANYTHING,
      DEFAULT_UNPRIVILEGED_USER: api.DEFAULT_UNPRIVILEGED_USER,
    }).toEqual({
      OSTREE_COMMIT_LABEL: 'ostree.commit',
      LABEL_VERSION: 'version',
      LEGACY_VERSION_LABEL: 'version',
      DIFFID_LABEL: 'ostree.final-diffid',
      BOOTC_LABEL: 'containers.bootc',
      CONTENT_ANNOTATION: 'ostree.components',
      COMPONENT_SEPARATOR: ',',
      BLOB_OSTREE_ANNOTATION: 'ostree.encapsulated',
      ANNOTATION_VERSION: 'org.opencontainers.image.version',
      METADATA_KEY_BOOTABLE: 'ostree.bootable',
      METADATA_KEY_LINUX: 'ostree.linux',
      COMMIT_META_CONTAINER_CMD: 'ostree.container-cmd',
      ORIGIN_CONTAINER: 'container-image-reference',
      STATEROOT_DEFAULT: 'default',
      BASE_IMAGE_PREFIX: 'ostree/container/baseimage',
      LAYER_PREFIX: 'ostree/container/blob',
      IMAGE_PREFIX: 'ostree/container/image',
      META_MANIFEST_DIGEST: 'ostree.manifest-digest',
      META_MANIFEST: 'ostree.manifest',
      META_CONFIG: 'ostree.container.image-config',
      META_FILTERED: 'ostree.tar-filtered',
      CACHED_MANIFEST_DIGEST: 'ostree-ext.cached.manifest-digest',
      CACHED_MANIFEST: 'ostree-ext.cached.manifest',
      CACHED_CONFIG: 'ostree-ext.cached.config',
      DOCKER_TYPE_LAYER_TAR: 'application/vnd.docker.image.rootfs.diff.tar',
      POLICY_PATH: '/etc/containers/policy.json',
      INSECURE_ACCEPT_ANYTHING: 'insecureAcceptAnything',
      DEFAULT_UNPRIVILEGED_USER: 'nobody',
    });
  });

  it('proxy limits and the layer media types the decompressor accepts', () => {
    expect(MAX_MSG_SIZE).toBe(32768);
    expect(AUTH_DATA_CHILD_FD).toBe(100); // first of the reserved range 100 ≤ fd < 200
    expect([api.MediaType.ImageLayerGzip, api.MediaType.ImageLayerZstd, api.MediaType.ImageLayer]).toEqual([
      'application/vnd.oci.image.layer.v1.tar+gzip',
      'application/vnd.oci.image.layer.v1.tar+zstd',
      'application/vnd.oci.image.layer.v1.tar',
    ]);
  });
});
