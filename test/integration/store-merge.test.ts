// The merge commit (store spec §2.3 D) over a base commit and derived layers written by the
// derived-layer job; the upstream OCI archives (encapsulated v0 base + a podman layer) end to end.
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ostreeCli } from '../../src/fixture/index.js';
import type { Repo } from '../../src/repo/repo.js';
import { variant } from '../../src/repo/variant.js';
import { importDerivedLayer } from '../../src/store/derived.js';
import { writeMergeCommit, type MergeOptions } from '../../src/store/merge.js';
import { importTar } from '../../src/tar/import.js';
import { catFile, cliRepo, fixture, listCommit, repoTmpLeftovers, TAR, tempFile, VERSION } from './store-util.js';
import { type LayerEntry, layerTar } from '../helpers/tar.js';
import { cleanupTmp, fsck, repoSnapshot, tmpdir } from './tar-util.js';

afterAll(cleanupTmp);


/** A base commit made by the ostree CLI from a directory. */
async function baseCommit(repoPath: string): Promise<string> {
  const d = path.join(await tmpdir('store-base-'), 'root');
  const files: Record<string, string> = {
    'usr/bin/bash': 'bash',
    'usr/share/gone': 'to be whiteouted',
    'usr/share/kept': 'kept',
    'usr/lib/opaque/a': 'a',
    'usr/lib/opaque/sub/b': 'b',
    'usr/etc/os-release': 'ID=example',
  };
  for (const [p, data] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(d, p)), { recursive: true });
    await writeFile(path.join(d, p), data);
  }
  await symlink('../run/systemd/resolve/stub-resolv.conf', path.join(d, 'usr/etc/resolv.conf'));
  return (await ostreeCli(repoPath, ['commit', `--tree=dir=${d}`, '--owner-uid=0', '--owner-gid=0', '--orphan', '--no-bindings'])).trim();
}

async function layer(repo: Repo, entries: LayerEntry[]): Promise<string> {
  return (await importDerivedLayer(repo, await tempFile(await layerTar(entries)), { mediaType: TAR, importerVersion: VERSION })).commit;
}

async function merge(repo: Repo, opts: MergeOptions): Promise<string> {
  await repo.prepareTransaction();
  try {
    const c = await writeMergeCommit(repo, opts);
    await repo.commitTransaction();
    return c;
  } catch (e) {
    await repo.abortTransaction();
    throw e;
  }
}

const metadata = new Map([
  ['ostree.manifest-digest', variant('s', 'sha256:0123')],
  ['ostree.importer.version', variant('s', VERSION)],
  ['ostree.tar-filtered', variant('a{sa{su}}', new Map([['sha256:ab', new Map([['opt', 2]])]]))],
]);

