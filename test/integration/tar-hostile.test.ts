// Hostile layers (issue 8): inputs crafted to make a parser loop, allocate without bound or
// recurse deeply. Each must fail within seconds with an error naming the limit or the byte
// offset, leave the repository as it was, and — through the CLI — print one `error: …` line,
// exit with status 1 and stay under 256 MiB of peak memory (measured by /usr/bin/time -v).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { access, open, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TESTREF } from '../../src/fixture/index.js';
import { tar, variantFromBytes, variantIsNormal, variantToBytes } from '../../src/index.js';
import {
  buildTar, cleanupTmp, entry, execFileP, exampleOs, expectRepoUnchanged, fixChecksum, freshTarget, gnuHeader, longNameExt, openRepo, parseTar,
  paxExt, repoSnapshot, tmpdir, withData, OBJ, objPath, type RawEntry,
} from './tar-util.js';

const cliPath = path.resolve(import.meta.dirname, '../../lib/cli/main.js');
const TIME = '/usr/bin/time';
const MiB = 1024 * 1024;
// The limits of native/tar/reader.h, native/layer/import.cc and native/util/variant_untrusted.h.
const EXT_TOTAL = 2 * MiB;
const XATTRS_CACHE = 32 * MiB;
const VARIANT_DEPTH = 64;

let work: string;
let entries: RawEntry[];
let ci: number; // the commit entry
beforeAll(async () => {
  const fx = await exampleOs();
  work = await tmpdir('tar-hostile-');
  const out = path.join(work, 'full.tar');
  await tar.exportCommit(await openRepo(fx.repoPath), TESTREF, out);
  entries = parseTar(await readFile(out));
  ci = entries.findIndex((e) => e.name.endsWith('.commit'));
  expect(entries[ci + 1]!.name).toMatch(/\.commitmeta$/);
});
afterAll(cleanupTmp);

/** Raw blocks (no end marker) of entries [0, n). */
const head = (n: number) => buildTar(entries.slice(0, n)).subarray(0, -1024);
const END = Buffer.alloc(1024);
const CASES: Record<string, () => Buffer> = {};

/** A file of `data` in the work dir. */
async function file(data: Buffer): Promise<string> {
  const f = path.join(work, `in-${Math.random().toString(36).slice(2)}`);
  await writeFile(f, data);
  return f;
}

/** Imports `input` into a fresh target through the library: rejected with `message`, in seconds, nothing changed. */
async function expectRefused(input: Buffer | string, message: RegExp): Promise<void> {
  const target = await freshTarget();
  const before = await repoSnapshot(target);
  const f = typeof input === 'string' ? input : await file(input);
  const t0 = performance.now();
  await expect(tar.importTar(await openRepo(target), f)).rejects.toThrow(message);
  expect(performance.now() - t0).toBeLessThan(10_000);
  await expectRepoUnchanged(target, before);
}

interface CliRun {
  code: number | null;
  stderr: string;
  maxRssKiB: number;
  seconds: number;
}

/** `ostree-container tar import --repo <target> [file]` under /usr/bin/time -v; stdin from `stdin` when given. */
async function cliImport(target: string, f: string | undefined, stdin?: Readable): Promise<CliRun> {
  await access(TIME, fsc.X_OK).catch(() => {
    throw new Error(`${TIME} not found: install the 'time' package (scripts/install-deps.sh)`);
  });
  const child = spawn(TIME, ['-v', process.execPath, cliPath, 'tar', 'import', '--repo', target, ...(f ? [f] : [])], {
    stdio: [stdin ? 'pipe' : 'ignore', 'ignore', 'pipe'],
  });
  if (stdin) {
    child.stdin!.on('error', () => {}); // EPIPE once the importer has refused the stream
    stdin.pipe(child.stdin!);
  }
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const t0 = performance.now();
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  stdin?.destroy();
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
  expect(rss, stderr).not.toBeNull();
  return { code, stderr, maxRssKiB: Number(rss![1]), seconds: (performance.now() - t0) / 1000 };
}

/** The CLI refuses `input` with one `error: …` line matching `message`, status 1, < 256 MiB, repo unchanged. */
async function expectCliRefused(input: string | Readable, message: RegExp, maxSeconds = 15): Promise<CliRun> {
  const target = await freshTarget();
  const before = await repoSnapshot(target);
  const r = typeof input === 'string' ? await cliImport(target, input) : await cliImport(target, undefined, input);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('error: '));
  expect(errors, r.stderr).toHaveLength(1);
  expect(errors[0]).toMatch(message);
  // /usr/bin/time reports the child's status in its own exit status
  expect(r.code).toBe(1);
  expect(r.maxRssKiB).toBeLessThan(256 * 1024);
  expect(r.seconds).toBeLessThan(maxSeconds);
  await expectRepoUnchanged(target, before);
  return r;
}

