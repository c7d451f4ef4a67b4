// Automatic chunking (`encapsulate --chunking auto`): the components of a commit, found in the
// commit itself, so that an update changes only the layers of what it changed.
//   1. `user.component` xattr on a file, or on a directory above it (bootc's convention): that
//      component, with a layer of its own;
//   2. the kernel and initramfs (`usr/lib/modules/<kver>/{vmlinuz,initramfs.img}`): one each;
//   3. objects whose paths belong to several components (the empty file, shared license texts,
//      directories several packages list): one "shared" component;
//   4. the package databases in the tree (dpkg, rpm): a component per source package (the unit a
//      distribution updates), owning the files its binary packages list, their dpkg metadata, and
//      Python bytecode compiled from them. What a rebuild changes (compiled code, checksums, the
//      changelog, man pages) stays together; the rest (translations, modules, time zones) goes to
//      a few directory groups of its own, so a patched package does not drag its data along;
//   5. unowned files at or above a size threshold (1 MiB): one component each (udev's hwdb.bin, a
//      regenerated locale archive …), so one of them changing drags nothing else along;
//   6. other unowned files: grouped by directory (three levels: `/var/lib/dpkg`, `/usr/etc/ssl`),
//      so the dpkg status file changing does not take the certificates along.
// Each component gets a change model for packing (auto-packing.ts): its chance to change from the
// package's changelog, and which components change together.
// A database that is present but cannot be read is an error naming it, never a silent fallback.
import { constants as zlib, gunzipSync } from 'node:zlib';
import type { Repo, TreeScan } from '../repo/repo.js';
import type { ChangeModel } from './auto-packing.js';
import { MAX_FREQUENCY, sizeObjectMeta, type ObjectMeta, type ObjectMetaSized, type ObjectSourceMeta } from './chunking.js';
import { debianChangelogTimes, DPKG_DIRS, readDpkg } from './packages/dpkg.js';
import { readRpmDatabase, RPM_DB_FILES, RPM_DIRS } from './packages/rpm.js';
import type { InstalledPackage } from './packages/types.js';
import { MAX_SYMLINK_HOPS, TreeIndex } from './tree-index.js';

/** bootc's xattr naming the component of a file, or of everything under a directory. */
export const COMPONENT_XATTR = 'user.component';
/** Unowned files this large or larger get a component of their own. */
export const DEFAULT_BIG_FILE_THRESHOLD = 1024 * 1024;
/** Unowned small files are grouped by their directory cut to this many levels. */
const GROUP_DEPTH = 3;
/** Changelog entries count towards a package's change frequency within this window before the newest change of any package. */
const FREQUENCY_WINDOW_SECONDS = 3 * 365 * 24 * 3600;
/**
 * Change frequency (changes per window) of generated content (unowned files, the kernel and
 * initramfs, shared objects): every other build — often, but packing must not lump them together.
 */
const GENERATED_FREQUENCY = 78;
/** The chance that a package's data part changes when the package does (its code always does). */
const DATA_CHANGE_LEVEL = 0.5;
/** Unowned files here change with every update that installs anything: the package manager's state, logs. */
const ALWAYS_CHANGING = /^\/var\/log(?:\/|$)/;
/** Reads of database files are refused above these sizes (the bytes come from the image). */
const MAX_DPKG_FILE = 256 * 1024 * 1024;
const MAX_RPMDB = 1024 * 1024 * 1024;
const MAX_CHANGELOG = 16 * 1024 * 1024;
/** The newest entries of a changelog are at its top: this much of the compressed file is read. */
const CHANGELOG_HEAD = 64 * 1024;
const KERNEL_FILE = /^\/usr\/lib\/modules\/([^/]+)\/(vmlinuz|initramfs\.img)$/;
const PYC = /^(.*)\/__pycache__\/([^/.]+)\.[^/]*\.pyc$/;
/** Files a package rebuild changes even when their source did not: man pages (dates, versions). */
const REBUILT_DOC = /^\/usr\/share\/man\//;
/**
 * A package's data under one directory of this many bytes (and at least a quarter of its data,
 * so a package gets a few data components, not one per translation) becomes a component.
 */
