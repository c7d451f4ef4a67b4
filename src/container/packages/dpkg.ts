// dpkg's database as a tree keeps it: `status` (one paragraph per package) and `info/<pkg>.list`
// (the paths each package installed). Parsed from untrusted bytes: sizes are bounded by the
// caller's reads, lines are split without backtracking, and a malformed database is an error
// naming the file.
import type { InstalledPackage } from './types.js';

/** Where trees keep dpkg's database, in the order they are looked for. */
export const DPKG_DIRS = ['/usr/lib/sysimage/dpkg', '/usr/share/dpkg/database', '/var/lib/dpkg'];

/** Package states whose files are on disk (dpkg-query's "ii", "iU", "iF", "iW", "it", "iH"). */
const ON_DISK = new Set(['installed', 'unpacked', 'half-configured', 'half-installed', 'triggers-awaited', 'triggers-pending']);

interface StatusEntry {
  name: string;
  arch: string;
  version: string;
  source: string;
  sourceVersion: string;
}

/** The packages of a `status` file whose files are on disk. */
export function parseDpkgStatus(text: string, what: string): StatusEntry[] {
  const out: StatusEntry[] = [];
  let line = 0;
  for (const para of text.split(/\n[ \t]*\n/)) {
    const fields = new Map<string, string>();
    let last: string | undefined;
    for (const l of para.split('\n')) {
      line++;
      if (l === '') continue;
      if (l[0] === ' ' || l[0] === '\t') {
        if (last === undefined) throw new Error(`${what}: line ${line}: continuation line outside a field`);
        continue; // continuation of a multi-line field (Description, Conffiles): not needed
      }
      const colon = l.indexOf(':');
      if (colon <= 0) throw new Error(`${what}: line ${line}: not a "Field: value" line`);
      last = l.slice(0, colon).toLowerCase();
      fields.set(last, l.slice(colon + 1).trim());
    }
    line++;
    if (fields.size === 0) continue;
    const name = fields.get('package');
    if (!name) throw new Error(`${what}: a paragraph before line ${line} has no Package field`);
    const status = (fields.get('status') ?? '').split(/\s+/);
    if (!ON_DISK.has(status[2] ?? '')) continue;
    const version = fields.get('version') ?? '';
    // "Source: name" or "Source: name (version)" for binNMUs and differently versioned binaries.
    const src = /^(\S+)(?:\s+\((\S+)\))?$/.exec(fields.get('source') ?? name);
    out.push({
      name,
      arch: fields.get('architecture') ?? '',
      version,
      source: src?.[1] ?? name,
      sourceVersion: src?.[2] ?? version,
    });
  }
  return out;
}

/** The paths of a `.list` file (`/.` is the root, listed by every package). */
export function parseDpkgList(text: string): string[] {
  return text.split('\n').filter((l) => l !== '' && l !== '/.');
}

/**
 * A `changelog.Debian.gz`'s entry dates (seconds since the epoch, file order: newest first), from
 * its trailer lines (` -- Name <mail>  Tue, 01 Aug 2023 12:00:00 +0200`).
 */
export function debianChangelogTimes(text: string): number[] {
  const out: number[] = [];
  for (const m of text.matchAll(/^ -- [^\n]*?>  ([^\n]+)$/gm)) {
    const t = Date.parse(m[1]!);
    if (!Number.isNaN(t)) out.push(Math.floor(t / 1000));
  }
  return out;
}

/**
 * The installed packages of the dpkg database in `dir` of a tree: `read(path)` gives a file's
 * text (null when absent), `list(dir)` the names in a directory. Each package also owns its own
 * files in `info/` (`<pkg>.md5sums`, `<pkg>.postinst`, …), so an upgrade changes only its layers.
 */
export async function readDpkg(
  dir: string,
  read: (path: string) => Promise<string | null>,
  list: (dir: string) => string[],
): Promise<InstalledPackage[]> {
  const statusPath = `${dir}/status`;
  const status = await read(statusPath);
  if (status === null) throw new Error(`${statusPath}: missing`);
  // info/ file names by their package part (before the last dot; `name` or `name:arch`).
  const info = new Map<string, string[]>();
  for (const n of list(`${dir}/info`)) {
    const dot = n.lastIndexOf('.');
    if (dot <= 0) continue;
    const key = n.slice(0, dot);
    const names = info.get(key);
    if (names) names.push(n);
    else info.set(key, [n]);
  }
  const pkgs: InstalledPackage[] = [];
  for (const e of parseDpkgStatus(status, statusPath)) {
    const key = [`${e.name}:${e.arch}`, e.name].find((k) => info.get(k)?.includes(`${k}.list`));
    if (key === undefined) throw new Error(`${dir}/info/${e.name}.list: missing for installed package ${e.name}`);
    const listPath = `${dir}/info/${key}.list`;
    const list = await read(listPath);
    if (list === null) throw new Error(`${listPath}: unreadable`);
    const own = info.get(key)!.map((n) => `${dir}/info/${n}`);
    pkgs.push({
      name: e.name,
      identifier: `${e.name}_${e.version}`,
      source: e.source,
      sourceVersion: e.sourceVersion,
      files: [...parseDpkgList(list), ...own],
      // The checksums and the file list change with the package; its scripts, templates and
      // symbols mostly do not.
      metadata: own.filter((p) => p.endsWith('.md5sums') || p.endsWith('.list')),
      changeTimes: [],
    });
  }
  return pkgs;
}
