// Canonical JSON as written by upstream's ocidir (OLPC style): object keys sorted bytewise by
// their UTF-8 encoding, no whitespace, integers only. Strings use JSON.stringify's escaping,
// which equals OLPC's (`"` and `\` only) except for control characters and lone surrogates:
// those we escape so every reader (Go's included) accepts the document.

function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Serializes `value` canonically; `undefined` object members are omitted as in JSON. */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isSafeInteger(value)) throw new Error(`Canonical JSON allows only integers, got ${value}`);
      return String(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(',')}]`;
      const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
      entries.sort(([a], [b]) => compareUtf8(a, b));
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
    }
    default:
      throw new Error(`Cannot serialize a ${typeof value} as JSON`);
  }
}
