// ImageReference and OstreeImageReference: the string grammars of spec references §1.2–1.5.
import { parseTransport, Transport, transportPrefix } from './transport.js';

/** Splits at the first `:`; undefined when there is none. */
function splitOnce(s: string): [string, string] | undefined {
  const i = s.indexOf(':');
  return i < 0 ? undefined : [s.slice(0, i), s.slice(i + 1)];
}

/** Combination of a transport and a transport-specific image name (kept verbatim). */
export class ImageReference {
  constructor(
    readonly transport: Transport,
    readonly name: string,
  ) {}

  /**
   * Parses `<transport>:<name>`. `docker:` must be followed by `//`, which is removed; the name is
   * otherwise kept verbatim (no tag/digest normalisation).
   */
  static parse(s: string): ImageReference {
    const parts = splitOnce(s);
    if (!parts) throw new Error(`Missing ':' in ${s}`);
    const [token, rest] = parts;
    const transport = parseTransport(token);
    if (rest.length === 0) throw new Error(`Invalid empty name in ${s}`);
    let name = rest;
    // Only the literal `docker` token carries the `//`; `registry://x` keeps `//x` as its name.
    if (token === 'docker') {
      if (!rest.startsWith('//')) throw new Error(`Missing // in docker:// in ${s}`);
      name = rest.slice(2);
    }
    return new ImageReference(transport, name);
  }

  /** `<prefix><name>`, the exact text given to skopeo and used as the store's ref key. */
  toString(): string {
    return `${transportPrefix(this.transport)}${this.name}`;
  }

  equals(other: ImageReference): boolean {
    return this.transport === other.transport && this.name === other.name;
  }
}

/**
 * Splits an `oci:` image name into directory and optional tag at the first `:`
 * (the tag itself may contain `:`).
 */
export function parseOciPathAndTag(name: string): { path: string; tag?: string } {
  const parts = splitOnce(name);
  return parts ? { path: parts[0], tag: parts[1] } : { path: name };
}

/** Policy for signature verification. */
export type SignatureSource =
  /** Verify the embedded ostree commit with the named ostree remote's signature config. */
  | { readonly type: 'OstreeRemote'; readonly remote: string }
  /** Defer to containers-policy.json (refusing a default of insecureAcceptAnything). */
  | { readonly type: 'ContainerPolicy' }
  /** No verification. */
  | { readonly type: 'ContainerPolicyAllowInsecure' };

const SIG_OSTREE_REMOTE = 'ostree-remote-image';
const SIG_POLICY = 'ostree-image-signed';
const SIG_INSECURE = 'ostree-unverified-image';

/** Constructors, parsing, display and equality of `SignatureSource` values. */
export const SignatureSource = {
  OstreeRemote: (remote: string): SignatureSource => ({ type: 'OstreeRemote', remote }),
  ContainerPolicy: { type: 'ContainerPolicy' } as SignatureSource,
  ContainerPolicyAllowInsecure: { type: 'ContainerPolicyAllowInsecure' } as SignatureSource,

  /** Parses `ostree-remote-image:<name>`, `ostree-image-signed` or `ostree-unverified-image`. */
  parse(s: string): SignatureSource {
    if (s === SIG_POLICY) return SignatureSource.ContainerPolicy;
    if (s === SIG_INSECURE) return SignatureSource.ContainerPolicyAllowInsecure;
    if (s.startsWith(`${SIG_OSTREE_REMOTE}:`)) {
      return SignatureSource.OstreeRemote(s.slice(SIG_OSTREE_REMOTE.length + 1));
    }
    throw new Error(`Invalid signature source: ${s}`);
  },

  format(s: SignatureSource): string {
    switch (s.type) {
      case 'OstreeRemote':
        return `${SIG_OSTREE_REMOTE}:${s.remote}`;
      case 'ContainerPolicy':
        return SIG_POLICY;
      case 'ContainerPolicyAllowInsecure':
        return SIG_INSECURE;
    }
  },

  equals(a: SignatureSource, b: SignatureSource): boolean {
    return a.type === b.type && (a.type !== 'OstreeRemote' || a.remote === (b as typeof a).remote);
  },
};

/** Combination of a signature verification mechanism and a container image reference. */
export class OstreeImageReference {
  constructor(
    readonly sigverify: SignatureSource,
    readonly imgref: ImageReference,
  ) {}

  /**
   * Parses `ostree-image-signed:<imgref>`, `ostree-unverified-image:<imgref>`,
   * `ostree-unverified-registry:<name>`, `ostree-remote-image:<remote>:<imgref>` or
   * `ostree-remote-registry:<remote>:<name>`. Errors from the inner ImageReference propagate
   * unchanged (they quote the inner string).
   */
  static parse(s: string): OstreeImageReference {
    const parts = splitOnce(s);
    if (!parts) throw new Error(`Missing ':' in ${s}`);
    const [scheme, rest] = parts;
    let sigverify: SignatureSource;
    let inner: string;
    switch (scheme) {
      case SIG_POLICY:
        sigverify = SignatureSource.ContainerPolicy;
        inner = rest;
        break;
      case SIG_INSECURE:
        sigverify = SignatureSource.ContainerPolicyAllowInsecure;
        inner = rest;
        break;
      case 'ostree-unverified-registry':
        sigverify = SignatureSource.ContainerPolicyAllowInsecure;
        inner = `registry:${rest}`;
        break;
      case 'ostree-remote-registry':
      case SIG_OSTREE_REMOTE: {
        const second = splitOnce(rest);
        if (!second) throw new Error(`Missing second ':' in ${s}`);
        sigverify = SignatureSource.OstreeRemote(second[0]);
        inner = scheme === SIG_OSTREE_REMOTE ? second[1] : `registry:${second[1]}`;
        break;
      }
      default:
        throw new Error(`Invalid ostree image reference scheme: ${scheme}`);
    }
    return new OstreeImageReference(sigverify, ImageReference.parse(inner));
  }

  /**
   * The normal form re-parses to an equal value. With `alternate: true` (upstream's `{:#}`), an
   * unverified registry image prints as the bare `docker://<name>`, which is not re-parseable here.
   */
  toString(opts: { alternate?: boolean } = {}): string {
    if (this.sigverify.type === 'ContainerPolicyAllowInsecure' && this.imgref.transport === Transport.Registry) {
      return opts.alternate ? this.imgref.toString() : `ostree-unverified-registry:${this.imgref.name}`;
    }
    return `${SignatureSource.format(this.sigverify)}:${this.imgref.toString()}`;
  }

  equals(other: OstreeImageReference): boolean {
    return SignatureSource.equals(this.sigverify, other.sigverify) && this.imgref.equals(other.imgref);
  }
}
