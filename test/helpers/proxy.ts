// Reading an image through a real skopeo proxy started for one call.
import type { ImageProxyConfig } from '../../src/proxy/config.js';
import { ImageProxy } from '../../src/proxy/image-proxy.js';

/** The manifest digest of `ref` as a proxy started with `config` reads it. */
export async function manifestDigestVia(config: ImageProxyConfig, ref: string): Promise<string> {
  const proxy = await ImageProxy.create(config);
  try {
    const img = await proxy.openImage(ref);
    return (await proxy.fetchManifest(img)).digest;
  } finally {
    await proxy.finalize();
  }
}