describe('writeMergeCommit', () => {
  for (const mode of ['bare-user', 'bare'] as const) {
    it(`${mode}: whiteouts, an opaque directory, injected empty files removed, metadata and timestamp`, async () => {
      const { path: rp, repo } = await cliRepo(mode);
      const base = await baseCommit(rp);
      const l1 = await layer(repo, [
        { name: 'usr/share/.wh.gone', data: '' },
        { name: 'usr/lib/opaque/', type: 'directory' },
        { name: 'usr/lib/opaque/.wh..wh..opq', data: '' },
        { name: 'usr/lib/opaque/c', data: 'c' },
        { name: 'usr/bin/new', data: 'new v0', uid: 12, gid: 34 },
        { name: 'etc/hostname', data: '' },
        { name: 'etc/resolv.conf', data: '' },
        { name: 'etc/empty-but-kept', data: '' },
      ]);
      const ts = 873_307_842;
      const c = await merge(repo, { base, layers: [l1], metadata, timestamp: ts });
      const ls = await listCommit(rp, c);
      expect(ls.has('/usr/share/gone')).toBe(false);
      expect(ls.has('/usr/share/.wh.gone')).toBe(false);
      expect(await catFile(rp, c, '/usr/share/kept')).toBe('kept');
      expect(ls.has('/usr/lib/opaque/a')).toBe(false);
      expect(ls.has('/usr/lib/opaque/sub')).toBe(false);
      expect(ls.has('/usr/lib/opaque/.wh..wh..opq')).toBe(false);
      expect(await catFile(rp, c, '/usr/lib/opaque/c')).toBe('c');
      expect(await catFile(rp, c, '/usr/bin/new')).toBe('new v0');
      expect(ls.get('/usr/bin/new')).toMatch(/^-00644 12 34 /);
      expect(await catFile(rp, c, '/usr/bin/bash')).toBe('bash');
      // Zero-length hostname and resolv.conf injected by builds go; other empty files stay.
      expect(ls.has('/usr/etc/hostname')).toBe(false);
      expect(ls.has('/usr/etc/resolv.conf')).toBe(false);
      expect(ls.has('/usr/etc/empty-but-kept')).toBe(true);
      const info = await repo.loadCommit(c);
      expect(info.timestamp).toBe(ts);
      expect(info.parent).toBe(base); // as upstream: the base is one lookup away
      expect(info.subject).toBe('');
      expect(info.body).toBe('');
      expect(info.metadata).toEqual(metadata);
      // No ref is written by the merge itself.
      expect([...(await repo.listRefs()).keys()]).toEqual([]);
      expect(await repoTmpLeftovers(rp)).toEqual([]);

      // A second layer: a non-empty hostname and a symlinked resolv.conf are kept; later layers win.
      const l2 = await layer(repo, [
        { name: 'usr/etc/hostname', data: 'myhost' },
        { name: 'usr/etc/resolv.conf', type: 'symlink', linkname: '../run/resolv.conf' },
        { name: 'usr/bin/new', data: 'new v1' },
      ]);
      const c2 = await merge(repo, { base, layers: [l1, l2], metadata, timestamp: ts });
      const ls2 = await listCommit(rp, c2);
      expect(await catFile(rp, c2, '/usr/etc/hostname')).toBe('myhost');
      expect(ls2.get('/usr/etc/resolv.conf')).toContain('-> ../run/resolv.conf');
      expect(await catFile(rp, c2, '/usr/bin/new')).toBe('new v1');
      // The base alone keeps its symlinked resolv.conf; the merge is deterministic.
      const c3 = await merge(repo, { base, layers: [], metadata, timestamp: ts });
      expect((await listCommit(rp, c3)).get('/usr/etc/resolv.conf')).toContain('-> ../run/systemd/resolve/stub-resolv.conf');
      expect(await repo.contentChecksum(c3)).toBe(await repo.contentChecksum(base));
      expect(await merge(repo, { base, layers: [l1, l2], metadata, timestamp: ts })).toBe(c2);
      await fsck(rp);
      expect(await repoTmpLeftovers(rp)).toEqual([]);
    });
  }

  it('an abort cancels the merge, given before it starts or while it runs: nothing written, temp dir gone', async () => {
    const { path: rp, repo } = await cliRepo();
    const base = await baseCommit(rp);
    // 1,000 files to check out and commit: the merge runs long after the abort below.
    const big = await layer(repo, Array.from({ length: 1000 }, (_, i) => ({ name: `usr/share/many/d${i % 10}/f${i}`, data: `${i}` })));
    const before = await repoSnapshot(rp);
    await repo.prepareTransaction();
    const ac = new AbortController();
    ac.abort();
    await expect(writeMergeCommit(repo, { base, layers: [big], metadata, timestamp: 1, signal: ac.signal })).rejects.toThrow('This operation was aborted');
    const late = new AbortController();
    const job = writeMergeCommit(repo, { base, layers: [big], metadata, timestamp: 1, signal: late.signal });
    setTimeout(() => late.abort(), 10);
    await expect(job).rejects.toMatchObject({ code: 'CANCELLED', message: expect.stringMatching(/Operation was cancelled$/) });
    await repo.abortTransaction();
    expect(await repoSnapshot(rp)).toEqual(before);
    expect(await repoTmpLeftovers(rp)).toEqual([]);
    await fsck(rp);
  });

  it('a generic image: no base, layers only', async () => {
    const { path: rp, repo } = await cliRepo();
    const l1 = await layer(repo, [{ name: 'usr/bin/a', data: 'a' }, { name: 'usr/bin/b', data: 'b' }]);
    const l2 = await layer(repo, [{ name: 'usr/bin/.wh.a', data: '' }]);
    const c = await merge(repo, { base: null, layers: [l1, l2], metadata: {}, timestamp: 1 });
    const ls = await listCommit(rp, c);
    expect(ls.has('/usr/bin/a')).toBe(false);
    expect(await catFile(rp, c, '/usr/bin/b')).toBe('b');
    expect((await repo.loadCommit(c)).metadata.size).toBe(0);
    expect((await repo.loadCommit(c)).parent).toBeNull(); // no base, no parent
  });

  it('refuses an archive repository up front; a missing layer fails cleanly', async () => {
    const { path: ap, repo: archive } = await cliRepo('archive');
    const base = await baseCommit(ap);
    await expect(merge(archive, { base, layers: [], metadata, timestamp: 1 })).rejects.toThrow(
      /^Cannot write a merge commit into an archive repository/,
    );
    expect(await repoTmpLeftovers(ap)).toEqual([]);

    const { path: rp, repo } = await cliRepo();
    const b = await baseCommit(rp);
    const missing = 'f'.repeat(64);
    await expect(merge(repo, { base: b, layers: [missing], metadata, timestamp: 1 })).rejects.toThrow(`Checking out layer ${missing}`);
    await expect(merge(repo, { base: null, layers: [], metadata, timestamp: 1 })).rejects.toThrow(/Nothing to merge/);
    await expect(writeMergeCommit(repo, { base: b, layers: [], metadata, timestamp: 1 })).rejects.toThrow('writeMergeCommit: no transaction is open');
    expect(await repoTmpLeftovers(rp)).toEqual([]);
    await fsck(rp);
  });
});

