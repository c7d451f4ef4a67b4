// The acceptance matrix of encapsulate (spec §3) → unencapsulate (§5): single-layer and chunked
// images with every compression, written to `oci:` directly and pushed through skopeo to
// `oci-archive:` and a real registry, each imported into a fresh repo with the same commit,
// content checksum and detached metadata. Independent checks: GNU tar extracts the image layers
// into a repo `ostree fsck` accepts; `skopeo inspect` reads our labels; every export of the
// same commit gives the same layer blobs.
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectMetaSized } from '../../src/container/chunking.js';
import { encapsulate, type Compression, type ExportOpts } from '../../src/container/encapsulate.js';
import { unencapsulate } from '../../src/container/unencapsulate.js';
import { COMMIT_V0, CONTENTS_CHECKSUM_V0, LAYERS_V0_LEN, PKGS_V0_LEN, TESTREF, cliShowCommit, gpgKeyFile, ostreeCli, type ExampleOs } from '../../src/fixture/index.js';
import { OciDir } from '../../src/oci/layout.js';
import { ImageReference, OstreeImageReference } from '../../src/ref/image-reference.js';
import type { Repo } from '../../src/repo/repo.js';
import { runCli } from '../helpers/cli.js';
import { AUTH_REFUSED, registryFixture } from '../helpers/registry.js';
import { cleanupTmp, detachedBytes, exampleWork, expectRoundTrip, freshRepo } from './encapsulate-util.js';

const execFileP = promisify(execFile);
const COMPRESSIONS: Compression[] = ['gzip', 'gzip-fast', 'zstd', 'none'];
const LABELS = { foo: 'bar', test: 'value' };
const insecure = { proxyConfig: { insecureSkipTlsVerification: true } };

const reg = registryFixture('ostree-container-roundtrip-');
let fx: ExampleOs;
let repo: Repo;
let meta: ObjectMetaSized;
let work: string;
beforeAll(async () => ({ fx, repo, meta, work } = await exampleWork('roundtrip-')));
afterAll(cleanupTmp);

type Shape = 'single' | 'chunked';
const optsFor = (shape: Shape, compression: Compression): ExportOpts => ({
  compression,
  ...(shape === 'chunked' ? { contentmeta: meta, maxLayers: PKGS_V0_LEN } : {}),
});

interface Inspected {
  Digest: string;
  Labels: Record<string, string>;
  Layers: string[];
}

async function skopeoInspect(ref: string, ...extra: string[]): Promise<Inspected> {
  const { stdout } = await execFileP('skopeo', ['inspect', ...extra, ref]);
  return JSON.parse(stdout) as Inspected;
}

