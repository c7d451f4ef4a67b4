// The header blobs of rpm's two non-SQLite package databases, read from untrusted bytes:
// - BerkeleyDB `Packages` (rpm ≤ 4.15 and RHEL ≤ 8): a hash database whose values are the
//   header blobs (BerkeleyDB's on-disk page format, db_page.h; the writer's byte order);
// - ndb `Packages.db` (rpm's own format, SUSE's default): slot pages naming blobs, each with a
//   head (magic, package index, generation, length), the header, and a tail (adler32, length, magic).
// Every offset, length and chain is checked against the file, pages are visited at most once.
import { readSqliteTable } from './sqlite.js';

/** One package's header blob and the key rpm filed it under. */
export interface HeaderBlob {
  key: number;
  blob: Buffer;
}

// --- BerkeleyDB hash database ---------------------------------------------------------------

const BDB_HASH_MAGIC = 0x061561;
const BDB_BTREE_MAGIC = 0x053162;
const BDB_META_HASH = 8;
const BDB_PAGE_HASH_UNSORTED = 2;
const BDB_PAGE_HASH = 13;
const BDB_PAGE_OVERFLOW = 7;
const BDB_PAGE_HEADER = 26;
const H_KEYDATA = 1;
const H_OFFPAGE = 3;

/** The values of a BerkeleyDB hash database (rpm's `Packages`), skipping rpm's record 0. */
export function* readBdbPackages(db: Buffer, what: string): Generator<HeaderBlob> {
  const fail = (msg: string): never => {
    throw new Error(`${what}: ${msg}`);
  };
  if (db.length < 512) fail(`${db.length} bytes, too short for a BerkeleyDB database`);
  // The writer's byte order: the magic reads right one way or the other.
  let le = true;
  let magic = db.readUInt32LE(12);
  if (magic !== BDB_HASH_MAGIC && magic !== BDB_BTREE_MAGIC) {
    le = false;
    magic = db.readUInt32BE(12);
  }
  if (magic === BDB_BTREE_MAGIC) fail('a BerkeleyDB btree database; rpm keeps Packages as a hash database, and only that is read');
  if (magic !== BDB_HASH_MAGIC) fail('not a BerkeleyDB hash database (bad magic)');
  const u32 = (b: Buffer, at: number) => (le ? b.readUInt32LE(at) : b.readUInt32BE(at));
  const u16 = (b: Buffer, at: number) => (le ? b.readUInt16LE(at) : b.readUInt16BE(at));
  const pageSize = u32(db, 20);
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) fail(`invalid page size ${pageSize}`);
  if (db[24] !== 0) fail('encrypted BerkeleyDB databases are not read');
  if (db[25] !== BDB_META_HASH) fail(`first page has type ${db[25]}, not hash metadata`);
  if ((db[26]! & 1) !== 0) fail('BerkeleyDB page checksums are not supported');
  const pages = Math.floor(db.length / pageSize);
  const page = (n: number): Buffer => {
    if (n < 1 || n >= pages) fail(`page number ${n} outside the database's ${pages} pages`);
    return db.subarray(n * pageSize, (n + 1) * pageSize);
  };
  const usedAsOverflow = new Set<number>();
  const offpage = (p: Buffer, at: number, pn: number): Buffer => {
    if (at + 12 > pageSize) fail(`page ${pn}: off-page item runs past the page`);
    let next = u32(p, at + 4);
    const total = u32(p, at + 8);
    if (total > db.length) fail(`page ${pn}: off-page item of ${total} bytes larger than the database`);
    const out = Buffer.allocUnsafe(total);
    let filled = 0;
    while (filled < total) {
      if (next === 0) fail(`page ${pn}: overflow chain ends after ${filled} of ${total} bytes`);
      if (usedAsOverflow.has(next)) fail(`overflow page ${next} used twice`);
      usedAsOverflow.add(next);
      const ov = page(next);
      if (ov[25] !== BDB_PAGE_OVERFLOW) fail(`page ${next} has type ${ov[25]}, not an overflow page`);
      const len = u16(ov, 22);
      if (len > pageSize - BDB_PAGE_HEADER || filled + len > total) fail(`overflow page ${next}: bad length ${len}`);
      if (len === 0) fail(`overflow page ${next}: empty page inside a chain`);
      ov.copy(out, filled, BDB_PAGE_HEADER, BDB_PAGE_HEADER + len);
      filled += len;
      next = u32(ov, 16);
    }
    return out;
  };
  for (let pn = 1; pn < pages; pn++) {
    const p = page(pn);
    const type = p[25];
    if (type !== BDB_PAGE_HASH && type !== BDB_PAGE_HASH_UNSORTED) continue;
    const entries = u16(p, 20);
    if (entries % 2 !== 0) fail(`page ${pn}: odd number of items ${entries} (keys and values come in pairs)`);
    if (BDB_PAGE_HEADER + 2 * entries > pageSize) fail(`page ${pn}: ${entries} items overflow the page`);
    const offset = (i: number) => {
      const o = u16(p, BDB_PAGE_HEADER + 2 * i);
      if (o < BDB_PAGE_HEADER + 2 * entries || o >= pageSize) fail(`page ${pn}: item ${i} at offset ${o} outside the item area`);
      return o;
    };
    // An inline item runs up to the start of the item before it (items are stored from the end down).
    const item = (i: number): Buffer => {
      const o = offset(i);
      const end = i === 0 ? pageSize : offset(i - 1);
      if (end <= o) fail(`page ${pn}: item ${i} overlaps its neighbour`);
      if (p[o] === H_KEYDATA) return p.subarray(o + 1, end);
      if (p[o] === H_OFFPAGE) return offpage(p, o, pn);
      return fail(`page ${pn}: item ${i} has unsupported type ${p[o]} (duplicates are not used by rpm)`);
    };
    for (let i = 0; i < entries; i += 2) {
      const k = item(i);
      if (k.length !== 4) fail(`page ${pn}: key of ${k.length} bytes (rpm's keys are 4-byte numbers)`);
      const key = u32(k, 0);
      const blob = item(i + 1);
      if (key !== 0) yield { key, blob };
    }
  }
}

