// Tar import (spec §2): round trips of the example OS through every codec into bare-user and
// archive repos, GPG verification through a remote, object-set mode, and streams from other
// writers (PAX long names instead of GNU L/K). Checked with `ostree fsck` / `ostree show`.
import { constants as fsc } from 'node:fs';
import { createHash } from 'node:crypto';
import { open, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMIT_V0, CONTENTS_CHECKSUM_V0, TESTREF, cliShowCommit, gpgKeyFile, ostreeCli, type ExampleOs } from '../../src/fixture/index.js';
import { Repo, tar } from '../../src/index.js';
import { layerTar } from '../helpers/tar.js';
import { LAYER_MT, addVerifyingRemote, cleanupTmp, entry, execFileP, exampleOs, fsck, newRepo, openRepo, parseTar, buildTar, tmpdir, type RawEntry } from './tar-util.js';

const MT = LAYER_MT;

let fx: ExampleOs;
let src: object;
let work: string;
const layers: Record<string, string> = {};
beforeAll(async () => {
  fx = await exampleOs();
  src = await openRepo(fx.repoPath);
  work = await tmpdir('tar-import-');
  for (const c of ['none', 'gzip', 'gzip-fast', 'zstd'] as const) {
    layers[c] = path.join(work, `full.${c}`);
    await tar.exportCommit(src, TESTREF, layers[c]!, { compression: c });
  }
});
afterAll(cleanupTmp);

async function expectFixtureCommit(repoPath: string): Promise<void> {
  expect(await fsck(repoPath)).toMatch(/no errors found/);
  expect((await cliShowCommit(repoPath, COMMIT_V0)).contentChecksum).toBe(CONTENTS_CHECKSUM_V0);
  const detached = await ostreeCli(repoPath, ['show', '--print-detached-metadata-key=my-detached-key', COMMIT_V0]);
  expect(detached.trim()).toBe("'my-detached-value'");
  // import leaves no partial marker behind
  expect(await ostreeCli(repoPath, ['show', COMMIT_V0])).not.toMatch(/partial/i);
}

/** `bytes` (a plain tar) written to `name` imports into a fresh repo as the fixture commit. */
async function expectImportsFixture(name: string, bytes: Buffer): Promise<void> {
  const file = path.join(work, name);
  await writeFile(file, bytes);
  const { path: p, repo } = await newRepo();
  expect((await tar.importTar(repo, file)).commit).toBe(COMMIT_V0);
  await expectFixtureCommit(p);
}