const DATA_GROUP_BYTES = 256 * 1024;
const DATA_GROUPS_PER_PACKAGE = 4;
/** A package's remaining data of this many bytes is a component; less stays with its code. */
const DATA_REST_BYTES = 64 * 1024;

/**
 * Groups one package's data objects by directory, bottom-up: a directory whose data not yet
 * grouped reaches `min` bytes becomes a group (named by the directory). The grouping depends only
 * on the package's own files, so it changes only when the package does. Returns the group of each
 * object; objects in no group are absent (the package's remaining data).
 */
export function groupByDirectory(objects: { object: number; path: string; size: number }[], min: number): Map<number, string> {
  const pending = new Map<string, { objects: number[]; size: number }>();
  const at = (dir: string) => {
    let e = pending.get(dir);
    if (!e) pending.set(dir, (e = { objects: [], size: 0 }));
    return e;
  };
  for (const o of objects) {
    const e = at(o.path.slice(0, o.path.lastIndexOf('/')) || '/');
    e.objects.push(o.object);
    e.size += o.size;
  }
  const group = new Map<number, string>();
  const dirs = [...pending.keys()];
  // Every ancestor takes part, deepest first (ties in byte order, for a stable result).
  for (const d of dirs) for (let p = d; p !== '/'; ) at((p = p.slice(0, p.lastIndexOf('/')) || '/'));
  const depth = new Map([...pending.keys()].map((d) => [d, d === '/' ? 0 : d.split('/').length - 1]));
  const order = [...pending.keys()].sort((a, b) => depth.get(b)! - depth.get(a)! || compareBytes(a, b));
  for (const d of order) {
    const e = pending.get(d)!;
    if (e.size >= min && d !== '/') {
      for (const o of e.objects) group.set(o, d);
      continue;
    }
    if (d === '/') continue;
    const parent = at(d.slice(0, d.lastIndexOf('/')) || '/');
    parent.objects.push(...e.objects);
    parent.size += e.size;
  }
  return group;
}

export interface AutoChunkingOptions {
  /** Unowned files at or above this many bytes get a component each (default 1 MiB). */
  bigFileThreshold?: number;
  signal?: AbortSignal;
}

/** A package database found in a tree. */
export interface PackageDatabase {
  /** Its file or directory in the tree, e.g. `/var/lib/dpkg` or `/usr/lib/sysimage/rpm/rpmdb.sqlite`. */
  path: string;
  format: 'dpkg' | 'sqlite' | 'ndb' | 'bdb';
  packages: InstalledPackage[];
}

/** What automatic chunking found in a commit: the sized mapping and where it came from. */
export interface AutoContentMeta {
  meta: ObjectMetaSized;
  /** How each component changes (by identifier): the parts of one source package change together. */
  changes: Map<string, ChangeModel>;
  databases: { path: string; format: PackageDatabase['format']; packages: number }[];
  /** Identifiers of the `user.component` components: each gets a layer of its own. */
  exclusive: Set<string>;
}

/** A component name for annotations: `,` separates names there, so it (and `%`) is escaped. */
function componentName(s: string): string {
  return s.replace(/[%,]/g, (c) => (c === '%' ? '%25' : '%2C'));
}

function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** dpkg and rpm name `/etc` files; an ostree commit carries them in `/usr/etc`. */
function inTree(tree: TreeIndex, p: string): string | null {
  if ((p === '/etc' || p.startsWith('/etc/')) && !tree.isDir('/etc') && tree.isDir('/usr/etc')) p = `/usr${p}`;
  return tree.resolve(p);
}

/** Reads a regular file of the tree (following symlinks), refusing more than `max` bytes. */
async function readTreeFile(repo: Repo, tree: TreeIndex, p: string, max: number, signal?: AbortSignal): Promise<Buffer | null> {
  let at = tree.resolve(p);
  for (let hops = 0; at !== null && hops < MAX_SYMLINK_HOPS; hops++) {
    const target = tree.symlinkAt(at);
    if (target === undefined) break;
    at = tree.resolve(target.startsWith('/') ? target : `${at.slice(0, at.lastIndexOf('/'))}/${target}`);
  }
  if (at !== null && tree.symlinkAt(at) !== undefined) throw new Error(`${p}: more than ${MAX_SYMLINK_HOPS} symbolic links to follow (a chain or a loop)`);
  const obj = at === null ? undefined : tree.objectAt(at);
  if (obj === undefined) return null;
  if (tree.size(obj) > max) throw new Error(`${p}: ${tree.size(obj)} bytes, more than the ${max} read for a package database file`);
  return repo.readContent(tree.checksum(obj), signal ? { signal } : {});
}

