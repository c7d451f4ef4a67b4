// Authentication against a real registry that requires it (htpasswd basic auth): credentials reach
// skopeo through --authfile, through fd 100 (auth data), from the global ostree auth file
// (spec references §6.1–6.2), and not at all with --auth-anonymous. Each case leaves no fd or
// child process behind.
import fs, { promises as fsp } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { mergeDefaultContainerProxyOpts, unprivilegedSubprocess } from '../../src/proxy/auth.js';
import type { ImageProxyConfig } from '../../src/proxy/config.js';
import { fetchManifest } from '../../src/proxy/fetch.js';
import { skopeoCopy } from '../../src/proxy/skopeo-copy.js';
import { OstreeImageReference } from '../../src/ref/image-reference.js';
import { buildDirImage, type BuiltImage } from '../helpers/images.js';
import { runCli } from '../helpers/cli.js';
import { expectNoLeaksAfterEach } from '../helpers/process.js';
import { manifestDigestVia } from '../helpers/proxy.js';
import { AUTH_REFUSED as REFUSED, registryFixture } from '../helpers/registry.js';

const USER = 'oc';
const PASSWORD = 'ostree-container-test';
// bcrypt (cost 4) of PASSWORD, made once with crypt(3); the registry checks it on every request.
const HTPASSWD = `${USER}:$2b$04$GbXaX3Mk8DOm9AGGtstNf.K650yuH00Hqg0ZGjq0wnOya226kdFbu`;

let image: BuiltImage;
let ref: string;
let goodAuth: string;
let wrongAuth: string;
const tlsOff = { insecureSkipTlsVerification: true };

