// rpm databases for the parser tests: header blobs laid out as rpm writes them, and the tools
// (sqlite3, BerkeleyDB's db_load) that make real database files.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RpmTag } from '../../src/container/packages/rpm-header.js';

/** The first of `names` on PATH; a missing tool fails the test that needs it. */
export function tool(...names: string[]): string {
  for (const n of names) if (spawnSync('sh', ['-c', `command -v ${n}`]).status === 0) return n;
  throw new Error(`none of ${names.join(', ')} is installed (scripts/install-deps.sh installs it)`);
}

/** An rpm header blob of `entries` (tag, type, data bytes), as rpm lays them out. */
export function header(entries: [tag: number, type: number, count: number, data: Buffer][]): Buffer {
  const index = Buffer.alloc(16 * entries.length);
  const store: Buffer[] = [];
  let off = 0;
  entries.forEach(([tag, type, count, data], i) => {
    const align = type === 4 ? 4 : type === 3 ? 2 : 1;
    const pad = (align - (off % align)) % align;
    if (pad) store.push(Buffer.alloc(pad));
    off += pad;
    index.writeUInt32BE(tag, 16 * i);
    index.writeUInt32BE(type, 16 * i + 4);
    index.writeUInt32BE(off, 16 * i + 8);
    index.writeUInt32BE(count, 16 * i + 12);
    store.push(data);
    off += data.length;
  });
  const pre = Buffer.alloc(8);
  pre.writeUInt32BE(entries.length, 0);
  pre.writeUInt32BE(off, 4);
  return Buffer.concat([pre, index, ...store]);
}
export const str = (s: string): [number, Buffer] => [1, Buffer.from(`${s}\0`)];
export const strs = (a: string[]): [number, Buffer] => [a.length, Buffer.from(a.map((s) => `${s}\0`).join(''))];
export const int32s = (a: number[]): [number, Buffer] => {
  const b = Buffer.alloc(4 * a.length);
  a.forEach((v, i) => b.writeUInt32BE(v, 4 * i));
  return [a.length, b];
};
export function pkgHeader(name: string, files: string[]): Buffer {
  const dirs = [...new Set(files.map((f) => f.slice(0, f.lastIndexOf('/') + 1)))];
  return header([
    [RpmTag.NAME, 6, ...str(name)],
    [RpmTag.VERSION, 6, ...str('1.0')],
    [RpmTag.RELEASE, 6, ...str('1')],
    [RpmTag.ARCH, 6, ...str('noarch')],
    [RpmTag.SOURCERPM, 6, ...str(`${name}-src-1.0-1.src.rpm`)],
    [RpmTag.CHANGELOGTIME, 4, ...int32s([1700000000, 1600000000])],
    [RpmTag.DIRINDEXES, 4, ...int32s(files.map((f) => dirs.indexOf(f.slice(0, f.lastIndexOf('/') + 1))))],
    [RpmTag.BASENAMES, 8, ...strs(files.map((f) => f.slice(f.lastIndexOf('/') + 1)))],
    [RpmTag.DIRNAMES, 8, ...strs(dirs)],
  ]);
}

/** An `rpmdb.sqlite` made by sqlite3 whose `Packages` table holds `blobs` (keys 1, 2, …). */
export function sqliteOf(blobs: Buffer[]): Buffer {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rpmdb-sqlite-'));
  try {
    const file = path.join(dir, 'rpmdb.sqlite');
    const rows = blobs.map((b) => `INSERT INTO Packages(blob) VALUES (x'${b.toString('hex')}');`).join('');
    execFileSync(tool('sqlite3'), [file, `CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL); ${rows}`]);
    return readFileSync(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A hash database made by BerkeleyDB's own db_load, holding 4-byte keys and `values`. */
export function bdbFile(file: string, values: Buffer[], order: 'little' | 'big', pageSize?: number): void {
  const key = (k: number) => {
    const b = Buffer.alloc(4);
    if (order === 'little') b.writeUInt32LE(k);
    else b.writeUInt32BE(k);
    return b.toString('hex');
  };
  const lines = ['VERSION=3', 'format=bytevalue', 'type=hash', 'HEADER=END'];
  // rpm's record 0 (the next instance number) is skipped by the reader.
  lines.push(` ${key(0)}`, ` ${key(values.length + 1)}`);
  values.forEach((v, i) => lines.push(` ${key(i + 1)}`, ` ${v.toString('hex')}`));
  lines.push('DATA=END');
  rmSync(file, { force: true });
  execFileSync(tool('db5.3_load', 'db_load'), ['-c', `db_lorder=${order === 'little' ? 1234 : 4321}`, ...(pageSize ? ['-c', `db_pagesize=${pageSize}`] : []), file], { input: `${lines.join('\n')}\n` });
}
