// ImageProxyConfig: how the skopeo image proxy child is started (spec §5.1, §5.8).

/** A program with arguments and environment edits; used for `skopeoCmd` and isolation. */
export interface ProxyCommand {
  program: string;
  args?: string[];
  /** Environment variables removed from the inherited environment. */
  envRemove?: string[];
  /** The user the command runs as, when not us: `authData` is made readable by that user only. */
  user?: string;
}

export interface ImageProxyConfig {
  /** `--authfile <path>`. */
  authfile?: string;
  /**
   * Authentication file contents, handed to the child as an unnamed 0600 file on fd 100
   * (`--authfile /proc/self/fd/100`), owned by `skopeoCmd.user` when the child runs as another user.
   * A Buffer is the contents; a number is an open readable fd, read from its current offset
   * when the proxy starts (the caller keeps ownership of that fd).
   */
  authData?: Buffer | number;
  /** `--no-creds`: never consult any credentials. */
  authAnonymous?: boolean;
  /** `--cert-dir <path>`. */
  certificateDirectory?: string;
  /**
   * `--decryption-key <k>` per key. No skopeo image proxy accepts this flag (it exists only on
   * `skopeo copy`); the proxy then exits with `unknown flag: --decryption-key`. Kept for parity.
   */
  decryptionKeys?: string[];
  /** Only `true` has an effect: `--tls-verify=false`. */
  insecureSkipTlsVerification?: boolean;
  /** `--debug`, and the child's stderr goes to ours instead of being captured. */
  debug?: boolean;
  /** Replaces `skopeo` (no parent-death signal is added then). */
  skopeoCmd?: ProxyCommand;
}

/** Child fd number for `authData` (start of upstream's reserved range 100..199). */
export const AUTH_DATA_CHILD_FD = 100;

/** True when debugging is requested by the config or `CONTAINERS_IMAGE_PROXY_DEBUG`. */
export function proxyDebug(config: ImageProxyConfig, env: NodeJS.ProcessEnv = process.env): boolean {
  return !!config.debug || env.CONTAINERS_IMAGE_PROXY_DEBUG !== undefined;
}

/**
 * The arguments after the base command, in upstream's order:
 * `experimental-image-proxy [--debug] [--authfile P | --authfile /proc/self/fd/100 | --no-creds]
 * [--cert-dir D] [--decryption-key K]* [--tls-verify=false]`.
 */
export function proxyArgs(config: ImageProxyConfig, env: NodeJS.ProcessEnv = process.env): string[] {
  const authOptions = [config.authfile !== undefined, config.authData !== undefined, !!config.authAnonymous];
  if (authOptions.filter(Boolean).length > 1) throw new Error('Conflicting authentication options');
  const args = ['experimental-image-proxy'];
  if (proxyDebug(config, env)) args.push('--debug');
  if (config.authfile !== undefined) args.push('--authfile', config.authfile);
  else if (config.authData !== undefined) args.push('--authfile', `/proc/self/fd/${AUTH_DATA_CHILD_FD}`);
  else if (config.authAnonymous) args.push('--no-creds');
  if (config.certificateDirectory !== undefined) args.push('--cert-dir', config.certificateDirectory);
  for (const k of config.decryptionKeys ?? []) args.push('--decryption-key', k);
  if (config.insecureSkipTlsVerification === true) args.push('--tls-verify=false');
  return args;
}
