// Read-only access to one rowid table of an SQLite 3 database image (SQLite's documented file
// format: https://www.sqlite.org/fileformat2.html), with its write-ahead log applied when one is
// given. Enough for rpm's `rpmdb.sqlite`, whose `Packages` table holds one header blob per row.
// The bytes come from images we do not trust: every page number, cell offset, payload size and
// overflow chain is checked, pages are visited at most once, so a hostile file fails with an error
// naming what was wrong, in time and memory bounded by its size.

const MAGIC = 'SQLite format 3\0';
const WAL_MAGIC_LE = 0x377f0682;
const WAL_MAGIC_BE = 0x377f0683;
const LEAF_TABLE = 13;
const INTERIOR_TABLE = 5;

export type SqlValue = null | number | bigint | string | Buffer;

export interface SqliteRow {
  rowid: bigint;
  values: SqlValue[];
}

/** A database image (and optional WAL) with page access; `what` names the file in errors. */
class Pages {
  readonly pageSize: number;
  readonly usable: number;
  readonly count: number;
  private readonly walPages = new Map<number, Buffer>();

  constructor(
    private readonly db: Buffer,
    readonly what: string,
    wal?: Buffer,
  ) {
    if (db.length < 100 || db.toString('latin1', 0, 16) !== MAGIC) this.fail('not an SQLite 3 database (bad header)');
    const raw = db.readUInt16BE(16);
    this.pageSize = raw === 1 ? 65536 : raw;
    if (this.pageSize < 512 || (this.pageSize & (this.pageSize - 1)) !== 0) this.fail(`invalid page size ${raw}`);
    this.usable = this.pageSize - db.readUInt8(20);
    if (this.usable < 480) this.fail(`usable page size ${this.usable} below the format's minimum 480`);
    if (db.readUInt8(21) !== 64 || db.readUInt8(22) !== 32 || db.readUInt8(23) !== 32) this.fail('invalid payload fractions');
    const encoding = db.readUInt32BE(56);
    if (encoding !== 0 && encoding !== 1) this.fail(`text encoding ${encoding} (only UTF-8 is read)`);
    let count = Math.floor(db.length / this.pageSize);
    if (wal && wal.length > 0) count = Math.max(count, this.applyWal(wal));
    this.count = count;
  }

  fail(msg: string): never {
    throw new Error(`${this.what}: ${msg}`);
  }

  /** Page `n` (1-based), from the WAL when it has a committed copy. */
  page(n: number): Buffer {
    if (!Number.isInteger(n) || n < 1 || n > this.count) this.fail(`page number ${n} outside the database's ${this.count} pages`);
    const fromWal = this.walPages.get(n);
    if (fromWal) return fromWal;
    const at = (n - 1) * this.pageSize;
    if (at + this.pageSize > this.db.length) this.fail(`page ${n} lies past the end of the file`);
    return this.db.subarray(at, at + this.pageSize);
  }