function authJson(host: string, user: string, password: string): string {
  return JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${user}:${password}`).toString('base64') } } });
}

/** The manifest digest the proxy reads with `config`. */
const digestWith = (config: ImageProxyConfig) => manifestDigestVia(config, ref);

const fx = registryFixture('ostree-container-auth-', { htpasswd: HTPASSWD });
beforeAll(async () => {
  image = await buildDirImage(path.join(fx.tmp, 'dir'), { layers: [{ 'secret.txt': 'behind auth\n' }] });
  goodAuth = path.join(fx.tmp, 'good.json');
  wrongAuth = path.join(fx.tmp, 'wrong.json');
  await fsp.writeFile(goodAuth, authJson(fx.registry.host, USER, PASSWORD));
  await fsp.writeFile(wrongAuth, authJson(fx.registry.host, USER, 'not-the-password'));
  ref = `${fx.registry.ref('private/img')}:latest`;
});

expectNoLeaksAfterEach();

describe('a registry that requires authentication', () => {
  it('skopeoCopy pushes only with the auth file', async () => {
    await expect(skopeoCopy(image.ref, ref, { destTlsVerify: false })).rejects.toThrow(REFUSED);
    expect(await skopeoCopy(image.ref, ref, { destTlsVerify: false, authfile: goodAuth })).toBe(image.manifestDigest);
  });

  it('the proxy reads with an auth file or auth data (bytes or an fd), and is refused otherwise', async () => {
    expect(await digestWith({ ...tlsOff, authfile: goodAuth })).toBe(image.manifestDigest);
    expect(await digestWith({ ...tlsOff, authData: await fsp.readFile(goodAuth) })).toBe(image.manifestDigest);
    const fd = fs.openSync(goodAuth, 'r');
    try {
      expect(await digestWith({ ...tlsOff, authData: fd })).toBe(image.manifestDigest);
    } finally {
      fs.closeSync(fd);
    }
    await expect(digestWith({ ...tlsOff, authAnonymous: true })).rejects.toThrow(REFUSED);
    await expect(digestWith({ ...tlsOff, authfile: wrongAuth })).rejects.toThrow(REFUSED);
  });

  it('auth data is a private file: unnamed, mode 0600, owned by the user skopeo runs as', async () => {
    // A stand-in for skopeo that only describes its fd 100 (then fails Initialize on purpose).
    const probe = (user?: string) => ({
      program: 'sh',
      args: ['-c', 'stat -L -c "mode=%a owner=%U group=%g links=%h" /proc/self/fd/100 >&2; exit 3', 'sh'],
      ...(user ? { user } : {}),
    });
    const authData = await fsp.readFile(goodAuth);
    const gid = process.getgid!();
    await expect(digestWith({ ...tlsOff, authData, skopeoCmd: probe() })).rejects.toThrow(new RegExp(`\\nmode=600 owner=root group=${gid} links=0$`));
    await expect(digestWith({ ...tlsOff, authData, skopeoCmd: probe('nobody') })).rejects.toThrow(new RegExp(`\\nmode=600 owner=nobody group=${gid} links=0$`));
    // Only the owner changes (the group stays ours). A number is a uid, also one without a user (stat names it UNKNOWN); a name is looked up.
    await expect(digestWith({ ...tlsOff, authData, skopeoCmd: probe('4242') })).rejects.toThrow(new RegExp(`\\nmode=600 owner=UNKNOWN group=${gid} links=0$`));
    for (const user of ['1abc', 'abc1']) {
      await expect(digestWith({ ...tlsOff, authData, skopeoCmd: probe(user) })).rejects.toThrow(new RegExp(`^Looking up user ${user}: Command failed: id -u -- ${user}\\n.*no such user`));
    }
    // The real skopeo, isolated as nobody (what mergeDefaultContainerProxyOpts does under systemd), reads it.
    const isolated = unprivilegedSubprocess('skopeo', 'nobody', { INVOCATION_ID: 'test' });
    expect(isolated.user).toBe('nobody');
    expect(await digestWith({ ...tlsOff, authData, skopeoCmd: isolated })).toBe(image.manifestDigest);
  });

  it('mergeDefaultContainerProxyOpts uses the global ostree auth file beneath the root, else goes anonymous', async () => {
    const root = path.join(fx.tmp, 'root');
    await fsp.mkdir(path.join(root, 'etc/ostree'), { recursive: true });
    const opts = { root, lookup: { uid: 0 }, env: {} };
    const anonymous = await mergeDefaultContainerProxyOpts(tlsOff, opts);
    expect(anonymous.authAnonymous).toBe(true);
    await expect(digestWith(anonymous)).rejects.toThrow(REFUSED);

    await fsp.copyFile(goodAuth, path.join(root, 'etc/ostree/auth.json'));
    const merged = await mergeDefaultContainerProxyOpts(tlsOff, opts);
    expect(merged.authData).toEqual(await fsp.readFile(goodAuth));
    expect(await digestWith(merged)).toBe(image.manifestDigest);
    // An explicit auth file wins over the global one.
    await expect(digestWith(await mergeDefaultContainerProxyOpts({ ...tlsOff, authfile: wrongAuth }, opts))).rejects.toThrow(REFUSED);
  });

  it('fetchManifest and the CLI take the auth options', async () => {
    const imgref = OstreeImageReference.parse(`ostree-unverified-image:${ref}`);
    expect((await fetchManifest(imgref, { ...tlsOff, authfile: goodAuth })).digest).toBe(image.manifestDigest);
    await expect(fetchManifest(imgref, { ...tlsOff, authAnonymous: true })).rejects.toThrow(
      new RegExp(`^Fetching manifest: failed to invoke method OpenImage: .*${REFUSED.source}`),
    );

    expect(await runCli('info', '--insecure-skip-tls-verification', '--authfile', goodAuth, ref)).toEqual({
      code: 0,
      stdout: `ostree-unverified-registry:${fx.registry.host}/private/img:latest digest: ${image.manifestDigest}\n`,
      stderr: '',
    });
    const refused = await runCli('info', '--insecure-skip-tls-verification', '--auth-anonymous', ref);
    expect([refused.code, refused.stdout]).toEqual([1, '']);
    expect(refused.stderr).toMatch(new RegExp(`^error: Fetching manifest: failed to invoke method OpenImage: .*${REFUSED.source}`));
  });
});