// A PAX record whose 20-digit length makes `position + length` wrap to an earlier record end:
// the old parser jumped back and re-read the same records forever, growing its output.
CASES.wrappingPax = () => {
  const recs = Buffer.from(`10 a=bcde\n10 c=defg\n${(2n ** 64n - 10n).toString()} x=y\n`, 'latin1');
  return Buffer.concat([paxExt(recs), gnuHeader({ name: 'usr/x', size: 0 }), END]);
};

// PAX headers of ~1 MB each before one entry (the layer has 2,000 of them).
const PAX_MB = (() => {
  const body = `${'SCHILY.xattr.user.pad'}=${'p'.repeat(1_000_000 - 40)}\n`;
  const len = String(body.length + 8).length + 1 + body.length;
  return paxExt(`${len} ${body}`);
})();
CASES.paxFlood = () => Buffer.concat([PAX_MB, PAX_MB, PAX_MB, PAX_MB, gnuHeader({ name: 'usr/x', size: 0 }), END]);

// Three GNU long names of 1 MiB (each allowed alone).
const LONG_MIB = () => Buffer.concat([gnuHeader({ name: '././@LongLink', type: 'L', size: MiB }), Buffer.alloc(MiB, 0x61)]);
CASES.longNames = () => Buffer.concat([LONG_MIB(), LONG_MIB(), LONG_MIB(), gnuHeader({ name: 'usr/x', size: 0 }), END]);

// A nested variant `depth` levels deep (type `v`) around a uint32.
function nestedV(depth: number): Buffer {
  let data = Buffer.from([7, 0, 0, 0]);
  let type = 'u';
  for (let i = 0; i < depth; i++) {
    data = Buffer.concat([data, Buffer.from(`\0${type}`, 'latin1')]);
    type = 'v';
  }
  return data;
}
// a{sv} with one entry {"k": nestedV(depth)}: key, padding to 8, value, key-end framing offset;
// then the array's framing offset (1-byte offsets: everything stays under 256 bytes).
function deepMetadata(depth: number): Buffer {
  const entryBytes = Buffer.concat([Buffer.from('k\0', 'latin1'), Buffer.alloc(6), nestedV(depth), Buffer.from([2])]);
  if (entryBytes.length + 1 > 255) throw new Error('deepMetadata: too deep for 1-byte offsets');
  return Buffer.concat([entryBytes, Buffer.from([entryBytes.length])]);
}
CASES.deepVariant = () => buildTar([...entries.slice(0, ci + 1), withData(entries[ci + 1]!, deepMetadata(100)), ...entries.slice(ci + 2)]);

// Distinct 1 MiB xattrs blobs, each correctly named, after the commit: the 32nd overflows the cache.
CASES.xattrsFlood = () => {
  const parts = [head(ci + 3)];
  for (let i = 0; i < 33; i++) {
    const blob = Buffer.alloc(MiB, i + 1);
    const sha = createHash('sha256').update(blob).digest('hex');
    const e = entry(objPath(sha, 'file-xattrs'), blob);
    parts.push(e.ext, e.header, e.data);
  }
  return Buffer.concat([...parts, END]);
};

// Tiny distinct xattrs blobs (8 bytes each, ustar prefix for the shard so one block names it):
// the case where the cache's bookkeeping, not the blob bytes, dominates its memory.
CASES.tinyXattrsFlood = () => {
  const parts = [head(ci + 3)];
  const n = 60_000;
  for (let i = 0; i < n; i++) {
    const data = Buffer.alloc(8);
    data.writeUInt32LE(i);
    const sha = createHash('sha256').update(data).digest('hex');
    const h = gnuHeader({ name: `${sha.slice(2)}.file-xattrs`, size: 8 });
    h.write('ustar\u000000', 257, 'latin1');
    h.write(`${OBJ}${sha.slice(0, 2)}`, 345, 'latin1');
    fixChecksum(h);
    parts.push(h, data, Buffer.alloc(504));
  }
  return Buffer.concat([...parts, END]);
};