  /**
   * Records the last committed version of every page the WAL holds (frames with good salts and
   * checksums, up to the last commit frame); returns the database size in pages it commits to.
   */
  private applyWal(wal: Buffer): number {
    const whatWal = `${this.what}-wal`;
    if (wal.length < 32) throw new Error(`${whatWal}: truncated write-ahead log header`);
    const magic = wal.readUInt32BE(0);
    if (magic !== WAL_MAGIC_LE && magic !== WAL_MAGIC_BE) throw new Error(`${whatWal}: not an SQLite write-ahead log (bad magic)`);
    const pageSize = wal.readUInt32BE(8);
    if (pageSize !== this.pageSize) throw new Error(`${whatWal}: page size ${pageSize} differs from the database's ${this.pageSize}`);
    const bigEndian = magic === WAL_MAGIC_BE;
    const sum = (buf: Buffer, from: number, to: number, s: [number, number]): [number, number] => {
      let [s0, s1] = s;
      for (let i = from; i < to; i += 8) {
        const x0 = bigEndian ? buf.readUInt32BE(i) : buf.readUInt32LE(i);
        const x1 = bigEndian ? buf.readUInt32BE(i + 4) : buf.readUInt32LE(i + 4);
        s0 = (s0 + x0 + s1) >>> 0;
        s1 = (s1 + x1 + s0) >>> 0;
      }
      return [s0, s1];
    };
    let s = sum(wal, 0, 24, [0, 0]);
    if (s[0] !== wal.readUInt32BE(24) || s[1] !== wal.readUInt32BE(28)) return 0; // never written: ignored, as SQLite does
    const salt1 = wal.readUInt32BE(16);
    const salt2 = wal.readUInt32BE(20);
    const frameSize = 24 + pageSize;
    let pending = new Map<number, Buffer>();
    let committedSize = 0;
    for (let at = 32; at + frameSize <= wal.length; at += frameSize) {
      if (wal.readUInt32BE(at + 8) !== salt1 || wal.readUInt32BE(at + 12) !== salt2) break;
      s = sum(wal, at, at + 8, s);
      s = sum(wal, at + 24, at + frameSize, s);
      if (s[0] !== wal.readUInt32BE(at + 16) || s[1] !== wal.readUInt32BE(at + 20)) break;
      const pgno = wal.readUInt32BE(at);
      if (pgno === 0) throw new Error(`${whatWal}: frame for page 0`);
      pending.set(pgno, wal.subarray(at + 24, at + frameSize));
      const dbSize = wal.readUInt32BE(at + 4);
      if (dbSize !== 0) {
        for (const [k, v] of pending) this.walPages.set(k, v);
        pending = new Map();
        committedSize = dbSize;
      }
    }
    for (const k of this.walPages.keys()) if (k > committedSize) this.walPages.delete(k);
    return committedSize;
  }
}

/** Reads a varint at `at` of `b` (up to 9 bytes); returns [value, next offset]. */
function varint(b: Buffer, at: number, end: number, p: Pages): [bigint, number] {
  let v = 0n;
  for (let i = 0; i < 9; i++) {
    if (at + i >= end) p.fail('varint runs past its cell');
    const byte = b[at + i]!;
    if (i === 8) return [(v << 8n) | BigInt(byte), at + 9];
    v = (v << 7n) | BigInt(byte & 0x7f);
    if ((byte & 0x80) === 0) return [v, at + i + 1];
  }
  return p.fail('unreachable');
}

function smallVarint(b: Buffer, at: number, end: number, p: Pages, what: string): [number, number] {
  const [v, next] = varint(b, at, end, p);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) p.fail(`${what} ${v} too large`);
  return [Number(v), next];
}

/** The payload of a table-leaf cell: its inline part plus its overflow chain, checked. */
function payload(p: Pages, page: Buffer, at: number, size: number, seen: Set<number>): Buffer {
  const u = p.usable;
  const x = u - 35;
  if (size <= x) {
    if (at + size > u) p.fail('cell payload runs past its page');
    return page.subarray(at, at + size);
  }
  // The file format's split between the cell and the overflow pages.
  const m = Math.floor(((u - 12) * 32) / 255) - 23;
  const k = m + ((size - m) % (u - 4));
  const inline = k <= x ? k : m;
  if (at + inline + 4 > u) p.fail('cell payload runs past its page');
  if (size > p.count * u) p.fail(`payload of ${size} bytes larger than the database`);
  const out = Buffer.allocUnsafe(size);
  page.copy(out, 0, at, at + inline);
  let filled = inline;
  let next = page.readUInt32BE(at + inline);
  while (filled < size) {
    if (next === 0) p.fail('overflow chain ends before its payload');
    if (seen.has(next)) p.fail(`page ${next} used twice (cycle in the b-tree or an overflow chain)`);
    seen.add(next);
    const ov = p.page(next);
    const take = Math.min(u - 4, size - filled);
    ov.copy(out, filled, 4, 4 + take);
    filled += take;
    next = ov.readUInt32BE(0);
  }
  return out;
}

