// ImageProxyConfig → argv, auth defaults, isolation, policy pre-check (spec §5.8, §6).
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { proxyArgs, type ImageProxyConfig } from '../../src/proxy/config.js';
import {
  getGlobalAuthfile,
  mergeDefaultContainerProxyOpts,
  mergeDefaultContainerProxyOptsWithIsolation,
  unprivilegedSubprocess,
} from '../../src/proxy/auth.js';
import { containerPolicyIsDefaultInsecure, policyIsDefaultInsecure, requireSecureContainerPolicy } from '../../src/proxy/policy.js';
import { RawBlobError, formatExitStatus, joinFetch, protocolSatisfies } from '../../src/proxy/image-proxy.js';
import { skopeoCopyArgs } from '../../src/proxy/skopeo-copy.js';

const noEnv = {};

describe('proxyArgs (upstream vectors)', () => {
  const cases: [string, ImageProxyConfig, string[], string[]][] = [
    ['default', {}, ['experimental-image-proxy'], ['--no-creds', '--tls-verify', '--authfile', '--debug']],
    ['authfile', { authfile: '/path/to/authfile' }, ['--authfile', '/path/to/authfile'], []],
    ['decryption key', { decryptionKeys: ['/path/to/decryption_key'] }, ['--decryption-key', '/path/to/decryption_key'], []],
    ['cert dir', { certificateDirectory: '/path/to/certs' }, ['--cert-dir', '/path/to/certs'], []],
    ['insecure', { insecureSkipTlsVerification: true }, ['--tls-verify=false'], []],
    ['auth data', { authData: Buffer.from('{ "auths": {} ') }, ['--authfile', '/proc/self/fd/100'], []],
  ];
  it.each(cases)('%s', (_name, config, contains, absent) => {
    const args = proxyArgs(config, noEnv);
    for (const a of contains) expect(args).toContain(a);
    for (const a of absent) expect(args.some((x) => x.startsWith(a))).toBe(false);
  });

  it('emits every option in upstream order', () => {
    expect(
      proxyArgs({ authAnonymous: true, certificateDirectory: '/c', decryptionKeys: ['k1', 'k2'], insecureSkipTlsVerification: true, debug: true }, noEnv),
    ).toEqual([
      'experimental-image-proxy', '--debug', '--no-creds', '--cert-dir', '/c',
      '--decryption-key', 'k1', '--decryption-key', 'k2', '--tls-verify=false',
    ]);
  });

  it('adds --debug from CONTAINERS_IMAGE_PROXY_DEBUG, and ignores insecure=false', () => {
    expect(proxyArgs({ insecureSkipTlsVerification: false }, { CONTAINERS_IMAGE_PROXY_DEBUG: '' })).toEqual([
      'experimental-image-proxy',
      '--debug',
    ]);
  });

  it('refuses conflicting authentication options', () => {
    for (const c of [
      { authfile: '/a', authAnonymous: true },
      { authfile: '/a', authData: Buffer.from('{}') },
      { authData: Buffer.from('{}'), authAnonymous: true },
    ]) {
      expect(() => proxyArgs(c, noEnv)).toThrow('Conflicting authentication options');
    }
  });
});

