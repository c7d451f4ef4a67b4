// Reading an image through a real skopeo proxy started for one call.
import type { ImageProxyConfig } from '../../src/proxy/config.js';
import { withImageProxy } from '../../src/proxy/fetch.js';

/** The manifest digest of `ref` as a proxy started with `config` reads it. */
export function manifestDigestVia(config: ImageProxyConfig, ref: string): Promise<string> {
  return withImageProxy(config, async (proxy) => (await proxy.fetchManifest(await proxy.openImage(ref))).digest);
}
