// Test helpers for the tar tests: a tiny independent tar parser (keeps raw header bytes so tests
// can reorder, drop or corrupt entries), a GNU-header builder for crafted inputs, temp dirs,
// and repo snapshots for "nothing changed" checks.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { createExampleOs, ostreeCli, type ExampleOs } from '../../src/fixture/index.js';
import { native } from '../../src/native.js';

export const execFileP = promisify(execFile);

export interface NativeRepoModule {
  Repo: { open(path: string): Promise<object>; create(path: string, mode: string): Promise<object> };
}
export const openRepo = (p: string) => native<NativeRepoModule>().Repo.open(p);

const dirs: string[] = [];
export async function tmpdir(prefix = 'tar-'): Promise<string> {
  const d = await mkdtemp(path.join('/var/tmp', prefix));
  dirs.push(d);
  return d;
}
export async function cleanupTmp(): Promise<void> {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

/** A fresh repo made by the ostree CLI, opened natively. */
export async function newRepo(mode = 'bare-user'): Promise<{ path: string; repo: object }> {
  const p = path.join(await tmpdir('tar-repo-'), 'repo');
  await ostreeCli(p, ['init', `--mode=${mode}`]);
  return { path: p, repo: await openRepo(p) };
}

/** The example OS of spec §7 (signed, bootable unless asked otherwise, archive repo). */
export async function exampleOs(o: { bootable?: boolean } = {}): Promise<ExampleOs> {
  return createExampleOs({ dir: await tmpdir('fx-'), ...o });
}

/** Layer media types by compression, spelled out (not taken from src) so tests check them. */
export const LAYER_MT = {
  none: 'application/vnd.oci.image.layer.v1.tar',
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  'gzip-fast': 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
} as const;

/** Where the tar format puts objects, and one object's path there (spec §1.2). */
export const OBJ = 'sysroot/ostree/repo/objects/';
export const objPath = (checksum: string, ext: string): string => `${OBJ}${checksum.slice(0, 2)}/${checksum.slice(2)}.${ext}`;

export interface RawEntry {
  /** Extension blocks (GNU L/K, PAX x) before the header, verbatim. */
  ext: Buffer;
  header: Buffer;
  data: Buffer;
  name: string;
  linkname: string;
  type: string;
  size: number;
  /** PAX records of this entry. */
  pax: Map<string, Buffer>;
}

function cstr(b: Buffer): string {
  const z = b.indexOf(0);
  return b.subarray(0, z < 0 ? b.length : z).toString('latin1');
}

function octal(b: Buffer): number {
  const s = cstr(b).trim();
  return s ? parseInt(s, 8) : 0;
}

const pad512 = (n: number) => (512 - (n % 512)) % 512;

/** Parses a plain tar (GNU/ustar/PAX); stops at the first zero block. */
export function parseTar(buf: Buffer): RawEntry[] {
  const out: RawEntry[] = [];
  let off = 0;
  let extStart = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax = new Map<string, Buffer>();
  while (off + 512 <= buf.length) {
    const h = buf.subarray(off, off + 512);
    if (h.every((c) => c === 0)) break;
    const type = String.fromCharCode(h[156]!);
    const size = octal(h.subarray(124, 136));
    const data = buf.subarray(off + 512, off + 512 + size);
    const next = off + 512 + size + pad512(size);
    if (type === 'L' || type === 'K' || type === 'x') {
      if (type === 'L') longName = cstr(data);
      else if (type === 'K') longLink = cstr(data);
      else {
        let p = 0;
        while (p < data.length) {
          const sp = data.indexOf(0x20, p);
          const len = Number(data.subarray(p, sp).toString());
          const rec = data.subarray(sp + 1, p + len - 1);
          const eq = rec.indexOf(0x3d);
          pax.set(rec.subarray(0, eq).toString(), Buffer.from(rec.subarray(eq + 1)));
          p += len;
        }
      }
      off = next;
      continue;
    }
    out.push({
      ext: Buffer.from(buf.subarray(extStart, off)),
      header: Buffer.from(h),
      data: Buffer.from(data),
      name: longName ?? pax.get('path')?.toString() ?? cstr(h.subarray(0, 100)),
      linkname: longLink ?? pax.get('linkpath')?.toString() ?? cstr(h.subarray(157, 257)),
      type,
      size,
      pax,
    });
    longName = longLink = undefined;
    pax = new Map();
    off = next;
    extStart = off;
  }
  return out;
}

/** Serializes entries (ext + header + data + padding) and the end-of-archive marker. */
export function buildTar(entries: RawEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(e.ext, e.header, e.data, Buffer.alloc(pad512(e.data.length)));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** Recomputes a header block's checksum (7 octal digits + NUL, like our writer). */
export function fixChecksum(h: Buffer): Buffer {
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const c of h) sum += c;
  h.write(sum.toString(8).padStart(7, '0') + '\0', 148, 'latin1');
  return h;
}

/** A GNU header for a crafted entry (no long-name support: keep names ≤ 100 bytes or use `longName`). */
export function gnuHeader(o: { name: string; type?: string; size?: number; mode?: number; linkname?: string; sizeField?: Buffer }): Buffer {
  const h = Buffer.alloc(512);
  h.write(o.name.slice(0, 100), 0, 'latin1');
  h.write((o.mode ?? 0o644).toString(8).padStart(7, '0') + '\0', 100, 'latin1');
  h.write('0000000\0', 108, 'latin1');
  h.write('0000000\0', 116, 'latin1');
  if (o.sizeField) o.sizeField.copy(h, 124);
  else h.write((o.size ?? 0).toString(8).padStart(11, '0') + '\0', 124, 'latin1');
  h.write('00000000000\0', 136, 'latin1');
  h.write(o.type ?? '0', 156, 'latin1');
  if (o.linkname) h.write(o.linkname.slice(0, 100), 157, 'latin1');
  h.write('ustar  \0', 257, 'latin1');
  return fixChecksum(h);
}

/** A GNU `L` extension block set for `name`. */
export function longNameExt(name: string, type: 'L' | 'K' = 'L'): Buffer {
  const data = Buffer.from(name + '\0', 'latin1');
  return Buffer.concat([gnuHeader({ name: '././@LongLink', type, size: data.length }), data, Buffer.alloc(pad512(data.length))]);
}

export const clone = (e: RawEntry): RawEntry => ({ ...e, ext: Buffer.from(e.ext), header: Buffer.from(e.header), data: Buffer.from(e.data) });

/** `e` with other data (size field and checksum fixed). */
export function withData(e: RawEntry, data: Buffer): RawEntry {
  const c = clone(e);
  c.data = data;
  c.header.write(data.length.toString(8).padStart(11, '0') + '\0', 124, 'latin1');
  fixChecksum(c.header);
  return c;
}

/** A PAX `x` extension header (ustar block named PaxHeader) carrying `data` verbatim. */
export function paxExt(data: Buffer | string): Buffer {
  const d = Buffer.isBuffer(data) ? data : Buffer.from(data, 'latin1');
  return Buffer.concat([gnuHeader({ name: 'PaxHeader', type: 'x', size: d.length }), d, Buffer.alloc(pad512(d.length))]);
}

/** The data of a PAX header holding `records` in order (repeated keys allowed). */
export function paxRecords(records: [string, string | Buffer][]): Buffer {
  return Buffer.concat(
    records.map(([k, v]) => {
      const body = Buffer.concat([Buffer.from(` ${k}=`), Buffer.isBuffer(v) ? v : Buffer.from(v), Buffer.from('\n')]);
      let n = body.length + 1;
      while (String(n).length + body.length !== n) n++;
      return Buffer.concat([Buffer.from(String(n)), body]);
    }),
  );
}

/** `e` with the header's mtime set (checksum fixed): the derived filter's "modified" flag. */
export function withMtime(e: RawEntry, seconds: number): RawEntry {
  const c = clone(e);
  c.header.write(seconds.toString(8).padStart(11, '0') + '\0', 136, 'latin1');
  fixChecksum(c.header);
  return c;
}

/** A crafted entry (GNU headers, long name via `L` when needed). */
export function entry(name: string, data: Buffer | string = Buffer.alloc(0), o: { type?: string; linkname?: string; mode?: number } = {}): RawEntry {
  const d = Buffer.isBuffer(data) ? data : Buffer.from(data);
  let ext = name.length > 100 ? longNameExt(name) : Buffer.alloc(0);
  if (o.linkname && o.linkname.length > 100) ext = Buffer.concat([ext, longNameExt(o.linkname, 'K')]);
  const header = gnuHeader({ name, size: d.length, ...o });
  return { ext, header, data: d, name, linkname: o.linkname ?? '', type: o.type ?? '0', size: d.length, pax: new Map() };
}

/** Object files and refs of a repo, plus its state dir: equal snapshots = nothing changed. */
export async function repoSnapshot(repoPath: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(rel: string): Promise<void> {
    let names: string[];
    try {
      names = await readdir(path.join(repoPath, rel));
    } catch {
      return;
    }
    for (const n of names.sort()) {
      const r = path.join(rel, n);
      const st = await stat(path.join(repoPath, r));
      if (st.isDirectory()) await walk(r);
      else out.push(r);
    }
  }
  for (const d of ['objects', 'refs', 'state']) await walk(d);
  return out;
}

/**
 * A fresh target for a bad import, holding a ref `existing` and its commit that the import must
 * leave alone. Fresh per case: libostree keeps an aborted transaction's staging dir (verified
 * objects only) for the next transaction to resume from, which would let a later case skip the
 * object it corrupts.
 */
export async function freshTarget(): Promise<string> {
  const { path: p } = await newRepo();
  const tree = `${p}.tree`;
  await mkdir(tree);
  await writeFile(path.join(tree, 'existing-file'), 'present before the import\n');
  await ostreeCli(p, ['commit', '-b', 'existing', `--tree=dir=${tree}`]);
  return p;
}

/** After a failed import into a freshTarget(): objects, refs and state as `before`, no temp files, fsck clean. */
export async function expectRepoUnchanged(target: string, before: string[]): Promise<void> {
  expect(await repoSnapshot(target)).toEqual(before);
  expect((await ostreeCli(target, ['refs'])).trim()).toBe('existing');
  // nothing of ours in tmp/ (libostree's own staging dir aside, see freshTarget)
  const tmpLeft = (await readdir(path.join(target, 'tmp'))).filter((n) => !n.startsWith('staging-') && n !== 'cache');
  expect(tmpLeft).toEqual([]);
  expect(await fsck(target)).toMatch(/no errors found/);
}

/** `ostree fsck` must pass. */
export async function fsck(repoPath: string): Promise<string> {
  return ostreeCli(repoPath, ['fsck']);
}

export async function sha256File(p: string): Promise<string> {
  const { createHash } = await import('node:crypto');
  return createHash('sha256').update(await readFile(p)).digest('hex');
}

/** Adds a URL-less remote (gpg-verify, custom backend) as upstream's tests do, importing `keyFile`. */
export async function addVerifyingRemote(repo: string, name: string, keyFile: string): Promise<void> {
  const group = `--group=remote "${name}"`;
  await ostreeCli(repo, ['config', group, 'set', 'gpg-verify', 'true']);
  await ostreeCli(repo, ['config', group, 'set', 'custom-backend', 'ostree-rs-ext']);
  await ostreeCli(repo, ['remote', 'gpg-import', '--stdin', name], { input: await readFile(keyFile) });
}
