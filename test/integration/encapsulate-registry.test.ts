// encapsulate to other transports through skopeo (oci-archive:, a real registry), `skopeo inspect`
// of the pushed labels, and the encapsulate / unencapsulate CLI commands.
import { execFile } from 'node:child_process';
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encapsulate } from '../../src/container/encapsulate.js';
import { COMMIT_V0, TESTREF, type ExampleOs } from '../../src/fixture/index.js';
import { ImageReference, OstreeImageReference } from '../../src/ref/image-reference.js';
import { Repo } from '../../src/repo/repo.js';
import { unencapsulate } from '../../src/container/unencapsulate.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { runCli } from '../helpers/cli.js';
import { withOwnTmpdir } from '../helpers/tmpdir.js';
import { installedSkopeo } from '../helpers/proxy.js';
import { withSilentServer } from '../helpers/silent-server.js';
import { cleanupTmp, exampleOs, expectRoundTrip, freshRepo, tmpdir } from './encapsulate-util.js';

const execFileP = promisify(execFile);

let fx: ExampleOs;
let repo: Repo;
let registry: TestRegistry;
let work: string;
beforeAll(async () => {
  [{ fx, repo }, registry] = await Promise.all([exampleOs(), startRegistry()]);
  work = await tmpdir('reg-');
});
afterAll(async () => {
  await registry?.stop();
  await cleanupTmp();
});

const insecure = { proxyConfig: { insecureSkipTlsVerification: true } };