/** Decodes a record (header of serial types, then the values). */
function record(p: Pages, b: Buffer): SqlValue[] {
  const [headerSize, first] = smallVarint(b, 0, b.length, p, 'record header size');
  if (headerSize > b.length || headerSize < first) p.fail('record header size outside its payload');
  const types: number[] = [];
  for (let at = first; at < headerSize; ) {
    const [t, next] = smallVarint(b, at, headerSize, p, 'serial type');
    types.push(t);
    at = next;
  }
  const values: SqlValue[] = [];
  let at = headerSize;
  const need = (n: number) => {
    if (at + n > b.length) p.fail('record value runs past its payload');
  };
  for (const t of types) {
    if (t === 0 || t === 8 || t === 9) {
      values.push(t === 0 ? null : t - 8);
    } else if (t >= 1 && t <= 6) {
      const n = [0, 1, 2, 3, 4, 6, 8][t]!;
      need(n);
      const v = BigInt.asIntN(n * 8, BigInt('0x' + b.toString('hex', at, at + n)));
      values.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
      at += n;
    } else if (t === 7) {
      need(8);
      values.push(b.readDoubleBE(at));
      at += 8;
    } else if (t >= 12) {
      const n = (t - (t % 2 === 0 ? 12 : 13)) / 2;
      need(n);
      values.push(t % 2 === 0 ? b.subarray(at, at + n) : b.toString('utf8', at, at + n));
      at += n;
    } else {
      p.fail(`reserved serial type ${t}`);
    }
  }
  return values;
}

/** Every row of the table b-tree rooted at `root`, in rowid order. */
function* tableRows(p: Pages, root: number): Generator<SqliteRow> {
  const seen = new Set<number>();
  const stack = [root];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (seen.has(n)) p.fail(`page ${n} used twice (cycle in the b-tree or an overflow chain)`);
    seen.add(n);
    const page = p.page(n);
    const h = n === 1 ? 100 : 0;
    const type = page[h]!;
    const cells = page.readUInt16BE(h + 3);
    const ptrs = h + (type === INTERIOR_TABLE ? 12 : 8);
    if (type !== LEAF_TABLE && type !== INTERIOR_TABLE) p.fail(`page ${n}: type ${type} is not a table b-tree page`);
    if (ptrs + 2 * cells > p.usable) p.fail(`page ${n}: ${cells} cell pointers overflow the page`);
    const cellAt = (i: number) => {
      const off = page.readUInt16BE(ptrs + 2 * i);
      if (off < ptrs + 2 * cells || off >= p.usable) p.fail(`page ${n}: cell ${i} at offset ${off} outside the cell area`);
      return off;
    };
    if (type === INTERIOR_TABLE) {
      // Pushed right to left so the rows come out in rowid order.
      stack.push(page.readUInt32BE(h + 8));
      for (let i = cells - 1; i >= 0; i--) {
        const off = cellAt(i);
        if (off + 4 > p.usable) p.fail(`page ${n}: cell ${i} runs past the page`);
        stack.push(page.readUInt32BE(off));
      }
      continue;
    }
    for (let i = 0; i < cells; i++) {
      const off = cellAt(i);
      const [size, a] = smallVarint(page, off, p.usable, p, 'payload size');
      const [rowid, b] = varint(page, a, p.usable, p);
      yield { rowid, values: record(p, payload(p, page, b, size, seen)) };
    }
  }
}

/**
 * The rows of table `table` of the database image `db` (with the write-ahead log `wal` applied
 * when given). `what` names the file in errors.
 */
export function* readSqliteTable(db: Buffer, table: string, what: string, wal?: Buffer): Generator<SqliteRow> {
  const p = new Pages(db, what, wal);
  let root: number | undefined;
  for (const row of tableRows(p, 1)) {
    const [type, name, , rootpage] = row.values;
    if (type === 'table' && name === table) {
      if (typeof rootpage !== 'number') return p.fail(`table ${table} has no root page`);
      root = rootpage;
    }
  }
  if (root === undefined) return p.fail(`no table ${table}`);
  yield* tableRows(p, root);
}