/** The package databases of the tree, read; an unreadable one is an error naming it. */
export async function readPackageDatabases(repo: Repo, tree: TreeIndex, signal?: AbortSignal): Promise<PackageDatabase[]> {
  const dbs: PackageDatabase[] = [];
  const seen = new Set<string>();
  for (const dir of DPKG_DIRS) {
    const real = tree.resolve(dir);
    if (real === null || !tree.isDir(real) || seen.has(real) || tree.objectAt(`${real}/status`) === undefined) continue;
    seen.add(real);
    const read = async (p: string) => (await readTreeFile(repo, tree, p, MAX_DPKG_FILE, signal))?.toString('utf8') ?? null;
    const packages = await readDpkg(real, read, (d) => tree.list(d));
    // The Debian changelog: `changelog.Debian.gz`, or `changelog.gz` for native packages (apt, dpkg).
    for (const pkg of packages) {
      for (const name of ['changelog.Debian.gz', 'changelog.gz']) {
        const path = `/usr/share/doc/${pkg.name}/${name}`;
        const log = await readTreeFile(repo, tree, path, MAX_CHANGELOG, signal).catch(() => null);
        let times: number[] = [];
        try {
          const head = log?.subarray(0, CHANGELOG_HEAD);
          if (head) times = debianChangelogTimes(gunzipSync(head, { finishFlush: zlib.Z_SYNC_FLUSH, maxOutputLength: 4 * MAX_CHANGELOG }).toString('utf8'));
        } catch {
          // A changelog is only a hint for packing: a broken one counts as no history.
        }
        if (times.length === 0) continue;
        pkg.changeTimes = times;
        // It gains an entry with every version.
        pkg.metadata = [...(pkg.metadata ?? []), path];
        break;
      }
    }
    dbs.push({ path: real, format: 'dpkg', packages });
  }
  for (const dir of RPM_DIRS) {
    const real = tree.resolve(dir);
    if (real === null || !tree.isDir(real) || seen.has(real)) continue;
    seen.add(real);
    const found = RPM_DB_FILES.find((f) => tree.objectAt(`${real}/${f.file}`) !== undefined);
    if (!found) {
      if (tree.list(real).length === 0) continue; // an empty directory is no database
      throw new Error(`${real}: no rpm database file (${RPM_DB_FILES.map((f) => f.file).join(', ')}) among ${tree.list(real).slice(0, 5).join(', ')}`);
    }
    const path = `${real}/${found.file}`;
    if (tree.objectAt(`${path}-journal`) !== undefined && tree.size(tree.objectAt(`${path}-journal`)!) > 0) {
      throw new Error(`${path}-journal: an interrupted SQLite transaction (hot journal); the rpm database cannot be read consistently`);
    }
    const bytes = await readTreeFile(repo, tree, path, MAX_RPMDB, signal);
    if (bytes === null) throw new Error(`${path}: a symlink to nothing, not an rpm database`);
    const wal = found.format === 'sqlite' ? await readTreeFile(repo, tree, `${path}-wal`, MAX_RPMDB, signal) : null;
    const packages = readRpmDatabase(found.format, bytes, path, wal ?? undefined);
    dbs.push({ path, format: found.format, packages });
  }
  return dbs;
}

/**
 * The component of every content object of the scanned tree (pure: no I/O). `packages` come from
 * the tree's databases; `threshold` is the big-file size.
 */