describe('through skopeo', () => {
  it('oci-archive: round trip', async () => {
    const archive = path.join(work, 'image.ociarchive');
    const digest = await encapsulate(repo, fx.ref, { labels: { foo: 'bar' } }, {}, ImageReference.parse(`oci-archive:${archive}`));
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const r = await expectRoundTrip(repo, COMMIT_V0, `ostree-unverified-image:oci-archive:${archive}`);
    expect(r.imageDigest).toBe(digest);
  });

  it('registry: push, inspect labels, pull (single and chunked)', async () => {
    const ref = `${registry.host}/exampleos/single:v0`;
    const digest = await encapsulate(
      repo,
      fx.ref,
      { labels: { foo: 'bar' }, cmd: ['/usr/bin/sh'] },
      { insecureSkipTlsVerification: true },
      ImageReference.parse(`docker://${ref}`),
    );
    const { stdout } = await execFileP('skopeo', ['inspect', '--tls-verify=false', `docker://${ref}`]);
    const inspected = JSON.parse(stdout) as { Digest: string; Labels: Record<string, string>; Layers: string[] };
    expect(inspected.Digest).toBe(digest);
    expect(inspected.Layers).toHaveLength(1);
    expect(inspected.Labels).toMatchObject({ foo: 'bar', 'ostree.commit': COMMIT_V0, 'ostree.bootable': 'true', 'containers.bootc': '1' });
    const { stdout: cfg } = await execFileP('skopeo', ['inspect', '--config', '--tls-verify=false', `docker://${ref}`]);
    expect((JSON.parse(cfg) as { config: { Cmd: string[] } }).config.Cmd).toEqual(['/usr/bin/sh']);
    const r = await expectRoundTrip(repo, COMMIT_V0, `ostree-unverified-registry:${ref}`, insecure);
    expect(r.imageDigest).toBe(digest);

    const { computeSizes } = await import('../../src/container/chunking.js');
    const meta = await computeSizes(repo, await fx.getObjectMeta());
    const chunkedRef = `${registry.host}/exampleos/chunked:v0`;
    await encapsulate(repo, fx.ref, {}, { contentmeta: meta, maxLayers: 7, compression: 'zstd', insecureSkipTlsVerification: true }, ImageReference.parse(`docker://${chunkedRef}`));
    await expectRoundTrip(repo, COMMIT_V0, `ostree-unverified-registry:${chunkedRef}`, { ...insecure, parallelism: 3 });
  });

  it('containers-storage: push; pull through layer info (proxy protocol 0.2.5+)', async () => {
    // The example OS's arping capability xattr is not a valid capability, which containers
    // storage refuses to apply, so this uses a small tree of its own.
    const tree = path.join(work, 'cs-tree');
    await mkdir(path.join(tree, 'usr/bin'), { recursive: true });
    await writeFile(path.join(tree, 'usr/bin/hello'), 'hello\n');
    await symlink('hello', path.join(tree, 'usr/bin/hi'));
    const src = await Repo.create(path.join(work, 'cs-repo'), 'archive');
    const commit = await src.withTransaction(() =>
      src.writeCommit({ root: { directories: [{ source: tree }] }, subject: 'containers-storage test', timestamp: 0 }),
    );
    // A private vfs store under the temp dir, not the machine's.
    const store = `containers-storage:[vfs@${work}/cs-graph+${work}/cs-run]localhost/exampleos/cs:v0`;
    const digest = await encapsulate(src, commit, {}, {}, ImageReference.parse(store));
    const { stdout } = await execFileP('skopeo', ['inspect', store]);
    expect((JSON.parse(stdout) as { Labels: Record<string, string> }).Labels['ostree.commit']).toBe(commit);
    const layerInfo = (await installedSkopeo()).has('getLayerInfo');
    const dest = await freshRepo();
    const pulled = unencapsulate(dest, OstreeImageReference.parse(`ostree-unverified-image:${store}`));
    if (layerInfo) {
      const r = await pulled;
      expect(r.ostreeCommit).toBe(commit);
      expect(r.imageDigest).toBe(digest);
    } else {
      await expect(pulled).rejects.toThrow('skopeo too old to pull from containers-storage');
    }
  });

  it('uncompressed layers stay so in an oci-archive; a registry gets them gzipped', async () => {
    const mediaTypes = async (ref: string, ...flags: string[]) =>
      (JSON.parse((await execFileP('skopeo', ['inspect', '--raw', ...flags, ref])).stdout) as { layers: { mediaType: string }[] }).layers.map((l) => l.mediaType);
    const archive = path.join(work, 'plain.ociarchive');
    await encapsulate(repo, fx.ref, {}, { compression: 'none' }, ImageReference.parse(`oci-archive:${archive}`));
    expect(await mediaTypes(`oci-archive:${archive}`)).toEqual(['application/vnd.oci.image.layer.v1.tar']);
    const ref = `docker://${registry.host}/exampleos/plain:v0`;
    await encapsulate(repo, fx.ref, {}, { compression: 'none', insecureSkipTlsVerification: true }, ImageReference.parse(ref));
    expect(await mediaTypes(ref, '--tls-verify=false')).toEqual(['application/vnd.oci.image.layer.v1.tar+gzip']);
  });

  it('the registry gets this very image, not a blob of the same diff_id it already holds', async () => {
    const push = (compression: 'gzip' | 'gzip-fast', tag: string) =>
      encapsulate(repo, fx.ref, {}, { compression, insecureSkipTlsVerification: true }, ImageReference.parse(`docker://${registry.host}/exampleos/same:${tag}`));
    await push('gzip', 'slow');
    const fast = await encapsulate(repo, fx.ref, {}, { compression: 'gzip-fast' }, ImageReference.parse(`oci:${work}/same-fast`));
    await encapsulate(repo, fx.ref, {}, { compression: 'gzip' }, ImageReference.parse(`oci:${work}/same-slow`));
    // skopeo's blob-info cache learns a layer's diff_id when it decompresses it: then it knows
    // that the registry holds a blob of the fast layer's diff_id, and would push that instead.
    for (const v of ['slow', 'fast']) {
      await execFileP('skopeo', ['copy', '--dest-decompress', `oci:${work}/same-${v}`, `dir:${work}/same-${v}-dir`]);
    }
    expect(await push('gzip-fast', 'fast')).toBe(fast);
  });

  it('an abort stops skopeo pushing to a registry that does not answer, and leaves no temp dir', async () => {
    const ac = new AbortController();
    await withSilentServer(
      () => ac.abort(),
      (port) =>
        withOwnTmpdir(work, async (tmp) => {
          const push = encapsulate(repo, fx.ref, {}, { insecureSkipTlsVerification: true, signal: ac.signal }, ImageReference.parse(`docker://127.0.0.1:${port}/x/y:v0`));
          await expect(push).rejects.toThrow(/^Skopeo copy: skopeo failed: .*The operation was aborted\)$/s);
          expect((await readdir(tmp)).filter((n) => n.startsWith('ostree-container-encapsulate-'))).toEqual([]);
        }),
    );
  });

  it('a failed push names skopeo and leaves no temp dir', async () => {
    await withOwnTmpdir(work, async (tmp) => {
      // TLS verification against a plain-HTTP registry fails.
      await expect(encapsulate(repo, fx.ref, {}, {}, ImageReference.parse(`docker://${registry.host}/exampleos/tls:v0`))).rejects.toThrow(
        /^Skopeo copy: skopeo failed: /,
      );
      expect((await readdir(tmp)).filter((n) => n.startsWith('ostree-container-encapsulate-'))).toEqual([]);
    });
  });
});