describe('commit mode', () => {
  it.each([
    ['none', MT.none, 'bare-user'],
    ['gzip', MT.gzip, 'bare-user'],
    ['gzip-fast', MT.gzip, 'archive'],
    ['zstd', MT.zstd, 'bare-user'],
  ] as const)('imports a %s export (%s) into a %s repo', async (codec, mediaType, mode) => {
    const { path: p, repo } = await newRepo(mode);
    const r = await tar.importTar(repo, layers[codec]!, { mediaType });
    expect(r.commit).toBe(COMMIT_V0);
    expect(r.objectsWritten).toBeGreaterThan(20);
    expect(r.objectsReused).toBe(0);
    expect(r.verifyText).toBeUndefined();
    const plain = await readFile(layers.none!);
    expect(r.uncompressedSize).toBe(plain.length);
    expect(r.size).toBe((await readFile(layers[codec]!)).length);
    await expectFixtureCommit(p);
    // xattrs survive: arping keeps its capability, usr_t labels are there
    const ls = await ostreeCli(p, ['ls', '-X', COMMIT_V0, '/usr/bin/arping']);
    expect(ls).toMatch(/security\.capability/);
    expect(ls).toMatch(/security\.selinux/);
    // a second import reuses every content object
    const again = await tar.importTar(repo, layers[codec]!, { mediaType });
    expect(again.commit).toBe(COMMIT_V0);
    expect(again.objectsWritten).toBe(0);
  });

  it('takes an fd and reports the diff_id of what it read', async () => {
    const { repo } = await newRepo();
    const fh = await open(layers.gzip!, 'r');
    try {
      const r = await tar.importTar(repo, fh.fd, { mediaType: MT.gzip });
      const exp = await tar.exportCommit(src, TESTREF, path.join(work, 'again.tar'));
      expect(r.diffId).toBe(exp.diffId);
    } finally {
      await fh.close();
    }
  });

  it('reads from a pipe (non-blocking fd, EOF when the writer closes)', async () => {
    const fifo = path.join(work, 'fifo');
    await execFileP('mkfifo', [fifo]);
    const reader = await open(fifo, fsc.O_RDONLY | fsc.O_NONBLOCK);
    const writer = await open(fifo, fsc.O_WRONLY);
    const { path: p, repo } = await newRepo();
    try {
      const imported = tar.importTar(repo, reader.fd, { mediaType: MT.zstd });
      await writer.writeFile(await readFile(layers.zstd!));
      await writer.close();
      expect((await imported).commit).toBe(COMMIT_V0);
    } finally {
      await reader.close();
    }
    await expectFixtureCommit(p);
  });

  it('verifies the GPG signature through a remote', async () => {
    const { path: p } = await newRepo();
    await addVerifyingRemote(p, 'myremote', gpgKeyFile(fx.gpgHome));
    const repo = await openRepo(p); // remotes are read when the repo is opened
    const r = await tar.importTar(repo, layers.gzip!, { mediaType: MT.gzip, remote: 'myremote' });
    expect(r.commit).toBe(COMMIT_V0);
    expect(r.verifyText).toMatch(/Good signature from "Ostree Tester <test@test.com>"/);
    await expectFixtureCommit(p);
  });

  it('fails verification with an unknown remote or without the key, leaving the repo unchanged', async () => {
    const { path: p, repo } = await newRepo();
    await expect(tar.importTar(repo, layers.none!, { remote: 'unknownremote' })).rejects.toThrow(
      'Importing commit: Verifying ostree commit in tar stream: Remote "unknownremote" not found',
    );
    await ostreeCli(p, ['remote', 'add', '--set=gpg-verify=true', 'nokey', 'https://example.invalid']);
    await expect(tar.importTar(await openRepo(p), layers.none!, { remote: 'nokey' })).rejects.toThrow(/public key not found/);
    await expect(ostreeCli(p, ['show', COMMIT_V0])).rejects.toThrow(`Couldn't find file object '${COMMIT_V0}'`);
    expect(await fsck(p)).toMatch(/no errors found|0 commits/);
  });

  it('accepts PAX long names and ustar headers from other writers', async () => {
    // Re-pack our export with tar-stream, which writes ustar + PAX path/linkpath records.
    const entries = parseTar(await readFile(layers.none!));
    const repacked = await layerTar(
      entries.map((e) => ({
        name: e.name,
        type: ({ '0': 'file', '1': 'link', '2': 'symlink', '5': 'directory' } as const)[e.type as '0'],
        mode: parseInt(e.header.subarray(100, 108).toString(), 8),
        data: e.data,
        linkname: e.linkname || undefined,
        pax: Object.fromEntries([...e.pax].map(([k, v]) => [k, v.toString('latin1')])),
      })),
    );
    const pathRecords = parseTar(repacked).filter((e) => e.pax.has('path'));
    expect(pathRecords.length).toBeGreaterThan(10);
    await expectImportsFixture('pax.tar', repacked);
  });
  it('reads format version 0 xattrs (xattrs/<sha256> blobs, .file.xattrs hardlinks)', async () => {
    // Rewrite our stream the way the v0 writer laid xattrs out (spec §1.9).
    const v0: RawEntry[] = [];
    const blobs = new Set<string>();
    for (const e of parseTar(await readFile(layers.none!))) {
      const m = /^sysroot\/ostree\/repo\/objects\/(..)\/(.{62})\.file-xattrs-link$/.exec(e.name);
      if (!m) {
        v0.push(e);
        continue;
      }
      const sha = createHash('sha256').update(e.data).digest('hex');
      if (!blobs.has(sha)) v0.push(entry(`sysroot/ostree/repo/xattrs/${sha}`, e.data));
      blobs.add(sha);
      v0.push(entry(`sysroot/ostree/repo/objects/${m[1]}/${m[2]}.file.xattrs`, '', { type: '1', linkname: `sysroot/ostree/repo/xattrs/${sha}` }));
    }
    await expectImportsFixture('v0.tar', buildTar(v0));
  });
});

describe('xattrs-link variants', () => {
  it('accepts links to a shared .file-xattrs (full and relative targets) beside regular link files', async () => {
    // Upstream before 2025 hardlinked every object to one `.file-xattrs` per xattrs set; the
    // upstream-fixtures test imports such layers as upstream wrote them.
    const variant: RawEntry[] = [];
    const blobs = new Set<string>();
    let n = 0;
    for (const e of parseTar(await readFile(layers.none!))) {
      if (!e.name.endsWith('.file-xattrs-link') || n++ % 3 === 2) {
        variant.push(e);
        continue;
      }
      const sha = createHash('sha256').update(e.data).digest('hex');
      const blob = `${sha.slice(0, 2)}/${sha.slice(2)}.file-xattrs`;
      if (!blobs.has(sha)) variant.push(entry(`sysroot/ostree/repo/objects/${blob}`, e.data));
      blobs.add(sha);
      variant.push(entry(e.name, '', { type: '1', linkname: n % 3 === 1 ? `sysroot/ostree/repo/objects/${blob}` : `../${blob}` }));
    }
    expect(blobs.size).toBe(2);
    await expectImportsFixture('variants.tar', buildTar(variant));
  });
});

