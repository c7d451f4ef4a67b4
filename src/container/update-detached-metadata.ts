// Image-level updateDetachedMetadata() (spec tar-and-encapsulation §6): replace (or remove) the
// detached metadata — typically the GPG signature — carried in an image's commit layer, keeping
// every other layer as it is so registries can reuse them.
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { withContext } from '../errors.js';
import { OciDir } from '../oci/layout.js';
import { MediaType } from '../oci/media-types.js';
import { hostPlatform } from '../oci/platform.js';
import { ImageReference } from '../ref/image-reference.js';
import { Transport } from '../ref/transport.js';
import { skopeoCopy } from '../proxy/skopeo-copy.js';
import { DIFFID_LABEL } from './constants.js';
import { parseOstreeManifestLayout } from './manifest-layout.js';
import { updateDetachedMetadata as updateTarDetachedMetadata } from '../tar/update-detached-metadata.js';
import { bigTempDir } from '../tmpdir.js';

export interface UpdateDetachedMetadataOpts {
  /** Passed as `--authfile` to both `skopeo copy` runs. */
  authfile?: string;
  /** Copy from and to registries without TLS verification (e.g. plain HTTP). */
  insecureSkipTlsVerification?: boolean;
  signal?: AbortSignal;
}

/**
 * Copies `src` to `dest` with the commit layer's detached metadata replaced by `detached`
 * (serialized `a{sv}`), or removed when it is undefined. Returns the new manifest digest.
 */
export async function updateDetachedMetadata(
  src: ImageReference,
  dest: ImageReference,
  detached: Uint8Array | undefined,
  opts: UpdateDetachedMetadataOpts = {},
): Promise<string> {
  const tmp = await mkdtemp(path.join(bigTempDir(), 'ostree-container-detached-'));
  try {
    const local = new ImageReference(Transport.OciDir, path.join(tmp, 'src'));
    const copyOpts = {
      ...(opts.authfile !== undefined ? { authfile: opts.authfile } : {}),
      ...(opts.insecureSkipTlsVerification ? { srcTlsVerify: false, destTlsVerify: false } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    };
    const pulled = await withContext('Skopeo copy', () => skopeoCopy(src, local, copyOpts));
    const oci = await OciDir.open(local.name);
    const index = await oci.readIndex();
    const desc = index.manifests[0];
    if (!desc || desc.digest !== pulled) {
      throw new Error(`Copied image has manifest ${desc?.digest ?? '(none)'}, expected ${pulled}`);
    }
    const platform = desc.platform ?? hostPlatform();
    const { manifest } = await oci.readManifest(desc.digest);
    const config = await oci.readConfig(manifest);
    if (!config.config) throw new Error('Image is missing container configuration');
    const { commitLayer } = parseOstreeManifestLayout(manifest, config);
    const idx = manifest.layers.indexOf(commitLayer);
    const tmpBlob = oci.tempPath();
    const rewritten = await withContext(`Rewriting commit layer ${commitLayer.digest}`, async () => {
      try {
        return await updateTarDetachedMetadata(oci.blobPath(commitLayer.digest), tmpBlob, detached, {
          inputMediaType: commitLayer.mediaType,
          compression: 'gzip',
          ...(opts.signal ? { signal: opts.signal } : {}),
        });
      } catch (e) {
        await rm(tmpBlob, { force: true });
        throw e;
      }
    });
    await oci.writeBlobFromFile(tmpBlob, { digest: rewritten.digest, size: rewritten.size }, { verify: false });
    // Upstream drops any annotations of the replaced layer.
    manifest.layers[idx] = { mediaType: MediaType.ImageLayerGzip, digest: rewritten.digest, size: rewritten.size };
    config.rootfs.diff_ids[idx] = rewritten.diffId;
    if (manifest.layers.length === 1) config.config.Labels = { ...(config.config.Labels ?? {}), [DIFFID_LABEL]: rewritten.diffId };
    manifest.config = await oci.writeConfig(config);
    await oci.insertManifest(manifest, { platform });
    return await withContext('Skopeo copy', () => skopeoCopy(local, dest, copyOpts));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
