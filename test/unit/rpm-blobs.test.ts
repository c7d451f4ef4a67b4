// rpm's BerkeleyDB and ndb package files with one field broken at a time: each refused with the
// file, the page or slot, and what was wrong.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { readBdbPackages, readNdbPackages } from '../../src/container/packages/rpm-blobs.js';
import { bdbFile } from '../helpers/rpmdb.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'rpm-blobs-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const quote = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const exact = (what: string, m: string) => new RegExp(`^${quote(what)}: ${quote(m)}$`);

describe('BerkeleyDB Packages', () => {
  // db_load's layout (checked below): page 0 metadata; page 1 keys 0 and 2, the value of 2
  // off-page on overflow pages 3 and 4; page 2 key 1 and its 40-byte value.
  const file = path.join(work, 'Packages');
  const small = Buffer.alloc(40, 7);
  const big = Buffer.from(Array.from({ length: 5000 }, (_, i) => i & 0xff));
  bdbFile(file, [small, big], 'little');
  const db = readFileSync(file);
  const P = 4096;
  const read = (b: Buffer) => [...readBdbPackages(b, 'Packages')];
  const broken = (f: (b: Buffer) => void) => {
    const b = Buffer.from(db);
    f(b);
    return () => read(b);
  };
  const msg = (m: string) => exact('Packages', m);
  const item = (page: number, i: number) => page * P + db.readUInt16LE(page * P + 26 + 2 * i);

  it('has the layout these cases edit', () => {
    expect(db.length).toBe(5 * P);
    expect([1, 2, 3, 4].map((n) => db[n * P + 25])).toEqual([13, 13, 7, 7]);
    expect(db[item(1, 3)]).toBe(3);
    expect(db.readUInt32LE(item(1, 3) + 4)).toBe(3);
    expect(db.readUInt32LE(item(1, 3) + 8)).toBe(5000);
    expect(read(db)).toEqual([
      { key: 2, blob: big },
      { key: 1, blob: small },
    ]);
  });

  it('refuses a file that is not a readable hash database', () => {
    expect(broken((b) => b.writeUInt32LE(0, 12))).toThrow(msg('not a BerkeleyDB hash database (bad magic)'));
    for (const size of [256, 1000, 131072]) expect(broken((b) => b.writeUInt32LE(size, 20))).toThrow(msg(`invalid page size ${size}`));
    expect(broken((b) => (b[25] = 9))).toThrow(msg('first page has type 9, not hash metadata'));
    expect(broken((b) => (b[26] |= 1))).toThrow(msg('BerkeleyDB page checksums are not supported'));
    expect(read(db.subarray(0, 512))).toEqual([]);
    expect(() => read(db.subarray(0, 511))).toThrow(msg('511 bytes, too short for a BerkeleyDB database'));
  });

  it('reads the smallest and the largest page sizes (512 bytes, 64 KiB), and unsorted hash pages', () => {
    const byKey = (r: { key: number; blob: Buffer }[]) => r.sort((a, b) => a.key - b.key);
    for (const size of [512, 65536]) {
      const f = path.join(work, `Packages-${size}`);
      bdbFile(f, [small, big], 'little', size);
      const b = readFileSync(f);
      expect(b.readUInt32LE(20)).toBe(size);
      expect(byKey(read(b))).toEqual([{ key: 1, blob: small }, { key: 2, blob: big }]);
    }
    // Page 2 marked unsorted (type 2, as BerkeleyDB leaves a page it has not sorted yet).
    expect(broken((b) => (b[2 * P + 25] = 2))()).toEqual(read(db));
  });

  it('refuses hash pages whose items do not fit', () => {
    expect(broken((b) => b.writeUInt16LE(3, 2 * P + 20))).toThrow(msg('page 2: odd number of items 3 (keys and values come in pairs)'));
    expect(broken((b) => b.writeUInt16LE(2036, 2 * P + 20))).toThrow(msg('page 2: 2036 items overflow the page'));
    expect(broken((b) => b.writeUInt16LE(2034, 2 * P + 20))).toThrow(/^Packages: page 2: item 0 at offset \d+ outside the item area$/);
    expect(broken((b) => b.writeUInt16LE(0, 2 * P + 26))).toThrow(msg('page 2: item 0 at offset 0 outside the item area'));
    expect(broken((b) => b.writeUInt16LE(29, 2 * P + 26))).toThrow(msg('page 2: item 0 at offset 29 outside the item area'));
    expect(broken((b) => b.writeUInt16LE(P, 2 * P + 26))).toThrow(msg(`page 2: item 0 at offset ${P} outside the item area`));
    expect(broken((b) => b.writeUInt16LE(db.readUInt16LE(2 * P + 26), 2 * P + 28))).toThrow(msg('page 2: item 1 overlaps its neighbour'));
    expect(broken((b) => (b[item(2, 0)] = 5))).toThrow(msg('page 2: item 0 has unsupported type 5 (duplicates are not used by rpm)'));
    // An item right after the two item offsets (offset 30) is inside the item area: read, then refused as a key.
    expect(broken((b) => (b.writeUInt16LE(30, 2 * P + 26), (b[2 * P + 30] = 1)))).toThrow(msg(`page 2: key of ${P - 31} bytes (rpm's keys are 4-byte numbers)`));
    // The key item one byte longer: 5 bytes.
    expect(broken((b) => (b.writeUInt16LE(P - 6, 2 * P + 26), (b[2 * P + P - 6] = 1)))).toThrow(msg("page 2: key of 5 bytes (rpm's keys are 4-byte numbers)"));
  });

  it('refuses broken off-page items and overflow chains', () => {
    const off = item(1, 3);
    // Key 0 (item 0, ending at the page's end) made an off-page item: 5 bytes left, 12 needed.
    expect(broken((b) => (b[P + P - 5] = 3))).toThrow(msg('page 1: off-page item runs past the page'));
    // With exactly 12 bytes it is read: a 0-byte item, then refused as a key.
    expect(broken((b) => (b.writeUInt16LE(P - 12, P + 26), (b[P + P - 12] = 3), b.writeUInt32LE(0, P + P - 4)))).toThrow(
      msg("page 1: key of 0 bytes (rpm's keys are 4-byte numbers)"),
    );
    expect(broken((b) => b.writeUInt32LE(5 * P + 1, off + 8))).toThrow(msg(`page 1: off-page item of ${5 * P + 1} bytes larger than the database`));
    // As long as the file: not refused for its size, but the chain ends long before.
    expect(broken((b) => b.writeUInt32LE(5 * P, off + 8))).toThrow(msg(`page 1: overflow chain ends after 5000 of ${5 * P} bytes`));
    expect(broken((b) => b.writeUInt32LE(0, off + 4))).toThrow(msg('page 1: overflow chain ends after 0 of 5000 bytes'));
    expect(broken((b) => b.writeUInt32LE(0, 3 * P + 16))).toThrow(msg('page 1: overflow chain ends after 4070 of 5000 bytes'));
    expect(broken((b) => b.writeUInt32LE(5, off + 4))).toThrow(msg("page number 5 outside the database's 5 pages"));
    expect(broken((b) => b.writeUInt32LE(2, off + 4))).toThrow(msg('page 2 has type 13, not an overflow page'));
    expect(broken((b) => b.writeUInt32LE(3, 3 * P + 16))).toThrow(msg('overflow page 3 used twice'));
    expect(broken((b) => b.writeUInt16LE(P - 25, 3 * P + 22))).toThrow(msg(`overflow page 3: bad length ${P - 25}`));
    expect(broken((b) => b.writeUInt16LE(931, 4 * P + 22))).toThrow(msg('overflow page 4: bad length 931'));
    expect(broken((b) => b.writeUInt16LE(0, 3 * P + 22))).toThrow(msg('overflow page 3: empty page inside a chain'));
    // The whole value in one page of the most a page holds.
    const whole = Buffer.from(db);
    whole.writeUInt32LE(P - 26, off + 8);
    whole.writeUInt16LE(P - 26, 3 * P + 22);
    whole.writeUInt32LE(0, 3 * P + 16);
    expect(read(whole)[0]!.blob.length).toBe(P - 26);
  });
});

