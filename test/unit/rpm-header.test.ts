// rpm header blobs from untrusted bytes, tag by tag: every limit of the index and data store, the
// typed accessors, and what a package's NEVRA, source and file list are made of.
import { describe, expect, it } from 'vitest';
import { RpmHeader, RpmTag } from '../../src/container/packages/rpm-header.js';
import { readRpmDatabase, rpmPackages } from '../../src/container/packages/rpm.js';
import { header, int32s, sqliteOf, str, strs } from '../helpers/rpmdb.js';

const STRING = 6;
const parse = (b: Buffer) => RpmHeader.parse(b, 'db: package 1');
/** A header of one entry (tag, type, offset, count) with `dl` data bytes of zeros. */
function raw(tag: number, type: number, offset: number, count: number, dl: number): Buffer {
  const b = Buffer.alloc(8 + 16 + dl);
  b.writeUInt32BE(1, 0);
  b.writeUInt32BE(dl, 4);
  b.writeUInt32BE(tag, 8);
  b.writeUInt32BE(type, 12);
  b.writeInt32BE(offset, 16);
  b.writeUInt32BE(count, 20);
  return b;
}

describe('rpm header limits', () => {
  it('refuses a data store over rpm limit, before its length', () => {
    const b = raw(RpmTag.NAME, STRING, 0, 1, 4);
    b.writeUInt32BE(0x10000000, 4);
    expect(() => parse(b)).toThrow(/^db: package 1: invalid rpm header: data length 268435456 over rpm's limit 268435455$/);
    expect(() => parse(raw(RpmTag.NAME, STRING, 0, 1, 4).subarray(0, 8 + 16 + 3))).toThrow(
      /^db: package 1: invalid rpm header: 1 entries and 4 data bytes need 28 bytes, the blob has 27$/,
    );
  });

  it('checks offsets and counts of the tags it reads, against the data store', () => {
    const msg = (m: string) => new RegExp(`^db: package 1: invalid rpm header: ${m}$`);
    expect(() => parse(raw(RpmTag.NAME, STRING, -16, 1, 8))).toThrow(msg('tag 1000: offset -16 outside the 8-byte data store'));
    expect(() => parse(raw(RpmTag.NAME, STRING, 9, 1, 8))).toThrow(msg('tag 1000: offset 9 outside the 8-byte data store'));
    expect(() => parse(raw(RpmTag.NAME, STRING, 0, 0, 8))).toThrow(msg('tag 1000: count 0 impossible in a 8-byte data store'));
    expect(() => parse(raw(RpmTag.NAME, 8, 0, 9, 8))).toThrow(msg('tag 1000: count 9 impossible in a 8-byte data store'));
    // At the very end and as many strings as bytes: allowed, then found unterminated when read.
    expect(() => parse(raw(RpmTag.NAME, STRING, 8, 1, 8)).strings(RpmTag.NAME)).toThrow(/^invalid rpm header: tag 1000: string 0 is not terminated/);
    expect(parse(raw(RpmTag.NAME, 8, 0, 8, 8)).strings(RpmTag.NAME)).toEqual(Array(8).fill(''));
    // Integers and binary data: count × width must fit.
    for (const [type, width] of [[2, 1], [3, 2], [4, 4], [5, 8], [7, 1]]) {
      const fits = 8 / width;
      expect(() => parse(raw(RpmTag.EPOCH, type!, 0, fits, 8))).not.toThrow();
      expect(() => parse(raw(RpmTag.EPOCH, type!, 1, fits, 8))).toThrow(msg(`tag 1003: ${fits} × ${width} bytes at 1 run past the data store`));
    }
    // A STRING tag is one string whatever its count says.
    const counted = raw(RpmTag.NAME, STRING, 0, 2, 4);
    counted.write('n\0ab', 24);
    expect(parse(counted).strings(RpmTag.NAME)).toEqual(['n']);
    // Types without a fixed width are checked when read.
    expect(() => parse(raw(RpmTag.NAME, 9, 0, 8, 8))).not.toThrow();
    expect(() => parse(raw(RpmTag.NAME, 10, 0, 1, 8))).toThrow(msg('tag 1000: unknown type 10'));
  });

  it("allows rpm's 65535 index entries", () => {
    const b = Buffer.alloc(8 + 16 * 0xffff);
    b.writeUInt32BE(0xffff, 0);
    for (let i = 0; i < 0xffff; i++) b.writeUInt32BE(100_000 + i, 8 + 16 * i);
    expect(parse(b).has(RpmTag.NAME)).toBe(false);
  });

  it('skips tags it never reads (region trailers point backwards), and a later entry wins', () => {
    const skipped = parse(raw(63, 7, -16, 16, 8));
    expect(skipped.has(63)).toBe(false);
    // The unknown-type check still applies to them.
    expect(() => parse(raw(63, 99, -16, 16, 8))).toThrow(/tag 63: unknown type 99/);
    const twice = header([
      [RpmTag.NAME, STRING, ...str('first')],
      [RpmTag.NAME, STRING, ...str('second')],
    ]);
    expect(parse(twice).string(RpmTag.NAME)).toBe('second');
  });
});

describe('rpm header accessors', () => {
  const h = parse(
    header([
      [RpmTag.NAME, STRING, ...str('n')],
      [RpmTag.DIRNAMES, 8, ...strs(['/a/', '/b/'])],
      [RpmTag.SOURCERPM, 9, ...strs(['x', 'y'])],
      [RpmTag.FILEFLAGS, 2, 3, Buffer.from([1, 2, 255])],
      [RpmTag.DIRINDEXES, 3, 2, Buffer.from([0, 1, 0xff, 0xfe])],
      [RpmTag.CHANGELOGTIME, 4, ...int32s([0xfffffffe, 7])],
      [RpmTag.BUILDTIME, 5, 1, Buffer.alloc(8)],
    ]),
  );

  it('reads strings, string arrays, i18n strings and 8/16/32-bit integers', () => {
    expect(h.has(RpmTag.NAME)).toBe(true);
    expect(h.has(RpmTag.VERSION)).toBe(false);
    expect(h.strings(RpmTag.NAME)).toEqual(['n']);
    expect(h.strings(RpmTag.DIRNAMES)).toEqual(['/a/', '/b/']);
    expect(h.string(RpmTag.DIRNAMES)).toBe('/a/');
    expect(h.strings(RpmTag.SOURCERPM)).toEqual(['x', 'y']);
    expect(h.strings(RpmTag.VERSION)).toEqual([]);
    expect(h.string(RpmTag.VERSION)).toBeUndefined();
    expect(h.numbers(RpmTag.FILEFLAGS)).toEqual([1, 2, 255]);
    expect(h.numbers(RpmTag.DIRINDEXES)).toEqual([1, 0xfffe]);
    expect(h.numbers(RpmTag.CHANGELOGTIME)).toEqual([0xfffffffe, 7]);
    expect(h.numbers(RpmTag.EPOCH)).toEqual([]);
  });

  it('refuses reading a tag as the wrong type', () => {
    expect(() => h.strings(RpmTag.CHANGELOGTIME)).toThrow(/^invalid rpm header: tag 1080 has type 4, not a string$/);
    expect(() => h.string(RpmTag.FILEFLAGS)).toThrow(/^invalid rpm header: tag 1037 has type 2, not a string$/);
    expect(() => h.numbers(RpmTag.NAME)).toThrow(/^invalid rpm header: tag 1000 has type 6, not an integer$/);
    expect(() => h.numbers(RpmTag.BUILDTIME)).toThrow(/^invalid rpm header: tag 1006 has type 5, not an integer$/);
  });
});

describe('rpm packages from headers', () => {
  const pkg = (entries: Parameters<typeof header>[0]) => rpmPackages([{ key: 3, blob: header(entries) }], 'db')[0]!;
  const nvr: Parameters<typeof header>[0] = [
    [RpmTag.NAME, STRING, ...str('bash')],
    [RpmTag.VERSION, STRING, ...str('5.2')],
    [RpmTag.RELEASE, STRING, ...str('1.fc39')],
  ];

  it('spells the NEVRA as rpm -qa does: epoch when not 0, arch when present', () => {
    expect(pkg(nvr).identifier).toBe('bash-5.2-1.fc39');
    expect(pkg([...nvr, [RpmTag.EPOCH, 4, ...int32s([2])], [RpmTag.ARCH, STRING, ...str('x86_64')]]).identifier).toBe('bash-2:5.2-1.fc39.x86_64');
    expect(pkg([...nvr, [RpmTag.EPOCH, 4, ...int32s([0])], [RpmTag.ARCH, STRING, ...str('')]]).identifier).toBe('bash-5.2-1.fc39');
  });

  it('takes the source package from SOURCERPM (src and nosrc), else the package itself', () => {
    const src = (s: string) => {
      const p = pkg([...nvr, [RpmTag.SOURCERPM, STRING, ...str(s)]]);
      return [p.source, p.sourceVersion];
    };
    expect(src('bash-5.2.15-5.fc39.src.rpm')).toEqual(['bash', '5.2.15-5.fc39']);
    expect(src('my-tool-1.0-2.nosrc.rpm')).toEqual(['my-tool', '1.0-2']);
    for (const bad of ['bash.src.rpm', 'bash-5.2.15-5.fc39.rpm', 'x-bash-5.2.15-5.fc39.src.rpm.old', '-1-2.src.rpm']) expect(src(bad)).toEqual(['bash', '5.2-1.fc39']);
    expect([pkg(nvr).source, pkg(nvr).sourceVersion]).toEqual(['bash', '5.2-1.fc39']);
  });

  it('joins file names with their directories, or reads the old flat list; refuses bad indexes', () => {
    const files = (extra: Parameters<typeof header>[0]) => pkg([...nvr, ...extra]).files;
    expect(files([[RpmTag.OLDFILENAMES, 8, ...strs(['/bin/sh', '/etc/x'])]])).toEqual(['/bin/sh', '/etc/x']);
    expect(files([])).toEqual([]);
    const dirs: Parameters<typeof header>[0][number] = [RpmTag.DIRNAMES, 8, ...strs(['/usr/bin/', '/etc/'])];
    expect(files([[RpmTag.DIRINDEXES, 4, ...int32s([1, 0])], [RpmTag.BASENAMES, 8, ...strs(['bashrc', 'bash'])], dirs])).toEqual(['/etc/bashrc', '/usr/bin/bash']);
    expect(() => files([[RpmTag.DIRINDEXES, 4, ...int32s([0])], [RpmTag.BASENAMES, 8, ...strs(['a', 'b'])], dirs])).toThrow(
      /^db: package 3: 2 file names but 1 directory indexes$/,
    );
    expect(() => files([[RpmTag.DIRINDEXES, 4, ...int32s([0, 2])], [RpmTag.BASENAMES, 8, ...strs(['a', 'b'])], dirs])).toThrow(
      /^db: package 3: directory index 2 of 2$/,
    );
  });

  it('names the database and its format for a fault found outside the header checks', () => {
    const intName = header([[RpmTag.NAME, 4, 1, Buffer.alloc(4)]]);
    expect(() => rpmPackages([{ key: 1, blob: intName }], 'db')).toThrow(/^invalid rpm header: tag 1000 has type 4, not a string$/);
    // readRpmDatabase adds the file and format to such an error, and leaves its own errors alone.
    const db = sqliteOf([intName]);
    expect(() => readRpmDatabase('sqlite', db, 'rpmdb.sqlite')).toThrow(
      /^rpmdb\.sqlite: unreadable sqlite rpm database: invalid rpm header: tag 1000 has type 4, not a string$/,
    );
    const noName = sqliteOf([header([[RpmTag.VERSION, STRING, ...str('1')]])]);
    expect(() => readRpmDatabase('sqlite', noName, 'rpmdb.sqlite')).toThrow(/^rpmdb\.sqlite: package 1: header without a name$/);
  });
});
