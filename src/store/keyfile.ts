// The GKeyFile subset the store reads (prepare-root.conf): groups of `key=value` lines.

/** Groups → keys → raw values; comments and blank lines skipped, later keys win. */
export function parseIniFile(text: string): Map<string, Map<string, string>> {
  const groups = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const group = /^\[([^\]]+)\]$/.exec(line);
    if (group) {
      current = groups.get(group[1]) ?? new Map<string, string>();
      groups.set(group[1], current);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq > 0 && current) current.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return groups;
}

/** GKeyFile booleans: `true`/`1` and `false`/`0`; anything else is not a boolean (undefined). */
export function parseIniBoolean(value: string | undefined): boolean | undefined {
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  return undefined;
}
