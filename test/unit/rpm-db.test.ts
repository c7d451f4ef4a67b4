// rpm's databases read from untrusted bytes: header blobs, SQLite (with its write-ahead log),
// BerkeleyDB hash and ndb files — real ones made by sqlite3 and BerkeleyDB's db_load here, real
// ndb/BerkeleyDB files of distribution images (test/fixtures/rpmdb), and hostile mutations of all
// of them, which must fail with an error naming the file, quickly.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { readBdbPackages, readNdbPackages, readSqlitePackages } from '../../src/container/packages/rpm-blobs.js';
import { RpmHeader, RpmTag } from '../../src/container/packages/rpm-header.js';
import { readRpmDatabase, rpmPackages } from '../../src/container/packages/rpm.js';
import { readSqliteTable } from '../../src/container/packages/sqlite.js';
import { bdbFile, header, pkgHeader, str, tool } from '../helpers/rpmdb.js';

const FIXTURES = path.join(import.meta.dirname, '..', 'fixtures', 'rpmdb');
const work = mkdtempSync(path.join(os.tmpdir(), 'rpmdb-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A deterministic byte source for the mutations (xorshift32). */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>>= 0);
  };
}

describe('rpm header blobs', () => {
  it('reads the tags a package needs', () => {
    const [p] = rpmPackages([{ key: 7, blob: pkgHeader('hello', ['/usr/bin/hello', '/usr/share/doc/hello/README']) }], 'db');
    expect(p).toEqual({
      name: 'hello',
      identifier: 'hello-1.0-1.noarch',
      source: 'hello-src',
      sourceVersion: '1.0-1',
      files: ['/usr/bin/hello', '/usr/share/doc/hello/README'],
      changeTimes: [1700000000, 1600000000],
    });
  });

  it('refuses malformed headers with the reason', () => {
    const good = pkgHeader('x', ['/a']);
    const cases: [Buffer, RegExp][] = [
      [good.subarray(0, 5), /shorter than its 8-byte preamble/],
      [Buffer.from([0, 0, 0, 0, 0, 0, 0, 0]), /0 index entries/],
      [Buffer.concat([Buffer.from([0, 1, 0, 0]), good.subarray(4)]), /65536 index entries/],
      [good.subarray(0, good.length - 1), /need \d+ bytes, the blob has/],
    ];
    const badOffset = Buffer.from(good);
    badOffset.writeUInt32BE(0x7fffffff, 8 + 8);
    cases.push([badOffset, /tag 1000: offset 2147483647 outside/]);
    const badCount = Buffer.from(good);
    badCount.writeUInt32BE(1e9, 8 + 16 * 5 + 12);
    cases.push([badCount, /tag 1080: count 1000000000 impossible/]);
    const badType = Buffer.from(good);
    badType.writeUInt32BE(99, 8 + 4);
    cases.push([badType, /tag 1000: unknown type 99/]);
    for (const [blob, msg] of cases) expect(() => RpmHeader.parse(blob, 'db: package 1'), msg.source).toThrow(msg);
    // An unterminated string is found when it is read.
    const h = header([[RpmTag.NAME, 6, 1, Buffer.from('abc')]]);
    expect(() => RpmHeader.parse(h, 'db').strings(RpmTag.NAME)).toThrow(/tag 1000: string 0 is not terminated/);
    expect(() => rpmPackages([{ key: 1, blob: header([[RpmTag.VERSION, 6, ...str('1')]]) }], 'db')).toThrow('db: package 1: header without a name');
  });
});

/** A SQLite database with rpm's `Packages` table holding `n` random blobs (sizes up to 20 kB: overflow pages). */
function sqliteDb(file: string, n: number, extra = ''): void {
  const sql = `PRAGMA page_size=4096; CREATE TABLE 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);
    WITH RECURSIVE i(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM i WHERE k < ${n}) INSERT INTO Packages(blob) SELECT randomblob(1 + (k * 7919) % 20000) FROM i; ${extra}`;
  execFileSync(tool('sqlite3'), [file, sql]);
}

function sqliteRows(file: string): Map<number, string> {
  const out = execFileSync(tool('sqlite3'), [file, 'SELECT hnum, hex(blob) FROM Packages'], { maxBuffer: 1 << 28 }).toString();
  return new Map(out.trim().split('\n').map((l) => [Number(l.split('|')[0]), l.split('|')[1]!.toLowerCase()] as [number, string]));
}

