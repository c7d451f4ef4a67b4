// An rpm header blob as rpm's databases store it (rpm's header format: index count, data length,
// 16-byte index entries, data store; everything big-endian), read from untrusted bytes: every
// offset, count and string is checked against the blob, so a hostile header is an error naming
// what was wrong, never an out-of-range read or an unbounded allocation.

/** The header tags this module reads (rpmtag.h numbers). */
export const RpmTag = {
  NAME: 1000,
  VERSION: 1001,
  RELEASE: 1002,
  EPOCH: 1003,
  BUILDTIME: 1006,
  OLDFILENAMES: 1027,
  FILEFLAGS: 1037,
  SOURCERPM: 1044,
  ARCH: 1022,
  CHANGELOGTIME: 1080,
  DIRINDEXES: 1116,
  BASENAMES: 1117,
  DIRNAMES: 1118,
} as const;
const WANTED = new Set<number>(Object.values(RpmTag));

const TYPE_INT8 = 2;
const TYPE_INT16 = 3;
const TYPE_INT32 = 4;
const TYPE_INT64 = 5;
const TYPE_STRING = 6;
const TYPE_BIN = 7;
const TYPE_STRING_ARRAY = 8;
const TYPE_I18NSTRING = 9;
const MAX_TYPE = 9;
/** rpm's own limits (header_internal.h: HEADER_TAGS_MAX, HEADER_DATA_MAX). */
const MAX_ENTRIES = 0xffff;
const MAX_DATA = 0x0fffffff;

interface Entry {
  type: number;
  offset: number;
  count: number;
}

/** One parsed header: typed accessors for the tags it holds. */
export class RpmHeader {
  private constructor(
    private readonly data: Buffer,
    private readonly entries: Map<number, Entry>,
  ) {}

  /** Parses a header blob; `what` names it in errors (e.g. `rpmdb.sqlite: package 12`). */
  static parse(blob: Uint8Array, what: string): RpmHeader {
    const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
    const fail = (msg: string): never => {
      throw new Error(`${what}: invalid rpm header: ${msg}`);
    };
    if (b.length < 8) fail(`${b.length} bytes, shorter than its 8-byte preamble`);
    const il = b.readUInt32BE(0);
    const dl = b.readUInt32BE(4);
    if (il === 0 || il > MAX_ENTRIES) fail(`${il} index entries (1 to ${MAX_ENTRIES} allowed)`);
    if (dl > MAX_DATA) fail(`data length ${dl} over rpm's limit ${MAX_DATA}`);
    const start = 8 + il * 16;
    if (start + dl !== b.length) fail(`${il} entries and ${dl} data bytes need ${start + dl} bytes, the blob has ${b.length}`);
    const data = b.subarray(start);
    const entries = new Map<number, Entry>();
    for (let i = 0; i < il; i++) {
      const at = 8 + i * 16;
      const tag = b.readUInt32BE(at);
      const type = b.readUInt32BE(at + 4);
      const offset = b.readInt32BE(at + 8);
      const count = b.readUInt32BE(at + 12);
      if (type > MAX_TYPE) fail(`tag ${tag}: unknown type ${type}`);
      // Region trailers point backwards (negative offsets) and are not read: skip what we never use.
      if (!WANTED.has(tag)) continue;
      if (offset < 0 || offset > dl) fail(`tag ${tag}: offset ${offset} outside the ${dl}-byte data store`);
      if (count === 0 || count > dl) fail(`tag ${tag}: count ${count} impossible in a ${dl}-byte data store`);
      const width = { [TYPE_INT8]: 1, [TYPE_INT16]: 2, [TYPE_INT32]: 4, [TYPE_INT64]: 8, [TYPE_BIN]: 1 }[type];
      if (width !== undefined && offset + count * width > dl) fail(`tag ${tag}: ${count} × ${width} bytes at ${offset} run past the data store`);
      // A later entry (data appended after install, "dribbles") overrides an earlier one, as in rpm.
      entries.set(tag, { type, offset, count });
    }
    return new RpmHeader(data, entries);
  }

  has(tag: number): boolean {
    return this.entries.has(tag);
  }

  /** The strings of a STRING, STRING_ARRAY or I18NSTRING tag (empty when absent). */
  strings(tag: number): string[] {
    const e = this.entries.get(tag);
    if (!e) return [];
    if (e.type !== TYPE_STRING && e.type !== TYPE_STRING_ARRAY && e.type !== TYPE_I18NSTRING) {
      throw new Error(`invalid rpm header: tag ${tag} has type ${e.type}, not a string`);
    }
    const n = e.type === TYPE_STRING ? 1 : e.count;
    const out: string[] = [];
    let at = e.offset;
    for (let i = 0; i < n; i++) {
      const end = this.data.indexOf(0, at);
      if (end < 0) throw new Error(`invalid rpm header: tag ${tag}: string ${i} is not terminated inside the data store`);
      out.push(this.data.toString('utf8', at, end));
      at = end + 1;
    }
    return out;
  }

  /** The first string of a string tag, or undefined. */
  string(tag: number): string | undefined {
    return this.entries.has(tag) ? this.strings(tag)[0] : undefined;
  }

  /** The values of an INT8/16/32 tag (empty when absent). */
  numbers(tag: number): number[] {
    const e = this.entries.get(tag);
    if (!e) return [];
    const read = {
      [TYPE_INT8]: (i: number) => this.data.readUInt8(e.offset + i),
      [TYPE_INT16]: (i: number) => this.data.readUInt16BE(e.offset + 2 * i),
      [TYPE_INT32]: (i: number) => this.data.readUInt32BE(e.offset + 4 * i),
    }[e.type];
    if (!read) throw new Error(`invalid rpm header: tag ${tag} has type ${e.type}, not an integer`);
    return Array.from({ length: e.count }, (_, i) => read(i));
  }
}