describe('hostile layers fail fast with an error naming the limit or offset', () => {
  it('a PAX length that wraps around (the 2.5 KiB layer that looped forever)', async () => {
    const input = CASES.wrappingPax!();
    expect(input.length).toBeLessThan(4096);
    await expectRefused(
      input,
      /^Importing commit: Invalid PAX extended header at offset 0: record at offset 532: length exceeds the 25 bytes left in the header$/,
    );
  });

  it('malformed PAX records: no length, no space, too short, no newline, no "="', async () => {
    const pax = (recs: string) => Buffer.concat([paxExt(recs), gnuHeader({ name: 'usr/x', size: 0 }), END]);
    const bad = (at: number, why: string) => new RegExp(`Invalid PAX extended header at offset 0: record at offset ${at}: ${why}$`);
    await expectRefused(pax('path=x\n'), bad(512, 'no decimal length followed by a space'));
    await expectRefused(pax('1'), bad(512, 'no decimal length followed by a space'));
    await expectRefused(pax('2 \n'), bad(512, 'length 2 is too short'));
    await expectRefused(pax('8 a=bcde'), bad(512, 'no newline at the end of the record'));
    await expectRefused(pax('10 a=bcde\n7 abcd\n'), bad(522, "no '=' in the record"));
    await expectRefused(pax('10 a=bcde\n99999999999999999999999999 a=b\n'), bad(522, 'length exceeds the 31 bytes left in the header'));
    // a PAX size too large for a tar entry
    await expectRefused(pax(`28 size=${'9'.repeat(19)}\n`), /Invalid PAX size at offset 1024$/);
  });

  it('extension headers before one entry are limited in total (PAX and GNU long names)', async () => {
    await expectRefused(CASES.paxFlood!(), new RegExp(`^Importing commit: Tar extension headers before one entry exceed ${EXT_TOTAL} bytes at offset ${2 * PAX_MB.length}$`));
    await expectRefused(CASES.longNames!(), new RegExp(`Tar extension headers before one entry exceed ${EXT_TOTAL} bytes at offset ${512 + MiB}$`));
    // one header over the per-header limit is refused before it is read
    await expectRefused(
      Buffer.concat([gnuHeader({ name: '././@LongLink', type: 'L', size: MiB + 1 }), END]),
      /^Importing commit: Tar GNULongName header of 1048577 bytes at offset 0 exceeds 1048576$/,
    );
    await expectRefused(
      Buffer.concat([head(3), gnuHeader({ name: 'PaxHeader', type: 'g', size: 3 * MiB }), END]),
      new RegExp(`Tar XGlobalHeader header of ${3 * MiB} bytes at offset ${head(3).length} exceeds 1048576$`),
    );
  });

  it('bad octal numbers and checksums name the field and the offset', async () => {
    const at = head(ci + 3).length;
    const withField = (off: number, text: string) => {
      const h = gnuHeader({ name: `${OBJ}ab/${'a'.repeat(62)}.dirtree`, size: 0 });
      h.write(text, off, 'latin1');
      h.fill(0x20, 148, 156);
      let sum = 0;
      for (const c of h) sum += c;
      h.write(sum.toString(8).padStart(7, '0') + '\0', 148, 'latin1');
      return Buffer.concat([head(ci + 3), h, END]);
    };
    await expectRefused(withField(124, '0000000009\0\0'), new RegExp(`Importing objects: Invalid size in tar header at offset ${at}$`));
    await expectRefused(withField(124, '\xff'.repeat(12)), new RegExp(`Invalid size in tar header at offset ${at}$`));
    await expectRefused(withField(100, '07x7\0\0\0\0'), new RegExp(`Invalid mode in tar header at offset ${at}$`));
    await expectRefused(withField(108, '\x80\xff\xff\xff\xff\xff\xff\xff'), new RegExp(`Invalid uid/gid in tar header at offset ${at}$`));
    const badSum = Buffer.from(withField(124, '00000000000\0'));
    badSum.write('0000000\0', at + 148, 'latin1');
    await expectRefused(badSum, new RegExp(`Invalid tar header checksum at offset ${at}$`));
    const junkSum = Buffer.from(badSum);
    junkSum.write('99zz\0\0\0\0', at + 148, 'latin1');
    await expectRefused(junkSum, new RegExp(`Invalid tar header checksum at offset ${at}$`));
  });

  it('archives cut inside a header, a PAX header, a long name or metadata', async () => {
    const truncated = /Unexpected end of tar stream at offset \d+ \(truncated layer\?\)$/;
    const full = buildTar(entries);
    await expectRefused(full.subarray(0, 700), truncated);
    await expectRefused(paxExt('30 path=usr/lib/a/b/c/d/e/f/g\n').subarray(0, 530), truncated);
    await expectRefused(longNameExt('x'.repeat(3000)).subarray(0, 2000), truncated);
    const commitEnd = head(ci + 1).length;
    await expectRefused(full.subarray(0, commitEnd - 600), truncated);
  });

  it('GVariant metadata nested deeper than the limit', async () => {
    // the crafted bytes are a valid, normal a{sv}: the depth alone is refused
    expect(variantIsNormal('a{sv}', deepMetadata(100))).toBe(true);
    expect(() => variantFromBytes('a{sv}', deepMetadata(100))).toThrow(`GVariant nesting deeper than ${VARIANT_DEPTH} levels (the limit)`);
    expect(variantFromBytes('a{sv}', deepMetadata(40)).type).toBe('a{sv}');
    await expectRefused(
      CASES.deepVariant!(),
      new RegExp(`^Importing commit: objects/[0-9a-f]{2}/[0-9a-f]{62}\\.commitmeta at offset \\d+: GVariant nesting deeper than ${VARIANT_DEPTH} levels \\(the limit\\)$`),
    );
    // from JavaScript: a value nested 100,000 deep used to overflow the native stack
    let v: { type: string; value: unknown } = { type: 'u', value: 1 };
    for (let i = 0; i < 100_000; i++) v = { type: 'v', value: v };
    expect(() => variantToBytes(v as never)).toThrow(RangeError);
  });

  it('distinct xattrs blobs beyond the cache limit of one import', async () => {
    await expectRefused(
      CASES.xattrsFlood!(),
      new RegExp(`Processing file xattrs: Too many distinct xattrs: the xattrs cache of one import exceeds ${XATTRS_CACHE} bytes at offset \\d+$`),
    );
  });

  it('an abort while a hostile entry streams without end', async () => {
    const target = await freshTarget();
    const before = await repoSnapshot(target);
    const fifo = path.join(work, 'endless');
    await execFileP('mkfifo', [fifo]);
    // An 8 GiB entry outside the repo (skipped by reading it) followed by zeros without end.
    const hdr = path.join(work, 'endless-header');
    await writeFile(hdr, gnuHeader({ name: 'usr/share/huge', size: 0o77777777777 }));
    const reader = await open(fifo, fsc.O_RDWR);
    const writer = spawn('sh', ['-c', `cat "${hdr}" /dev/zero > "${fifo}"`], { stdio: 'ignore' });
    try {
      const ac = new AbortController();
      const p = tar.importTar(await openRepo(target), reader.fd, { signal: ac.signal });
      await new Promise((r) => setTimeout(r, 500));
      const t0 = performance.now();
      ac.abort();
      await expect(p).rejects.toThrow(/Operation was cancelled/);
      expect(performance.now() - t0).toBeLessThan(2000);
    } finally {
      writer.kill('SIGKILL');
      await new Promise((r) => writer.once('close', r));
      await reader.close();
    }
    await expectRepoUnchanged(target, before);
  });
});