describe('CLI', () => {
  it('encapsulate and unencapsulate', async () => {
    const contentmeta = path.join(work, 'contentmeta.json');
    const owners = [...(await fx.getObjectMeta()).map];
    const layerOf = (owner: string) => (owner === 'bash' ? 'bash' : owner === 'testlink' ? 'unpackaged' : 'rest');
    const mapping = Object.fromEntries(owners.map(([checksum, owner]) => [checksum, layerOf(owner)]));
    await writeFile(
      contentmeta,
      JSON.stringify({ version: 1, created: '2024-02-03T04:05:06Z', labels: { fromfile: 'yes', foo: 'file' }, layers: { bash: 'The shell', rest: 'Everything else', unpackaged: 'Unpackaged' }, mapping }),
    );
    const runtimeConfig = path.join(work, 'config.json');
    await writeFile(runtimeConfig, JSON.stringify({ User: 'root', Env: ['A=b'] }));
    const dir = path.join(work, 'cli-oci');
    const enc = await runCli(
      'encapsulate', '--repo', fx.repoPath, TESTREF, `oci:${dir}:v0`,
      '--label', 'foo=bar', '-l', 'x=y=z', '--copymeta', 'buildsys.checksum', '--copymeta-opt', 'nosuch',
      '--cmd', '/usr/bin/bash', '--cmd', '-l', '--config', runtimeConfig, '--contentmeta', contentmeta, '--compression', 'zstd',
    );
    expect(enc.stderr).toBe('');
    expect(enc.code).toBe(0);
    expect(enc.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    const { OciDir } = await import('../../src/oci/layout.js');
    const oci = await OciDir.open(dir);
    const { manifest } = await oci.readManifest('v0');
    const config = await oci.readConfig(manifest);
    expect(manifest.layers.map((l) => l.annotations?.['ostree.components'])).toEqual([undefined, 'The shell', 'Everything else', 'Unpackaged', '']);
    expect(config.config).toMatchObject({ User: 'root', Env: ['A=b'], Cmd: ['/usr/bin/bash', '-l'] });
    expect(config.created).toBe('2024-02-03T04:05:06Z');
    expect(manifest.layers.every((l) => l.mediaType === 'application/vnd.oci.image.layer.v1.tar+zstd')).toBe(true);
    expect(config.config!.Labels).toMatchObject({ foo: 'file', x: 'y=z', fromfile: 'yes', 'buildsys.checksum': expect.any(String) });

    const dest = await freshRepo();
    const imp = await runCli('unencapsulate', '--repo', dest.path, `ostree-unverified-image:oci:${dir}:v0`, '--write-ref', 'imported/x', '--quiet');
    expect(imp).toEqual({ code: 0, stdout: `Imported: imported/x => ${COMMIT_V0}\n`, stderr: '' });
    expect(await dest.resolveRev('imported/x')).toBe(COMMIT_V0);
    const plain = await runCli('import', '--repo', (await freshRepo()).path, `ostree-unverified-image:oci:${dir}:v0`);
    expect(plain).toEqual({ code: 0, stdout: `Imported: ${COMMIT_V0}\n`, stderr: '' });
  });

  it('encapsulate --cert-dir and --auth-anonymous reach the push to a TLS registry that requires auth', async () => {
    // bcrypt (cost 4) of PASSWORD, made once with crypt(3).
    const PASSWORD = 'ostree-container-test';
    const secure = await startRegistry({ tls: true, htpasswd: 'oc:$2b$04$GbXaX3Mk8DOm9AGGtstNf.K650yuH00Hqg0ZGjq0wnOya226kdFbu' });
    try {
      const authfile = path.join(work, 'secure-auth.json');
      const auth = Buffer.from(`oc:${PASSWORD}`).toString('base64');
      await writeFile(authfile, JSON.stringify({ auths: { [secure.host]: { auth } } }));
      const dest = `docker://${secure.host}/exampleos/secure:v0`;
      const push = (...a: string[]) => runCli('encapsulate', '--repo', fx.repoPath, TESTREF, dest, ...a);
      // Without the certificate directory the self-signed certificate is refused.
      expect((await push('--authfile', authfile)).stderr).toMatch(/^error: Skopeo copy: skopeo failed: .*certificate/s);
      // Anonymous even where skopeo would find credentials of its own (REGISTRY_AUTH_FILE).
      const env = process.env.REGISTRY_AUTH_FILE;
      process.env.REGISTRY_AUTH_FILE = authfile;
      let anonymous;
      try {
        expect(await push('--cert-dir', secure.certDir!)).toMatchObject({ code: 0, stderr: '' });
        anonymous = await push('--cert-dir', secure.certDir!, '--auth-anonymous');
      } finally {
        if (env === undefined) delete process.env.REGISTRY_AUTH_FILE;
        else process.env.REGISTRY_AUTH_FILE = env;
      }
      expect([anonymous.code, anonymous.stdout]).toEqual([1, '']);
      expect(anonymous.stderr).toMatch(/^error: Skopeo copy: skopeo failed: .*authentication required/s);
      const pushed = await push('--cert-dir', secure.certDir!, '--authfile', authfile);
      expect(pushed).toMatchObject({ code: 0, stderr: '' });
      expect(pushed.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
      expect(await push('--authfile', authfile, '--auth-anonymous')).toEqual({ code: 1, stdout: '', stderr: 'error: Conflicting authentication options\n' });
    } finally {
      await secure.stop();
    }
  });

  it('refuses layouts whose final layer would be ambiguous', async () => {
    const contentmeta = path.join(work, 'empty-component.json');
    const mapping = Object.fromEntries([...(await fx.getObjectMeta()).map].map(([checksum]) => [checksum, 'all']));
    await writeFile(contentmeta, JSON.stringify({ version: 1, layers: { all: 'All', nothing: 'Nothing', unpackaged: 'Unpackaged' }, mapping }));
    const r = await runCli('encapsulate', '--repo', fx.repoPath, TESTREF, `oci:${work}/ambiguous`, '--contentmeta', contentmeta);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'error: Chunk layer "nothing" has the same content as the final chunk layer "Reserved for new packages" (components without content objects?); such an image cannot be imported\n',
    );
  });

  it('errors', async () => {
    const bad = (...a: string[]) => runCli('encapsulate', '--repo', fx.repoPath, TESTREF, `oci:${work}/cli-bad`, ...a);
    expect(await bad('--label', 'novalue')).toEqual({ code: 1, stdout: '', stderr: "error: Missing '=' in label novalue\n" });
    const v2 = path.join(work, 'v2.json');
    await writeFile(v2, JSON.stringify({ version: 2, layers: {}, mapping: {} }));
    expect(await bad('--contentmeta', v2)).toEqual({ code: 1, stdout: '', stderr: 'error: Unsupported metadata version: 2. Currently supported: 1\n' });
    const ordered = path.join(work, 'ordered.json');
    await writeFile(ordered, JSON.stringify({ version: 1, layers: {}, mapping: {}, ordered: true }));
    expect(await bad('--contentmeta', ordered)).toEqual({ code: 1, stdout: '', stderr: 'error: Ordered mapping not currently supported.\n' });
    expect((await bad('--contentmeta', path.join(work, 'absent.json'))).stderr).toMatch(
      new RegExp(`^error: Reading content metadata ${work}/absent\\.json: .*no such file or directory`),
    );
    expect((await bad('--compression', 'bzip2')).stderr).toMatch(
      /^error: option '--compression <type>' argument 'bzip2' is invalid\. Allowed choices are gzip, gzip-fast, zstd, none\.\n/,
    );
    const missing = path.join(work, 'nope');
    expect((await runCli('encapsulate', '--repo', missing, TESTREF, `oci:${work}/x`)).stderr).toMatch(
      new RegExp(`^error: Opening directory at '${missing}': .*no such file or directory`),
    );
    expect((await runCli('unencapsulate', '--repo', work, `ostree-unverified-image:oci:${work}/x`)).stderr).toMatch(
      new RegExp(`^error: Opening ostree repository at '${work}': `),
    );
    expect((await runCli('unencapsulate', '--repo', fx.repoPath, 'oci:/x')).stderr).toBe('error: Invalid ostree image reference scheme: oci\n');
  });
});
