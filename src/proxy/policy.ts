// containers-policy.json pre-check for `ostree-image-signed` sources (spec §6.5).
import { promises as fsp } from 'node:fs';
import { withContext } from '../errors.js';
import { INSECURE_ACCEPT_ANYTHING, POLICY_PATH } from '../container/constants.js';

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