describe('SQLite', () => {
  it('reads every row of a real database, blobs across overflow pages', () => {
    const file = path.join(work, 'rows.sqlite');
    sqliteDb(file, 300);
    const expected = sqliteRows(file);
    const got = new Map([...readSqlitePackages(readFileSync(file), 'rows.sqlite')].map((r) => [r.key, r.blob.toString('hex')]));
    expect(got.size).toBe(300);
    expect(got).toEqual(expected);
  });

  it("applies the write-ahead log's committed frames", () => {
    const file = path.join(work, 'wal.sqlite');
    const copy = path.join(work, 'wal-copy.sqlite');
    sqliteDb(file, 20, 'PRAGMA journal_mode=WAL;');
    // Rows written while the connection stays open stay in the WAL; the files are copied then.
    execFileSync(tool('sqlite3'), [file], {
      input: [
        'PRAGMA wal_autocheckpoint=0;',
        "INSERT INTO Packages(blob) VALUES (x'0102'), (randomblob(9000));",
        'DELETE FROM Packages WHERE hnum = 3;',
        `.shell cp ${file} ${copy}`,
        `.shell cp ${file}-wal ${copy}-wal`,
      ].join('\n'),
    });
    const wal = readFileSync(`${copy}-wal`);
    expect(wal.length).toBeGreaterThan(0);
    const withWal = [...readSqlitePackages(readFileSync(copy), 'wal-copy.sqlite', wal)].map((r) => r.key);
    const without = [...readSqlitePackages(readFileSync(copy), 'wal-copy.sqlite')].map((r) => r.key);
    expect(withWal).toEqual([...Array.from({ length: 20 }, (_, i) => i + 1).filter((k) => k !== 3), 21, 22]);
    expect(without).toHaveLength(20);
    expect(new Map([...readSqlitePackages(readFileSync(copy), 'x', wal)].map((r) => [r.key, r.blob.toString('hex')]))).toEqual(sqliteRows(file));
  });

  it('names the file and the fault of broken databases', () => {
    const file = path.join(work, 'broken.sqlite');
    sqliteDb(file, 50);
    const db = readFileSync(file);
    const read = (b: Buffer) => [...readSqliteTable(b, 'Packages', 'broken.sqlite')];
    expect(() => read(Buffer.from('not a database at all, not even close to one, really not'.repeat(3)))).toThrow('broken.sqlite: not an SQLite 3 database');
    const badSize = Buffer.from(db);
    badSize.writeUInt16BE(1000, 16);
    expect(() => read(badSize)).toThrow('broken.sqlite: invalid page size 1000');
    expect(() => read(db.subarray(0, 4096 * 2))).toThrow(/broken\.sqlite: page number \d+ outside the database's 2 pages/);
    expect(() => [...readSqliteTable(db, 'Nope', 'broken.sqlite')]).toThrow('broken.sqlite: no table Nope');
    // An interior page whose right-most child is itself: a cycle, found and refused.
    const cyc = Buffer.from(db);
    const rootPage = execFileSync(tool('sqlite3'), [file, "SELECT rootpage FROM sqlite_schema WHERE name='Packages'"]).toString().trim();
    const at = (Number(rootPage) - 1) * 4096;
    expect(cyc[at]).toBe(5); // interior table page
    cyc.writeUInt32BE(Number(rootPage), at + 8);
    expect(() => read(cyc)).toThrow(`broken.sqlite: page ${rootPage} used twice`);
  });

  it('survives hostile mutations: an error naming the file, in bounded time', () => {
    const file = path.join(work, 'fuzz.sqlite');
    sqliteDb(file, 40);
    const db = readFileSync(file);
    const next = prng(1234);
    let failed = 0;
    const t0 = Date.now();
    for (let i = 0; i < 400; i++) {
      const m = Buffer.from(db);
      for (let k = 0; k < 1 + (next() % 8); k++) m[next() % m.length] = next() & 0xff;
      try {
        for (const _ of readSqlitePackages(m, 'fuzz.sqlite'));
      } catch (e) {
        failed++;
        expect((e as Error).message).toMatch(/^fuzz\.sqlite: /);
      }
    }
    expect(failed).toBeGreaterThan(0);
    expect(Date.now() - t0).toBeLessThan(60_000);
  });
});

describe('BerkeleyDB', () => {
  for (const order of ['little', 'big'] as const) {
    it(`reads a ${order}-endian hash database, small values inline and big ones on overflow pages`, () => {
      const next = prng(order === 'little' ? 7 : 8);
      const values = Array.from({ length: 60 }, (_, i) => Buffer.from(Array.from({ length: i % 3 === 0 ? 40 : 500 + (next() % 30000) }, () => next() & 0xff)));
      const file = path.join(work, `Packages-${order}`);
      bdbFile(file, values, order);
      const got = [...readBdbPackages(readFileSync(file), 'Packages')].sort((a, b) => a.key - b.key);
      expect(got.map((g) => g.key)).toEqual(values.map((_, i) => i + 1));
      got.forEach((g, i) => expect(g.blob.equals(values[i]!)).toBe(true));
    });
  }

  it("reads a real image's database (rpm ≤ 4.15, RHEL 8)", () => {
    const db = gunzipSync(readFileSync(path.join(FIXTURES, 'el8-libuuid-Packages.gz')));
    const pkgs = readRpmDatabase('bdb', db, '/var/lib/rpm/Packages');
    expect(pkgs.map((p) => [p.identifier, p.source])).toEqual([['libuuid-2.32.1-42.el8_8.x86_64', 'util-linux']]);
    expect(pkgs[0]!.files).toContain('/usr/lib64/libuuid.so.1.3.0');
  });

  it('names the file and the fault of broken databases, and survives mutations', () => {
    const db = gunzipSync(readFileSync(path.join(FIXTURES, 'el8-libuuid-Packages.gz')));
    const read = (b: Buffer) => readRpmDatabase('bdb', b, 'Packages');
    const btree = Buffer.from(db);
    btree.writeUInt32LE(0x053162, 12);
    expect(() => read(btree)).toThrow('Packages: a BerkeleyDB btree database');
    const enc = Buffer.from(db);
    enc[24] = 1;
    expect(() => read(enc)).toThrow('Packages: encrypted BerkeleyDB databases are not read');
    expect(() => read(db.subarray(0, 100))).toThrow('Packages: 100 bytes, too short');
    const next = prng(99);
    for (let i = 0; i < 300; i++) {
      const m = Buffer.from(db);
      for (let k = 0; k < 1 + (next() % 8); k++) m[next() % m.length] = next() & 0xff;
      try {
        read(m);
      } catch (e) {
        expect((e as Error).message).toMatch(/^Packages: /);
      }
    }
  });
});

describe('ndb', () => {
  const db = gunzipSync(readFileSync(path.join(FIXTURES, 'sle15-bci-Packages.db.gz')));

  it("reads a real image's database (SUSE), checksums verified", () => {
    const pkgs = readRpmDatabase('ndb', db, '/usr/lib/sysimage/rpm/Packages.db');
    expect(pkgs).toHaveLength(35);
    const byName = new Map(pkgs.map((p) => [p.name, p]));
    expect(byName.get('glibc')!.identifier).toBe('glibc-2.31-9.3.2.x86_64');
    expect(byName.get('bash')!.files).toContain('/usr/bin/bash');
    expect(pkgs.reduce((a, p) => a + p.files.length, 0)).toBe(2837);
  });

  it('names the file and the fault of broken databases, and survives mutations', () => {
    const read = (b: Buffer) => readRpmDatabase('ndb', b, 'Packages.db');
    expect(() => read(Buffer.alloc(8192))).toThrow('Packages.db: not an rpm ndb database');
    const blob = Buffer.from(db);
    // Flip one byte inside the first blob: its adler32 no longer matches.
    const first = blob.readUInt32LE(32 + 8) * 16;
    blob[first + 200] ^= 0xff;
    expect(() => read(blob)).toThrow(/Packages\.db: package \d+: blob checksum mismatch/);
    const next = prng(5);
    for (let i = 0; i < 300; i++) {
      const m = Buffer.from(db);
      for (let k = 0; k < 1 + (next() % 8); k++) m[next() % 8192] = next() & 0xff; // the slot pages
      try {
        read(m);
      } catch (e) {
        expect((e as Error).message).toMatch(/^Packages\.db: /);
      }
    }
  });
});
