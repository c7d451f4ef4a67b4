// The build-side verbs of upstream's CLI. `container commit` runs as the built CLI chrooted into a
// scratch root inside a private mount namespace (root, `unshare --mount`; the host's /usr, /etc
// and the checkout are bound read-only), so its cleanup of /run, /tmp, /var/tmp and /var/cache
// meets real mounts and never touches the host. `ima-sign` signs the example OS with a key made
// by openssl; the signatures are read back with `ostree ls -X` and checked by `evmctl ima_verify`.
import { execFile, spawn } from 'node:child_process';
import { lstat, mkdir, readFile, readlink, realpath, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imaSign } from '../../src/build/ima.js';
import { prepareOstreeCommitIn } from '../../src/build/container-commit.js';
import { ostreeCli, type ExampleOs } from '../../src/fixture/index.js';
import { packageRoot } from '../../src/native.js';
import { Repo } from '../../src/repo/repo.js';
import { runCli } from '../helpers/cli.js';
import { cleanupTmp, exampleOs, tmpdir } from './encapsulate-util.js';
import { fsck } from './tar-util.js';

const execFileP = promisify(execFile);
const CLI = path.join(packageRoot, 'lib/cli/main.js');

/** Files and directories below `root`, relative, sorted (directories end in `/`). */
async function tree(root: string): Promise<string[]> {
  const { stdout } = await execFileP('find', ['.', '-mindepth', '1', '(', '-type', 'd', '-printf', '%P/\\n', ')', '-o', '-printf', '%P\\n'], { cwd: root });
  return stdout.split('\n').filter(Boolean).sort();
}

async function populate(root: string, files: string[]): Promise<void> {
  for (const f of files) {
    const p = path.join(root, f);
    if (f.endsWith('/')) await mkdir(p, { recursive: true });
    else {
      await mkdir(path.dirname(p), { recursive: true });
      await writeFile(p, f);
    }
  }
}

afterAll(cleanupTmp);

describe('prepareOstreeCommitIn (the cleanup of container commit)', () => {
  it('empties /run, /tmp, /var/tmp and /var/cache and nothing else (upstream commit::tests::commit)', async () => {
    const root = await tmpdir('commit-root-');
    await prepareOstreeCommitIn(root); // nothing to clean
    await populate(root, ['var/tmp/foo/bar/a', 'var/tmp/foo/bar/b', 'run/systemd/resolv.conf', 'tmp/', 'var/cache/dnf/x', 'var/foo', 'var/lib/nested/foo', 'var/lib/nested/foo2', 'etc/keep']);
    await symlink('/etc', path.join(root, 'tmp/etc-link'));
    await prepareOstreeCommitIn(root);
    expect(await tree(root)).toEqual(['etc/', 'etc/keep', 'run/', 'tmp/', 'var/', 'var/cache/', 'var/foo', 'var/lib/', 'var/lib/nested/', 'var/lib/nested/foo', 'var/lib/nested/foo2', 'var/tmp/']);
    // /var/tmp absent: nothing created
    const bare = await tmpdir('commit-root-');
    await populate(bare, ['var/foo']);
    await prepareOstreeCommitIn(bare);
    expect(await tree(bare)).toEqual(['var/', 'var/foo']);
  });
});

/**
 * Runs `script` with `sh -c` in a private mount namespace; `$R` is a scratch root holding the
 * host's /usr, /etc (read-only binds), the merged-/usr links and the checkout, ready for `chroot`.
 */
async function inNamespace(root: string, script: string): Promise<{ code: number; stdout: string; stderr: string; binds: string[] }> {
  const binds: string[] = [];
  for (const d of ['usr', 'etc', 'lib', 'lib64', 'bin', 'sbin']) {
    const st = await lstat(`/${d}`).catch(() => null);
    if (st?.isSymbolicLink()) await symlink(await readlink(`/${d}`), path.join(root, d));
    else if (st?.isDirectory()) binds.push(`/${d}`);
  }
  binds.push(packageRoot);
  // Node itself, when it is not under one of those.
  const nodePrefix = path.dirname(path.dirname(await realpath(process.execPath)));
  if (!binds.some((b) => nodePrefix === b || nodePrefix.startsWith(`${b}/`))) binds.push(nodePrefix);
  const mounts = binds.map((b) => `mkdir -p "$R${b}" && mount -o bind,ro "${b}" "$R${b}"`).join('\n');
  const child = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', `set -e\n${mounts}\nmount -t proc proc "$R/proc"\n${script}`], {
    env: { ...process.env, R: root, NODE: process.execPath, CLI },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', (e) => reject(new Error(`unshare: ${e.message} (util-linux; the test needs root)`)));
    child.on('close', (c) => resolve(c ?? -1));
  });
  return { code, stdout, stderr, binds };
}

