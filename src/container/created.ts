// The one time an image carries: config `created` and every history entry's `created` come from
// the commit timestamp, or from the `created` the build asks for (`--created`, SOURCE_DATE_EPOCH),
// never from the clock, so one commit gives the same image on any machine and run (upstream
// ostree-ext does the same since 2025).

/** `YYYY-MM-DDTHH:MM:SSZ` in UTC for a Unix time in seconds. */
export function formatTimestamp(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

/**
 * A history entry's `created` for the image `created` time `created` (RFC 3339): that moment in
 * UTC, whole seconds, as upstream writes it (fractions dropped). Upstream silently writes the
 * epoch for a time it cannot parse; such a time is an error here.
 */
export function historyCreated(created: string): string {
  const m = RFC3339.exec(created);
  const [y, mo, d, h, mi, s] = (m?.slice(1, 7) ?? []).map(Number) as number[];
  const local = m ? Date.UTC(y!, mo! - 1, d!, h!, mi!, s!) : NaN;
  const back = new Date(local);
  // Date.UTC rolls 02-30 over into March: a field out of range shows as a different date back.
  const valid = m && back.getUTCMonth() === mo! - 1 && back.getUTCDate() === d && h! < 24 && mi! < 60 && s! < 60;
  if (!valid) throw new Error(`Invalid created time '${created}': expected RFC 3339, e.g. 2024-01-31T12:00:00Z`);
  const offset = m[7] ? (m[7] === '-' ? -1 : 1) * (Number(m[8]) * 60 + Number(m[9])) : 0;
  return formatTimestamp(local / 1000 - offset * 60);
}

/**
 * The image `created` that SOURCE_DATE_EPOCH (reproducible-builds.org: seconds since the epoch)
 * asks for; undefined when it is unset or empty, an error when it is not a number of seconds.
 */
export function createdFromSourceDateEpoch(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  const seconds = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(seconds) || seconds > 253402300799) {
    throw new Error(`Invalid SOURCE_DATE_EPOCH '${value}': expected seconds since 1970-01-01 (up to year 9999)`);
  }
  return formatTimestamp(seconds);
}
