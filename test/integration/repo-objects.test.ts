// Repo binding, objects: content objects (query, read, write from bytes / fd / path, symlinks)
// and metadata objects with checksum verification, a full object-by-object copy of a commit,
// GPG signing, remotes and signature verification, config. Checked with the `ostree` CLI.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Repo, variant, variantPrint, vardictToBytes, type Xattr } from '../../src/index.js';
import { ostreeCli } from '../../src/fixture/ostree-cli.js';
import { killGpgAgent, unpackGpgHome } from '../../src/fixture/gpg.js';

const KEY_ID = '7FCA23D8472CDAFA';
const TS = '2020-01-01T00:00:00Z';

let tmp: string;
let src: string;
let repo: Repo;
let commit: string;
const ostree = (r: Repo | string, ...args: string[]) => ostreeCli(typeof r === 'string' ? r : r.path, args);

async function fsckClean(r: Repo): Promise<void> {
  const out = await ostree(r, 'fsck');
  expect(out).not.toMatch(/corrupt|missing/i);
}

async function rejection(p: Promise<unknown>): Promise<Error & { code?: string; domain?: string }> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as Error & { code?: string },
  );
}

/** `ostree ls -R -C -X` of a commit, one record per path. */
interface LsEntry {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  checksum: string;
  xattrs: string;
  target?: string;
}
async function lsTree(r: Repo, rev: string): Promise<Map<string, LsEntry>> {
  const out = await ostree(r, 'ls', '-R', '-C', '-X', rev);
  const map = new Map<string, LsEntry>();
  for (const line of out.trim().split('\n')) {
    const m = /^([-dl])([0-7]{5}) (\d+) (\d+) +(\d+) ([0-9a-f]{64}(?: [0-9a-f]{64})?) \{ (.*) \} (\/\S*)(?: -> (.*))?$/.exec(line);
    if (!m) throw new Error(`unexpected ostree ls line: ${line}`);
    map.set(m[8], {
      type: m[1],
      mode: parseInt(m[2], 8),
      uid: Number(m[3]),
      gid: Number(m[4]),
      size: Number(m[5]),
      checksum: m[6],
      xattrs: m[7],
      target: m[9],
    });
  }
  return map;
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'repo-objects-'));
  src = path.join(tmp, 'src');
  await mkdir(path.join(src, 'usr/bin'), { recursive: true });
  await writeFile(path.join(src, 'usr/bin/bash'), 'the-bash-shell');
  await chmod(path.join(src, 'usr/bin/bash'), 0o755);
  await symlink('bash', path.join(src, 'usr/bin/sh'));
  await writeFile(path.join(src, 'usr/bin/big'), randomBytes(3 * 1024 * 1024 + 17));
  await writeFile(path.join(src, 'usr/empty'), '');
  repo = await Repo.create(path.join(tmp, 'repo'), 'bare-user');
  commit = (await ostree(repo, 'commit', '-b', 'main', `--tree=dir=${src}`, '--timestamp', TS, '-s', 'objects')).trim();
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('content objects', () => {
  it('queryContent and readContent agree with ostree ls -X and ostree cat', async () => {
    const tree = await lsTree(repo, commit);
    let files = 0;
    for (const [p, e] of tree) {
      if (e.type === 'd') continue;
      files++;
      const info = await repo.queryContent(e.checksum);
      expect(info.mode & 0o7777).toBe(e.mode);
      expect(info.mode & 0o170000).toBe(e.type === 'l' ? 0o120000 : 0o100000);
      expect([info.uid, info.gid]).toEqual([e.uid, e.gid]);
      expect(variantPrint({ type: 'a(ayay)', value: info.xattrs }, true)).toBe(e.xattrs);
      if (e.type === 'l') {
        expect(info.symlinkTarget).toBe(e.target);
        await expect(repo.readContent(e.checksum)).rejects.toThrow(`Content object ${e.checksum} is not a regular file`);
      } else {
        expect(info.size).toBe(e.size);
        expect(info.symlinkTarget).toBeNull();
        const bytes = await repo.readContent(e.checksum);
        expect(bytes.equals(await readFile(path.join(src, p)))).toBe(true);
      }
    }
    expect(files).toBe(4);
  });

  it('readContentToFd streams a file object into an fd', async () => {
    const tree = await lsTree(repo, commit);
    const big = tree.get('/usr/bin/big')!;
    const out = path.join(tmp, 'big.out');
    const fd = openSync(out, 'w');
    try {
      expect(await repo.readContentToFd(big.checksum, fd)).toBe(big.size);
    } finally {
      closeSync(fd);
    }
    expect((await readFile(out)).equals(await readFile(path.join(src, 'usr/bin/big')))).toBe(true);
  });

  it('writes regular files from bytes, a path and an fd to the checksums ostree computed', async () => {
    const tree = await lsTree(repo, commit);
    const bash = tree.get('/usr/bin/bash')!;
    const big = tree.get('/usr/bin/big')!;
    const empty = tree.get('/usr/empty')!;
    const other = await Repo.create(path.join(tmp, 'other'), 'bare-user');
    expect(await other.withTransaction((t) => t.writeRegularFile(Buffer.from('the-bash-shell'), { mode: 0o755, expectedChecksum: bash.checksum }))).toBe(
      bash.checksum,
    );
    expect(await other.withTransaction((t) => t.writeRegularFile(Buffer.alloc(0)))).toBe(empty.checksum);
    expect(await other.withTransaction((t) => t.writeRegularFile({ path: path.join(src, 'usr/bin/big') }, { expectedChecksum: big.checksum }))).toBe(
      big.checksum,
    );
    // an fd: a pipe-like source read natively; here a file opened by the test
    const fd = openSync(path.join(src, 'usr/bin/big'), 'r');
    try {
      expect(await repo.withTransaction((t) => t.writeRegularFile({ fd, size: big.size }))).toBe(big.checksum);
    } finally {
      closeSync(fd);
    }
    expect(await other.withTransaction((t) => t.writeSymlink('bash', { expectedChecksum: tree.get('/usr/bin/sh')!.checksum }))).toBe(
      tree.get('/usr/bin/sh')!.checksum,
    );
    await fsckClean(other);
  });

  it('archive repos take regular files from a path or an fd too (libostree compresses them)', async () => {
    const big = (await lsTree(repo, commit)).get('/usr/bin/big')!;
    const archive = await Repo.create(path.join(tmp, 'archive-fd'), 'archive');
    expect(await archive.withTransaction((t) => t.writeRegularFile({ path: path.join(src, 'usr/bin/big') }, { expectedChecksum: big.checksum }))).toBe(big.checksum);
    expect((await archive.readContent(big.checksum)).equals(await readFile(path.join(src, 'usr/bin/big')))).toBe(true);
    const attrs = { uid: 5, gid: 6, mode: 0o600, xattrs: [[Buffer.from('user.a\0'), Buffer.from('1')]] as Xattr[] };
    const p = path.join(tmp, 'archive-fd-small');
    await writeFile(p, 'small');
    const fd = openSync(p, 'r');
    try {
      expect(await archive.withTransaction((t) => t.writeRegularFile({ fd, size: 5 }, attrs))).toBe(
        await repo.withTransaction((t) => t.writeRegularFile(Buffer.from('small'), attrs)),
      );
    } finally {
      closeSync(fd);
    }
    const wrong = await rejection(archive.withTransaction((t) => t.writeRegularFile({ path: p }, { expectedChecksum: 'f'.repeat(64) })));
    expect(wrong.message).toContain(`Corrupted file object; checksum expected='${'f'.repeat(64)}'`);
    await fsckClean(archive);
  });

  it('content whose bytes do not match the expected checksum is refused and not stored', async () => {
    const other = await Repo.create(path.join(tmp, 'corrupt'), 'bare-user');
    const wrong = 'f'.repeat(64);
    const inline = await rejection(other.withTransaction((t) => t.writeRegularFile(Buffer.from('data'), { expectedChecksum: wrong })));
    expect(inline.message).toMatch(new RegExp(`^Writing content object: Corrupted file object; checksum expected='${wrong}' actual='[0-9a-f]{64}'$`));
    const big = await rejection(other.withTransaction((t) => t.writeRegularFile({ path: path.join(src, 'usr/bin/big') }, { expectedChecksum: wrong })));
    expect(big.message).toContain(`Corrupted file object; checksum expected='${wrong}'`);
    const link = await rejection(other.withTransaction((t) => t.writeSymlink('bash', { expectedChecksum: wrong })));
    expect(link.message).toContain('Corrupted file object');
    expect(await other.hasObject('file', wrong)).toBe(false);
    expect((await ostree(other, 'fsck')).match(/(\d+) objects/)?.[1] ?? '0').toBe('0');
    await fsckClean(other);
  });

  it('a short fd is an error naming how much arrived', async () => {
    const p = path.join(tmp, 'short');
    await writeFile(p, 'abc');
    const fd = openSync(p, 'r');
    try {
      const err = await rejection(repo.withTransaction((t) => t.writeRegularFile({ fd, size: 10 })));
      expect(err.message).toBe('Unexpected end of input after 3 of 10 bytes');
    } finally {
      closeSync(fd);
    }
    await fsckClean(repo);
  });

  it('an AbortSignal interrupts a write blocked on an fd that delivers nothing', async () => {
    const fifo = path.join(tmp, 'fifo');
    execFileSync('mkfifo', [fifo]);
    // O_RDWR on a FIFO opens without a peer; reads then block until data arrives (never).
    const fd = openSync(fifo, 'r+');
    try {
      const ac = new AbortController();
      const p = repo.withTransaction((t) => t.writeRegularFile({ fd, size: 10 }, { signal: ac.signal }));
      setTimeout(() => ac.abort(), 100);
      const err = await rejection(p);
      expect(err.message).toBe('Operation was cancelled');
      expect(err.code).toBe('CANCELLED');
    } finally {
      closeSync(fd);
    }
    await fsckClean(repo);
  });

  it('xattrs and ownership are part of the object', async () => {
    const xattrs: Xattr[] = [[Buffer.from('user.a\0'), Buffer.from('1')]];
    const a = await repo.withTransaction((t) => t.writeRegularFile(Buffer.from('x'), { uid: 5, gid: 6, mode: 0o600, xattrs }));
    const info = await repo.queryContent(a);
    expect(info).toMatchObject({ uid: 5, gid: 6, mode: 0o100600, size: 1, symlinkTarget: null });
    expect(info.xattrs.map(([k, v]) => [Buffer.from(k).toString(), Buffer.from(v).toString()])).toEqual([['user.a\0', '1']]);
    expect(await repo.withTransaction((t) => t.writeRegularFile(Buffer.from('x'), { uid: 5, gid: 6, mode: 0o600 }))).not.toBe(a);
  });

  it('an unknown object is a clear error', async () => {
    const missing = '0'.repeat(64);
    await expect(repo.queryContent(missing)).rejects.toThrow(`Couldn't find file object '${missing}'`);
    await expect(repo.hasObject('file', missing)).resolves.toBe(false);
    await expect(repo.readContent('xyz')).rejects.toThrow(/Invalid/);
  });
});