describe('the CLI on hostile layers: one error line, status 1, < 256 MiB peak', () => {
  const runs: Record<string, CliRun> = {};
  afterAll(() => {
    // The measured peaks, for the report (bench/RESULTS.md has the numbers of one run).
    for (const [k, r] of Object.entries(runs)) console.log(`hostile ${k}: peak RSS ${(r.maxRssKiB / 1024).toFixed(0)} MiB, ${r.seconds.toFixed(1)} s`);
  });

  it('wrapping PAX length', async () => {
    runs.wrappingPax = await expectCliRefused(await file(CASES.wrappingPax!()), /^error: Importing commit: Invalid PAX extended header at offset 0: .*length exceeds/);
  });

  it('2,000 PAX headers of ~1 MB each, streamed on stdin', async () => {
    async function* flood() {
      for (let i = 0; i < 2000; i++) yield PAX_MB;
    }
    runs.paxFlood2000 = await expectCliRefused(Readable.from(flood()), new RegExp(`^error: Importing commit: Tar extension headers before one entry exceed ${EXT_TOTAL} bytes at offset \\d+$`));
  });

  it('60,000 distinct tiny xattrs blobs', async () => {
    runs.tinyXattrsFlood = await expectCliRefused(
      await file(CASES.tinyXattrsFlood!()),
      new RegExp(`^error: Importing objects: .*xattrs cache of one import exceeds ${XATTRS_CACHE} bytes at offset \\d+$`),
      60,
    );
  });

  it('GNU long names, deep GVariant, xattrs flood, bad checksum, truncation', async () => {
    runs.longNames = await expectCliRefused(await file(CASES.longNames!()), /^error: Importing commit: Tar extension headers before one entry exceed/);
    runs.deepVariant = await expectCliRefused(await file(CASES.deepVariant!()), /^error: Importing commit: .*GVariant nesting deeper than 64 levels \(the limit\)$/);
    runs.xattrsFlood = await expectCliRefused(await file(CASES.xattrsFlood!()), /^error: Importing objects: .*xattrs cache of one import exceeds 33554432 bytes at offset \d+$/);
    const h = gnuHeader({ name: 'usr/x', size: 0 });
    h[0] = 0x58;
    runs.badChecksum = await expectCliRefused(await file(Buffer.concat([h, END])), /^error: Importing commit: Invalid tar header checksum at offset 0$/);
    runs.truncated = await expectCliRefused(await file(buildTar(entries).subarray(0, 5000)), /^error: .*Unexpected end of tar stream at offset \d+ \(truncated layer\?\)$/);
  });
});