describe('container commit, chrooted into a container-like root', () => {
  it('refuses outside an ostree container; inside, empties the four directories but for mounts and other filesystems', async () => {
    const root = await tmpdir('commit-chroot-');
    const r = path.join(root, 'root');
    await populate(r, [
      'proc/', 'sysroot/ostree/repo/', 'run/systemd/resolv.conf', 'run/secrets/', 'tmp/a/b/c', 'var/tmp/foo/bar', 'var/tmp/nested/mnt/',
      'var/cache/dnf/x', 'var/lib/keep', 'var/log/keep',
    ]);
    await symlink('/usr/bin', path.join(r, 'tmp/usr-bin-link'));
    await writeFile(path.join(root, 'containerenv'), 'engine="podman"\n');
    const config = path.join(r, 'sysroot/ostree/repo/config');
    await writeFile(config, '[core]\nrepo_version=1\nmode=bare\n');
    const before = await tree(r);
    const commit = (env: string) => `chroot "$R" /usr/bin/env -i PATH=/usr/bin ${env} "$NODE" "$CLI" container commit; echo "rc=$?"`;
    const res = await inNamespace(r, `
set +e
${commit('container=oci')}
sed -i 's/^mode=bare$/mode=bare-split-xattrs/' "$R/sysroot/ostree/repo/config"
${commit('INVOCATION_ID=1')}
test -f "$R/var/tmp/foo/bar" && test -f "$R/run/systemd/resolv.conf" && echo intact
mount -t tmpfs tmpfs "$R/run/secrets" && echo secret > "$R/run/secrets/token"
mount -t tmpfs tmpfs "$R/var/tmp/nested/mnt" && echo kept > "$R/var/tmp/nested/mnt/file"
: > "$R/run/.containerenv" && mount -o bind,ro "$R/../containerenv" "$R/run/.containerenv"
${commit('')}
cat "$R/run/secrets/token" "$R/var/tmp/nested/mnt/file" "$R/run/.containerenv"
umount "$R/run/secrets" "$R/var/tmp/nested/mnt" "$R/run/.containerenv"
`);
    // Outside a container (a plain repo mode; under systemd without container evidence): refused.
    const refused = 'error: Not in an ostree-based container environment\n';
    expect(res.stderr).toBe(refused + refused);
    expect(res.stdout).toBe('rc=1\nrc=1\nintact\nrc=0\nsecret\nkept\nengine="podman"\n');
    expect(before).toContain('var/tmp/foo/bar');
    // Only what was mounted (and the directories holding a mount) is left of the four: ours, and the
    // mount points of the binds (a checkout or node under /tmp or /var is one of them).
    const bindDirs = res.binds.flatMap((b) => b.split('/').slice(1).map((_, i, parts) => `${parts.slice(0, i + 1).join('/')}/`));
    const kept = [
      'proc/', 'run/', 'run/.containerenv', 'run/secrets/', 'sysroot/', 'sysroot/ostree/', 'sysroot/ostree/repo/', 'sysroot/ostree/repo/config',
      'tmp/', 'var/', 'var/cache/', 'var/lib/', 'var/lib/keep', 'var/log/', 'var/log/keep', 'var/tmp/', 'var/tmp/nested/', 'var/tmp/nested/mnt/',
    ];
    const fourAndMore = /^(proc|run|sysroot|tmp|var)\//;
    expect((await tree(r)).filter((p) => fourAndMore.test(p))).toEqual([...new Set([...kept, ...bindDirs.filter((d) => fourAndMore.test(d))])].sort());
  }, 120_000);
});

