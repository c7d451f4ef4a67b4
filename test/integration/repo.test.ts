// Repo binding, core: open/create, refs, commits and their metadata, detached metadata,
// transactions, writing commits from directories and entries. Every answer is checked against
// the `ostree` CLI on the same repository.
import { mkdir, mkdtemp, rm, symlink, writeFile, chmod, readFile, readdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Repo, variant, type RepoMode, type VariantDict } from '../../src/index.js';
import { ostreeCli } from '../../src/fixture/ostree-cli.js';

let tmp: string;
let src: string; // a small host tree

const ostree = (repo: Repo | string, ...args: string[]) => ostreeCli(typeof repo === 'string' ? repo : repo.path, args);
const TS = '2020-01-01T00:00:00Z';
const TS_SECS = 1577836800;

async function fsckClean(repo: Repo): Promise<void> {
  // fsck exits non-zero on corruption; its stdout must not report any either.
  const out = await ostree(repo, 'fsck');
  expect(out).not.toMatch(/corrupt|missing/i);
}

async function expectError(p: Promise<unknown>, message: RegExp | string, code?: string): Promise<Error> {
  const err = await p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as Error & { code?: string; domain?: string },
  );
  expect(err).toBeInstanceOf(Error);
  if (typeof message === 'string') expect(err.message).toContain(message);
  else expect(err.message).toMatch(message);
  if (code) expect((err as { code?: string }).code).toBe(code);
  return err;
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'repo-test-'));
  src = path.join(tmp, 'src');
  await mkdir(path.join(src, 'usr/bin'), { recursive: true });
  await mkdir(path.join(src, 'usr/lib/empty'), { recursive: true });
  await writeFile(path.join(src, 'usr/bin/bash'), 'the-bash-shell');
  await chmod(path.join(src, 'usr/bin/bash'), 0o755);
  await symlink('bash', path.join(src, 'usr/bin/sh'));
  await writeFile(path.join(src, 'usr/lib/emptyfile'), '');
  await writeFile(path.join(src, 'usr/lib/conf'), 'x'.repeat(200_000));
  await chmod(path.join(src, 'usr/lib/conf'), 0o600);
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('open and create', () => {
  it.each(['bare', 'archive', 'bare-user', 'bare-user-only', 'bare-split-xattrs'] as RepoMode[])(
    'creates a %s repo that ostree agrees on',
    async (mode) => {
      const p = path.join(tmp, `mode-${mode}`);
      const repo = await Repo.create(p, mode);
      expect(repo.mode).toBe(mode);
      expect(repo.path).toBe(p);
      expect(repo.dfd).toBeGreaterThan(2);
      expect(repo.isSystem).toBe(false);
      const cliMode = (await ostree(p, 'config', 'get', 'core.mode')).trim();
      expect(cliMode === mode || (mode === 'archive' && cliMode === 'archive-z2')).toBe(true);
      const reopened = await Repo.open(p);
      expect(reopened.mode).toBe(mode);
    },
  );

  it('create on an existing repo opens it and keeps its mode', async () => {
    const p = path.join(tmp, 'mode-bare-user');
    const again = await Repo.create(p, 'archive');
    expect(again.mode).toBe('bare-user');
    expect((await ostree(p, 'config', 'get', 'core.mode')).trim()).toBe('bare-user');
  });

  it('refuses a directory that is not a repo, naming it', async () => {
    const p = path.join(tmp, 'not-a-repo');
    await mkdir(p);
    await writeFile(path.join(p, 'keep'), 'data');
    const err = await expectError(Repo.open(p), `Opening ostree repository at '${p}'`);
    expect((err as { domain?: string }).domain).toBeTruthy();
    expect((err as { code?: string }).code).toBeTruthy();
    // Opening never creates anything: the directory is as it was, a missing path stays missing.
    expect(await readdir(p)).toEqual(['keep']);
    const missing = path.join(tmp, 'no-such-dir');
    await expectError(Repo.open(missing), `Opening ostree repository at '${missing}'`);
    await expect(stat(missing)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses an unknown mode', async () => {
    await expectError(Repo.create(path.join(tmp, 'bad-mode'), 'zip' as RepoMode), 'Invalid mode');
  });
});

describe('refs', () => {
  let repo: Repo;
  let c1: string;
  let c2: string;
  beforeAll(async () => {
    repo = await Repo.create(path.join(tmp, 'refs'), 'bare-user');
    c1 = (await ostree(repo, 'commit', '-b', 'os/x86_64/stable', `--tree=dir=${src}`, '--timestamp', TS, '-s', 'one')).trim();
    c2 = (await ostree(repo, 'commit', '-b', 'os/x86_64/next', '--tree=dir=' + src, '--timestamp', TS, '-s', 'two')).trim();
    await ostree(repo, 'refs', '--create=other', c1);
  });

  it('resolveRev agrees with ostree rev-parse', async () => {
    for (const ref of ['os/x86_64/stable', 'os/x86_64/next', 'other', c2]) {
      expect(await repo.resolveRev(ref)).toBe((await ostree(repo, 'rev-parse', ref)).trim());
    }
  });

  it('an unknown ref is an error, or null with allowNoent; the repo is unchanged', async () => {
    const refsBefore = await ostree(repo, 'refs');
    await expectError(repo.resolveRev('no/such/ref'), "Refspec 'no/such/ref' not found", 'NOT_FOUND');
    expect(await repo.resolveRev('no/such/ref', { allowNoent: true })).toBeNull();
    await expectError(repo.loadCommit('no/such/ref'), "Refspec 'no/such/ref' not found");
    await repo.deleteRef('no/such/ref'); // libostree: deleting an absent ref is a no-op
    expect(await ostree(repo, 'refs')).toBe(refsBefore);
    await fsckClean(repo);
  });

  it('listRefs agrees with ostree refs (all, and by prefix)', async () => {
    const refs = await repo.listRefs();
    const cli = (await ostree(repo, 'refs')).trim().split('\n').sort();
    expect([...refs.keys()]).toEqual(cli);
    for (const [ref, csum] of refs) expect(csum).toBe((await ostree(repo, 'rev-parse', ref)).trim());
    // `ostree refs PREFIX` prints names below the prefix; ours keeps full names.
    const sub = await repo.listRefs('os/x86_64');
    const cliSub = (await ostree(repo, 'refs', 'os/x86_64')).trim().split('\n').sort();
    expect([...sub.keys()]).toEqual(cliSub.map((r) => `os/x86_64/${r}`));
  });

  it('setRefImmediate sets and deletes refs', async () => {
    await repo.setRefImmediate('made/by/us', c2);
    expect((await ostree(repo, 'rev-parse', 'made/by/us')).trim()).toBe(c2);
    await repo.setRefImmediate('made/by/us', c1);
    expect((await ostree(repo, 'rev-parse', 'made/by/us')).trim()).toBe(c1);
    await repo.deleteRef('made/by/us');
    expect(await ostree(repo, 'refs')).not.toContain('made/by/us');
    await fsckClean(repo);
  });

  it('rejects a bad checksum before touching the repo', async () => {
    await expect(repo.setRefImmediate('x', 'not-a-checksum')).rejects.toThrow(/Invalid|checksum/);
    expect(await repo.resolveRev('x', { allowNoent: true })).toBeNull();
  });
});

describe('commits and metadata', () => {
  let repo: Repo;
  let commit: string;
  // Every GVariant shape a commit's metadata may carry, as `ostree commit --add-metadata` spells it.
  const cliMetadata = [
    "version='42.0'",
    'ostree.bootable=true',
    "ostree.container-cmd=['/usr/bin/bash']",
    'count=uint64 18446744073709551615',
    'small=int32 -5',
    'byte=byte 0x07',
    'dbl=2.5',
    'bytes=@ay [0x00, 0x01, 0xff]',
    "nested=<'boxed'>",
    "dict={'a': <1>, 'b': <'two'>}",
    "tuple=('x', uint32 3, [int64 -1])",
    'maybe=@ms nothing',
    "just=@ms 'here'",
    "path=objectpath '/org/x'",
  ];
  const expected: VariantDict = new Map([
    ['version', variant('s', '42.0')],
    ['ostree.bootable', variant('b', true)],
    ['ostree.container-cmd', variant('as', ['/usr/bin/bash'])],
    ['count', variant('t', 18446744073709551615n)],
    ['small', variant('i', -5)],
    ['byte', variant('y', 7)],
    ['dbl', variant('d', 2.5)],
    ['bytes', variant('ay', Buffer.from([0, 1, 255]))],
    ['nested', variant('v', variant('s', 'boxed'))],
    [
      'dict',
      variant(
        'a{sv}',
        new Map([
          ['a', variant('i', 1)],
          ['b', variant('s', 'two')],
        ]),
      ),
    ],
    ['tuple', variant('(sua(x))', ['x', 3, [[-1n]]])],
    ['maybe', variant('ms', null)],
    ['just', variant('ms', 'here')],
    ['path', variant('o', '/org/x')],
  ]);

  beforeAll(async () => {
    repo = await Repo.create(path.join(tmp, 'commits'), 'bare-user');
    // The tuple line above is a(x) inside (s u a(x)); fix its spelling for the CLI.
    const meta = cliMetadata.map((m) => (m.startsWith('tuple=') ? "tuple=('x', uint32 3, [(int64 -1,)])" : m));
    commit = (
      await ostree(
        repo, 'commit', '-b', 'meta', '--no-bindings', `--tree=dir=${src}`, '--timestamp', TS,
        '-s', 'the subject', '-m', 'the body', ...meta.map((m) => `--add-metadata=${m}`),
      )
    ).trim();
  });

  it('loadCommit agrees with ostree show', async () => {
    const info = await repo.loadCommit('meta');
    expect(info.checksum).toBe(commit);
    expect(info.subject).toBe('the subject');
    expect(info.body).toBe('the body');
    expect(info.timestamp).toBe(TS_SECS);
    expect(info.parent).toBeNull();
    expect(info.partial).toBe(false);
    const show = await ostree(repo, 'show', commit);
    expect(show).toContain(`ContentChecksum:  ${info.contentChecksum}`);
    expect(show).toContain('Date:  2020-01-01 00:00:00 +0000');
    expect(show).toContain('Version: 42.0');
    // root tree checksums: `ostree ls -d` of / prints the dirmeta's owner/mode; the checksums must load
    expect((await repo.readDirTree(info.rootContents)).dirs.map((d) => d.name)).toEqual(['usr']);
    expect(await repo.readDirMeta(info.rootMetadata)).toMatchObject({ uid: 0, gid: 0, mode: 0o40755 });
  });

  it('metadata comes back with its GVariant types, in serialized order', async () => {
    const { metadata } = await repo.loadCommit(commit);
    expect([...metadata.keys()]).toEqual(cliMetadata.map((m) => m.slice(0, m.indexOf('='))));
    expect(metadata).toEqual(expected);
  });

  it('rewriting a loaded commit reproduces its checksum byte for byte', async () => {
    const info = await repo.loadCommit(commit);
    const again = await repo.withTransaction((t) => t.writeCommit({
      root: { contents: info.rootContents, metadata: info.rootMetadata },
      subject: info.subject,
      body: info.body,
      metadata: info.metadata,
      timestamp: info.timestamp,
    }));
    expect(again).toBe(commit);
    expect(await repo.loadMetadataBytes('commit', again)).toEqual(await repo.loadMetadataBytes('commit', commit));
  });

  it('metadata built in JS equals what ostree commit --add-metadata wrote', async () => {
    const info = await repo.loadCommit(commit);
    const built = await repo.withTransaction((t) => t.writeCommit({
      root: { contents: info.rootContents, metadata: info.rootMetadata },
      subject: 'the subject',
      body: 'the body',
      metadata: expected,
      timestamp: new Date(TS),
    }));
    expect(built).toBe(commit);
  });

  it('parent and a child commit agree with ostree log', async () => {
    const info = await repo.loadCommit(commit);
    const child = await repo.withTransaction((t) => t.writeCommit({
      root: { contents: info.rootContents, metadata: info.rootMetadata },
      parent: commit,
      subject: 'child',
      timestamp: TS_SECS + 86400,
    }));
    await repo.setRefImmediate('child', child);
    const log = await ostree(repo, 'log', 'child');
    expect(log).toContain(`commit ${child}`);
    expect(log).toContain(`commit ${commit}`);
    expect((await repo.loadCommit(child)).parent).toBe(commit);
    expect((await ostree(repo, 'rev-parse', 'child^')).trim()).toBe(commit);
  });

  it('loadMetadataBytes returns the stored object; loadVariant its typed value', async () => {
    const bytes = await repo.loadMetadataBytes('commit', commit);
    const onDisk = await readFile(path.join(repo.path, 'objects', commit.slice(0, 2), `${commit.slice(2)}.commit`));
    expect(bytes.equals(onDisk)).toBe(true);
    const v = await repo.loadVariant('commit', commit);
    expect(v.type).toBe('(a{sv}aya(say)sstayay)');
    expect((v.value as unknown[])[3]).toBe('the subject');
  });

  it('an unknown commit is a clear error', async () => {
    const missing = 'a'.repeat(64);
    await expectError(repo.loadCommit(missing), `No such metadata object ${missing}.commit`);
    await expectError(repo.loadCommit('no/ref'), "Refspec 'no/ref' not found");
  });

  it('detached metadata round-trips and agrees with ostree show', async () => {
    expect(await repo.readCommitDetachedMetadata(commit)).toBeNull();
    const det: VariantDict = new Map([
      ['my-detached-key', variant('s', 'my-detached-value')],
      ['n', variant('u', 7)],
    ]);
    await repo.writeCommitDetachedMetadata(commit, det);
    expect(await repo.readCommitDetachedMetadata(commit)).toEqual(det);
    const shown = await ostree(repo, 'show', '--print-detached-metadata-key=my-detached-key', commit);
    expect(shown.trim()).toBe("'my-detached-value'");
    // libostree "removes" it by storing an empty dictionary
    await repo.writeCommitDetachedMetadata(commit, null);
    expect((await repo.readCommitDetachedMetadata(commit))?.size ?? 0).toBe(0);
    expect(await ostree(repo, 'show', '--print-detached-metadata-key=my-detached-key', commit).catch((e: Error) => e.message)).toMatch(
      /No such metadata key/,
    );
  });

  it('reads detached metadata written by the CLI', async () => {
    const c = (
      await ostree(repo, 'commit', '-b', 'det', `--tree=dir=${src}`, '--timestamp', TS, '--add-detached-metadata-string=k=v')
    ).trim();
    expect(await repo.readCommitDetachedMetadata(c)).toEqual(new Map([['k', variant('s', 'v')]]));
  });

  it('rejects metadata of the wrong type, naming the key', async () => {
    const info = await repo.loadCommit(commit);
    const bad = new Map([['version', variant('s', 42 as unknown as string)]]);
    await expect(
      repo.withTransaction((t) => t.writeCommit({ root: { contents: info.rootContents, metadata: info.rootMetadata }, metadata: bad })),
    ).rejects.toThrow("metadata.version: expected a string for type 's', got number");
  });
});

describe('transactions', () => {
  let repo: Repo;
  let base: string;
  beforeAll(async () => {
    repo = await Repo.create(path.join(tmp, 'txn'), 'bare-user');
    base = (await ostree(repo, 'commit', '-b', 'base', `--tree=dir=${src}`, '--timestamp', TS)).trim();
  });

  it('commit applies transaction refs', async () => {
    expect(await repo.prepareTransaction()).toBe(false);
    repo.transactionSetRef('txn/ref', base);
    const stats = await repo.commitTransaction();
    expect(stats.contentObjectsWritten).toBe(0);
    expect((await ostree(repo, 'rev-parse', 'txn/ref')).trim()).toBe(base);
  });

  it('abort drops staged objects and ref changes', async () => {
    await repo.prepareTransaction();
    const obj = await repo.writeRegularFile(Buffer.from('only in the aborted transaction'));
    repo.transactionSetRef('aborted/ref', base);
    await repo.abortTransaction();
    expect(await repo.hasObject('file', obj)).toBe(false);
    expect(await ostree(repo, 'refs')).not.toContain('aborted/ref');
    await fsckClean(repo);
  });

  it('withTransaction commits on success and aborts on error', async () => {
    const info = await repo.loadCommit(base);
    const made = await repo.withTransaction(async (r) => {
      const c = await r.writeCommit({ root: { contents: info.rootContents, metadata: info.rootMetadata }, subject: 'in txn', timestamp: 1 });
      r.transactionSetRef('with/txn', c);
      return c;
    });
    expect((await ostree(repo, 'rev-parse', 'with/txn')).trim()).toBe(made);

    let staged = '';
    await expectError(
      repo.withTransaction(async (r) => {
        staged = await r.writeRegularFile(Buffer.from('staged then dropped'));
        r.transactionSetRef('with/failed', made);
        throw new Error('boom');
      }),
      'boom',
    );
    expect(await repo.hasObject('file', staged)).toBe(false);
    expect(await repo.resolveRev('with/failed', { allowNoent: true })).toBeNull();
    // the repository is usable for a new transaction afterwards
    await repo.withTransaction(async () => undefined);
    await fsckClean(repo);
  });

  it('a second prepare while one is active is an error', async () => {
    await repo.prepareTransaction();
    try {
      await expectError(repo.prepareTransaction(), 'prepareTransaction: another transaction is in progress on this repository', 'TRANSACTION_STATE');
    } finally {
      await repo.abortTransaction();
    }
  });
});

describe('writing commits from directories and entries', () => {
  let repo: Repo;
  beforeAll(async () => {
    repo = await Repo.create(path.join(tmp, 'write'), 'bare-user');
  });

  async function cliCommit(...extra: string[]): Promise<string> {
    return (
      await ostree(repo, 'commit', '--orphan', '--no-bindings', `--tree=dir=${src}`, '--timestamp', TS, '-s', 's', ...extra)
    ).trim();
  }

  it('a directory commits to the same checksum as ostree commit --tree=dir', async () => {
    const ours = await repo.withTransaction((t) => t.writeCommit({ root: { directories: [{ source: src }] }, subject: 's', timestamp: TS_SECS }));
    expect(ours).toBe(await cliCommit());
  });

  it('modifier options match their ostree commit flags', async () => {
    const canon = await repo.withTransaction((t) => t.writeCommit({
      root: { directories: [{ source: src }], modifier: { canonicalPermissions: true } },
      subject: 's',
      timestamp: TS_SECS,
    }));
    expect(canon).toBe(await cliCommit('--canonical-permissions'));
    const owned = await repo.withTransaction((t) => t.writeCommit({
      root: { directories: [{ source: src }], modifier: { uid: 1000, gid: 1001 } },
      subject: 's',
      timestamp: TS_SECS,
    }));
    expect(owned).toBe(await cliCommit('--owner-uid=1000', '--owner-gid=1001'));
    const ls = await ostree(repo, 'ls', owned, '/usr/bin/bash');
    expect(ls).toMatch(/^-00755 1000 1001 +14 \/usr\/bin\/bash/);
    const noXattrs = await repo.withTransaction((t) => t.writeCommit({
      root: { directories: [{ source: src }], modifier: { skipXattrs: true } },
      subject: 's',
      timestamp: TS_SECS,
    }));
    expect(noXattrs).toBe(await cliCommit('--no-xattrs'));
  });

  it('a tree from entries: objects written one by one, checked by ostree ls and fsck', async () => {
    const xattrs: [Buffer, Buffer][] = [[Buffer.from('user.test\0'), Buffer.from('value')]];
    const dirmeta = await repo.withTransaction((t) => t.writeDirMeta({ uid: 0, gid: 0, mode: 0o755, xattrs: [] }));
    const file = await repo.withTransaction((t) => t.writeRegularFile(Buffer.from('hello'), { mode: 0o640, uid: 10, gid: 20, xattrs }));
    const link = await repo.withTransaction((t) => t.writeSymlink('hello.txt'));
    const root = await repo.withTransaction((t) => t.writeTree({
      entries: [
        { path: 'a/b/hello.txt', kind: 'file', checksum: file },
        { path: 'a/b/link', kind: 'file', checksum: link },
        { path: 'empty', kind: 'dir' },
      ],
      parentDirMetadata: dirmeta,
      rootMetadata: dirmeta,
    }));
    const commit = await repo.withTransaction((t) => t.writeCommit({ root, subject: 'entries', timestamp: 0 }));
    await repo.setRefImmediate('entries', commit);
    const ls = (await ostree(repo, 'ls', '-R', '-X', 'entries')).trim().split('\n');
    expect(ls).toEqual([
      'd00755 0 0      0 { @a(ayay) [] } /',
      'd00755 0 0      0 { @a(ayay) [] } /a',
      'd00755 0 0      0 { @a(ayay) [] } /a/b',
      "-00640 10 20      5 { [(b'user.test', [byte 0x76, 0x61, 0x6c, 0x75, 0x65])] } /a/b/hello.txt",
      'l00777 0 0      0 { @a(ayay) [] } /a/b/link -> hello.txt',
      'd00755 0 0      0 { @a(ayay) [] } /empty',
    ]);
    expect(await ostree(repo, 'cat', 'entries', '/a/b/hello.txt')).toBe('hello');
    await fsckClean(repo);
  });

  it('a directory can land below the root, parents getting parentDirMetadata', async () => {
    const dirmeta = await repo.withTransaction((t) => t.writeDirMeta({ uid: 0, gid: 0, mode: 0o700, xattrs: [] }));
    const root = await repo.withTransaction((t) => t.writeTree({
      directories: [{ source: src, destination: 'sysroot/deploy' }],
      parentDirMetadata: dirmeta,
      rootMetadata: dirmeta,
    }));
    const commit = await repo.withTransaction((t) => t.writeCommit({ root, timestamp: 0 }));
    const ls = (await ostree(repo, 'ls', commit, '/sysroot', '/sysroot/deploy/usr/bin/bash')).trim().split('\n');
    expect(ls).toEqual([
      'd00700 0 0      0 /sysroot',
      'd00755 0 0      0 /sysroot/deploy',
      '-00755 0 0     14 /sysroot/deploy/usr/bin/bash',
    ]);
    // the directory itself carries the source directory's metadata, as ostree commit records it
    const cliRoot = await repo.loadCommit(await cliCommit());
    expect((await repo.lookupPath(commit, '/sysroot/deploy'))).toMatchObject({
      contents: cliRoot.rootContents,
      metadata: cliRoot.rootMetadata,
    });
  });

  it('entries edit a base commit (as ostree commit --tree=ref= plus a change)', async () => {
    const baseCommit = await cliCommit();
    const file = await repo.withTransaction((t) => t.writeRegularFile(Buffer.from('bash-v0'), { mode: 0o644 }));
    const edited = await repo.withTransaction((t) => t.writeCommit({
      root: {
        base: { commit: baseCommit },
        entries: [
          { path: 'usr/bin/bash', kind: 'file', checksum: file },
          { path: 'usr/lib/emptyfile', kind: 'remove' },
        ],
      },
      parent: baseCommit,
      timestamp: TS_SECS,
    }));
    expect(await ostree(repo, 'cat', edited, '/usr/bin/bash')).toBe('bash-v0');
    await expect(ostree(repo, 'ls', edited, '/usr/lib/emptyfile')).rejects.toThrow(/No such file/);
    expect((await repo.loadCommit(edited)).parent).toBe(baseCommit);
  });

  it('a tree without root metadata, or an entry with a bad path, is refused', async () => {
    const file = await repo.withTransaction((t) => t.writeRegularFile(Buffer.from('x')));
    await expectError(repo.withTransaction((t) => t.writeTree({ entries: [{ path: 'f', kind: 'file', checksum: file }] })), 'The root directory has no metadata');
    await expect(
      repo.withTransaction((t) => t.writeTree({ entries: [{ path: '../f', kind: 'file', checksum: file }], rootMetadata: file })),
    ).rejects.toThrow("contains '..'");
    await expectError(
      repo.withTransaction((t) => t.writeTree({ entries: [{ path: 'd/f', kind: 'file', checksum: file }], rootMetadata: file })),
      "directory 'd' has no metadata",
    );
  });

  it('an already aborted signal cancels before any work; an abort during a commit cancels it', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(repo.withTransaction((t) => t.writeTree({ directories: [{ source: src }] }, { signal: ac.signal }))).rejects.toThrow('This operation was aborted');
    const big = path.join(tmp, 'many');
    await mkdir(big);
    await Promise.all(Array.from({ length: 2000 }, (_, i) => writeFile(path.join(big, `f${i}`), `file ${i}`)));
    const ac2 = new AbortController();
    await repo.prepareTransaction();
    const p = repo.writeTree({ directories: [{ source: big }] }, { signal: ac2.signal });
    ac2.abort();
    await expectError(p, 'Operation was cancelled', 'CANCELLED');
    await repo.abortTransaction();
    await fsckClean(repo);
  });
});