describe('walking commits', () => {
  it('traverseCommit, walkTree and lookupPath agree with ostree ls -R -C', async () => {
    const tree = await lsTree(repo, commit);
    const fromCli = new Set<string>([`commit ${commit}`]);
    for (const e of tree.values()) {
      if (e.type === 'd') {
        const [contents, meta] = e.checksum.split(' ');
        fromCli.add(`dirtree ${contents}`).add(`dirmeta ${meta}`);
      } else {
        fromCli.add(`file ${e.checksum}`);
      }
    }
    const reachable = await repo.traverseCommit(commit);
    expect(new Set(reachable.map((o) => `${o.type} ${o.checksum}`))).toEqual(fromCli);

    const walked = [];
    for await (const node of repo.walkTree('main')) walked.push(node);
    expect(walked.map((n) => n.path)).toEqual([...tree.keys()]);
    for (const n of walked) {
      const cli = tree.get(n.path)!;
      expect(n.kind === 'dir' ? `${n.contents} ${n.metadata}` : n.checksum).toBe(cli.checksum);
    }
    expect(await repo.lookupPath('main', '/usr/bin/bash')).toEqual({
      path: '/usr/bin/bash',
      kind: 'file',
      checksum: tree.get('/usr/bin/bash')!.checksum,
    });
    expect((await repo.lookupPath(commit, 'usr/bin'))?.kind).toBe('dir');
    expect(await repo.lookupPath(commit, '/usr/bin/nope')).toBeNull();
    expect(await repo.lookupPath(commit, '/usr/bin/bash/x')).toBeNull();
  });

  it('pull from a local repository by file:// URL copies the commit', async () => {
    const dest = await Repo.create(path.join(tmp, 'pulled'), 'bare-user');
    await dest.pull(`file://${repo.path}`, { refs: ['main'], gpgVerify: false });
    expect(await ostree(dest, 'show', commit)).toBe(await ostree(repo, 'show', commit));
    // pulling from a URL (no remote name) writes the refs as local refs
    expect(await dest.listRefs()).toEqual(new Map([['main', commit]]));
    expect((await ostree(dest, 'refs')).trim()).toBe('main');
    await fsckClean(dest);
    await expect(dest.pull(`file://${repo.path}`, { refs: ['no-such-ref'] })).rejects.toThrow(/no-such-ref/);
  });

  it('pull through a named remote writes remote refs, listed as remote:ref like ostree refs', async () => {
    const dest = await Repo.create(path.join(tmp, 'pulled-remote'), 'bare-user');
    await dest.remoteAdd('origin', `file://${repo.path}`, { 'gpg-verify': false });
    await dest.pull('origin', { refs: ['main'] });
    await dest.setRefImmediate('other', commit, { remote: 'origin' });
    const refs = await dest.listRefs();
    expect(refs).toEqual(
      new Map([
        ['origin:main', commit],
        ['origin:other', commit],
      ]),
    );
    expect((await ostree(dest, 'refs')).trim().split('\n').sort()).toEqual([...refs.keys()]);
    expect(await dest.resolveRev('origin:main')).toBe(commit);
    await dest.deleteRef('other', { remote: 'origin' });
    expect((await dest.listRefs()).has('origin:other')).toBe(false);
    await fsckClean(dest);
  });
});

