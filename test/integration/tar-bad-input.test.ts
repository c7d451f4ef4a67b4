// Bad tar input (spec §2): every case must fail with a clear error naming what was wrong, and
// leave the repo as it was — no objects, refs or partial markers added, `ostree fsck` clean,
// no temp files left in the repo's tmp/.
import { createHash, randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { mkdir, open, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMIT_V0, TESTREF, ostreeCli, type ExampleOs } from '../../src/fixture/index.js';
import { tar } from '../../src/index.js';
import {
  addVerifyingRemote, buildTar, execFileP, cleanupTmp, entry, exampleOs, expectRepoUnchanged, fixChecksum, freshTarget, fsck, gnuHeader, longNameExt,
  clone, openRepo, parseTar, repoSnapshot, tmpdir, withData, LAYER_MT, OBJ, objPath, type RawEntry,
} from './tar-util.js';

const GZ = LAYER_MT.gzip;
const ZST = LAYER_MT.zstd;
const BASH = 'c16705f12dc6420d69b2177cc0166882ac8e90e2a6780c6af4e586b97a511a87';

let fx: ExampleOs;
let work: string;
let plain: Buffer;
let entries: RawEntry[];
beforeAll(async () => {
  fx = await exampleOs();
  work = await tmpdir('tar-bad-');
  const src = await openRepo(fx.repoPath);
  await tar.exportCommit(src, TESTREF, path.join(work, 'full.tar'));
  await tar.exportCommit(src, TESTREF, path.join(work, 'full.gz'), { compression: 'gzip' });
  await tar.exportCommit(src, TESTREF, path.join(work, 'full.zst'), { compression: 'zstd' });
  plain = await readFile(path.join(work, 'full.tar'));
  entries = parseTar(plain);
});
afterAll(cleanupTmp);

const idx = (pred: (e: RawEntry) => boolean) => entries.findIndex(pred);
const byName = (n: string) => entries.find((e) => e.name === n)!;
function replaced(i: number, ...by: RawEntry[]): RawEntry[] {
  return [...entries.slice(0, i), ...by, ...entries.slice(i + 1)];
}
const commitIdx = () => idx((e) => e.name.endsWith('.commit'));

async function expectRejected(input: Buffer | string, mediaType: string | undefined, message: RegExp, remote?: string) {
  const target = await freshTarget();
  if (remote) await addVerifyingRemote(target, remote, path.join(fx.gpgHome, 'key1.asc'));
  const before = await repoSnapshot(target);
  const file = typeof input === 'string' ? input : path.join(work, `case-${Math.random().toString(36).slice(2)}`);
  if (typeof input !== 'string') await writeFile(file, input);
  const repo = await openRepo(target);
  await expect(tar.importTar(repo, file, { ...(mediaType ? { mediaType } : {}), ...(remote ? { remote } : {}) })).rejects.toThrow(message);
  await expectRepoUnchanged(target, before);
}

describe('bad input is a clear error and leaves the repo unchanged', () => {
  it('empty input: Commit object not found', async () => {
    await expectRejected(Buffer.alloc(0), undefined, /^Importing commit: Commit object not found$/);
    await expectRejected(Buffer.alloc(1024), undefined, /^Importing commit: Commit object not found$/);
  });

  it('truncated layers (plain, gzip, zstd)', async () => {
    await expectRejected(plain.subarray(0, Math.floor(plain.length / 2) + 3), undefined, /Unexpected end of tar stream at offset \d+ \(truncated layer\?\)/);
    const cut = idx((e) => e.name === 'usr/bin/bash');
    await expectRejected(buildTar(entries.slice(0, cut)).subarray(0, -1024), undefined, /Unexpected end of tar stream/);
    const gz = await readFile(path.join(work, 'full.gz'));
    await expectRejected(gz.subarray(0, gz.length - 100), GZ, /Decompressing gzip: unexpected end of stream \(truncated layer\?\)/);
    const zst = await readFile(path.join(work, 'full.zst'));
    await expectRejected(zst.subarray(0, zst.length - 100), ZST, /Decompressing zstd: unexpected end of stream/);
  });

  it('object bytes that do not match their name', async () => {
    const bash = byName(objPath(BASH, 'file'));
    await expectRejected(
      buildTar(replaced(entries.indexOf(bash), withData(bash, Buffer.from('the-bash-shelX')))),
      undefined,
      new RegExp(`Processing content object ${BASH}: Importing regfile small: .*Corrupted file object; checksum expected='${BASH}' actual='[0-9a-f]{64}'`),
    );
    const tree = entries.find((e) => e.name.endsWith('.dirtree') && e.data.length > 10)!;
    const bad = Buffer.from(tree.data);
    bad[bad.length - 40]! ^= 1;
    await expectRejected(buildTar(replaced(entries.indexOf(tree), withData(tree, bad))), undefined, /Corrupted dirtree object; checksum expected=/);
    // a shared `.file-xattrs` blob (upstream before 2025) whose bytes are not its name
    const link = entries.find((e) => e.name.endsWith('.file-xattrs-link'))!;
    const sha = createHash('sha256').update(link.data).digest('hex');
    const badx = Buffer.from(link.data);
    badx[5]! ^= 1;
    await expectRejected(
      buildTar(replaced(entries.indexOf(link), entry(objPath(sha, 'file-xattrs'), badx), entry(link.name, '', { type: '1', linkname: objPath(sha, 'file-xattrs') }))),
      undefined,
      /Processing file xattrs: Checksum mismatch, expected '[0-9a-f]{64}' but computed '[0-9a-f]{64}'$/,
    );
    // the commit itself
    const c = entries[commitIdx()]!;
    const badc = Buffer.from(c.data);
    badc[badc.length - 1]! ^= 1;
    await expectRejected(buildTar(replaced(commitIdx(), withData(c, badc))), undefined, /Corrupted commit object; checksum expected=/);
  });

  it('a commit that is not first, not regular, or repeated', async () => {
    const ci = commitIdx();
    const dirmeta = entries[ci + 2]!;
    expect(dirmeta.name).toMatch(/\.dirmeta$/);
    const moved = [...entries.slice(0, ci), dirmeta, ...entries.slice(ci).filter((e) => e !== dirmeta)];
    await expectRejected(buildTar(moved), undefined, /^Importing commit: Expected commit object, not DirMeta$/);
    const sym = clone(entries[ci]!);
    sym.header[156] = '2'.charCodeAt(0);
    sym.header.write('0'.repeat(11) + '\0', 124, 'latin1');
    fixChecksum(sym.header);
    sym.data = Buffer.alloc(0);
    await expectRejected(buildTar(replaced(ci, sym)), undefined, /^Importing commit: Expected regular file for commit object, not Symlink$/);
    const twice = [...entries.slice(0, ci + 3), entries[ci]!, ...entries.slice(ci + 3)];
    await expectRejected(buildTar(twice), undefined, /Found multiple commit objects$/);
    await expectRejected(buildTar(entries.slice(0, ci + 1)), undefined, /^Importing commit: End of stream after commit object$/);
  });

  it('entries that are not objects, .. paths and symlink escapes', async () => {
    const ci = commitIdx();
    const at = (e: RawEntry) => buildTar([...entries.slice(0, ci + 3), e, ...entries.slice(ci + 3)]);
    const stem = 'a'.repeat(62);
    await expectRejected(at(entry(`${OBJ}zz/${stem}.file`)), undefined, /Invalid sha256 checksum zza{62}$/);
    await expectRejected(at(entry(`${OBJ}ab/cd/${stem}.dirtree`)), undefined, /Invalid objpath objects\/ab\/cd\/a{62}\.dirtree$/);
    await expectRejected(at(entry(`${OBJ}ab/${stem}.blah`)), undefined, /Invalid object type blah$/);
    await expectRejected(at(entry(`${OBJ}ab/${stem.slice(1)}.file`)), undefined, /Invalid checksum part a{61}$/);
    await expectRejected(at(entry(`${OBJ}ab/noext`)), undefined, /Invalid objpath objects\/ab\/noext$/);
    await expectRejected(at(entry(`${OBJ}../../../../../tmp/evil.file`)), undefined, /Invalid path in tar stream \(contains '\.\.'\): sysroot\/ostree\/repo\/objects\/\.\.\/\.\.\//);
    await expectRejected(at(entry('../etc/passwd', 'x')), undefined, /contains '\.\.'\): \.\.\/etc\/passwd$/);
    // a symlink where a shard directory would be, a symlinked metadata object, a link escaping the repo
    await expectRejected(at(entry(`${OBJ}ab`, '', { type: '2', linkname: '/etc' })), undefined, /Invalid objpath objects\/ab$/);
    await expectRejected(at(entry(`${OBJ}ab/${stem}.dirtree`, '', { type: '2', linkname: '/etc/passwd' })), undefined, /Importing metadata object: Invalid non-regular metadata object aba{62}$/);
    await expectRejected(at(entry(`${OBJ}ab/${stem}.file-xattrs`, '', { type: '2', linkname: '/etc/passwd' })), undefined, /Invalid xattr entry of type Symlink$/);
    await expectRejected(at(entry(`${OBJ}ab/${stem}.file-xattrs-link`, '', { type: '1', linkname: '../../../../etc/passwd' })), undefined, /Processing xattrs link: Invalid checksum parent etc$/);
    await expectRejected(at(entry(`${OBJ}ab/${stem}.file-xattrs-link`, '', { type: '2', linkname: 'x' })), undefined, /Unexpected xattrs type 'Symlink' found for aba{62}$/);
    // xattrs-link targets that do not name an xattrs blob (spec §2.3 vectors)
    const link = (linkname: string) => at(entry(`${OBJ}ab/${stem}.file-xattrs-link`, '', { type: '1', linkname }));
    await expectRejected(link(`../b8/${'6'.repeat(61)}.file-xattrs`), undefined, /Processing xattrs link: Invalid checksum part 6{61}$/);
    await expectRejected(link(`${'6'.repeat(62)}.file-xattrs`), undefined, /Processing xattrs link: Invalid path \(no parent\) 6{62}\.file-xattrs$/);
    await expectRejected(link(''), undefined, /Processing xattrs link: No xattrs link content for aba{62}$/);
  });

  it('entries outside sysroot/ostree/repo/objects write nothing (refs, config, state, OS paths)', async () => {
    const target = await freshTarget();
    const config = await readFile(path.join(target, 'config'), 'utf8');
    const ci = commitIdx();
    const injected = [
      entry('sysroot/ostree/repo/refs/heads/evil', COMMIT_V0),
      entry('sysroot/ostree/repo/refs/remotes/origin/evil', COMMIT_V0),
      entry('sysroot/ostree/repo/config', '[core]\nrepo_version=1\nmode=archive\n'),
      entry('sysroot/ostree/repo/state/evil', 'x'),
      entry('sysroot/ostree/repo/tmp', '', { type: '2', linkname: '/' }),
      // only the literal prefix counts (spec §2.2): these are not repo entries at all
      entry('/sysroot/ostree/repo/refs/heads/evil2', COMMIT_V0),
      entry('./sysroot/ostree/repo/refs/heads/evil3', COMMIT_V0),
      entry(`/var/tmp/ostree-container-evil-${process.pid}`, 'x'),
    ];
    const file = path.join(work, 'injected.tar');
    await writeFile(file, buildTar([...entries.slice(0, ci + 3), ...injected, ...entries.slice(ci + 3)]));
    expect((await tar.importTar(await openRepo(target), file)).commit).toBe(COMMIT_V0);
    expect((await ostreeCli(target, ['refs'])).trim()).toBe('existing');
    expect(await readFile(path.join(target, 'config'), 'utf8')).toBe(config);
    expect(await readdir(path.join(target, 'state'))).toEqual([]);
    await expect(readFile(`/var/tmp/ostree-container-evil-${process.pid}`)).rejects.toThrow(/ENOENT/);
    expect(await fsck(target)).toMatch(/no errors found/);
  });

  it('xattrs bookkeeping errors', async () => {
    const link = idx((e) => e.name.endsWith('.file-xattrs-link'));
    await expectRejected(buildTar(entries.filter((_, i) => i !== link)), undefined, /: Missing xattrs reference$/);
    const other = entries.filter((e) => e.name.endsWith('.file-xattrs-link'))[1]!;
    await expectRejected(buildTar([...entries.slice(0, link + 1), other, ...entries.slice(link + 1)]), undefined, /Found previous dangling xattrs for file object '[0-9a-f]{64}'$/);
  });

  it('absurd sizes and broken headers', async () => {
    const ci = commitIdx();
    const at = (...e: Buffer[]) => Buffer.concat([buildTar(entries.slice(0, ci + 3)).subarray(0, -1024), ...e, Buffer.alloc(1024)]);
    const stem = 'a'.repeat(62);
    // 8 GiB - 1 dirtree: refused before reading
    await expectRejected(
      at(longNameExt(`${OBJ}ab/${stem}.dirtree`), gnuHeader({ name: `${OBJ}ab/${stem}.dirtree`.slice(0, 100), size: 0o77777777777 })),
      undefined,
      /Importing metadata object: object of size 8589934591 exceeds 10485760 bytes$/,
    );
    // base-256 size of 2^63
    const huge = Buffer.alloc(12);
    huge[0] = 0x80;
    huge[4] = 0x80;
    await expectRejected(at(gnuHeader({ name: `${OBJ}ab/${stem}.file`, sizeField: huge })), undefined, /Invalid size in tar header at offset \d+$/);
    // a 1 GiB GNU long name
    await expectRejected(at(gnuHeader({ name: '././@LongLink', type: 'L', size: 1 << 30 })), undefined, /Tar GNULongName header of 1073741824 bytes at offset \d+ exceeds 1048576$/);
    // a content object claiming 8 GiB
    const links = entries.filter((e) => e.name.endsWith('.file-xattrs-link'));
    const l = links[0]!;
    const obj = entries[entries.indexOf(l) + 1]!;
    await expectRejected(
      at(l.ext, l.header, l.data, Buffer.alloc((512 - (l.data.length % 512)) % 512),
        gnuHeader({ name: obj.name, size: 0o77777777777, mode: 0o644 }), Buffer.alloc(4096)),
      undefined,
      /Unexpected end of tar stream/,
    );
    // oversized xattrs
    await expectRejected(at(longNameExt(`${OBJ}ab/${stem}.file-xattrs`), gnuHeader({ name: 'x', size: 2 << 20 }), Buffer.alloc(2 << 20)), undefined, /Invalid xattr size 2097152$/);
    // header checksum
    const h = Buffer.from(entries[1]!.header);
    h[0] = 'S'.charCodeAt(0);
    await expectRejected(Buffer.concat([entries[0]!.header, h, Buffer.alloc(1024)]), undefined, /Invalid tar header checksum at offset 512$/);
  });

  it('wrong media type', async () => {
    await expectRejected(path.join(work, 'full.gz'), ZST, /Decompressing zstd: Unknown frame descriptor$/);
    await expectRejected(path.join(work, 'full.tar'), GZ, /Decompressing gzip: incorrect header check$/);
    await expectRejected(path.join(work, 'full.zst'), undefined, /^Importing commit: Invalid tar header checksum at offset 0$/);
    await expectRejected(gzipSync(Buffer.concat([plain, Buffer.from('garbage')])), 'application/x-foo', /^Unhandled layer type: application\/x-foo$/);
  });

  it('a remote without detached metadata in the stream', async () => {
    const stripped = path.join(work, 'stripped.tar');
    await tar.updateDetachedMetadata(path.join(work, 'full.tar'), stripped, undefined);
    await expectRejected(stripped, undefined, /^Importing commit: Using remote myremote for verification; Expected commitmeta object, not DirMeta$/, 'myremote');
    // a commitmeta named for another commit
    const ci = commitIdx();
    const other = 'ab'.repeat(32);
    const renamed = entry(`${OBJ}ab/${other.slice(2)}.commitmeta`, entries[ci + 1]!.data);
    await expectRejected(buildTar(replaced(ci + 1, renamed)), undefined, new RegExp(`^Importing commit: Expected commitmeta checksum ${COMMIT_V0}, found ${other}$`), 'myremote');
  });

  it('a large object (streamed into the content writer) with wrong bytes', async () => {
    const d = await tmpdir();
    await mkdir(path.join(d, 'tree/usr'), { recursive: true });
    await writeFile(path.join(d, 'tree/usr/big'), randomBytes(1 << 20));
    await ostreeCli(path.join(d, 'repo'), ['init', '--mode=bare-user']);
    await ostreeCli(path.join(d, 'repo'), ['commit', '-b', 'big', '--no-xattrs', `--tree=dir=${path.join(d, 'tree')}`]);
    const out = path.join(d, 'big.tar');
    await tar.exportCommit(await openRepo(path.join(d, 'repo')), 'big', out);
    const all = parseTar(await readFile(out));
    const big = all.find((e) => e.name.endsWith('.file') && e.size === 1 << 20)!;
    const bad = Buffer.from(big.data);
    bad[bad.length >> 1]! ^= 1;
    await expectRejected(
      buildTar(all.map((e) => (e === big ? withData(e, bad) : e))),
      undefined,
      /Importing regfile: Corrupted file object; checksum expected='[0-9a-f]{64}' actual='[0-9a-f]{64}'$/,
    );
  });

  it('an abort while waiting on a pipe aborts the transaction', async () => {
    const target = await freshTarget();
    const before = await repoSnapshot(target);
    const fifo = path.join(work, 'fifo');
    await execFileP('mkfifo', [fifo]);
    // O_RDWR: the read end never sees EOF, so only the abort can end the import.
    const reader = await open(fifo, fsc.O_RDWR);
    const writer = await open(fifo, fsc.O_WRONLY);
    try {
      const ac = new AbortController();
      const p = tar.importTar(await openRepo(target), reader.fd, { signal: ac.signal });
      // everything but the end of the archive: the commit is written and marked partial by now
      await writer.write(plain.subarray(0, plain.length - 2048));
      await new Promise((r) => setTimeout(r, 300));
      ac.abort();
      await expect(p).rejects.toThrow(/Operation was cancelled/);
    } finally {
      await writer.close();
      await reader.close();
    }
    expect(await repoSnapshot(target)).toEqual(before);
    expect(await fsck(target)).toMatch(/no errors found/);
  });
});