describe('ndb Packages.db', () => {
  const db = gunzipSync(readFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'rpmdb', 'sle15-bci-Packages.db.gz')));
  const read = (b: Buffer) => [...readNdbPackages(b, 'Packages.db')];
  const msg = (m: string) => exact('Packages.db', m);
  const slotPages = db.readUInt32LE(12);
  // The first used slot and its blob.
  let slot = 32;
  while (db.readUInt32LE(slot + 8) === 0) slot += 16;
  const pkg = db.readUInt32LE(slot + 4);
  const blk = db.readUInt32LE(slot + 8);
  const cnt = db.readUInt32LE(slot + 12);
  const broken = (f: (b: Buffer) => void) => {
    const b = Buffer.from(db);
    f(b);
    return () => read(b);
  };

  it('refuses a bad header, slot or blob', () => {
    expect(read(db)).toHaveLength(35);
    expect(broken((b) => b.writeUInt32LE(1, 4))).toThrow(msg('ndb version 1 (only 0 is known)'));
    expect(broken((b) => b.writeUInt32LE(0, 12))).toThrow(msg(`0 slot pages do not fit the ${db.length}-byte file`));
    const tooMany = Math.floor(db.length / 4096) + 1;
    expect(broken((b) => b.writeUInt32LE(tooMany, 12))).toThrow(msg(`${tooMany} slot pages do not fit the ${db.length}-byte file`));
    expect(() => read(db.subarray(0, 4095))).toThrow(msg('not an rpm ndb database (bad magic)'));
    // A file of just its one slot page: the header fits, the blobs do not.
    expect(slotPages).toBe(1);
    expect(() => read(db.subarray(0, 4096))).toThrow(msg(`slot at offset ${slot}: package ${pkg} at blocks ${blk}+${cnt} outside the data area`));
    expect(broken((b) => b.writeUInt32LE(0, 32 + 16 * 5))).toThrow(msg(`bad slot magic at offset ${32 + 16 * 5}`));
    const outside = `slot at offset ${slot}: package`;
    expect(broken((b) => b.writeUInt32LE(0, slot + 4))).toThrow(msg(`${outside} 0 at blocks ${blk}+${cnt} outside the data area`));
    expect(broken((b) => b.writeUInt32LE(0, slot + 12))).toThrow(msg(`${outside} ${pkg} at blocks ${blk}+0 outside the data area`));
    const minBlk = (slotPages * 4096) / 16;
    expect(broken((b) => (b.writeUInt32LE(minBlk - 1, slot + 8), b.writeUInt32LE(1, slot + 12)))).toThrow(
      msg(`${outside} ${pkg} at blocks ${minBlk - 1}+1 outside the data area`),
    );
    const end = Math.floor(db.length / 16);
    expect(broken((b) => (b.writeUInt32LE(end, slot + 8), b.writeUInt32LE(1, slot + 12)))).toThrow(msg(`${outside} ${pkg} at blocks ${end}+1 outside the data area`));
    // Another slot naming the same package.
    let other = slot + 16;
    while (db.readUInt32LE(other + 8) === 0) other += 16;
    expect(broken((b) => b.writeUInt32LE(pkg, other + 4))).toThrow(msg(`package ${pkg} has two slots`));
    const start = blk * 16;
    expect(broken((b) => b.writeUInt32LE(0, start))).toThrow(msg(`package ${pkg}: bad blob head`));
    expect(broken((b) => b.writeUInt32LE(pkg + 1, start + 4))).toThrow(msg(`package ${pkg}: bad blob head`));
    const len = db.readUInt32LE(start + 12);
    expect(broken((b) => b.writeUInt32LE(len + cnt * 16, start + 12))).toThrow(msg(`package ${pkg}: blob of ${len + cnt * 16} bytes does not fill its ${cnt} blocks`));
    const tail = (blk + cnt) * 16 - 12;
    expect(broken((b) => b.writeUInt32LE(0, tail + 8))).toThrow(msg(`package ${pkg}: bad blob tail`));
    expect(broken((b) => b.writeUInt32LE(len + 1, tail + 4))).toThrow(msg(`package ${pkg}: bad blob tail`));
    expect(broken((b) => (b[tail] ^= 1))).toThrow(msg(`package ${pkg}: blob checksum mismatch`));
  });

  it('skips an empty slot whatever count it holds', () => {
    let empty = 32;
    while (db.readUInt32LE(empty + 8) !== 0) empty += 16;
    expect(broken((b) => b.writeUInt32LE(1_000_000, empty + 12))()).toHaveLength(35);
  });

  it('refuses overlapping blobs before reading any', () => {
    let other = slot + 16;
    while (db.readUInt32LE(other + 8) === 0) other += 16;
    const oblk = db.readUInt32LE(other + 8);
    const [a, b] = blk < oblk ? [blk, oblk] : [oblk, blk];
    const aSlot = blk < oblk ? slot : other;
    expect(broken((x) => x.writeUInt32LE(b - a + 1, aSlot + 12))).toThrow(msg(`blobs at blocks ${a} and ${b} overlap`));
    // Adjacent is fine as far as overlap goes (the blob's own checks then fail).
    expect(broken((x) => x.writeUInt32LE(b - a, aSlot + 12))).not.toThrow(/overlap/);
  });
});
