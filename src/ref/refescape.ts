// Bijective escaping of arbitrary strings (image references, digests) into ostree ref names
// (spec store-deploy-cli §1.2). The output format is upstream's, byte for byte.

function isAsciiAlnum(c: string): boolean {
  return /^[A-Za-z0-9]$/.test(c);
}

/**
 * Escapes `s` for use in an ostree ref: ASCII alphanumerics and `-` stay, `_` doubles, `/` stays
 * only between an alphanumeric and another character, anything else becomes `_<HEX>_` (uppercase
 * hex of the code point, at least two digits).
 *
 * Known quirk kept for compatibility: a component starting with `-` (e.g. `a/-b`) passes through
 * unchanged, and libostree rejects such a ref.
 */
export function escapeRef(s: string): string {
  if (s.length === 0) throw new Error('Invalid empty string for ref');
  if (s.includes('\0')) throw new Error('Invalid embedded NUL in string for ostree ref');
  const chars = Array.from(s);
  let out = '';
  let prevAlnum = false;
  chars.forEach((c, i) => {
    const cp = c.codePointAt(0)!;
    // A lone surrogate is not a Unicode scalar value; its escape could never be unescaped.
    if (cp >= 0xd800 && cp <= 0xdfff) throw new Error('Invalid lone surrogate in string for ostree ref');
    const alnum = isAsciiAlnum(c);
    const hasNext = i + 1 < chars.length;
    if (alnum || c === '-' || (c === '/' && prevAlnum && hasNext)) out += c;
    else if (c === '_') out += '__';
    else out += `_${cp.toString(16).toUpperCase().padStart(2, '0')}_`;
    prevAlnum = alnum;
  });
  return out;
}

/** Parses the hex of an `_XX_` escape with the semantics (and messages) of Rust's `u32::from_str_radix` + `char::try_from`. */
function codePointFromHex(hex: string): string {
  const digits = hex.startsWith('+') ? hex.slice(1) : hex;
  if (!/^[0-9A-Fa-f]+$/.test(digits)) throw new Error('invalid digit found in string');
  const v = parseInt(digits, 16);
  if (v > 0xffffffff) throw new Error('number too large to fit in target type');
  if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) throw new Error('converted integer out of range for `char`');
  return String.fromCodePoint(v);
}

/** Inverts `escapeRef`. A lone trailing `_` is dropped, as upstream does. */
export function unescapeRef(ref: string): string {
  const chars = Array.from(ref);
  let out = '';
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    if (isAsciiAlnum(c) || c === '-' || c === '/') {
      out += c;
    } else if (c === '_') {
      i++;
      if (i >= chars.length) break;
      if (chars[i] === '_') {
        out += '_';
        continue;
      }
      let hex = chars[i];
      for (i++; i < chars.length && chars[i] !== '_'; i++) hex += chars[i];
      out += codePointFromHex(hex);
    } else {
      throw new Error(`Invalid character ${c}`);
    }
  }
  return out;
}

/** `<prefix>/<escapeRef(s)>`; the prefix is expected to be non-empty. */
export function prefixEscapeForRef(prefix: string, s: string): string {
  return `${prefix}/${escapeRef(s)}`;
}

/** Strips `<prefix>/` from `ref` and unescapes the rest. */
export function unprefixUnescapeRef(prefix: string, ref: string): string {
  const head = `${prefix}/`;
  // Upstream's message has ref and prefix in swapped positions; the text is kept as is.
  if (!ref.startsWith(head)) throw new Error(`ref does not match expected prefix ${ref}/: ${prefix}`);
  return unescapeRef(ref.slice(head.length));
}
