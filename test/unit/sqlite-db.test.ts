// The SQLite reader against databases sqlite3 writes: every serial type of a record, 9-byte
// varints, 64 KiB pages, the header checks, and write-ahead logs whose frames are cut, salted
// wrong, uncommitted or big-endian (rewritten here with the checksums SQLite's format defines).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSqliteTable } from '../../src/container/packages/sqlite.js';
import { tool } from '../helpers/rpmdb.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'sqlite-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let n = 0;
/** The database sqlite3 makes with `sql` (and its WAL, when `walSql` runs on an open connection). */
function db(sql: string, walSql?: string): { db: Buffer; wal?: Buffer } {
  const file = path.join(work, `db${n++}.sqlite`);
  execFileSync(tool('sqlite3'), [file, sql]);
  if (walSql === undefined) return { db: readFileSync(file) };
  const copy = `${file}.copy`;
  execFileSync(tool('sqlite3'), [file], { input: `PRAGMA wal_autocheckpoint=0;\n${walSql}\n.shell cp ${file} ${copy}\n.shell cp ${file}-wal ${copy}-wal\n` });
  return { db: readFileSync(copy), wal: readFileSync(`${copy}-wal`) };
}
const rows = (b: Buffer, table = 't', wal?: Buffer) => [...readSqliteTable(b, table, 'x.sqlite', wal)];

describe('SQLite records', () => {
  it('decodes every serial type sqlite3 writes', () => {
    const { db: b } = db(`CREATE TABLE t(a, b, c, d, e, f, g, h, i, j, k);
      INSERT INTO t VALUES (NULL, 0, 1, 100, -2, 1000, 100000, 100000000, 1000000000000, 4611686018427387904, 1.5);
      INSERT INTO t VALUES ('héllo', x'00ff', '', x'', -9007199254740993, 9007199254740991, -128, 32767, -8388608, 2147483647, -1e300);
      INSERT INTO t(rowid, a) VALUES (9223372036854775807, -9007199254740991);`);
    const r = rows(b);
    expect(r.map((x) => x.rowid)).toEqual([1n, 2n, 9223372036854775807n]);
    expect(r[0]!.values).toEqual([null, 0, 1, 100, -2, 1000, 100000, 100000000, 1000000000000, 4611686018427387904n, 1.5]);
    expect(r[1]!.values).toEqual(['héllo', Buffer.from([0, 0xff]), '', Buffer.alloc(0), -9007199254740993n, 9007199254740991, -128, 32767, -8388608, 2147483647, -1e300]);
    expect(r[2]!.values).toEqual([-9007199254740991, ...Array(10).fill(null)]);
  });

  it('decodes a float in the middle of a record, and finds its table among several', () => {
    const { db: b } = db(`CREATE TABLE a(x); CREATE TABLE t(f, s); INSERT INTO a VALUES (1); INSERT INTO t VALUES (1.5, 'x');`);
    expect(rows(b).map((r) => r.values)).toEqual([[1.5, 'x']]);
    expect(rows(b, 'a').map((r) => r.values)).toEqual([[1]]);
  });

  it('reads 64 KiB pages (page size field 1)', () => {
    const { db: b } = db(`PRAGMA page_size=65536; CREATE TABLE t(a); INSERT INTO t VALUES ('x'), (randomblob(100000));`);
    expect(b.readUInt16BE(16)).toBe(1);
    const r = rows(b);
    expect(r[0]!.values).toEqual(['x']);
    expect((r[1]!.values[0] as Buffer).length).toBe(100000);
  });

  it('reads a b-tree of several levels in rowid order', () => {
    const { db: b } = db(`PRAGMA page_size=512; CREATE TABLE t(a);
      WITH RECURSIVE i(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM i WHERE k < 3000) INSERT INTO t SELECT printf('%050d', k) FROM i;`);
    const r = rows(b);
    expect(r.map((x) => Number(x.rowid))).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1));
    expect(r[2999]!.values).toEqual([`${'0'.repeat(46)}3000`]);
  });
});