// --- ndb ------------------------------------------------------------------------------------

const NDB_MAGIC = 0x506d7052; // "RpmP" little-endian
const NDB_SLOT_MAGIC = 0x746f6c53; // "Slot"
const NDB_HEAD_MAGIC = 0x53626c42; // "BlbS"
const NDB_TAIL_MAGIC = 0x45626c42; // "BlbE"
const NDB_PAGE = 4096;
const NDB_BLK = 16;
const NDB_HEAD = 16;
const NDB_TAIL = 12;

/** Adler-32 (RFC 1950), which ndb keeps over each blob's head, data and padding. */
function adler32(b: Buffer, from: number, to: number): number {
  let s1 = 1;
  let s2 = 0;
  for (let i = from; i < to; ) {
    const end = Math.min(to, i + 5552);
    for (; i < end; i++) {
      s1 += b[i]!;
      s2 += s1;
    }
    s1 %= 65521;
    s2 %= 65521;
  }
  return ((s2 << 16) | s1) >>> 0;
}

/** The header blobs of an ndb `Packages.db`, checked against their head, tail and checksum. */
export function* readNdbPackages(db: Buffer, what: string): Generator<HeaderBlob> {
  const fail = (msg: string): never => {
    throw new Error(`${what}: ${msg}`);
  };
  if (db.length < NDB_PAGE || db.readUInt32LE(0) !== NDB_MAGIC) fail('not an rpm ndb database (bad magic)');
  const version = db.readUInt32LE(4);
  if (version !== 0) fail(`ndb version ${version} (only 0 is known)`);
  const slotPages = db.readUInt32LE(12);
  if (slotPages === 0 || slotPages * NDB_PAGE > db.length) fail(`${slotPages} slot pages do not fit the ${db.length}-byte file`);
  const fileBlks = Math.floor(db.length / NDB_BLK);
  const minBlk = (slotPages * NDB_PAGE) / NDB_BLK;
  const seen = new Set<number>();
  // Blobs may not overlap (as rpm checks), which also bounds the checksum work by the file size.
  const extents: [number, number][] = [];
  for (let at = 32; at < slotPages * NDB_PAGE; at += 16) {
    const blkoff = db.readUInt32LE(at + 8);
    if (blkoff !== 0) extents.push([blkoff, db.readUInt32LE(at + 12)]);
  }
  extents.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < extents.length; i++) {
    if (extents[i - 1]![0] + extents[i - 1]![1] > extents[i]![0]) fail(`blobs at blocks ${extents[i - 1]![0]} and ${extents[i]![0]} overlap`);
  }
  for (let at = 32; at < slotPages * NDB_PAGE; at += 16) {
    if (db.readUInt32LE(at) !== NDB_SLOT_MAGIC) fail(`bad slot magic at offset ${at}`);
    const pkgidx = db.readUInt32LE(at + 4);
    const blkoff = db.readUInt32LE(at + 8);
    const blkcnt = db.readUInt32LE(at + 12);
    if (blkoff === 0) continue;
    if (pkgidx === 0 || blkcnt === 0 || blkoff < minBlk || blkoff + blkcnt > fileBlks) {
      fail(`slot at offset ${at}: package ${pkgidx} at blocks ${blkoff}+${blkcnt} outside the data area`);
    }
    if (seen.has(pkgidx)) fail(`package ${pkgidx} has two slots`);
    seen.add(pkgidx);
    const start = blkoff * NDB_BLK;
    const end = (blkoff + blkcnt) * NDB_BLK;
    if (db.readUInt32LE(start) !== NDB_HEAD_MAGIC || db.readUInt32LE(start + 4) !== pkgidx) fail(`package ${pkgidx}: bad blob head`);
    const len = db.readUInt32LE(start + 12);
    if (Math.ceil((NDB_HEAD + len + NDB_TAIL) / NDB_BLK) !== blkcnt) fail(`package ${pkgidx}: blob of ${len} bytes does not fill its ${blkcnt} blocks`);
    const tail = end - NDB_TAIL;
    if (db.readUInt32LE(tail + 8) !== NDB_TAIL_MAGIC || db.readUInt32LE(tail + 4) !== len) fail(`package ${pkgidx}: bad blob tail`);
    if (adler32(db, start, tail) !== db.readUInt32LE(tail)) fail(`package ${pkgidx}: blob checksum mismatch`);
    yield { key: pkgidx, blob: db.subarray(start + NDB_HEAD, start + NDB_HEAD + len) };
  }
}

// --- SQLite -----------------------------------------------------------------------------------

/** The header blobs of an `rpmdb.sqlite` (table `Packages`: hnum, blob), with its WAL applied. */
export function* readSqlitePackages(db: Buffer, what: string, wal?: Buffer): Generator<HeaderBlob> {
  for (const row of readSqliteTable(db, 'Packages', what, wal)) {
    const blob = row.values[1];
    if (!Buffer.isBuffer(blob)) throw new Error(`${what}: package ${row.rowid}: blob column is not a blob`);
    yield { key: Number(row.rowid), blob };
  }
}