export function assignComponents(
  tree: TreeIndex,
  packages: InstalledPackage[],
  threshold: number = DEFAULT_BIG_FILE_THRESHOLD,
  stateDirs: string[] = [],
): ObjectMeta & { exclusive: Set<string>; changes: Map<string, ChangeModel> } {
  const set = new Map<string, ObjectSourceMeta>();
  const exclusive = new Set<string>();
  const changes = new Map<string, ChangeModel>();
  const source = (identifier: string, name: string, srcid: string, frequency: number, change?: ChangeModel): string => {
    if (!set.has(identifier)) {
      set.set(identifier, { identifier, name: componentName(name), srcid, change_time_offset: 0, change_frequency: frequency });
      changes.set(identifier, change ?? { event: identifier, level: 1 });
    }
    return identifier;
  };
  const always = (p: string) => ALWAYS_CHANGING.test(p) || stateDirs.some((d) => p.startsWith(`${d}/`));

  // Source packages: their change frequency is their changelog entries of the window up to the
  // newest change of any package (rpm-ostree counts one year; a stable distribution's updates
  // need a longer view). Paths are mapped into the tree once.
  const newest = Math.max(0, ...packages.flatMap((p) => (p.changeTimes.length ? [Math.max(...p.changeTimes)] : [])));
  const bySource = new Map<string, InstalledPackage[]>();
  for (const p of [...packages].sort((a, b) => compareBytes(a.identifier, b.identifier))) {
    const list = bySource.get(p.source);
    if (list) list.push(p);
    else bySource.set(p.source, [p]);
  }
  const ownerOfPath = new Map<string, string>();
  const shared = () => source('shared objects', 'shared', 'shared', GENERATED_FREQUENCY);
  const metadataPaths = new Set<string>();
  const sourceName = new Map<string, string>();
  for (const [src, pkgs] of bySource) {
    const recent = Math.max(...pkgs.map((p) => p.changeTimes.filter((t) => t >= newest - FREQUENCY_WINDOW_SECONDS).length));
    const version = [...new Set(pkgs.map((p) => p.sourceVersion))].sort(compareBytes).join('+');
    const id = source(`${src}-${version}`, src, src, Math.max(1, recent), { event: `package ${src}`, level: 1 });
    sourceName.set(id, src);
    for (const p of pkgs) {
      for (const f of p.files) {
        const at = inTree(tree, f);
        if (at === null) continue;
        // A path several source packages list is a shared directory (or a link to one: /bin).
        const other = ownerOfPath.get(at);
        ownerOfPath.set(at, other === undefined || other === id ? id : shared());
      }
      for (const f of p.metadata ?? []) metadataPaths.add(f);
    }
  }
  // A path's owner: its package, or for Python bytecode the package of its source file.
  const pathOwner = (p: string): string | undefined => {
    const own = ownerOfPath.get(p);
    if (own !== undefined) return own;
    const m = PYC.exec(p);
    return m ? ownerOfPath.get(`${m[1]}/${m[2]}.py`) : undefined;
  };

  // Xattr components: on the object, else inherited from the nearest directory above a path.
  const objXattr = new Map(tree.scan.objectXattr);
  const dirXattr = new Map<string, string>();
  for (const [d, v] of tree.scan.dirXattr) dirXattr.set(tree.scan.dirs[d]!, v);
  const inherited = (p: string): string | undefined => {
    for (let cut = p.lastIndexOf('/'); ; cut = p.lastIndexOf('/', cut - 1)) {
      const v = dirXattr.get(cut === 0 ? '/' : p.slice(0, cut));
      if (v !== undefined || cut <= 0) return v;
    }
  };
  const kernels = new Set<string>();
  for (const p of tree.scan.files) {
    const m = KERNEL_FILE.exec(p);
    if (m) kernels.add(m[1]!);
  }

  // Every object's paths, smallest first (walk order is not byte order).
  const paths: string[][] = Array.from({ length: tree.objectCount }, () => []);
  tree.scan.files.forEach((p, i) => paths[tree.scan.fileObject[i]!]!.push(p));
  const assigned: string[] = new Array(tree.objectCount);
  // Per package component: objects that change with every rebuild (compiled code, the package
  // manager's metadata, Debian's changelog) and the bytes of the others (data).
  const data = new Map<string, { object: number; path: string; size: number }[]>();
  for (let o = 0; o < tree.objectCount; o++) {
    const ps = paths[o]!.sort(compareBytes);
    const first = ps[0]!;
    let id: string | undefined;
    const xattr = objXattr.get(o) ?? ps.map(inherited).find((v) => v !== undefined);
    const kernel = ps.map((p) => KERNEL_FILE.exec(p)).find((m) => m);
    if (xattr !== undefined) {
      id = source(xattr, xattr, `component:${xattr}`, MAX_FREQUENCY);
      exclusive.add(id);
    } else if (kernel) {
      const [, kver, file] = kernel;
      const role = file === 'vmlinuz' ? 'vmlinuz' : 'initramfs';
      id = source(`${role} (kernel ${kver})`, kernels.size > 1 ? `${role} ${kver}` : role, `kernel ${kver}`, GENERATED_FREQUENCY);
    } else {
      const owners = new Set(ps.map(pathOwner));
      if (owners.size > 1) {
        // Paths in several components (the empty file, identical license texts): in any one of
        // them, that layer would change whenever another component adds or drops such a path.
        id = shared();
      } else if (owners.has(undefined)) {
        const frequency = always(first) ? MAX_FREQUENCY : GENERATED_FREQUENCY;
        if (tree.size(o) >= threshold) {
          id = source(first, first, first, frequency);
        } else {
          const dir = first.slice(0, first.lastIndexOf('/'));
          const group = dir.split('/').slice(0, GROUP_DEPTH + 1).join('/') || '/';
          id = source(`unpackaged ${group}`, `unpackaged:${group}`, `unpackaged ${group}`, frequency);
        }
      } else {
        id = [...owners][0]!;
        if (!tree.scan.elf[o] && !ps.some((p) => metadataPaths.has(p) || REBUILT_DOC.test(p))) {
          const list = data.get(id);
          const entry = { object: o, path: first, size: tree.size(o) };
          if (list) list.push(entry);
          else data.set(id, [entry]);
        }
      }
    }
    assigned[o] = id;
  }
  // A package's data (what a rebuild leaves alone) goes apart from its code, in directory groups
  // big enough to be worth a layer, so a patched file does not drag the translations along.
  for (const [id, objects] of data) {
    const base = set.get(id)!;
    const src = sourceName.get(id)!;
    const total = objects.reduce((a, o) => a + o.size, 0);
    const groups = groupByDirectory(objects, Math.max(DATA_GROUP_BYTES, Math.ceil(total / DATA_GROUPS_PER_PACKAGE)));
    const rest = objects.filter((o) => !groups.has(o.object));
    const restBytes = rest.reduce((a, o) => a + o.size, 0);
    const change = { event: changes.get(id)!.event, level: DATA_CHANGE_LEVEL };
    for (const [o, dir] of groups) assigned[o] = source(`${id} ${dir}`, `${src}:${dir}`, base.srcid, base.change_frequency, change);
    if (restBytes >= DATA_REST_BYTES) for (const o of rest) assigned[o.object] = source(`${id} data`, `${src}:data`, base.srcid, base.change_frequency, change);
  }
  const map = new Map<string, string>();
  for (let o = 0; o < tree.objectCount; o++) map.set(tree.checksum(o), assigned[o]!);
  return { set, map, exclusive, changes };
}