describe('round trips through oci:, oci-archive: and a registry', () => {
  for (const shape of ['single', 'chunked'] as const) {
    for (const compression of COMPRESSIONS) {
      it(`${shape}, ${compression}`, async () => {
        const name = `${shape}-${compression}`;
        const dir = path.join(work, name);
        const archive = path.join(work, `${name}.ociarchive`);
        const pushed = `${reg.registry.host}/exampleos/${name}:v0`;
        const opts = optsFor(shape, compression);
        const [ociDigest, archiveDigest, registryDigest] = await Promise.all([
          encapsulate(repo, fx.ref, { labels: LABELS }, opts, ImageReference.parse(`oci:${dir}`)),
          encapsulate(repo, fx.ref, { labels: LABELS }, opts, ImageReference.parse(`oci-archive:${archive}`)),
          encapsulate(repo, fx.ref, { labels: LABELS }, { ...opts, insecureSkipTlsVerification: true }, ImageReference.parse(`docker://${pushed}`)),
        ]);
        const imports = await Promise.all([
          expectRoundTrip(repo, COMMIT_V0, `ostree-unverified-image:oci:${dir}`),
          expectRoundTrip(repo, COMMIT_V0, `ostree-unverified-image:oci-archive:${archive}`),
          expectRoundTrip(repo, COMMIT_V0, `ostree-unverified-registry:${pushed}`, insecure),
        ]);
        expect(imports.map((r) => r.imageDigest)).toEqual([ociDigest, archiveDigest, registryDigest]);
        for (const r of imports) expect(await cliShowCommit(r.dest.path, COMMIT_V0)).toMatchObject({ contentChecksum: CONTENTS_CHECKSUM_V0 });

        // Three separate exports of the commit: the same layer blobs every time.
        const { manifest, config } = await (async () => {
          const oci = await OciDir.open(dir);
          const m = (await oci.readManifest()).manifest;
          return { manifest: m, config: await oci.readConfig(m) };
        })();
        expect(manifest.layers).toHaveLength(shape === 'chunked' ? LAYERS_V0_LEN : 1);
        const layerDigests = manifest.layers.map((l) => l.digest);
        const [fromArchive, fromRegistry] = await Promise.all([
          skopeoInspect(`oci-archive:${archive}`),
          skopeoInspect(`docker://${pushed}`, '--tls-verify=false'),
        ]);
        expect(fromArchive.Layers).toEqual(layerDigests);
        if (compression === 'none') {
          // skopeo gzips uncompressed layers for a registry (c/image has no way to keep them):
          // other blobs, the same diff_ids, so the same config.
          const raw = await execFileP('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${pushed}`]);
          const pushedLayers = (JSON.parse(raw.stdout) as { layers: { mediaType: string }[] }).layers;
          expect(pushedLayers.map((l) => l.mediaType)).toEqual(manifest.layers.map(() => 'application/vnd.oci.image.layer.v1.tar+gzip'));
          const { stdout } = await execFileP('skopeo', ['inspect', '--config', '--tls-verify=false', `docker://${pushed}`]);
          expect((JSON.parse(stdout) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids).toEqual(config.rootfs.diff_ids);
        } else {
          expect(fromRegistry.Layers).toEqual(layerDigests);
        }
        expect(fromRegistry.Digest).toBe(registryDigest);
        // skopeo reads our labels, including the final diff_id.
        for (const inspected of [fromArchive, fromRegistry]) {
          expect(inspected.Labels).toEqual({
            'containers.bootc': '1',
            foo: 'bar',
            'org.opencontainers.image.version': '42.0',
            'ostree.bootable': 'true',
            'ostree.commit': COMMIT_V0,
            'ostree.final-diffid': config.rootfs.diff_ids.at(-1),
            test: 'value',
          });
        }
      });
    }
  }
});

describe('more ways through the registry', () => {
  it('a signed import verifies through an ostree remote (ostree-remote-registry:)', async () => {
    const pushed = `${reg.registry.host}/exampleos/signed:v0`;
    await encapsulate(repo, fx.ref, {}, { ...optsFor('chunked', 'zstd'), insecureSkipTlsVerification: true }, ImageReference.parse(`docker://${pushed}`));
    const dest = await freshRepo();
    await dest.remoteAdd('myremote', null, { 'gpg-verify': true, 'custom-backend': 'ostree-rs-ext' });
    await dest.remoteGpgImport('myremote', await readFile(gpgKeyFile(fx.gpgHome)));
    const r = await unencapsulate(dest, OstreeImageReference.parse(`ostree-remote-registry:myremote:${pushed}`), insecure);
    expect(r.ostreeCommit).toBe(COMMIT_V0);
    expect(r.verifyText).toMatch(/Good signature from "Ostree Tester <test@test.com>"/);
    expect(await detachedBytes(dest, COMMIT_V0)).toEqual(await detachedBytes(repo, COMMIT_V0));
  });

  it('the number of layers written at once does not change the image', async () => {
    const opts: ExportOpts = optsFor('chunked', 'gzip');
    const digests = await Promise.all(
      [1, 3].map((parallelism) => encapsulate(repo, fx.ref, {}, { ...opts, parallelism }, ImageReference.parse(`oci:${path.join(work, `parallel-${parallelism}`)}`))),
    );
    expect(digests[1]).toBe(digests[0]);
  });
});

describe('GNU tar extracts the image layers into a repo ostree fsck accepts', () => {
  /** Extracts every layer of `dir`'s image, in manifest order, into one directory. */
  async function extractLayers(dir: string): Promise<string> {
    const oci = await OciDir.open(dir);
    const { manifest } = await oci.readManifest();
    const root = path.join(work, `${path.basename(dir)}-rootfs`);
    await mkdir(root);
    // GNU tar recognises gzip and zstd by their magic bytes.
    for (const l of manifest.layers) await execFileP('tar', ['-C', root, '--xattrs', '-xf', oci.blobPath(l.digest)]);
    return root;
  }

  for (const shape of ['single', 'chunked'] as const) {
    it(`${shape} (gzip and zstd)`, async () => {
      for (const compression of ['gzip', 'zstd'] as const) {
        const dir = path.join(work, `extract-${shape}-${compression}`);
        await encapsulate(repo, fx.ref, {}, optsFor(shape, compression), ImageReference.parse(`oci:${dir}`));
        const root = await extractLayers(dir);
        const r = path.join(root, 'sysroot/ostree/repo');
        expect(await ostreeCli(r, ['fsck'])).toMatch(/no errors found/);
        expect((await cliShowCommit(r, COMMIT_V0)).contentChecksum).toBe(CONTENTS_CHECKSUM_V0);
        expect((await ostreeCli(r, ['show', '--print-detached-metadata-key=my-detached-key', COMMIT_V0])).trim()).toBe("'my-detached-value'");
        expect((await ostreeCli(r, ['config', 'get', 'core.mode'])).trim()).toBe('bare-split-xattrs');
        // The tree is visible to a container runtime too.
        expect(await execFileP('cat', [path.join(root, 'usr/bin/bash'), path.join(root, 'etc/someconfig.conf')])).toMatchObject({
          stdout: 'the-bash-shellsomeconfig',
        });
      }
    });
  }
});

describe('CLI encapsulate options', () => {
  it('--compression-fast writes gzip level 1; --max-layers bounds the chunked layout', async () => {
    const fast = path.join(work, 'cli-fast');
    const r = await runCli('encapsulate', '--repo', fx.repoPath, TESTREF, `oci:${fast}`, '--compression-fast');
    expect(r).toEqual({ code: 0, stdout: expect.stringMatching(/^sha256:[0-9a-f]{64}\n$/), stderr: '' });
    const oci = await OciDir.open(fast);
    const { manifest } = await oci.readManifest();
    expect(manifest.layers.map((l) => l.mediaType)).toEqual(['application/vnd.oci.image.layer.v1.tar+gzip']);
    // flate2's member header with XFL 4 (fastest).
    expect((await oci.readBlob(manifest.layers[0]!)).subarray(0, 10).toString('hex')).toBe('1f8b08000000000004ff');
    await expectRoundTrip(repo, COMMIT_V0, `ostree-unverified-image:oci:${fast}`);

    // Five content-meta layers packed into a budget of four.
    const contentmeta = path.join(work, 'five.json');
    const owners = [...(await fx.getObjectMeta()).map];
    const groups = ['bash', 'kernel', 'initramfs', 'pkgdb'];
    const mapping = Object.fromEntries(owners.map(([checksum, owner]) => [checksum, groups.includes(owner) ? owner : 'rest']));
    await writeFile(contentmeta, JSON.stringify({ version: 1, layers: Object.fromEntries([...groups, 'rest'].map((g) => [g, g])), mapping }));
    const bounded = path.join(work, 'cli-bounded');
    const b = await runCli('encapsulate', '--repo', fx.repoPath, TESTREF, `oci:${bounded}`, '--contentmeta', contentmeta, '--max-layers', '4');
    expect(b.stderr).toBe('');
    const layers = (await (await OciDir.open(bounded)).readManifest()).manifest.layers;
    // The commit layer plus at most four chunk layers; every component is in one of them.
    expect(layers.length).toBeLessThanOrEqual(5);
    const components = layers.slice(1).flatMap((l) => (l.annotations?.['ostree.components'] ?? '').split(',').filter(Boolean));
    expect(components.sort()).toEqual([...groups, 'rest'].sort());
    await expectRoundTrip(repo, COMMIT_V0, `ostree-unverified-image:oci:${bounded}`);
    expect((await runCli('encapsulate', '--repo', fx.repoPath, TESTREF, `oci:${bounded}`, '--max-layers', '0')).stderr).toBe(
      'error: Invalid --max-layers: 0\n',
    );
  });
});

describe('encapsulate --authfile', () => {
  const USER = 'oc';
  // bcrypt (cost 4) of "ostree-container-test" (the password of proxy-auth.test.ts).
  const auth = registryFixture('ostree-container-roundtrip-auth-', { htpasswd: `${USER}:$2b$04$GbXaX3Mk8DOm9AGGtstNf.K650yuH00Hqg0ZGjq0wnOya226kdFbu` });

  it('pushes to a registry that requires credentials only with the auth file', async () => {
    const authfile = path.join(auth.tmp, 'auth.json');
    const basic = Buffer.from(`${USER}:ostree-container-test`).toString('base64');
    await writeFile(authfile, JSON.stringify({ auths: { [auth.registry.host]: { auth: basic } } }));
    const dest = `docker://${auth.registry.host}/exampleos/private:v0`;
    const denied = await runCli('encapsulate', '--repo', fx.repoPath, TESTREF, dest, '--insecure-skip-tls-verification');
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(new RegExp(`^error: Skopeo copy: skopeo failed: .*${AUTH_REFUSED.source}`, 's'));
    const ok = await runCli('encapsulate', '--repo', fx.repoPath, TESTREF, dest, '--insecure-skip-tls-verification', '--authfile', authfile);
    expect(ok.stderr).toBe('');
    const digest = ok.stdout.trim();
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const r = await expectRoundTrip(repo, COMMIT_V0, `ostree-unverified-registry:${auth.registry.host}/exampleos/private:v0`, {
      proxyConfig: { insecureSkipTlsVerification: true, authfile },
    });
    expect(r.imageDigest).toBe(digest);
  });
});