describe('getGlobalAuthfile', () => {
  let root: string;
  beforeEach(async () => {
    root = await fsp.mkdtemp(path.join(os.tmpdir(), 'ostree-container-auth-'));
  });
  afterEach(async () => {
    await fsp.rm(root, { recursive: true, force: true });
  });
  const put = async (rel: string, content: string) => {
    await fsp.mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await fsp.writeFile(path.join(root, rel), content);
  };
  const read = async (opts = {}) => {
    const r = await getGlobalAuthfile(root, { uid: 0, ...opts });
    return r && [r.path, r.contents.toString()];
  };

  it('searches /run, /etc, /usr/lib for root', async () => {
    expect(await read()).toBeNull();
    await put('etc/ostree/auth.json', 'etc ostree auth');
    expect(await read()).toEqual(['etc/ostree/auth.json', 'etc ostree auth']);
    await put('usr/lib/ostree/auth.json', 'usrlib ostree auth');
    expect(await read()).toEqual(['etc/ostree/auth.json', 'etc ostree auth']);
    await put('run/ostree/auth.json', 'run ostree auth');
    expect(await read()).toEqual(['run/ostree/auth.json', 'run ostree auth']);
    await fsp.rm(path.join(root, 'run/ostree/auth.json'));
    await fsp.rm(path.join(root, 'etc/ostree/auth.json'));
    expect(await read()).toEqual(['usr/lib/ostree/auth.json', 'usrlib ostree auth']);
  });

  it('resolves relative and absolute symlinks inside the root', async () => {
    await put('etc/containers/auth.json', 'etc containers ostree auth');
    await fsp.mkdir(path.join(root, 'etc/ostree'), { recursive: true });
    await fsp.symlink('../containers/auth.json', path.join(root, 'etc/ostree/auth.json'));
    expect(await read()).toEqual(['etc/ostree/auth.json', 'etc containers ostree auth']);
    await fsp.rm(path.join(root, 'etc/ostree/auth.json'));
    await fsp.symlink('/etc/containers/auth.json', path.join(root, 'etc/ostree/auth.json'));
    expect(await read()).toEqual(['etc/ostree/auth.json', 'etc containers ostree auth']);
    // `..` cannot climb out of the root.
    await fsp.rm(path.join(root, 'etc/ostree/auth.json'));
    await fsp.symlink('../../../../../../etc/containers/auth.json', path.join(root, 'etc/ostree/auth.json'));
    expect(await read()).toEqual(['etc/ostree/auth.json', 'etc containers ostree auth']);
  });

  it('searches the runtime then the config dir for other users', async () => {
    const opts = { uid: 1000, runtimeDir: '/run/user/1000', configDir: '/home/u/.config' };
    await put('etc/ostree/auth.json', 'etc ostree auth');
    expect(await read(opts)).toBeNull();
    await put('run/user/1000/ostree/auth.json', 'usr_runtime_dir ostree auth');
    await put('home/u/.config/ostree/auth.json', 'usr_config_dir ostree auth');
    expect(await read(opts)).toEqual(['run/user/1000/ostree/auth.json', 'usr_runtime_dir ostree auth']);
    await fsp.rm(path.join(root, 'run/user/1000/ostree/auth.json'));
    expect(await read(opts)).toEqual(['home/u/.config/ostree/auth.json', 'usr_config_dir ostree auth']);
  });

  it('follows 40 symlinks and refuses the 41st; skips `.` and empty components of a target', async () => {
    await put('etc/containers/auth.json', 'etc containers ostree auth');
    await fsp.mkdir(path.join(root, 'etc/ostree/sub'), { recursive: true });
    await fsp.mkdir(path.join(root, 'l'));
    const link = async (target: string, rel: string) => {
      await fsp.rm(path.join(root, rel), { force: true });
      await fsp.symlink(target, path.join(root, rel));
    };
    // auth.json, then l/1 … l/39: 40 links.
    await link('/l/1', 'etc/ostree/auth.json');
    for (let i = 1; i < 39; i++) await link(`/l/${i + 1}`, `l/${i}`);
    await link('/etc/containers/auth.json', 'l/39');
    expect(await read()).toEqual(['etc/ostree/auth.json', 'etc containers ostree auth']);
    await link('/l/40', 'l/39');
    await link('/etc/containers/auth.json', 'l/40');
    await expect(read()).rejects.toMatchObject({ message: `Too many levels of symbolic links: ${path.join(root, 'l/40')}`, code: 'ELOOP' });
    // A `.` or an empty component is not a directory to climb back out of with `..`.
    await link('./../containers/auth.json', 'etc/ostree/auth.json');
    expect(await read()).toEqual(['etc/ostree/auth.json', 'etc containers ostree auth']);
    await link('sub//../../containers/auth.json', 'etc/ostree/auth.json');
    expect(await read()).toEqual(['etc/ostree/auth.json', 'etc containers ostree auth']);
  });

  it('takes the directories of other users from XDG_RUNTIME_DIR, XDG_CACHE_HOME, XDG_CONFIG_HOME, else HOME', async () => {
    const names = ['XDG_RUNTIME_DIR', 'XDG_CACHE_HOME', 'XDG_CONFIG_HOME', 'HOME'] as const;
    const saved = names.map((n) => process.env[n]);
    const setEnv = (values: Partial<Record<(typeof names)[number], string>>) => {
      for (const n of names) {
        if (values[n] === undefined) delete process.env[n];
        else process.env[n] = values[n];
      }
    };
    const user = { uid: 1000 };
    try {
      setEnv({ XDG_RUNTIME_DIR: '/xdg-run', XDG_CACHE_HOME: '/xdg-cache', XDG_CONFIG_HOME: '/xdg-config', HOME: '/home/h' });
      await put('xdg-config/ostree/auth.json', 'config');
      expect(await read(user)).toEqual(['xdg-config/ostree/auth.json', 'config']);
      await put('xdg-run/ostree/auth.json', 'runtime');
      expect(await read(user)).toEqual(['xdg-run/ostree/auth.json', 'runtime']);
      setEnv({ XDG_CACHE_HOME: '/xdg-cache', HOME: '/home/h' });
      await put('xdg-cache/ostree/auth.json', 'cache');
      expect(await read(user)).toEqual(['xdg-cache/ostree/auth.json', 'cache']);
      setEnv({ HOME: '/home/h' });
      await put('home/h/.config/ostree/auth.json', 'home config');
      expect(await read(user)).toEqual(['home/h/.config/ostree/auth.json', 'home config']);
      await put('home/h/.cache/ostree/auth.json', 'home cache');
      expect(await read(user)).toEqual(['home/h/.cache/ostree/auth.json', 'home cache']);
    } finally {
      setEnv(Object.fromEntries(names.map((n, i) => [n, saved[i]])));
    }
  });

  it('searches beneath / by default; directories are taken beneath the root, relative or not', async () => {
    await put('ostree/auth.json', 'runtime');
    // The root's host path as the runtime dir, searched beneath the default root `/`.
    const found = await getGlobalAuthfile(undefined, { uid: 1000, runtimeDir: root, configDir: '/nonexistent' });
    expect(found && [found.path, found.contents.toString()]).toEqual([`${root.slice(1)}/ostree/auth.json`, 'runtime']);
    const merged = await mergeDefaultContainerProxyOptsWithIsolation({}, undefined, { lookup: { uid: 1000, runtimeDir: root, configDir: '/nonexistent' } });
    expect(merged.authData?.toString()).toBe('runtime');
    await put('run/user/1000/ostree/auth.json', 'doubled slash');
    expect(await read({ uid: 1000, runtimeDir: '//run/user/1000', configDir: '/nonexistent' })).toEqual(['run/user/1000/ostree/auth.json', 'doubled slash']);
    await put('home/u/.config/ostree/auth.json', 'relative');
    expect(await read({ uid: 1000, runtimeDir: '/nonexistent', configDir: 'home/u/.config' })).toEqual(['home/u/.config/ostree/auth.json', 'relative']);
  });

  it('propagates errors other than a missing file', async () => {
    await fsp.mkdir(path.join(root, 'run/ostree/auth.json'), { recursive: true });
    await put('etc/ostree/auth.json', 'etc ostree auth');
    await expect(read()).rejects.toMatchObject({ code: 'EISDIR' });
    await fsp.rm(path.join(root, 'run/ostree/auth.json'), { recursive: true });
    await fsp.mkdir(path.join(root, 'run/ostree'), { recursive: true });
    await fsp.symlink('auth.json', path.join(root, 'run/ostree/auth.json'));
    await expect(read()).rejects.toMatchObject({ code: 'ELOOP' });
  });
});

