// Content digests (`<algorithm>:<encoded>`) as defined by the OCI image spec.
import { createHash, type Hash } from 'node:crypto';

/** The registered algorithms we verify: lowercase hex of a fixed length. */
export type DigestAlgorithm = 'sha256' | 'sha512';
const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };

export interface ParsedDigest {
  readonly algorithm: DigestAlgorithm;
  /** The hex part after `algorithm:`. */
  readonly encoded: string;
}

/**
 * Parses and validates a digest. Only sha256 and sha512 are accepted, with exactly 64/128
 * lowercase hex characters; anything else is an error quoting the digest.
 */
export function parseDigest(digest: string): ParsedDigest {
  const i = digest.indexOf(':');
  // OCI grammar: algorithm = component (separator component)*, encoded = [a-zA-Z0-9=_-]+.
  if (i < 0 || !/^[a-z0-9]+(?:[+._-][a-z0-9]+)*$/.test(digest.slice(0, i)) || !/^[a-zA-Z0-9=_-]+$/.test(digest.slice(i + 1))) {
    throw new Error(`Invalid digest ${JSON.stringify(digest)}: expected <algorithm>:<hex>`);
  }
  const algorithm = digest.slice(0, i);
  const encoded = digest.slice(i + 1);
  if (!Object.hasOwn(HEX_LENGTH, algorithm)) {
    throw new Error(`Unsupported digest algorithm ${JSON.stringify(algorithm)} in ${JSON.stringify(digest)}`);
  }
  const len = HEX_LENGTH[algorithm as DigestAlgorithm];
  if (encoded.length !== len || !/^[0-9a-f]+$/.test(encoded)) {
    throw new Error(`Invalid ${algorithm} digest ${JSON.stringify(digest)}: expected ${len} lowercase hex characters`);
  }
  return { algorithm: algorithm as DigestAlgorithm, encoded };
}

/** A streaming hasher for `algorithm`; `hash.digest('hex')` gives the encoded part. */
export function createDigester(algorithm: DigestAlgorithm = 'sha256'): Hash {
  return createHash(algorithm);
}

/** `<algorithm>:<hex>` of `data`. */
export function digestOf(data: Uint8Array | string, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}
