// rpm's database as a tree keeps it, in any of the formats rpm has written: SQLite
// (`rpmdb.sqlite`, rpm ≥ 4.16, Fedora ≥ 33), ndb (`Packages.db`, SUSE) or BerkeleyDB (`Packages`,
// rpm ≤ 4.15, RHEL ≤ 8). Each package's header blob gives its name, NEVRA, source rpm, changelog
// times and file list.
import { readBdbPackages, readNdbPackages, readSqlitePackages, type HeaderBlob } from './rpm-blobs.js';
import { RpmHeader, RpmTag } from './rpm-header.js';
import type { InstalledPackage } from './types.js';

/** Where trees keep rpm's database, in the order they are looked for. */
export const RPM_DIRS = ['/usr/lib/sysimage/rpm', '/usr/share/rpm', '/var/lib/rpm'];

/** The database files rpm writes, by format, in the order rpm prefers them. */
export const RPM_DB_FILES = [
  { file: 'rpmdb.sqlite', format: 'sqlite' },
  { file: 'Packages.db', format: 'ndb' },
  { file: 'Packages', format: 'bdb' },
] as const;
export type RpmDbFormat = (typeof RPM_DB_FILES)[number]['format'];

/** `name-[epoch:]version-release.arch`, as rpm -qa prints it (arch omitted when absent). */
function nevra(h: RpmHeader): string {
  const epoch = h.numbers(RpmTag.EPOCH)[0];
  const arch = h.string(RpmTag.ARCH);
  return `${h.string(RpmTag.NAME)}-${epoch ? `${epoch}:` : ''}${h.string(RpmTag.VERSION)}-${h.string(RpmTag.RELEASE)}${arch ? `.${arch}` : ''}`;
}

/** A header's file paths: BASENAMES joined with DIRNAMES[DIRINDEXES], or the old OLDFILENAMES. */
function headerFiles(h: RpmHeader, what: string): string[] {
  const base = h.strings(RpmTag.BASENAMES);
  if (base.length === 0) return h.strings(RpmTag.OLDFILENAMES);
  const dirs = h.strings(RpmTag.DIRNAMES);
  const idx = h.numbers(RpmTag.DIRINDEXES);
  if (idx.length !== base.length) throw new Error(`${what}: ${base.length} file names but ${idx.length} directory indexes`);
  return base.map((b, i) => {
    const d = dirs[idx[i]!];
    if (d === undefined) throw new Error(`${what}: directory index ${idx[i]} of ${dirs.length}`);
    return d + b;
  });
}

/** The source package of a header: `SOURCERPM` (`openssl-3.0.9-2.fc38.src.rpm`) without `-version-release.src.rpm`. */
function sourceOf(h: RpmHeader): { name: string; version: string } {
  const srpm = h.string(RpmTag.SOURCERPM);
  const m = srpm ? /^(.+)-([^-]+-[^-]+)\.(?:no)?src\.rpm$/.exec(srpm) : null;
  if (m) return { name: m[1]!, version: m[2]! };
  return { name: h.string(RpmTag.NAME)!, version: `${h.string(RpmTag.VERSION)}-${h.string(RpmTag.RELEASE)}` };
}

/** The installed packages of the header blobs of one database file (`what` names it in errors). */
export function rpmPackages(blobs: Iterable<HeaderBlob>, what: string): InstalledPackage[] {
  const out: InstalledPackage[] = [];
  for (const { key, blob } of blobs) {
    const where = `${what}: package ${key}`;
    const h = RpmHeader.parse(blob, where);
    const name = h.string(RpmTag.NAME);
    if (!name) throw new Error(`${where}: header without a name`);
    const src = sourceOf(h);
    out.push({
      name,
      identifier: nevra(h),
      source: src.name,
      sourceVersion: src.version,
      files: headerFiles(h, where),
      changeTimes: h.numbers(RpmTag.CHANGELOGTIME),
    });
  }
  return out;
}

/** Reads the database file `bytes` of `format` (`wal`: SQLite's write-ahead log, when present). */
export function readRpmDatabase(format: RpmDbFormat, bytes: Buffer, what: string, wal?: Buffer): InstalledPackage[] {
  const blobs =
    format === 'sqlite' ? readSqlitePackages(bytes, what, wal) : format === 'ndb' ? readNdbPackages(bytes, what) : readBdbPackages(bytes, what);
  try {
    return rpmPackages(blobs, what);
  } catch (e) {
    // Every check names the file; anything else (a bug, not a hostile byte) still gets its name.
    const msg = e instanceof Error ? e.message : String(e);
    if (msg.startsWith(what)) throw e;
    throw new Error(`${what}: unreadable ${format} rpm database: ${msg}`);
  }
}