describe('upstream OCI archives: encapsulated base (tar format v0) + podman layer', () => {
  for (const [archive, added] of [
    ['exampleos-derive.ociarchive', 'anewfile'],
    ['exampleos-derive-v2.ociarchive', 'anewfile2'],
  ] as const) {
    it(`${archive}: the base imports, the derived layer goes through the job, the merge has both`, async () => {
      const dir = await tmpdir('store-oci-');
      execFileSync('tar', ['xf', fixture(`upstream/${archive}`), '-C', dir]);
      const blob = (d: string) => path.join(dir, 'blobs/sha256', d.replace('sha256:', ''));
      const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8'));
      const manifest = JSON.parse(await readFile(blob(index.manifests[0].digest), 'utf8'));
      const config = JSON.parse(await readFile(blob(manifest.config.digest), 'utf8'));
      const [baseLayer, derivedLayer] = manifest.layers as { digest: string; mediaType: string }[];
      const { path: rp, repo } = await cliRepo();

      // The existing importer reads tar format v0 (objects + xattrs/ blobs + hardlinked checkout).
      const read: number[] = [];
      const base = await importTar(repo, blob(baseLayer!.digest), { mediaType: baseLayer!.mediaType, onProgress: (n) => read.push(n) });
      expect(base.commit).toBe(manifest.annotations['ostree.commit']);
      expect(read.at(-1)).toBe(base.size);
      expect(base.diffId).toBe(config.rootfs.diff_ids[0]);

      const d = await importDerivedLayer(repo, blob(derivedLayer!.digest), {
        mediaType: derivedLayer!.mediaType,
        importerVersion: VERSION,
        base: base.commit,
        selinux: true,
        ref: `ostree/container/blob/${derivedLayer!.digest.replace(':', '_3A_')}`,
      });
      expect(d.digest).toBe(derivedLayer!.digest);
      expect(d.diffId).toBe(config.rootfs.diff_ids[1]);
      expect(d.filtered).toEqual({});

      const c = await merge(repo, { base: base.commit, layers: [d.commit], metadata: {}, timestamp: Date.parse(config.created) / 1000 | 0 });
      const text = await catFile(rp, c, `/usr/share/${added}`);
      expect(text.length).toBeGreaterThan(0);
      expect(await catFile(rp, c, '/usr/bin/bash')).toBe(await catFile(rp, base.commit, '/usr/bin/bash'));
      const baseList = await listCommit(rp, base.commit);
      const mergedList = await listCommit(rp, c);
      for (const p of baseList.keys()) expect(mergedList.has(p), p).toBe(true);
      expect(mergedList.has(`/usr/share/${added}`)).toBe(true);
      await fsck(rp);
      expect(await repoTmpLeftovers(rp)).toEqual([]);
    });
  }
});

