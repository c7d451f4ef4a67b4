// The real skopeo image proxy as the tests meet it: one call through it, and what the installed
// skopeo speaks. Tests ask the proxy its protocol version (its `Initialize` reply) and assert what
// that version must do, so they hold on Debian 12 (skopeo 1.9.3), Debian 13 (1.18) and newer.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ImageProxyConfig } from '../../src/proxy/config.js';
import { withImageProxy } from '../../src/proxy/fetch.js';
import { ImageProxy, protocolSatisfies } from '../../src/proxy/image-proxy.js';

/** The manifest digest of `ref` as a proxy started with `config` reads it. */
export function manifestDigestVia(config: ImageProxyConfig, ref: string): Promise<string> {
  return withImageProxy(config, async (proxy) => (await proxy.fetchManifest(await proxy.openImage(ref))).digest);
}

/**
 * The protocol version that added each proxy capability, from the history in skopeo's
 * cmd/skopeo/proxy.go (0.2.8, GetRawBlob, from containers-image-proxy-rs). Kept apart from the
 * client's own gates on purpose: this is what the tests hold the client and skopeo to.
 */
export const PROXY_CAPABILITY = {
  openImageOptional: '0.2.4',
  getLayerInfo: '0.2.5',
  /** OpenImage checks the image against the signature policy (containers-policy.json). */
  policyOnOpen: '0.2.6',
  getLayerInfoPiped: '0.2.7',
  getRawBlob: '0.2.8',
} as const;
export type ProxyCapability = keyof typeof PROXY_CAPABILITY;

/** Protocol versions of the skopeo releases the suite runs against (README "Supported versions"). */
export const KNOWN_SKOPEO_PROTOCOLS: Record<string, string> = { '1.9.3': '0.2.3', '1.18.0': '0.2.6' };

export interface InstalledSkopeo {
  /** `skopeo --version`'s number, e.g. `1.9.3`. */
  version: string;
  /** The proxy's `Initialize` reply, e.g. `0.2.3`. */
  protocol: string;
  has(capability: ProxyCapability): boolean;
}

let installed: Promise<InstalledSkopeo> | undefined;

/** Asks the installed skopeo (once per test file) its version and its proxy's protocol version. */
export function installedSkopeo(): Promise<InstalledSkopeo> {
  installed ??= (async () => {
    const { stdout } = await promisify(execFile)('skopeo', ['--version']);
    const version = /skopeo version (\S+)/.exec(stdout)?.[1];
    if (!version) throw new Error(`unexpected skopeo --version output: ${stdout}`);
    const proxy = await ImageProxy.create();
    const protocol = proxy.protocolVersion;
    await proxy.finalize();
    return { version, protocol, has: (c: ProxyCapability) => protocolSatisfies(protocol, PROXY_CAPABILITY[c]) };
  })();
  return installed;
}