describe('SQLite header checks', () => {
  const { db: good } = db(`CREATE TABLE t(a); INSERT INTO t VALUES (1);`);
  const edit = (f: (b: Buffer) => void) => {
    const b = Buffer.from(good);
    f(b);
    return () => rows(b);
  };

  it('refuses bad page sizes, reserved space, payload fractions and encodings', () => {
    expect(edit((b) => b.writeUInt16BE(0, 16))).toThrow(/^x\.sqlite: invalid page size 0$/);
    expect(edit((b) => b.writeUInt16BE(256, 16))).toThrow(/^x\.sqlite: invalid page size 256$/);
    expect(edit((b) => b.writeUInt16BE(1536, 16))).toThrow(/^x\.sqlite: invalid page size 1536$/);
    expect(edit((b) => ((b[20] = 33), b.writeUInt16BE(512, 16)))).toThrow(/^x\.sqlite: usable page size 479 below the format's minimum 480$/);
    expect(edit((b) => ((b[20] = 32), b.writeUInt16BE(512, 16)))).not.toThrow(/usable page size/);
    for (const at of [21, 22, 23]) expect(edit((b) => (b[at] = 33))).toThrow(/^x\.sqlite: invalid payload fractions$/);
    expect(edit((b) => b.writeUInt32BE(2, 56))).toThrow(/^x\.sqlite: text encoding 2 \(only UTF-8 is read\)$/);
    expect(edit((b) => b.writeUInt32BE(0, 56))()).toHaveLength(1);
    expect(edit((b) => b.write('SQLite format 4', 0))).toThrow(/^x\.sqlite: not an SQLite 3 database \(bad header\)$/);
    expect(() => rows(good.subarray(0, 99))).toThrow(/^x\.sqlite: not an SQLite 3 database \(bad header\)$/);
    expect(() => rows(good.subarray(0, 100))).toThrow(/^x\.sqlite: page number 1 outside the database's 0 pages$/);
    expect(rows(good.subarray(0, 4096 * 2))).toHaveLength(1);
    expect(() => rows(good.subarray(0, 4096 * 2 - 1))).toThrow(/^x\.sqlite: page number 2 outside the database's 1 pages$/);
  });

  it('refuses a schema whose table has no root page', () => {
    const { db: b } = db(`CREATE TABLE Packages(a);`);
    // The schema record's serial types: type ('table'), name and tbl_name ('Packages'), rootpage (a 1-byte integer).
    const at = b.indexOf(Buffer.from([23, 29, 29, 1]));
    expect(at).toBeGreaterThan(100);
    b[at + 3] = 0;
    expect(() => [...readSqliteTable(b, 'Packages', 'x.sqlite')]).toThrow(/^x\.sqlite: table Packages has no root page$/);
    // Root page 0 (serial type 8, the integer 0): no such page.
    b[at + 3] = 8;
    expect(() => [...readSqliteTable(b, 'Packages', 'x.sqlite')]).toThrow(/^x\.sqlite: page number 0 outside the database's 2 pages$/);
  });
});

describe('SQLite b-tree and record checks', () => {
  const hex = (file: Buffer) => rows(file).map((r) => (r.values[0] as Buffer).toString('hex'));
  // One row on page 2 (the table's root, a leaf): x'0102', a record of header [2, 16] and 2 bytes.
  const { db: small } = db(`CREATE TABLE t(a); INSERT INTO t VALUES (x'0102');`);
  const P2 = 4096;
  const cell = small.readUInt16BE(P2 + 8);
  const edit = (f: (b: Buffer) => void) => {
    const b = Buffer.from(small);
    f(b);
    return () => rows(b);
  };
  const msg = (m: string) => new RegExp(`^x\\.sqlite: ${m.replace(/[()]/g, '\\$&')}$`);

  it('reads payloads inline up to the usable size less 35 bytes, and across overflow pages after', () => {
    const sizes = [4056, 4057, 4058, 4059, 4060, 4061, 4570, 4580, 8149, 8150, 8151, 8152, 8153, 12300];
    const file = path.join(work, 'sizes.sqlite');
    execFileSync(tool('sqlite3'), [file, `CREATE TABLE t(a); ${sizes.map((n) => `INSERT INTO t VALUES (randomblob(${n}));`).join(' ')}`]);
    const want = execFileSync(tool('sqlite3'), [file, 'SELECT lower(hex(a)) FROM t ORDER BY rowid']).toString().trim().split('\n');
    expect(hex(readFileSync(file))).toEqual(want);
  });

  it('refuses pages, cells and records that do not fit', () => {
    expect(small[P2]).toBe(13);
    expect(edit((b) => (b[P2] = 10))).toThrow(msg('page 2: type 10 is not a table b-tree page'));
    expect(edit((b) => b.writeUInt16BE(2045, P2 + 3))).toThrow(msg('page 2: 2045 cell pointers overflow the page'));
    expect(edit((b) => b.writeUInt16BE(2044, P2 + 3))).toThrow(msg(`page 2: cell 0 at offset ${cell} outside the cell area`));
    expect(edit((b) => b.writeUInt16BE(4096, P2 + 8))).toThrow(msg('page 2: cell 0 at offset 4096 outside the cell area'));
    expect(edit((b) => b.writeUInt16BE(9, P2 + 8))).toThrow(msg('page 2: cell 0 at offset 9 outside the cell area'));
    // At the first byte after the pointers: zeros, a record without a header.
    expect(edit((b) => b.writeUInt16BE(10, P2 + 8))).toThrow(msg('varint runs past its cell'));
    // The cell: payload size 4, rowid 1, then the record.
    expect([...small.subarray(P2 + cell, P2 + cell + 6)]).toEqual([4, 1, 2, 16, 1, 2]);
    expect(edit((b) => (b[P2 + cell + 2] = 5))).toThrow(msg('record header size outside its payload'));
    expect(edit((b) => (b[P2 + cell + 2] = 0))).toThrow(msg('record header size outside its payload'));
    expect(edit((b) => (b[P2 + cell + 3] = 18))).toThrow(msg('record value runs past its payload'));
    expect(edit((b) => (b[P2 + cell + 3] = 10))).toThrow(msg('reserved serial type 10'));
    expect(edit((b) => (b[P2 + cell + 3] = 11))).toThrow(msg('reserved serial type 11'));
    expect(edit((b) => (b[P2 + cell + 3] = 0x81))).toThrow(msg('varint runs past its cell'));
    expect(edit((b) => (b[P2 + cell] = 0x7f))).toThrow(msg('cell payload runs past its page'));
    expect(edit((b) => (b.writeUInt16BE(100, P2 + 8), b.fill(0xff, P2 + 100, P2 + 109)))).toThrow(/^x\.sqlite: payload size \d+ too large$/);
    // 9-byte varints beyond 2^53 where the record's header size and a serial type are read.
    const at100 = (bytes: number[]) => edit((b) => (b.writeUInt16BE(100, P2 + 8), Buffer.from(bytes).copy(b, P2 + 100)));
    expect(at100([9, 1, ...Array(9).fill(0xff)])).toThrow(/^x\.sqlite: record header size \d+ too large$/);
    expect(at100([10, 1, 10, ...Array(9).fill(0xff)])).toThrow(/^x\.sqlite: serial type \d+ too large$/);
    // A record of no columns: its header is just its size.
    expect(edit((b) => ((b[P2 + cell] = 1), (b[P2 + cell + 2] = 1)))().map((r) => r.values)).toEqual([[]]);
  });

  it('refuses broken overflow chains', () => {
    const { db: big } = db(`CREATE TABLE t(a); INSERT INTO t VALUES (randomblob(9000));`);
    const off = P2 + big.readUInt16BE(P2 + 8);
    // Payload 9004 bytes (a 4-byte record header): 820 inline (the file format's split), then pages 3 and 4.
    const next = off + 3 + 820;
    expect(big.readUInt32BE(next)).toBe(3);
    const broken = (f: (b: Buffer) => void) => {
      const b = Buffer.from(big);
      f(b);
      return () => rows(b);
    };
    expect(broken((b) => b.writeUInt32BE(0, next))).toThrow(msg('overflow chain ends before its payload'));
    expect(broken((b) => b.writeUInt32BE(3, 2 * 4096))).toThrow(msg('page 3 used twice (cycle in the b-tree or an overflow chain)'));
    expect(broken((b) => b.writeUInt32BE(9, next))).toThrow(msg("page number 9 outside the database's 4 pages"));
    expect(() => rows(big.subarray(0, 2 * 4096))).toThrow(msg('payload of 9004 bytes larger than the database'));
    // The cell moved to 3270: its 820 inline bytes and the overflow pointer would end 1 byte past the page.
    expect(broken((b) => (b.copy(b, P2 + 3270, off, off + 3), b.writeUInt16BE(3270, P2 + 8)))).toThrow(msg('cell payload runs past its page'));
  });

  it('refuses interior cells past the page', () => {
    const { db: deep } = db(`PRAGMA page_size=512; CREATE TABLE t(a);
      WITH RECURSIVE i(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM i WHERE k < 300) INSERT INTO t SELECT printf('%050d', k) FROM i;`);
    expect(deep[512]).toBe(5);
    const b = Buffer.from(deep);
    b.writeUInt16BE(509, 512 + 12);
    expect(() => rows(b)).toThrow(msg('page 2: cell 0 runs past the page'));
    // Exactly 4 bytes before the end: the child pointer is read, not refused as running past.
    const edge = Buffer.from(deep);
    edge.writeUInt16BE(508, 512 + 12);
    expect(() => rows(edge)).not.toThrow(/runs past the page/);
  });

  it("refuses an rpm Packages row whose blob is not one", async () => {
    const { readSqlitePackages } = await import('../../src/container/packages/rpm-blobs.js');
    const { db: b } = db(`CREATE TABLE Packages(hnum INTEGER PRIMARY KEY, blob); INSERT INTO Packages VALUES (7, 'text');`);
    expect(() => [...readSqlitePackages(b, 'rpmdb.sqlite')]).toThrow(/^rpmdb\.sqlite: package 7: blob column is not a blob$/);
  });
});

/** The WAL's frames: [page number, database size after commit (0: not a commit)]. */
function frames(wal: Buffer): [number, number][] {
  const size = 24 + wal.readUInt32BE(8);
  const out: [number, number][] = [];
  for (let at = 32; at + size <= wal.length; at += size) out.push([wal.readUInt32BE(at), wal.readUInt32BE(at + 4)]);
  return out;
}

/** Rewrites the WAL's header and frame checksums (SQLite's format, byte order from the magic). */
function resum(wal: Buffer): Buffer {
  const be = wal.readUInt32BE(0) === 0x377f0683;
  let s0 = 0;
  let s1 = 0;
  const sum = (from: number, to: number) => {
    for (let i = from; i < to; i += 8) {
      s0 = (s0 + (be ? wal.readUInt32BE(i) : wal.readUInt32LE(i)) + s1) >>> 0;
      s1 = (s1 + (be ? wal.readUInt32BE(i + 4) : wal.readUInt32LE(i + 4)) + s0) >>> 0;
    }
  };
  sum(0, 24);
  wal.writeUInt32BE(s0, 24);
  wal.writeUInt32BE(s1, 28);
  const size = 24 + wal.readUInt32BE(8);
  for (let at = 32; at + size <= wal.length; at += size) {
    sum(at, at + 8);
    sum(at + 24, at + size);
    wal.writeUInt32BE(s0, at + 16);
    wal.writeUInt32BE(s1, at + 20);
  }
  return wal;
}

describe('SQLite write-ahead logs', () => {
  // Two transactions in the WAL: rows 4 and 5 added, then row 2 deleted.
  const { db: base, wal } = db(
    `PRAGMA journal_mode=WAL; CREATE TABLE t(a); INSERT INTO t VALUES (1), (2), (3);`,
    `INSERT INTO t VALUES (4), (randomblob(9000));\nDELETE FROM t WHERE rowid = 2;`,
  );
  const keys = (w?: Buffer) => rows(base, 't', w).map((r) => Number(r.rowid));
  const f = frames(wal!);
  const commits = f.flatMap(([, size], i) => (size !== 0 ? [i] : []));
  const frameAt = (i: number) => 32 + i * (24 + wal!.readUInt32BE(8));
  const edited = (g: (w: Buffer) => void) => {
    const w = Buffer.from(wal!);
    g(w);
    return w;
  };

  it('applies the committed transactions, in either byte order', () => {
    expect(commits).toHaveLength(2);
    expect(keys()).toEqual([1, 2, 3]);
    expect(keys(wal)).toEqual([1, 3, 4, 5]);
    expect(keys(Buffer.alloc(0))).toEqual([1, 2, 3]);
    const be = resum(edited((w) => w.writeUInt32BE(0x377f0683, 0)));
    expect(keys(be)).toEqual([1, 3, 4, 5]);
    // Checksums of the other byte order do not match: the log is ignored, as SQLite does.
    expect(keys(edited((w) => w.writeUInt32BE(0x377f0683, 0)))).toEqual([1, 2, 3]);
  });

  it('stops at the first frame with a wrong salt or checksum, and ignores uncommitted frames', () => {
    const second = commits[0]! + 1;
    expect(keys(edited((w) => (w[frameAt(second) + 8] ^= 1)))).toEqual([1, 2, 3, 4, 5]);
    expect(keys(edited((w) => (w[frameAt(second) + 12] ^= 1)))).toEqual([1, 2, 3, 4, 5]);
    expect(keys(edited((w) => (w[frameAt(second) + 24 + 100] ^= 1)))).toEqual([1, 2, 3, 4, 5]);
    expect(keys(edited((w) => (w[frameAt(second) + 16] ^= 1)))).toEqual([1, 2, 3, 4, 5]);
    expect(keys(edited((w) => (w[frameAt(second) + 20] ^= 1)))).toEqual([1, 2, 3, 4, 5]);
    expect(keys(resum(edited((w) => w.writeUInt32BE(0, frameAt(commits[1]!) + 4))))).toEqual([1, 2, 3, 4, 5]);
    expect(keys(resum(edited((w) => w.writeUInt32BE(0, frameAt(commits[0]!) + 4))))).toEqual([1, 3, 4, 5]);
    expect(keys(edited((w) => (w[24] ^= 1)))).toEqual([1, 2, 3]);
    expect(keys(edited((w) => (w[28] ^= 1)))).toEqual([1, 2, 3]);
    // A log of only its header holds nothing.
    expect(keys(wal!.subarray(0, 32))).toEqual([1, 2, 3]);
    // A cut log keeps its whole committed frames.
    expect(keys(wal!.subarray(0, frameAt(second) + 100))).toEqual([1, 2, 3, 4, 5]);
  });

  it('reads a page the log commits to from the file, and not a frame past the committed size', () => {
    // The log adds a row of 9000 bytes: leaf page 2, overflow pages 3 and then 4, 4 pages committed.
    const { db: two, wal: w } = db(`PRAGMA journal_mode=WAL; CREATE TABLE t(a);`, `INSERT INTO t VALUES (randomblob(9000));`);
    expect(two.length).toBe(2 * 4096);
    const size = 24 + 4096;
    const frameOf = (n: number) => 32 + frames(w!).findIndex(([pg]) => pg === n) * size;
    expect(frames(w!).at(-1)![1]).toBe(4);
    const blob = rows(two, 't', w)[0]!.values[0] as Buffer;
    expect(blob.length).toBe(9000);
    // Page 4's frame renumbered 7: page 4 is then one the log commits to but the file lacks.
    const moved = Buffer.from(w!);
    moved.writeUInt32BE(7, frameOf(4));
    expect(() => rows(two, 't', resum(Buffer.from(moved)))).toThrow(/^x\.sqlite: page 4 lies past the end of the file$/);
    // ... and with page 3 pointing on to page 7 and the file 8 pages long, page 7 comes from the
    // file (zeros), the frame past the 4 committed pages being no part of the database.
    moved.writeUInt32BE(7, frameOf(3) + 24);
    const long = Buffer.concat([two, Buffer.alloc(6 * 4096)]);
    const read = rows(long, 't', resum(moved))[0]!.values[0] as Buffer;
    expect(read.subarray(0, 9000 - 4092)).toEqual(blob.subarray(0, 9000 - 4092));
    expect(read.subarray(9000 - 4092)).toEqual(Buffer.alloc(4092));
  });

  it('refuses a log that is not one, of another page size, or with a frame for page 0', () => {
    expect(() => keys(wal!.subarray(0, 31))).toThrow(/^x\.sqlite-wal: truncated write-ahead log header$/);
    expect(() => keys(edited((w) => w.writeUInt32BE(0x377f0684, 0)))).toThrow(/^x\.sqlite-wal: not an SQLite write-ahead log \(bad magic\)$/);
    expect(() => keys(edited((w) => w.writeUInt32BE(8192, 8)))).toThrow(/^x\.sqlite-wal: page size 8192 differs from the database's 4096$/);
    expect(() => keys(resum(edited((w) => w.writeUInt32BE(0, frameAt(0)))))).toThrow(/^x\.sqlite-wal: frame for page 0$/);
  });
});
