// Lookups over one scan of a commit's tree (Repo.scanTree): paths to content objects, directory
// listings, and path resolution through the tree's own symlinks — what reading a package
// database out of a commit needs, without checking anything out.
import type { TreeScan } from '../repo/repo.js';

/** Symlinks followed while resolving one path, as the kernel's MAXSYMLINKS. */
export const MAX_SYMLINK_HOPS = 40;

export class TreeIndex {
  /** Object index of each file path. */
  private readonly fileObject = new Map<string, number>();
  private readonly dirs = new Set<string>();
  private readonly children = new Map<string, string[]>();
  private readonly targets = new Map<number, string>();
  private readonly resolvedDirs = new Map<string, string | null>();

  constructor(readonly scan: TreeScan) {
    scan.files.forEach((p, i) => this.fileObject.set(p, scan.fileObject[i]!));
    for (const d of scan.dirs) this.dirs.add(d);
    for (const p of [...scan.files, ...scan.dirs]) {
      if (p === '/') continue;
      const cut = p.lastIndexOf('/');
      const parent = cut === 0 ? '/' : p.slice(0, cut);
      const list = this.children.get(parent);
      if (list) list.push(p.slice(cut + 1));
      else this.children.set(parent, [p.slice(cut + 1)]);
    }
    for (const [obj, target] of scan.symlinkTargets) this.targets.set(obj, target);
  }

  get objectCount(): number {
    return this.scan.sizes.length;
  }

  /** The hex checksum of object `i`. */
  checksum(i: number): string {
    return this.scan.checksums.toString('hex', 32 * i, 32 * i + 32);
  }

  size(i: number): number {
    return this.scan.sizes[i]!;
  }

  /** The object at file path `p` (no symlink resolution), or undefined. */
  objectAt(p: string): number | undefined {
    return this.fileObject.get(p);
  }

  isDir(p: string): boolean {
    return this.dirs.has(p);
  }

  /** Names in directory `p` (files and subdirectories; empty when not a directory). */
  list(p: string): string[] {
    return this.children.get(p) ?? [];
  }

  /** The symlink target of the file at `p`, or undefined when it is not a symlink. */
  symlinkAt(p: string): string | undefined {
    const o = this.fileObject.get(p);
    return o === undefined ? undefined : this.targets.get(o);
  }

  /**
   * Where path `p` (absolute) is in the tree: every directory component is resolved through the
   * tree's symlinks (absolute targets from the tree's root); the last component is kept as is, so
   * a symlink a package owns stays itself. Null when a component is missing, not a directory, or
   * the links loop.
   */
  resolve(p: string): string | null {
    const cut = p.lastIndexOf('/');
    if (cut < 0) return null;
    const parent = cut === 0 ? '/' : this.resolveDir(p.slice(0, cut), 0);
    if (parent === null) return null;
    const name = p.slice(cut + 1);
    if (name === '' || name === '.') return parent;
    if (name === '..') return parent === '/' ? '/' : parent.slice(0, Math.max(1, parent.lastIndexOf('/')));
    return parent === '/' ? `/${name}` : `${parent}/${name}`;
  }

  /** The real directory `p` (absolute) names, following symlinks; null when it is none. */
  private resolveDir(p: string, hops: number): string | null {
    const cached = this.resolvedDirs.get(p);
    if (cached !== undefined) return cached;
    let cur = '/';
    for (const part of p.split('/')) {
      if (part === '' || part === '.') continue;
      if (part === '..') {
        cur = cur === '/' ? '/' : cur.slice(0, Math.max(1, cur.lastIndexOf('/')));
        continue;
      }
      const next = cur === '/' ? `/${part}` : `${cur}/${part}`;
      if (this.dirs.has(next)) {
        cur = next;
        continue;
      }
      const target = this.symlinkAt(next);
      if (target === undefined || hops >= MAX_SYMLINK_HOPS) return this.remember(p, null);
      const resolved = this.resolveDir(target.startsWith('/') ? target : `${cur}/${target}`, hops + 1);
      if (resolved === null) return this.remember(p, null);
      cur = resolved;
    }
    return this.remember(p, cur);
  }

  private remember(p: string, r: string | null): string | null {
    this.resolvedDirs.set(p, r);
    return r;
  }
}