describe('SELinux labels (a small file_contexts policy shipped in the trees)', () => {
  const policy = (label: string, type = 'testpol'): LayerEntry[] => [
    { name: 'usr/etc/selinux/config', data: `SELINUX=enforcing\nSELINUXTYPE=${type}\n` },
    { name: `usr/etc/selinux/${type}/contexts/files/file_contexts`, data: `/.*\tsystem_u:object_r:default_t:s0\n/usr/bin(/.*)?\tsystem_u:object_r:${label}:s0\n` },
    { name: `usr/etc/selinux/${type}/policy/policy.33`, data: 'not a real policy: only its checksum is read' },
  ];
  const labelOf = async (rp: string, rev: string, p: string) => {
    const out = await ostreeCli(rp, ['ls', '-X', rev, p]);
    return /object_r:(\w+):s0/.exec(out)?.[1] ?? null;
  };

  it('derived layers are labelled by the base policy; the merge by the merged policy, or the base without layers', async () => {
    const { path: rp, repo } = await cliRepo();
    const base = await layer(repo, [...policy('bin_t'), { name: 'usr/bin/basetool', data: 'b' }]);
    expect(await labelOf(rp, base, '/usr/bin/basetool')).toBeNull(); // imported without a policy
    const labelled = await importDerivedLayer(repo, await tempFile(await layerTar([{ name: 'usr/bin/new', data: 'n' }])), {
      mediaType: TAR,
      importerVersion: VERSION,
      base,
      selinux: true,
    });
    expect(await labelOf(rp, labelled.commit, '/usr/bin/new')).toBe('bin_t');
    expect(await labelOf(rp, labelled.commit, '/usr')).toBe('default_t');

    // No derived layers: labels from the base commit's policy.
    const plain = await merge(repo, { base, layers: [], metadata, timestamp: 1 });
    expect(await labelOf(rp, plain, '/usr/bin/basetool')).toBe('bin_t');
    // A derived layer replacing the policy: the merged tree's policy labels everything.
    const newPolicy = await layer(repo, policy('cockpit_unit_file_t'));
    const merged = await merge(repo, { base, layers: [labelled.commit, newPolicy], metadata, timestamp: 1 });
    expect(await labelOf(rp, merged, '/usr/bin/basetool')).toBe('cockpit_unit_file_t');
    expect(await labelOf(rp, merged, '/usr/bin/new')).toBe('cockpit_unit_file_t');
    expect(await repoTmpLeftovers(rp)).toEqual([]);
  });

  it('policies that crash libostree (policy.0, SELINUX without SELINUXTYPE) are clear errors', async () => {
    const { path: rp, repo } = await cliRepo();
    const base = await layer(repo, [{ name: 'usr/bin/x', data: 'x' }]);
    const zero = await layer(repo, [...policy('bin_t').slice(0, 2), { name: 'usr/etc/selinux/testpol/policy/policy.0', data: '' }]);
    await expect(merge(repo, { base, layers: [zero], metadata, timestamp: 1 })).rejects.toThrow('Invalid SELinux policy file name: policy.0');
    const huge = await layer(repo, [...policy('bin_t').slice(0, 2), { name: 'usr/etc/selinux/testpol/policy/policy.4294967296', data: '' }]);
    await expect(merge(repo, { base, layers: [huge], metadata, timestamp: 1 })).rejects.toThrow('Invalid SELinux policy file name');
    const untyped = await layer(repo, [{ name: 'usr/etc/selinux/config', data: 'SELINUX=permissive\n' }]);
    await expect(merge(repo, { base, layers: [untyped], metadata, timestamp: 1 })).rejects.toThrow('SELINUXTYPE is missing');
    const escape = await layer(repo, [{ name: 'usr/etc/selinux/config', data: 'SELINUX=enforcing\nSELINUXTYPE=../../../../etc/selinux/default\n' }]);
    await expect(merge(repo, { base, layers: [escape], metadata, timestamp: 1 })).rejects.toThrow('Invalid SELinux configuration: SELINUXTYPE=');
    // And Repo.writeTree's modifier.sepolicyFromCommit (it used libostree's loader directly).
    const dir = path.join(await tmpdir('store-se-'), 'tree');
    await mkdir(path.join(dir, 'usr/bin'), { recursive: true });
    await writeFile(path.join(dir, 'usr/bin/z'), 'z');
    const good = await layer(repo, policy('bin_t'));
    await repo.prepareTransaction();
    await expect(repo.writeTree({ directories: [{ source: dir }], modifier: { sepolicyFromCommit: zero } })).rejects.toThrow(
      'setting sepolicy from commit: Invalid SELinux policy file name: policy.0',
    );
    const tree = await repo.writeTree({ directories: [{ source: dir }], modifier: { sepolicyFromCommit: good } });
    const c = await repo.writeCommit({ root: tree });
    await repo.commitTransaction();
    expect(await labelOf(rp, c, '/usr/bin/z')).toBe('bin_t');
    // The same checks guard a derived layer labelled from such a base.
    await expect(
      importDerivedLayer(repo, await tempFile(await layerTar([{ name: 'usr/bin/y', data: 'y' }])), { mediaType: TAR, importerVersion: VERSION, base: zero, selinux: true }),
    ).rejects.toThrow('tar: Preparing sepolicy: Invalid SELinux policy file name: policy.0');
    expect(await repoTmpLeftovers(rp)).toEqual([]);
    await fsck(rp);
  });
});