describe('metadata objects', () => {
  it('writeMetadata verifies the expected checksum', async () => {
    const info = await repo.loadCommit(commit);
    const other = await Repo.create(path.join(tmp, 'meta'), 'bare-user');
    const dirmeta = await repo.loadMetadataBytes('dirmeta', info.rootMetadata);
    expect(await other.withTransaction((t) => t.writeMetadata('dirmeta', dirmeta, { expectedChecksum: info.rootMetadata }))).toBe(info.rootMetadata);
    const dirtree = Buffer.from(await repo.loadMetadataBytes('dirtree', info.rootContents));
    dirtree[0] ^= 1;
    const err = await rejection(other.withTransaction((t) => t.writeMetadata('dirtree', dirtree, { expectedChecksum: info.rootContents })));
    expect(err.message).toMatch(new RegExp(`^Writing metadata object: Corrupted dirtree object; checksum expected='${info.rootContents}' actual='[0-9a-f]{64}'$`));
    expect(await other.hasObject('dirtree', info.rootContents)).toBe(false);
    await fsckClean(other);
  });

  it('copying a commit object by object (the tar importer path) yields an identical, fsck-clean commit', async () => {
    const dest = await Repo.create(path.join(tmp, 'copy'), 'archive');
    const info = await repo.loadCommit(commit);
    await dest.withTransaction(async (d) => {
      const copyDir = async (contents: string, metadata: string): Promise<void> => {
        await d.writeMetadata('dirmeta', await repo.loadMetadataBytes('dirmeta', metadata), { expectedChecksum: metadata });
        const tree = await repo.readDirTree(contents);
        for (const f of tree.files) {
          const q = await repo.queryContent(f.checksum);
          const attrs = { uid: q.uid, gid: q.gid, xattrs: q.xattrs, expectedChecksum: f.checksum };
          if (q.symlinkTarget !== null) await d.writeSymlink(q.symlinkTarget, attrs);
          else await d.writeRegularFile(await repo.readContent(f.checksum), { ...attrs, mode: q.mode });
        }
        for (const sub of tree.dirs) await copyDir(sub.contents, sub.metadata);
        await d.writeMetadata('dirtree', await repo.loadMetadataBytes('dirtree', contents), { expectedChecksum: contents });
      };
      await copyDir(info.rootContents, info.rootMetadata);
      await d.writeMetadata('commit', await repo.loadMetadataBytes('commit', commit), { expectedChecksum: commit });
      d.transactionSetRef('main', commit);
    });
    await fsckClean(dest);
    expect(await ostree(dest, 'show', 'main')).toBe(await ostree(repo, 'show', 'main'));
    expect(await ostree(dest, 'ls', '-R', '-C', '-X', 'main')).toBe(await ostree(repo, 'ls', '-R', '-C', '-X', 'main'));
  });
});