describe('ima-sign', () => {
  let fx: ExampleOs;
  let keys: string;
  beforeAll(async () => {
    ({ fx } = await exampleOs());
    keys = await tmpdir('ima-keys-');
    // upstream's integration test key (integrationtest.rs test_ima)
    await writeFile(
      path.join(keys, 'genkey.config'),
      '[ req ]\ndefault_bits = 3048\ndistinguished_name = req_distinguished_name\nprompt = no\nstring_mask = utf8only\nx509_extensions = myexts\n' +
        '[ req_distinguished_name ]\nO = Test\nCN = Test key\nemailAddress = example@example.com\n' +
        '[ myexts ]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n',
    );
    for (const k of ['a', 'b']) {
      await execFileP('openssl', ['req', '-new', '-nodes', '-utf8', '-sha256', '-days', '36500', '-batch', '-x509', '-config', 'genkey.config', '-outform', 'DER', '-out', `${k}.der`, '-keyout', `${k}.pem`], { cwd: keys });
    }
  });

  /** `security.ima` of `file` in `rev` as `ostree ls -X` prints it, or null. */
  async function imaOf(rev: string, file: string): Promise<Buffer | null> {
    const out = await ostreeCli(fx.repoPath, ['ls', '-X', rev, file]);
    const m = /\(b'security\.ima', \[(?:byte )?([^\]]*)\]\)/.exec(out);
    return m ? Buffer.from(m[1]!.split(', ').map((x) => parseInt(x, 16))) : null;
  }

  /** `evmctl ima_verify` of `file`'s content in `rev` against its signature and certificate `cert`. */
  async function verify(rev: string, file: string, cert: string, tamper = false): Promise<string> {
    const dir = await tmpdir('ima-verify-');
    const f = path.join(dir, path.basename(file));
    const content = Buffer.from(await ostreeCli(fx.repoPath, ['cat', rev, file]), 'latin1');
    await writeFile(f, tamper ? Buffer.concat([content, Buffer.from('x')]) : content);
    await writeFile(`${f}.sig`, (await imaOf(rev, file))!);
    const r = await execFileP('evmctl', ['ima_verify', '--sigfile', '--key', path.join(keys, `${cert}.der`), f]).catch((e: { stdout: string; stderr: string }) => e);
    return `${r.stdout}${r.stderr}`;
  }

  it('signs every regular file of a commit, keeping its other xattrs and the commit metadata', async () => {
    const r = await runCli('ima-sign', '--repo', fx.repoPath, fx.ref, 'signed', 'sha256', path.join(keys, 'a.pem'));
    expect(r.stderr).toBe('');
    const signed = (await ostreeCli(fx.repoPath, ['rev-parse', 'signed'])).trim();
    expect(r).toEqual({ code: 0, stdout: `signed => ${signed}\n`, stderr: '' });
    for (const f of ['/usr/bin/bash', '/usr/bin/arping', '/usr/lib/pkgdb/pkgdb', '/usr/etc/someconfig.conf']) {
      const sig = await imaOf('signed', f);
      expect(sig?.subarray(0, 2), f).toEqual(Buffer.from([0x03, 0x02])); // EVM_IMA_XATTR_DIGSIG, signature v2
      expect(await verify('signed', f, 'a')).toMatch(/verification is OK/);
    }
    expect(await verify('signed', '/usr/bin/bash', 'a', true)).toMatch(/verification failed/);
    expect(await verify('signed', '/usr/bin/bash', 'b')).not.toMatch(/verification is OK/);
    // Symlinks are not signed; other xattrs stay.
    expect(await imaOf('signed', '/usr/bin/sh')).toBeNull();
    expect(await ostreeCli(fx.repoPath, ['ls', '-X', 'signed', '/usr/bin/arping'])).toMatch(/security\.capability.*security\.ima.*security\.selinux/);
    const repo = await Repo.open(fx.repoPath);
    const [src, out] = [await repo.loadCommit(fx.commit), await repo.loadCommit(signed)];
    const same = (c: typeof src) => ({ ...c, checksum: '', rootContents: '', contentChecksum: '' });
    expect(same(out)).toEqual(same(src));
    expect(out.rootContents).not.toBe(src.rootContents);
    expect(await fsck(fx.repoPath)).toMatch(/no errors found/);

    // Signed files are kept unless --overwrite; signatures do not depend on the run.
    const again = await repo.withTransaction(() => imaSign(repo, 'signed', { algorithm: 'sha256', key: path.join(keys, 'b.pem') }));
    expect(again).toBe(signed);
    const over = await runCli('ima-sign', '--repo', fx.repoPath, 'signed', 'resigned', 'sha256', path.join(keys, 'b.pem'), '--overwrite');
    expect(over.code).toBe(0);
    expect(await verify('resigned', '/usr/bin/bash', 'b')).toMatch(/verification is OK/);
    expect((await repo.withTransaction(() => imaSign(repo, fx.ref, { algorithm: 'sha256', key: path.join(keys, 'a.pem') })))).toBe(signed);
  }, 120_000);

  it('a failing evmctl or none at all is an error, and no ref is written', async () => {
    const bad = await runCli('ima-sign', '--repo', fx.repoPath, fx.ref, 'bad', 'sha256', path.join(keys, 'missing.pem'));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: Mapping exampleos\/x86_64\/stable: Content object [0-9a-f]{64}: IMA signing object: evmctl failed: exit status: \d+\n/);
    const path0 = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      const none = await runCli('ima-sign', '--repo', fx.repoPath, fx.ref, 'bad', 'sha256', path.join(keys, 'a.pem'));
      expect(none.stderr).toMatch(
        /^error: Mapping exampleos\/x86_64\/stable: Content object [0-9a-f]{64}: IMA signing object: Spawning evmctl: evmctl is not installed: apt-get install ima-evm-utils \(Debian, Ubuntu\) or dnf install ima-evm-utils \(Fedora\)\n$/,
      );
    } finally {
      process.env.PATH = path0;
    }
    expect(await ostreeCli(fx.repoPath, ['refs'])).not.toMatch(/^bad$/m);
    expect(await readFile(path.join(fx.repoPath, 'config'), 'utf8')).toMatch(/mode=archive/);
  }, 60_000);
});
