// The example OS fixture (spec §7), checked with the ostree CLI as independent reader.
import { mkdtemp, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sizeObjectMeta } from '../../src/container/chunking.js';
import {
  COMMIT_V0, COMMIT_V1, CONTENTS_CHECKSUM_V0, CONTENTS_CHECKSUM_V1, GPG_KEY_ID, TESTREF,
  cliListTree, cliShowCommit, createExampleOs, gpgKeyFile, ostreeCli, type ExampleOs,
} from '../../src/fixture/index.js';

const tmpdirs: string[] = [];
async function tmp(): Promise<string> {
  const d = await mkdtemp('/var/tmp/fxt-');
  tmpdirs.push(d);
  return d;
}
afterAll(async () => {
  await Promise.all(tmpdirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** Object checksums of spec §7.2 (content objects), by path. */
const OBJECTS: Record<string, string> = {
  '/usr/lib/modules/5.10.18-200.x86_64/vmlinuz': 'ced262e850c9be418ca6b6b3f9487c7f75015c3923659ba42eedb731ce47c00e',
  '/usr/lib/modules/5.10.18-200.x86_64/initramfs': '05a3aafe0813726b738ecd75f58f0a045d56d64d8223f69aca1b1492ea66fe2d',
  '/usr/bin/bash': 'c16705f12dc6420d69b2177cc0166882ac8e90e2a6780c6af4e586b97a511a87',
  '/usr/bin/sh': 'f9e7bafc8e5befac0bab3a7083cc4db5e222f928de860e56a1d273c700540ccf',
  '/usr/bin/arping': 'b048a4f451e9fdfaaec911c1fe07d5d1d39be02f932b827c25458d3b15ae589e',
  '/usr/lib/emptyfile': '21270f911f1a1db58379515e0dcfa8309d8904ce278280861db236ea7001346e',
  '/usr/lib64/emptyfile2': '21270f911f1a1db58379515e0dcfa8309d8904ce278280861db236ea7001346e',
  '/usr/bin/hardlink-a': '75535ce3946cbb9a33fe840d37c77ac760276ac13e50fe49b672c6c162024dd5',
  '/usr/bin/hardlink-b': '75535ce3946cbb9a33fe840d37c77ac760276ac13e50fe49b672c6c162024dd5',
  '/usr/etc/someconfig.conf': 'fb5dee24849e4eb59f65484137c5d184a1a4628389efd36c341fa49e58420b81',
  '/usr/etc/polkit.conf': 'f5be74d48c320dd9166a8da54ba3f221e14ef489167ce276dcc2ef2e6f036ecc',
  '/usr/lib/sysimage/pkgdb': '790c7e29372cd7d6c26b67a0c92647c060a6ba5a61e20113034c9affc2d85ae5',
  '/usr/lib/pkgdb/pkgdb': '790c7e29372cd7d6c26b67a0c92647c060a6ba5a61e20113034c9affc2d85ae5',
  '/opt': 'a91bf662a5b2669d1391270c10d916e2135b4cd9b0faa18dccf76f50712e739b',
};
const EMPTY_DIRTREE = '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d';
const DIRMETA_USR_T = '60a960ec9a1b088a76c8e465c0876a4841ab32ea609dcbab76a02aeed0f11839';
const DIRMETA_BOOT_T = '5bbebe8ae267be7f487c284e0f6619d6b77601bd5ab092f591f3408648ed87c0';
const ROOT_DIRTREE = '7cdc830f88e37bc9516624cb275a2998b990ffe4fb15a6fac4c7245b68b1461a';

/** `ostree ls -X PATH` → xattrs decoded from its GVariant text (`[(b'name', [byte 0x.., …]), …]`). */
async function xattrsOf(repo: string, rev: string, p: string): Promise<[string, string][]> {
  const out = await ostreeCli(repo, ['ls', '-X', '-d', rev, p]);
  return [...out.matchAll(/\(b'([^']*)', \[(?:byte )?([^\]]*)\]\)/g)].map(([, name, bytes]) => [
    name!,
    Buffer.from(bytes!.split(', ').map((b) => parseInt(b, 16))).toString(),
  ]);
}

/** Adds a URL-less remote (gpg-verify, custom backend) as upstream's tests do, importing `keyFile`. */
async function addVerifyingRemote(repo: string, name: string, keyFile: string): Promise<void> {
  const group = `--group=remote "${name}"`;
  await ostreeCli(repo, ['config', group, 'set', 'gpg-verify', 'true']);
  await ostreeCli(repo, ['config', group, 'set', 'custom-backend', 'ostree-rs-ext']);
  await ostreeCli(repo, ['remote', 'gpg-import', '--stdin', name], { input: readFileSync(keyFile) });
}

// Both builders — in-process (default) and `ostree commit --tree=tar=` — must give the same repository.
describe.each(['binding', 'ostree-cli'] as const)('example OS v0 (archive, signed) built by %s', (builder) => {
  let dir: string;
  let fx: ExampleOs;
  beforeAll(async () => {
    dir = await tmp();
    fx = await createExampleOs({ dir, builder });
  });

  it('has the upstream commit and content checksums, ref and layout', async () => {
    expect(fx.commit).toBe(COMMIT_V0);
    expect(fx.ref).toBe(TESTREF);
    expect(fx.repoPath).toBe(path.join(dir, 'src/repo'));
    expect(fx.gpgHome).toBe(path.join(dir, 'src/gpghome'));
    expect(fx.keyId).toBe(GPG_KEY_ID);
    expect(fx.builder).toBe(builder);
    expect(await fx.repo.contentChecksum(TESTREF)).toBe(CONTENTS_CHECKSUM_V0);
    expect((await ostreeCli(fx.repoPath, ['rev-parse', TESTREF])).trim()).toBe(COMMIT_V0);
    expect(await cliShowCommit(fx.repoPath, TESTREF)).toEqual({ contentChecksum: CONTENTS_CHECKSUM_V0, version: '42.0' });
    expect(readFileSync(path.join(fx.repoPath, 'config'), 'utf8')).toMatch(/^mode=archive-z2$/m);
  });

  it('passes ostree fsck', async () => {
    await ostreeCli(fx.repoPath, ['fsck']);
  });

  it('has the commit metadata of spec §7.3 in order, timestamp and no parent', async () => {
    const meta = await ostreeCli(fx.repoPath, ['show', '--raw', COMMIT_V0]);
    expect(meta).toContain(
      "{'buildsys.checksum': <'41af286dc0b172ed2f1ca934fd2278de4a1192302ffa07087cea2682e7d372e3'>, " +
        "'ostree.container-cmd': <['/usr/bin/bash']>, 'version': <'42.0'>, 'ostree.bootable': <true>}",
    );
    expect(fx.timestamp).toBe(872879442);
    await expect(ostreeCli(fx.repoPath, ['rev-parse', `${COMMIT_V0}^`])).rejects.toThrow(/has no parent/);
  });

  it('has every object, dirtree and dirmeta checksum of spec §7.2', async () => {
    const listed = await cliListTree(fx.repoPath, COMMIT_V0);
    const objects = Object.fromEntries(listed.filter((e) => e.kind !== 'dir').map((e) => [e.path, e.checksum]));
    expect(objects).toEqual(OBJECTS);
    const dirs = new Map(listed.filter((e) => e.kind === 'dir').map((e) => [e.path, e]));
    expect(dirs.get('/')).toMatchObject({ checksum: ROOT_DIRTREE, metaChecksum: DIRMETA_USR_T });
    expect(dirs.get('/boot')).toMatchObject({ checksum: EMPTY_DIRTREE, metaChecksum: DIRMETA_BOOT_T });
    for (const d of ['/run', '/tmp']) expect(dirs.get(d)).toMatchObject({ checksum: EMPTY_DIRTREE, metaChecksum: DIRMETA_USR_T, mode: 0o755 });
    for (const [p, d] of dirs) if (p !== '/boot') expect(d.metaChecksum, p).toBe(DIRMETA_USR_T);
    const modes = Object.fromEntries(listed.map((e) => [e.path, [e.mode.toString(8), e.uid, e.gid]]));
    expect(modes['/usr/bin/bash']).toEqual(['755', 0, 0]);
    expect(modes['/usr/bin/arping']).toEqual(['755', 0, 0]);
    expect(modes['/usr/etc/polkit.conf']).toEqual(['644', 0, 0]); // 10/10 requested, files are always 0/0
    expect(modes['/usr/bin/sh']).toEqual(['777', 0, 0]);
    expect(listed.find((e) => e.path === '/opt')?.target).toBe('var/opt');
  });

  it('shows the xattrs of spec §7.2 with ostree ls -X', async () => {
    const usr = 'system_u:object_r:usr_t:s0';
    expect(await xattrsOf(fx.repoPath, COMMIT_V0, '/usr/bin/arping')).toEqual([
      ['security.capability', '0sAAAAAgAgAAAAAAAAAAAAAAAAAAA='],
      ['security.selinux', usr],
    ]);
    for (const p of ['/', '/usr/bin/bash', '/usr/bin/sh', '/opt', '/tmp', '/usr/etc/polkit.conf']) {
      expect(await xattrsOf(fx.repoPath, COMMIT_V0, p), p).toEqual([['security.selinux', usr]]);
    }
    expect(await xattrsOf(fx.repoPath, COMMIT_V0, '/boot')).toEqual([['security.selinux', 'system_u:object_r:boot_t:s0']]);
  });

  it('carries the detached metadata', async () => {
    const out = await ostreeCli(fx.repoPath, ['show', '--print-detached-metadata-key=my-detached-key', TESTREF]);
    expect(out.trim()).toBe("'my-detached-value'");
  });

  it('is GPG-signed by key1: verifies through a remote with key1 imported, not with key2', async () => {
    await addVerifyingRemote(fx.repoPath, 'myremote', gpgKeyFile(fx.gpgHome));
    const shown = await ostreeCli(fx.repoPath, ['show', '--gpg-verify-remote=myremote', TESTREF]);
    expect(shown).toMatch(/using RSA key ID 7FCA23D8472CDAFA\n\s*Good signature from "Ostree Tester <test@test.com>"/);

    // A pull that requires a signature: dest/repo (bare-user), as upstream's tests set it up.
    const dest = path.join(dir, 'dest/repo');
    await mkdir(dest, { recursive: true });
    await ostreeCli(dest, ['init', '--mode=bare-user']);
    await addVerifyingRemote(dest, 'myremote', gpgKeyFile(fx.gpgHome));
    await addVerifyingRemote(dest, 'otherkey', path.join(fx.gpgHome, 'key2.asc'));
    await expect(ostreeCli(dest, ['pull-local', '--remote=otherkey', '--gpg-verify', fx.repoPath, TESTREF])).rejects.toThrow(
      /public key not found/,
    );
    await ostreeCli(dest, ['pull-local', '--remote=myremote', '--gpg-verify', fx.repoPath, TESTREF]);
    expect((await ostreeCli(dest, ['rev-parse', `myremote:${TESTREF}`])).trim()).toBe(COMMIT_V0);
  });

  it('leaves no gpg-agent running for its GPG home', async () => {
    expect((await readdir(fx.gpgHome)).filter((n) => n.startsWith('S.'))).toEqual([]);
  });

  it('maps content objects to owners (spec §7.5) with the upstream sizes', async () => {
    const meta = await fx.getObjectMeta();
    expect([...meta.set.keys()].sort()).toEqual(
      ['a-polkit-config', 'arping', 'bash', 'filesystem', 'initramfs', 'kernel', 'pkgdb', 'someconfig', 'testlink'],
    );
    for (const [id, c] of meta.set) {
      expect(c).toEqual({ identifier: id, name: id, srcid: id, change_time_offset: 4294967295, change_frequency: 4294967295 });
    }
    expect(meta.map.size).toBe(11);
    expect(meta.map.get(OBJECTS['/usr/lib/emptyfile']!)).toBe('bash');
    expect(meta.map.get(OBJECTS['/usr/bin/sh']!)).toBe('bash');
    expect(meta.map.get(OBJECTS['/opt']!)).toBe('filesystem');
    const sizes = new Map((await cliListTree(fx.repoPath, fx.commit)).map((e) => [e.checksum, e.kind === 'symlink' ? 0 : e.size]));
    const sized = sizeObjectMeta(meta, (c) => sizes.get(c)!);
    expect(sized.sizes.map((s) => [s.identifier, s.size])).toEqual([
      ['pkgdb', 21], ['initramfs', 20], ['kernel', 16], ['a-polkit-config', 15], ['bash', 14],
      ['arping', 13], ['someconfig', 10], ['testlink', 8], ['filesystem', 0],
    ]);
  });

  it('update() commits v1 on top: new bash, parent v0, one day later, signed', async () => {
    expect(await fx.update()).toBe(COMMIT_V1);
    expect(fx.commit).toBe(COMMIT_V1);
    expect(fx.timestamp).toBe(872879442 + 86400);
    expect((await ostreeCli(fx.repoPath, ['rev-parse', TESTREF])).trim()).toBe(COMMIT_V1);
    expect((await ostreeCli(fx.repoPath, ['rev-parse', `${TESTREF}^`])).trim()).toBe(COMMIT_V0);
    expect((await cliShowCommit(fx.repoPath, TESTREF)).contentChecksum).toBe(CONTENTS_CHECKSUM_V1);
    const bash = (await cliListTree(fx.repoPath, TESTREF)).find((e) => e.path === '/usr/bin/bash');
    expect(bash).toMatchObject({ checksum: 'e453385c89e3701eb880a83842c4203f9089594593d414bf91cf63e22d39ef62', mode: 0o644 });
    expect((await ostreeCli(fx.repoPath, ['cat', TESTREF, '/usr/bin/bash']))).toBe('bash-v0');
    const shown = await ostreeCli(fx.repoPath, ['show', '--gpg-verify-remote=myremote', TESTREF]);
    expect(shown).toContain('Good signature from "Ostree Tester <test@test.com>"');
    expect((await fx.getObjectMeta()).map.get('e453385c89e3701eb880a83842c4203f9089594593d414bf91cf63e22d39ef62')).toBe('bash');
    await ostreeCli(fx.repoPath, ['fsck']);
  });
});

describe('example OS options', () => {
  it('update: true, unsigned, into a bare-user repo elsewhere', async () => {
    const dir = await tmp();
    const repo = path.join(dir, 'elsewhere');
    const fx = await createExampleOs({ dir, repo, mode: 'bare-user', signed: false, update: true });
    expect(fx.repoPath).toBe(repo);
    expect(fx.commit).toBe(COMMIT_V1);
    expect(readFileSync(path.join(repo, 'config'), 'utf8')).toMatch(/^mode=bare-user$/m);
    const sigs = ostreeCli(repo, ['show', '--print-detached-metadata-key=ostree.gpgsigs', TESTREF]);
    await expect(sigs).rejects.toThrow(/No such metadata key 'ostree.gpgsigs'/);
    await expect(readdir(path.join(dir, 'src'))).rejects.toThrow(/ENOENT/); // no GPG home when unsigned
    await ostreeCli(repo, ['fsck']);
  });

  it('unbootable: same content, other commit, no ostree.bootable; rebuilding an existing repo is idempotent', async () => {
    const dir = await tmp();
    const fx = await createExampleOs({ dir, bootable: false, signed: false });
    expect(fx.commit).not.toBe(COMMIT_V0);
    expect((await cliShowCommit(fx.repoPath, TESTREF)).contentChecksum).toBe(CONTENTS_CHECKSUM_V0);
    expect(await ostreeCli(fx.repoPath, ['show', '--raw', TESTREF])).not.toContain('ostree.bootable');
    const again = await createExampleOs({ dir, signed: false });
    expect(again.commit).toBe(COMMIT_V0);
    expect((await ostreeCli(fx.repoPath, ['rev-parse', `${TESTREF}`])).trim()).toBe(COMMIT_V0);
  });

  it('refuses a repo path that is a file or a non-repository directory, creating nothing', async () => {
    const dir = await tmp();
    const file = path.join(dir, 'file');
    await writeFile(file, 'x');
    await expect(createExampleOs({ dir, repo: file, signed: false })).rejects.toThrow(
      `Cannot use ${file} as a repository: not a directory`,
    );
    const other = path.join(dir, 'other');
    await mkdir(other);
    await writeFile(path.join(other, 'data'), 'x');
    await expect(createExampleOs({ dir, repo: other, signed: false })).rejects.toThrow(
      `Cannot use ${other} as a repository: not an ostree repository and not empty`,
    );
    expect(await readdir(other)).toEqual(['data']);
  });

  it('refuses a work dir too long for gpg-agent sockets, before writing anything', async () => {
    const dir = path.join(await tmp(), 'x'.repeat(90));
    await expect(createExampleOs({ dir })).rejects.toThrow(/is too long for gpg-agent's sockets .* use a shorter directory/);
    await expect(readdir(dir)).rejects.toThrow(/ENOENT/);
  });

  it('a failing update leaves the ref and the fixture state unchanged', async () => {
    const dir = await tmp();
    const fx = await createExampleOs({ dir, signed: false });
    await expect(fx.update('r usr/bin/bash/oops x\n')).rejects.toThrow(/usr\/bin\/bash\/oops: parent usr\/bin\/bash is not a directory/);
    await expect(fx.update('x y\n')).rejects.toThrow('file definitions line 1 ("x y"): unknown kind "x"');
    expect(fx.commit).toBe(COMMIT_V0);
    expect((await ostreeCli(fx.repoPath, ['rev-parse', TESTREF])).trim()).toBe(COMMIT_V0);
    expect(await fx.update()).toBe(COMMIT_V1);
  });
});