describe('mergeDefaultContainerProxyOpts', () => {
  let root: string;
  beforeEach(async () => {
    root = await fsp.mkdtemp(path.join(os.tmpdir(), 'ostree-container-merge-'));
  });
  afterEach(async () => {
    await fsp.rm(root, { recursive: true, force: true });
  });
  const lookup = { uid: 0 };

  it('is idempotent and keeps given auth data (upstream vector)', async () => {
    const config = { authData: Buffer.alloc(0) };
    const once = await mergeDefaultContainerProxyOptsWithIsolation(config, undefined, { root, lookup });
    const twice = await mergeDefaultContainerProxyOptsWithIsolation(once, undefined, { root, lookup });
    for (const c of [once, twice]) {
      expect(c.authAnonymous).toBeFalsy();
      expect(c.authfile).toBeUndefined();
      expect(c.authData).toBeDefined();
      expect(c.skopeoCmd).toBeUndefined();
    }
  });

  it('keeps a given skopeo command even when isolating (upstream vector)', async () => {
    const c = await mergeDefaultContainerProxyOptsWithIsolation({ skopeoCmd: { program: 'skopeo' } }, 'foo', { root, lookup });
    expect(c.skopeoCmd).toEqual({ program: 'skopeo' });
  });

  it('uses the global auth file, else anonymous access', async () => {
    expect(await mergeDefaultContainerProxyOptsWithIsolation({}, undefined, { root, lookup })).toEqual({ authAnonymous: true });
    await fsp.mkdir(path.join(root, 'etc/ostree'), { recursive: true });
    await fsp.writeFile(path.join(root, 'etc/ostree/auth.json'), '{"auths":{}}');
    const c = await mergeDefaultContainerProxyOptsWithIsolation({}, undefined, { root, lookup });
    expect(c.authData?.toString()).toBe('{"auths":{}}');
    expect(c.authAnonymous).toBeUndefined();
  });

  it('isolates root as nobody under systemd, reading the authfile while privileged', async () => {
    const authfile = path.join(root, 'auth.json');
    await fsp.writeFile(authfile, '{"auths":{"x":{}}}');
    const env = { INVOCATION_ID: 'abc' };
    const c = await mergeDefaultContainerProxyOpts({ authfile }, { root, lookup, env });
    expect(c.authfile).toBeUndefined();
    expect(c.authData?.toString()).toBe('{"auths":{"x":{}}}');
    expect(c.skopeoCmd).toEqual({
      program: 'setpriv',
      args: ['--no-new-privs', '--init-groups', '--reuid', 'nobody', '--bounding-set', '-all', '--pdeathsig', 'TERM', '--', 'skopeo'],
      envRemove: ['HOME', 'XDG_DATA_DIR', 'USER'],
      user: 'nobody',
    });
    // Outside systemd skopeo stays root but keeps the parent-death signal; non-root users are not isolated.
    expect((await mergeDefaultContainerProxyOpts({}, { root, lookup, env: {} })).skopeoCmd).toEqual({
      program: 'setpriv',
      args: ['--pdeathsig', 'TERM', '--', 'skopeo'],
    });
    expect((await mergeDefaultContainerProxyOpts({}, { root, lookup: { uid: 1000, runtimeDir: '/r', configDir: '/c' }, env })).skopeoCmd).toBeUndefined();
  });

  it('fails when the authfile to hand over cannot be read', async () => {
    await expect(
      mergeDefaultContainerProxyOptsWithIsolation({ authfile: path.join(root, 'missing.json') }, 'nobody', { root, lookup }),
    ).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('unprivilegedSubprocess drops privileges only under systemd, and always keeps the parent-death signal', () => {
    const rootWithPdeathsig = { program: 'setpriv', args: ['--pdeathsig', 'TERM', '--', 'skopeo'] };
    expect(unprivilegedSubprocess('skopeo', 'nobody', {})).toEqual(rootWithPdeathsig);
    expect(unprivilegedSubprocess('skopeo', 'nobody', { INVOCATION_ID: '' })).toEqual(rootWithPdeathsig);
    expect(unprivilegedSubprocess('/bin/x', 'u', { INVOCATION_ID: '1' }).args?.slice(-2)).toEqual(['--', '/bin/x']);
  });
});

describe('containers policy pre-check (upstream vectors)', () => {
  it('flags only a sole insecureAcceptAnything default', () => {
    expect(
      policyIsDefaultInsecure({
        default: [{ type: 'insecureAcceptAnything' }],
        transports: { 'docker-daemon': { '': [{ type: 'insecureAcceptAnything' }] } },
      }),
    ).toBe(true);
    expect(policyIsDefaultInsecure({})).toBe(false);
    expect(policyIsDefaultInsecure(null)).toBe(false);
    expect(policyIsDefaultInsecure({ default: [null] })).toBe(false);
    expect(policyIsDefaultInsecure({ default: [{ type: 'reject' }], transports: {} })).toBe(false);
    expect(policyIsDefaultInsecure({ default: [{ type: 'insecureAcceptAnything' }, { type: 'reject' }] })).toBe(false);
  });

  it('reads the policy file and refuses an insecure one', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ostree-container-policy-'));
    try {
      const p = path.join(dir, 'policy.json');
      await expect(containerPolicyIsDefaultInsecure(p)).rejects.toThrow(`Reading ${p}: ENOENT`);
      await fsp.writeFile(p, '{"default":[{"type":"insecureAcceptAnything"}]}');
      await expect(requireSecureContainerPolicy(p)).rejects.toThrow(
        'containers-policy.json specifies a default of `insecureAcceptAnything`; refusing usage',
      );
      await fsp.writeFile(p, '{"default":[{"type":"reject"}]}');
      await expect(requireSecureContainerPolicy(p)).resolves.toBeUndefined();
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('protocol and status helpers', () => {
  it('applies caret semantics to 0.2.x', () => {
    expect(protocolSatisfies('0.2.3', '0.2.3')).toBe(true);
    expect(protocolSatisfies('0.2.8', '0.2.3')).toBe(true);
    expect(protocolSatisfies('0.2.2', '0.2.3')).toBe(false);
    expect(protocolSatisfies('0.3.0', '0.2.3')).toBe(false);
    expect(protocolSatisfies('1.0.0', '0.2.3')).toBe(false);
    expect(protocolSatisfies('0.2.4', '0.2.5')).toBe(false);
    expect(protocolSatisfies('0.2.7', '0.2.7')).toBe(true);
    expect(protocolSatisfies('garbage', '0.2.3')).toBe(false);
    // The whole text is a version: more digits, a pre-release or build suffix, nothing else.
    expect(protocolSatisfies('0.12.10', '0.12.3')).toBe(true);
    expect(protocolSatisfies('10.2.3', '10.2.3')).toBe(true);
    expect(protocolSatisfies('0.2.5-dev', '0.2.3')).toBe(true);
    expect(protocolSatisfies('0.2.5+build.1', '0.2.3')).toBe(true);
    expect(protocolSatisfies('v0.2.5', '0.2.3')).toBe(false);
    expect(protocolSatisfies('0.2.5x', '0.2.3')).toBe(false);
    // From 1.0 a newer minor version satisfies too, another major version does not.
    expect(protocolSatisfies('1.3.0', '1.2.5')).toBe(true);
    expect(protocolSatisfies('1.2.0', '1.3.0')).toBe(false);
    expect(protocolSatisfies('1.2.3', '0.2.3')).toBe(false);
  });

  it('names raw blob errors and tells the retryable ones', () => {
    expect(new RawBlobError('foo', 'retryable')).toMatchObject({ name: 'RawBlobError', message: 'foo', retryable: true });
    expect(new RawBlobError('bar', 'other')).toMatchObject({ name: 'RawBlobError', retryable: false });
  });

  it('formats exit statuses as Rust does', () => {
    expect(formatExitStatus(1, null)).toBe('exit status: 1');
    expect(formatExitStatus(null, 'SIGKILL')).toBe('signal: 9 (SIGKILL)');
  });

  it('joins a pipe consumer with FinishPipe with upstream precedence', async () => {
    const ok = Promise.resolve('data');
    const bad = (m: string) => Promise.reject(new Error(m));
    await expect(joinFetch(ok, Promise.resolve())).resolves.toBe('data');
    await expect(joinFetch(ok, bad('corrupted blob'))).rejects.toThrow('corrupted blob');
    await expect(joinFetch(bad('client'), Promise.resolve())).rejects.toThrow(/^client$/);
    await expect(joinFetch(bad('client'), bad('write |1: broken pipe'))).rejects.toThrow(/^client$/);
    await expect(joinFetch(bad('client'), bad('server'))).rejects.toThrow(/^proxy failure: server and client error: client$/);
  });
});

describe('skopeoCopyArgs', () => {
  it('maps options to skopeo copy flags', () => {
    expect(
      skopeoCopyArgs('oci:/a', 'docker://h/x', { authfile: '/auth', srcTlsVerify: true, destTlsVerify: false, destCertDir: '/c', multiArch: 'all', format: 'oci' }),
    ).toEqual([
      'copy', '--quiet', '--authfile', '/auth', '--src-tls-verify=true', '--dest-tls-verify=false',
      '--dest-cert-dir', '/c', '--multi-arch', 'all', '--format', 'oci', 'oci:/a', 'docker://h/x',
    ]);
    expect(skopeoCopyArgs('oci:/a', 'oci-archive:/b', { acceptUncompressedLayers: true })).toEqual([
      'copy', '--quiet', '--dest-oci-accept-uncompressed-layers', 'oci:/a', 'oci-archive:/b',
    ]);
    expect(skopeoCopyArgs('docker://h/x', 'docker://h/y', { srcCertDir: '/s', destNoCreds: true, preserveDigests: true })).toEqual([
      'copy', '--quiet', '--src-cert-dir', '/s', '--dest-no-creds', '--preserve-digests', 'docker://h/x', 'docker://h/y',
    ]);
  });
});