/** Scans `rev`, reads its package databases and sizes the components (see the module comment). */
export async function autoContentMeta(repo: Repo, rev: string, opts: AutoChunkingOptions = {}): Promise<AutoContentMeta> {
  const threshold = opts.bigFileThreshold ?? DEFAULT_BIG_FILE_THRESHOLD;
  if (!Number.isSafeInteger(threshold) || threshold <= 0) throw new Error(`Invalid big-file threshold: ${threshold}`);
  const scan: TreeScan = await repo.scanTree(rev, COMPONENT_XATTR, opts.signal ? { signal: opts.signal } : {});
  const tree = new TreeIndex(scan);
  const dbs = await readPackageDatabases(repo, tree, opts.signal);
  // The databases' own files change whenever a package does.
  const stateDirs = dbs.map((d) => (d.format === 'dpkg' ? d.path : d.path.slice(0, d.path.lastIndexOf('/'))));
  const { set, map, exclusive, changes } = assignComponents(tree, dbs.flatMap((d) => d.packages), threshold, stateDirs);
  const sizeOf = new Map<string, number>();
  for (let o = 0; o < tree.objectCount; o++) sizeOf.set(tree.checksum(o), tree.size(o));
  return {
    meta: sizeObjectMeta({ set, map }, (c) => sizeOf.get(c)!),
    changes,
    databases: dbs.map((d) => ({ path: d.path, format: d.format, packages: d.packages.length })),
    exclusive,
  };
}
