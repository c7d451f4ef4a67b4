// containers-policy.json pre-check for `ostree-image-signed` sources (spec §6.5).
import { promises as fsp } from 'node:fs';
import { withContext } from '../errors.js';
import { INSECURE_ACCEPT_ANYTHING, POLICY_PATH } from '../container/constants.js';
import type { ImageProxy } from './image-proxy.js';

/**
 * The first proxy that checks containers-policy.json itself, inside OpenImage: skopeo 1.13.0's
 * cmd/skopeo/proxy.go ("0.2.6: Policy Verification before pulling OCI", commit 4de3a90f).
 * Older proxies (Debian 12's skopeo 1.9.3 speaks 0.2.3) open any image unchecked.
 */
export const POLICY_ENFORCING_PROXY = { protocol: '0.2.6', skopeo: '1.13.0' } as const;

/** True iff the policy's `default` is exactly one `insecureAcceptAnything` requirement. */
export function policyIsDefaultInsecure(policy: unknown): boolean {
  const def = (policy as { default?: unknown } | null)?.default;
  return (
    Array.isArray(def) &&
    def.length === 1 &&
    (def[0] as { type?: unknown } | null)?.type === INSECURE_ACCEPT_ANYTHING
  );
}

/** Reads the policy file (a missing or unreadable file is an error) and applies the check. */
export async function containerPolicyIsDefaultInsecure(policyPath = POLICY_PATH): Promise<boolean> {
  const policy = await withContext(`Reading ${policyPath}`, async () =>
    JSON.parse(await fsp.readFile(policyPath, 'utf8')) as unknown,
  );
  return policyIsDefaultInsecure(policy);
}

/** Refuses a containers policy that accepts anything by default. */
export async function requireSecureContainerPolicy(policyPath = POLICY_PATH): Promise<void> {
  if (await containerPolicyIsDefaultInsecure(policyPath)) {
    throw new Error(`containers-policy.json specifies a default of \`${INSECURE_ACCEPT_ANYTHING}\`; refusing usage`);
  }
}

/**
 * Refuses a proxy that would open an image without applying the signature policy: with it, an
 * `ostree-image-signed` import would silently verify nothing.
 */
export function requirePolicyEnforcingProxy(proxy: ImageProxy): void {
  if (proxy.supports(POLICY_ENFORCING_PROXY.protocol)) return;
  throw new Error(
    `ostree-image-signed needs skopeo ${POLICY_ENFORCING_PROXY.skopeo} or newer: the installed skopeo's image proxy ` +
      `(protocol ${proxy.protocolVersion}) does not enforce containers-policy.json; signature verification needs ` +
      `protocol ${POLICY_ENFORCING_PROXY.protocol}`,
  );
}