describe('signing, remotes, signature verification', () => {
  let gpghome: string;
  beforeAll(async () => {
    // gpg-agent's socket lives in the homedir: keep the path short.
    gpghome = await mkdtemp('/tmp/gpg-');
    await unpackGpgHome(gpghome);
  });
  afterAll(async () => {
    await killGpgAgent(gpghome).catch(() => undefined);
    await rm(gpghome, { recursive: true, force: true });
  });

  it('signs a commit, adds a remote, imports its key and verifies', async () => {
    const r = await Repo.create(path.join(tmp, 'sign'), 'archive');
    const c = (await ostree(r, 'commit', '-b', 'main', `--tree=dir=${src}`, '--timestamp', TS)).trim();
    await r.writeCommitDetachedMetadata(c, new Map([['my-detached-key', variant('s', 'my-detached-value')]]));
    await r.signCommit(c, KEY_ID, { homedir: gpghome });
    const detached = (await r.readCommitDetachedMetadata(c))!;
    expect([...detached.keys()]).toEqual(['my-detached-key', 'ostree.gpgsigs']);
    expect(detached.get('ostree.gpgsigs')!.type).toBe('aay');

    await r.remoteAdd('myremote', null, { 'gpg-verify': true, 'custom-backend': 'ostree-rs-ext' });
    expect((await ostree(r, 'remote', 'list')).trim()).toBe('myremote');
    expect((await ostree(r, 'config', 'get', 'remote "myremote".gpg-verify')).trim()).toBe('true');
    expect((await ostree(r, 'config', 'get', 'remote "myremote".custom-backend')).trim()).toBe('ostree-rs-ext');
    expect(await r.remoteList()).toEqual(['myremote']);

    const commitBytes = await r.loadMetadataBytes('commit', c);
    const metaBytes = vardictToBytes(detached);
    const noKey = await rejection(r.signatureVerifyCommitData('myremote', commitBytes, metaBytes));
    expect(noKey.message).toContain("Can't check signature: public key not found");

    const imported = await r.remoteGpgImport('myremote', await readFile(path.join(gpghome, 'key1.asc')));
    expect(imported).toBe(1);
    expect(await ostree(r, 'remote', 'gpg-list-keys', 'myremote')).toContain(KEY_ID);
    const text = await r.signatureVerifyCommitData('myremote', commitBytes, metaBytes);
    expect(text).toContain(`using RSA key ID ${KEY_ID}`);
    expect(text).toContain('Good signature from "Ostree Tester <test@test.com>"');
    expect(await ostree(r, 'show', '--gpg-verify-remote=myremote', c)).toContain('Good signature');

    // a signature over other data is BAD; an unknown remote is named
    const sigs = detached.get('ostree.gpgsigs')!.value as Buffer[];
    const bad = Buffer.from(sigs[0]);
    bad[bad.length - 10] ^= 0xff;
    const tampered = new Map(detached);
    tampered.set('ostree.gpgsigs', variant('aay', [bad]));
    const badErr = await rejection(r.signatureVerifyCommitData('myremote', commitBytes, vardictToBytes(tampered)));
    expect(badErr.message).toContain('BAD signature from "Ostree Tester <test@test.com>"');
    const noSigs = await rejection(
      r.signatureVerifyCommitData('myremote', commitBytes, vardictToBytes(new Map([['x', variant('s', 'y')]]))),
    );
    expect(noSigs.message).toContain('GPG verification enabled, but no signatures found');
    await r.remoteAdd('nogpg', null, { 'gpg-verify': false });
    const disabled = await rejection(r.signatureVerifyCommitData('nogpg', commitBytes, metaBytes));
    expect(disabled.message).toBe(
      'Cannot verify commit for remote nogpg; GPG verification disabled, and no signapi verifiers configured',
    );
    await r.remoteDelete('nogpg');
    const noRemote = await rejection(r.signatureVerifyCommitData('nope', commitBytes, metaBytes));
    expect(noRemote.message).toContain('Remote "nope" not found');

    await expect(r.remoteAdd('myremote', null, {})).rejects.toThrow(/already exists/);
    await r.remoteAdd('myremote', null, {}, { ifNotExists: true });
    await r.remoteDelete('myremote');
    expect(await r.remoteList()).toEqual([]);
    await r.remoteDelete('myremote', { ifExists: true });
    await expect(r.remoteDelete('myremote')).rejects.toThrow(/not found/);
    await fsckClean(r);
  });

  it('signing with an unknown key is an error and leaves the commit unsigned', async () => {
    const r = await Repo.open(path.join(tmp, 'repo'));
    await expect(r.signCommit(commit, 'DEADBEEFDEADBEEF', { homedir: gpghome })).rejects.toThrow(/DEADBEEFDEADBEEF|key/i);
    const det = await r.readCommitDetachedMetadata(commit);
    expect(det?.has('ostree.gpgsigs') ?? false).toBe(false);
  });
});

describe('config', () => {
  it('setConfig writes the config file; getConfig reads it', async () => {
    const r = await Repo.create(path.join(tmp, 'config'), 'bare-user');
    expect(await r.getConfig('core', 'mode')).toBe('bare-user');
    expect(await r.getConfig('core', 'no-such-key')).toBeNull();
    await r.setConfig('core', 'min-free-space-percent', '0');
    expect((await ostree(r, 'config', 'get', 'core.min-free-space-percent')).trim()).toBe('0');
    expect(await r.getConfig('core', 'min-free-space-percent')).toBe('0');
    await r.setConfig('core', 'min-free-space-percent', null);
    await expect(ostree(r, 'config', 'get', 'core.min-free-space-percent')).rejects.toThrow(/does not have key/);
    await ostree(r, 'config', 'set', 'ex.key', 'from-cli');
    expect(await (await Repo.open(r.path)).getConfig('ex', 'key')).toBe('from-cli');
  });
});