describe('layers imported in parallel inside the caller\'s transaction', () => {
  it('commits chunk and commit layers written at once; a failure leaves the caller to abort', async () => {
    const { path: p } = await newRepo();
    const repo = await Repo.open(p);
    const all = parseTar(await readFile(layers.none!)).filter((e) => e.name.endsWith('.file'));
    const objects = all.map((e) => ({ checksum: e.name.replace(/^.*objects\/(..)\/(.{62})\.file$/, '$1$2'), paths: [] as string[] }));
    const chunk = path.join(work, 'par-chunk.tar');
    const commitLayer = path.join(work, 'par-commit.tar');
    await tar.exportLayers(src, [
      { kind: 'chunk', objects: objects.slice(0, 5), output: chunk, compression: 'none' },
      { kind: 'commit', rev: TESTREF, objects: objects.slice(5), output: commitLayer, compression: 'none' },
    ]);
    const [c, o] = await repo.withTransaction(() =>
      Promise.all([
        tar.importTar(repo, commitLayer, { transaction: 'caller' }),
        tar.importTarObjects(repo, chunk, { transaction: 'caller' }),
      ]),
    );
    expect(c.commit).toBe(COMMIT_V0);
    expect(o.objectsWritten + c.objectsWritten).toBeGreaterThan(objects.length);
    // In the caller's transaction the commit stays partial: only the caller knows when the
    // objects it needs (here: the other layer's) are all committed.
    expect((await repo.loadCommit(COMMIT_V0)).partial).toBe(true);
    await repo.markCommitPartial(COMMIT_V0, false);
    await expectFixtureCommit(p);

    const { path: p2 } = await newRepo();
    const repo2 = await Repo.open(p2);
    await expect(
      repo2.withTransaction(() => tar.importTar(repo2, path.join(work, 'nonexistent'), { transaction: 'caller' })),
    ).rejects.toThrow(/Opening .*nonexistent: No such file or directory/);
    expect(await fsck(p2)).toMatch(/no errors found/);
  });
});

describe('object-set mode', () => {
  it('imports chunk layers and writes the deterministic object-set commit', async () => {
    const objects = [
      { checksum: 'c16705f12dc6420d69b2177cc0166882ac8e90e2a6780c6af4e586b97a511a87', paths: ['/usr/bin/bash'] },
      { checksum: 'b048a4f451e9fdfaaec911c1fe07d5d1d39be02f932b827c25458d3b15ae589e', paths: ['/usr/bin/arping'] },
      { checksum: 'f5be74d48c320dd9166a8da54ba3f221e14ef489167ce276dcc2ef2e6f036ecc', paths: ['/usr/etc/polkit.conf'] },
    ];
    const chunk = path.join(work, 'chunk.zst');
    await tar.exportLayers(src, [{ kind: 'chunk', objects, output: chunk, compression: 'zstd' }]);
    const a = await newRepo();
    const b = await newRepo('archive');
    const ra = await tar.importTarObjects(a.repo, chunk, { mediaType: MT.zstd, finish: true });
    const rb = await tar.importTarObjects(b.repo, chunk, { mediaType: MT.zstd, finish: true });
    expect(ra.objectsWritten).toBe(3);
    expect(ra.commit).toMatch(/^[0-9a-f]{64}$/);
    expect(rb.commit).toBe(ra.commit);
    const ls = await ostreeCli(a.path, ['ls', ra.commit!]);
    for (const o of objects) expect(ls).toContain(`/${o.checksum}`);
    expect(await fsck(a.path)).toMatch(/no errors found/);
    // without finish: objects only
    const c = await newRepo();
    const rc = await tar.importTarObjects(c.repo, chunk, { mediaType: MT.zstd });
    expect(rc.commit).toBeUndefined();
    expect(rc.objectsWritten).toBe(3);
  });

  it('refuses commit layers and duplicate objects', async () => {
    const { repo } = await newRepo();
    await expect(tar.importTarObjects(repo, layers.none!)).rejects.toThrow(/^Importing objects: Importing object objects\/61\/6069c2\w+\.commit: Found multiple commit objects$/);
    const entries = parseTar(await readFile(layers.none!));
    const i = entries.findIndex((e) => e.name.endsWith('.file-xattrs-link'));
    const skeleton = entries.filter((e) => e.name.startsWith('sysroot/') && !e.name.includes('.'));
    const objs = entries.slice(i, i + 2);
    const dup = path.join(work, 'dup.tar');
    await writeFile(dup, buildTar([...skeleton, ...objs, ...objs]));
    await expect(tar.importTarObjects(repo, dup)).rejects.toThrow(/Duplicate object: [0-9a-f]{64}$/);
    const meta = path.join(work, 'meta.tar');
    await writeFile(meta, buildTar([...skeleton, entries.find((e) => e.name.endsWith('.dirtree'))!]));
    await expect(tar.importTarObjects(repo, meta)).rejects.toThrow(/Found metadata object [0-9a-f]{64}\.DirTree in object set mode/);
  });
});
