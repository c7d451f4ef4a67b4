// One-shot manifest/config fetches through a short-lived proxy (spec §7).
import { withContext } from '../errors.js';
import type { ImageConfiguration, ImageManifest } from '../oci/types.js';
import type { OstreeImageReference } from '../ref/image-reference.js';
import type { ImageProxyConfig } from './config.js';
import { ImageProxy, type OpenedImage } from './image-proxy.js';

export interface FetchedManifest {
  manifest: ImageManifest;
  /** Digest of the manifest skopeo resolved (for a manifest list: the chosen instance's). */
  digest: string;
}

export interface FetchedManifestAndConfig extends FetchedManifest {
  config: ImageConfiguration;
}

/** Runs `fn` with a proxy started from `config`, always finalizing it. */
export async function withImageProxy<T>(config: ImageProxyConfig, fn: (proxy: ImageProxy) => Promise<T>): Promise<T> {
  const proxy = await ImageProxy.create(config);
  let result: T;
  try {
    result = await fn(proxy);
  } catch (e) {
    await proxy.finalize().catch(() => undefined);
    throw e;
  }
  await proxy.finalize();
  return result;
}

/** Runs `fn` on `imgref` opened through a short-lived proxy; errors get the context `what`. */
function withOpenedImage<T>(
  what: string,
  imgref: OstreeImageReference,
  config: ImageProxyConfig,
  fn: (proxy: ImageProxy, img: OpenedImage) => Promise<T>,
): Promise<T> {
  const name = imgref.imgref.toString();
  return withContext(what, () =>
    withImageProxy(config, async (proxy) => {
      const img = await proxy.openImage(name);
      const result = await fn(proxy, img);
      await proxy.closeImage(img);
      return result;
    }),
  );
}

/**
 * The manifest and its digest. Uses skopeo's own credential lookup (no ostree auth defaults)
 * and ignores `sigverify`, as upstream does.
 */
export function fetchManifest(
  imgref: OstreeImageReference,
  config: ImageProxyConfig = {},
): Promise<FetchedManifest> {
  return withOpenedImage('Fetching manifest', imgref, config, (proxy, img) => proxy.fetchManifest(img));
}

/** The manifest, its digest and the image configuration. */
export function fetchManifestAndConfig(
  imgref: OstreeImageReference,
  config: ImageProxyConfig = {},
): Promise<FetchedManifestAndConfig> {
  return withOpenedImage('Fetching manifest and config', imgref, config, async (proxy, img) => {
    const fetched = await proxy.fetchManifest(img);
    return { ...fetched, config: await proxy.fetchConfig(img) };
  });
}
