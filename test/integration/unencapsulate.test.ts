// unencapsulate() with signature verification through an ostree remote (spec §5, §2.4), the
// image-level detached-metadata update (spec §6), and images unencapsulate must refuse.
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectMetaSized } from '../../src/container/chunking.js';
import { encapsulate } from '../../src/container/encapsulate.js';
import { unencapsulate } from '../../src/container/unencapsulate.js';
import { updateDetachedMetadata } from '../../src/container/update-detached-metadata.js';
import { COMMIT_V0, killGpgAgent, type ExampleOs } from '../../src/fixture/index.js';
import { OciDir } from '../../src/oci/layout.js';
import { ImageReference, OstreeImageReference } from '../../src/ref/image-reference.js';
import { Repo } from '../../src/repo/repo.js';
import { escapeRef, prefixEscapeForRef } from '../../src/ref/refescape.js';
import { containerPolicyIsDefaultInsecure } from '../../src/proxy/policy.js';
import { runCli } from '../helpers/cli.js';
import { leaksSince, snapshot } from '../helpers/process.js';
import { editOciImage } from '../helpers/sysroot.js';
import { cleanupTmp, detachedBytes, exampleWork, freshRepo } from './encapsulate-util.js';
import { pullImage } from './store-util.js';
import { repoSnapshot } from './tar-util.js';

const KEY2 = 'D8228CFECA950D41';
/** The context chain of a failed commit-layer import, and of its signature check (spec §2.4, §5). */
const COMMIT_STEP = 'Importing: Layer sha256:[0-9a-f]{64}: Importing commit: ';
const VERIFYING = `${COMMIT_STEP}Verifying ostree commit in tar stream: `;

let fx: ExampleOs;
let repo: Repo;
let work: string;
let chunked: string;
let single: string;
/** Detached metadata of the fixture commit signed by key2 instead of key1. */
let key2Detached: Buffer;

beforeAll(async () => {
  let meta: ObjectMetaSized;
  ({ fx, repo, meta, work } = await exampleWork('signed-'));
  chunked = path.join(work, 'chunked');
  single = path.join(work, 'single');
  await encapsulate(repo, fx.ref, {}, { contentmeta: meta, maxLayers: 7 }, ImageReference.parse(`oci:${chunked}`));
  await encapsulate(repo, fx.ref, {}, {}, ImageReference.parse(`oci:${single}`));
  // Re-sign a copy of the source repo with key2 to get other detached metadata for the commit.
  const scratch = path.join(work, 'scratch-repo');
  await cp(fx.repoPath, scratch, { recursive: true });
  const s = await Repo.open(scratch);
  const d = (await s.readCommitDetachedMetadata(COMMIT_V0))!;
  d.delete('ostree.gpgsigs');
  await s.writeCommitDetachedMetadata(COMMIT_V0, d);
  try {
    await s.signCommit(COMMIT_V0, KEY2, { homedir: fx.gpgHome });
  } finally {
    await killGpgAgent(fx.gpgHome);
  }
  key2Detached = (await detachedBytes(s, COMMIT_V0))!;
});
afterAll(cleanupTmp);

/** A fresh repo with a verifying remote `myremote` (no URL), trusting `keys`. */
async function repoWithRemote(keys: ('key1' | 'key2')[]): Promise<Repo> {
  const r = await freshRepo();
  await r.remoteAdd('myremote', null, { 'gpg-verify': true, 'custom-backend': 'ostree-rs-ext' });
  for (const k of keys) await r.remoteGpgImport('myremote', await readFile(path.join(fx.gpgHome, `${k}.asc`)));
  return r;
}

const remoteRef = (dir: string, remote = 'myremote') => OstreeImageReference.parse(`ostree-remote-image:${remote}:oci:${dir}`);

/** The import failed and left the repo as it was. */
async function expectRejectedCleanly(r: Repo, imgref: OstreeImageReference, message: RegExp | string): Promise<void> {
  const before = await repoSnapshot(r.path);
  await expect(unencapsulate(r, imgref)).rejects.toThrow(message);
  expect(await r.hasObject('commit', COMMIT_V0)).toBe(false);
  expect(await repoSnapshot(r.path)).toEqual(before);
}

describe('signature verification', () => {
  it('unknown remote', async () => {
    await expectRejectedCleanly(await freshRepo(), remoteRef(chunked, 'unknownremote'), new RegExp(`^${VERIFYING}Remote "unknownremote" not found$`));
  });

  it('remote without the key', async () => {
    // libostree's message is its verification text: the signature line, then the failure.
    const noKey = new RegExp(`^${VERIFYING}Signature made [^\\n]+ using RSA key ID 7FCA23D8472CDAFA\\nCan't check signature: public key not found$`);
    await expectRejectedCleanly(await repoWithRemote([]), remoteRef(chunked), noKey);
    await expectRejectedCleanly(await repoWithRemote(['key2']), remoteRef(single), noKey);
  });

  it('good signature', async () => {
    for (const dir of [chunked, single]) {
      const r = await repoWithRemote(['key1']);
      const result = await unencapsulate(r, remoteRef(dir));
      expect(result.ostreeCommit).toBe(COMMIT_V0);
      expect(result.verifyText).toMatch(/Good signature from "Ostree Tester <test@test.com>"/);
      expect(await detachedBytes(r, COMMIT_V0)).toEqual(await detachedBytes(repo, COMMIT_V0));
      expect(await r.contentChecksum(COMMIT_V0)).toBe(await repo.contentChecksum(COMMIT_V0));
      expect((await r.loadCommit(COMMIT_V0)).partial).toBe(false);
    }
  });

  it('unsigned image with a remote: Expected commitmeta object', async () => {
    const stripped = path.join(work, 'stripped');
    await updateDetachedMetadata(ImageReference.parse(`oci:${chunked}`), ImageReference.parse(`oci:${stripped}`), undefined);
    await expectRejectedCleanly(
      await repoWithRemote(['key1']),
      remoteRef(stripped),
      new RegExp(`^${COMMIT_STEP}Using remote myremote for verification; Expected commitmeta object, not DirMeta$`),
    );
    // Without verification it imports, without detached metadata.
    const r = await freshRepo();
    expect((await unencapsulate(r, OstreeImageReference.parse(`ostree-unverified-image:oci:${stripped}`))).ostreeCommit).toBe(COMMIT_V0);
    expect(await detachedBytes(r, COMMIT_V0)).toBeNull();
  });

  it('tampered signature: BAD signature', async () => {
    const bytes = Buffer.from((await detachedBytes(repo, COMMIT_V0))!);
    bytes[bytes.length >> 1] ^= 0xff;
    const tampered = path.join(work, 'tampered');
    await updateDetachedMetadata(ImageReference.parse(`oci:${single}`), ImageReference.parse(`oci:${tampered}`), bytes);
    await expectRejectedCleanly(await repoWithRemote(['key1']), remoteRef(tampered), new RegExp(`^${VERIFYING}Signature made [^\\n]+ key ID 7FCA23D8472CDAFA\\nBAD signature from "Ostree Tester <test@test\\.com>"\\n`));
  });
});

describe('updateDetachedMetadata', () => {
  async function image(dir: string) {
    const oci = await OciDir.open(dir);
    const { manifest } = await oci.readManifest();
    return { manifest, config: await oci.readConfig(manifest) };
  }

  it('replaces the signature and keeps everything else (chunked)', async () => {
    const out = path.join(work, 'resigned');
    const digest = await updateDetachedMetadata(ImageReference.parse(`oci:${chunked}`), ImageReference.parse(`oci:${out}`), key2Detached);
    const before = await image(chunked);
    const after = await image(out);
    expect(after.manifest.layers.slice(1)).toEqual(before.manifest.layers.slice(1));
    expect(after.manifest.layers[0]!.digest).not.toBe(before.manifest.layers[0]!.digest);
    expect(after.manifest.layers[0]!.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
    expect(after.manifest.annotations).toEqual(before.manifest.annotations);
    expect(after.config.rootfs.diff_ids.slice(1)).toEqual(before.config.rootfs.diff_ids.slice(1));
    expect(after.config.rootfs.diff_ids[0]).not.toBe(before.config.rootfs.diff_ids[0]);
    expect({ ...after.config, rootfs: null }).toEqual({ ...before.config, rootfs: null });
    const layoutDigest = (await (await OciDir.open(out)).readIndex()).manifests[0]!.digest;
    expect(layoutDigest).toBe(digest);

    // The new signature verifies with key2 only; content and the rest of the metadata survive.
    const r = await repoWithRemote(['key2']);
    const result = await unencapsulate(r, remoteRef(out));
    expect(result.ostreeCommit).toBe(COMMIT_V0);
    expect(result.verifyText).toMatch(/Ostree Tester II/);
    expect(await detachedBytes(r, COMMIT_V0)).toEqual(key2Detached);
    expect((await r.readCommitDetachedMetadata(COMMIT_V0))!.get('my-detached-key')?.value).toBe('my-detached-value');
    await expectRejectedCleanly(await repoWithRemote(['key1']), remoteRef(out), /public key not found/);
  });

  it('single-layer images get a new ostree.final-diffid; CLI replace-detached-metadata', async () => {
    const file = path.join(work, 'key2.detached');
    await writeFile(file, key2Detached);
    const out = path.join(work, 'resigned-single');
    const r = await runCli('image', 'replace-detached-metadata', '--src', `oci:${single}`, '--dest', `oci:${out}`, file);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^Pushed: sha256:[0-9a-f]{64}\n$/);
    const after = await image(out);
    expect(after.config.config!.Labels!['ostree.final-diffid']).toBe(after.config.rootfs.diff_ids[0]);
    // Upstream leaves the manifest annotation at the old value.
    expect(after.manifest.annotations!['ostree.final-diffid']).toBe((await image(single)).config.rootfs.diff_ids[0]);
    const dest = await freshRepo();
    await unencapsulate(dest, OstreeImageReference.parse(`ostree-unverified-image:oci:${out}`));
    expect(await detachedBytes(dest, COMMIT_V0)).toEqual(key2Detached);
    expect(await dest.contentChecksum(COMMIT_V0)).toBe(await repo.contentChecksum(COMMIT_V0));
    // Without a contents file the detached metadata is removed.
    const stripped = path.join(work, 'stripped-cli');
    const s = await runCli('image', 'replace-detached-metadata', '--src', `oci:${out}`, '--dest', `oci:${stripped}`);
    expect(s).toEqual({ code: 0, stdout: expect.stringMatching(/^Pushed: sha256:[0-9a-f]{64}\n$/), stderr: '' });
    const bare = await freshRepo();
    await unencapsulate(bare, OstreeImageReference.parse(`ostree-unverified-image:oci:${stripped}`));
    expect(await detachedBytes(bare, COMMIT_V0)).toBeNull();
    await expectRejectedCleanly(await repoWithRemote(['key2']), remoteRef(stripped), /Expected commitmeta object, not DirMeta$/);
  });

  it('reads a zstd commit layer by its media type (upstream always gunzips) and writes gzip', async () => {
    const zstd = path.join(work, 'zstd');
    await encapsulate(repo, fx.ref, {}, { compression: 'zstd' }, ImageReference.parse(`oci:${zstd}`));
    expect((await image(zstd)).manifest.layers[0]!.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+zstd');
    const out = path.join(work, 'zstd-resigned');
    await updateDetachedMetadata(ImageReference.parse(`oci:${zstd}`), ImageReference.parse(`oci:${out}`), key2Detached);
    expect((await image(out)).manifest.layers[0]!.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
    const r = await repoWithRemote(['key2']);
    expect((await unencapsulate(r, remoteRef(out))).ostreeCommit).toBe(COMMIT_V0);
  });

  it('accepts a Docker gzip layer media type (upstream: Unhandled layer type)', async () => {
    const docker = path.join(work, 'docker-gzip');
    const oci = await OciDir.ensure(docker);
    const { manifest, config } = await image(single);
    await oci.writeBlob(await (await OciDir.open(single)).readBlob(manifest.layers[0]!));
    manifest.layers[0] = { ...manifest.layers[0]!, mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip' };
    manifest.config = await oci.writeConfig(config);
    await oci.insertManifest(manifest);
    const dest = await freshRepo();
    expect((await unencapsulate(dest, OstreeImageReference.parse(`ostree-unverified-image:oci:${docker}`))).ostreeCommit).toBe(COMMIT_V0);
  });

  it('refuses images without an ostree commit layer', async () => {
    const plain = path.join(work, 'plain');
    const oci = await OciDir.ensure(plain);
    const { manifest, config } = await image(single);
    delete config.config!.Labels!['ostree.final-diffid'];
    await oci.writeBlob(await (await OciDir.open(single)).readBlob(manifest.layers[0]!));
    manifest.config = await oci.writeConfig(config);
    await oci.insertManifest(manifest);
    await expect(updateDetachedMetadata(ImageReference.parse(`oci:${plain}`), ImageReference.parse(`oci:${work}/never`), key2Detached)).rejects.toThrow(
      'Parsing manifest layout: No ostree.final-diffid label found, not an ostree encapsulated container',
    );
    await expect(unencapsulate(await freshRepo(), OstreeImageReference.parse(`ostree-unverified-image:oci:${plain}`))).rejects.toThrow(
      'Image has 1 non-ostree layers',
    );
  });
});

describe('layers the store already holds', () => {
  it('are not fetched again', async () => {
    const dest = await freshRepo();
    await unencapsulate(dest, OstreeImageReference.parse(`ostree-unverified-image:oci:${chunked}`));
    // A copy of the image without its chunk layers' blobs: importing it needs the blob refs.
    const copy = path.join(work, 'chunks-gone');
    await cp(chunked, copy, { recursive: true });
    const oci = await OciDir.open(copy);
    const { manifest } = await oci.readManifest();
    for (const l of manifest.layers.slice(1)) await rm(oci.blobPath(l.digest));
    const imgref = OstreeImageReference.parse(`ostree-unverified-image:oci:${copy}`);
    await expect(unencapsulate(dest, imgref)).rejects.toThrow(/^Importing: Layer sha256:/);
    const blobRef = (digest: string) => prefixEscapeForRef('ostree/container/blob', digest);
    for (const l of manifest.layers.slice(1)) await dest.setRefImmediate(blobRef(l.digest), COMMIT_V0);
    expect((await unencapsulate(dest, imgref)).ostreeCommit).toBe(COMMIT_V0);
    // With the commit layer's ref too, nothing is fetched: the ref names the commit.
    await rm(oci.blobPath(manifest.layers[0]!.digest));
    await dest.setRefImmediate(blobRef(manifest.layers[0]!.digest), COMMIT_V0);
    expect((await unencapsulate(dest, imgref)).ostreeCommit).toBe(COMMIT_V0);
  });
});

describe('images unencapsulate refuses', () => {
  it('an image the layered store already holds', async () => {
    const dest = await freshRepo();
    const { digest } = await unencapsulate(dest, OstreeImageReference.parse(`ostree-unverified-image:oci:${single}`)).then((r) => ({ digest: r.imageDigest }));
    // What the store records for a pulled image: a merge commit with the manifest digest.
    const { rootContents, rootMetadata } = await dest.loadCommit(COMMIT_V0);
    const storeRef = `ostree/container/image/${escapeRef(`oci:${single}`)}`;
    await dest.withTransaction(async () => {
      const merge = await dest.writeCommit({
        root: { contents: rootContents, metadata: rootMetadata },
        metadata: { 'ostree.manifest-digest': { type: 's', value: digest } },
        timestamp: 0,
      });
      dest.transactionSetRef(storeRef, merge);
    });
    await expect(unencapsulate(dest, OstreeImageReference.parse(`ostree-unverified-image:oci:${single}`))).rejects.toThrow(
      `Image oci:${single} is already present in the store (${storeRef})`,
    );
  });

  it('an image the store pulled: refused by the importer itself', async () => {
    const dest = await freshRepo();
    const unverified = `ostree-unverified-image:oci:${single}`;
    await pullImage(dest, unverified);
    const before = await repoSnapshot(dest.path);
    await expect(unencapsulate(dest, OstreeImageReference.parse(unverified))).rejects.toThrow(
      new Error(`Image oci:${single} is already present in the store (ostree/container/image/${escapeRef(`oci:${single}`)}); use the store to access it`),
    );
    expect(await repoSnapshot(dest.path)).toEqual(before);
  });

  it('a store entry without its manifest digest whose manifest has the same config', async () => {
    // A damaged store entry (the store's own query refuses it) still counts by its config digest.
    const dest = await freshRepo();
    const emptyDir = path.join(work, 'empty-root');
    await mkdir(emptyDir, { recursive: true });
    const { manifest } = await (await OciDir.open(single)).readManifest();
    const storeRef = `ostree/container/image/${escapeRef(`oci:${single}`)}`;
    await dest.withTransaction(async () => {
      const root = await dest.writeTree({ directories: [{ source: emptyDir }] });
      const merge = await dest.writeCommit({ root, metadata: { 'ostree.manifest': { type: 's', value: JSON.stringify(manifest) } }, timestamp: 0 });
      dest.transactionSetRef(storeRef, merge);
    });
    await expect(unencapsulate(dest, OstreeImageReference.parse(`ostree-unverified-image:oci:${single}`))).rejects.toThrow(
      new Error(`Image oci:${single} is already present in the store (${storeRef}); use the store to access it`),
    );
    expect(await dest.hasObject('commit', COMMIT_V0)).toBe(false);
  });

  it('ostree-image-signed with a containers policy accepting anything by default', async () => {
    const imgref = OstreeImageReference.parse(`ostree-image-signed:oci:${single}`);
    const refusal = 'containers-policy.json specifies a default of `insecureAcceptAnything`; refusing usage';
    // The machine's own /etc/containers/policy.json decides which branch is real here.
    if (await containerPolicyIsDefaultInsecure()) await expectRejectedCleanly(await freshRepo(), imgref, refusal);
    else await expect(unencapsulate(await freshRepo(), imgref)).rejects.not.toThrow(refusal);
  });

  /** A copy of the chunked image with `edit` applied to its manifest and config. */
  async function variant(name: string, edit: (m: import('../../src/oci/types.js').ImageManifest, c: import('../../src/oci/types.js').ImageConfiguration, oci: OciDir) => Promise<void>) {
    const dir = await editOciImage(chunked, path.join(work, name), (oci, m, c) => edit(m, c, oci));
    return OstreeImageReference.parse(`ostree-unverified-image:oci:${dir}`);
  }

  it('an unknown layer media type', async () => {
    const ref = await variant('bzip2', async (m) => {
      m.layers[1]!.mediaType = 'application/vnd.oci.image.layer.v1.tar+bzip2';
    });
    await expectRejectedCleanly(await freshRepo(), ref, 'Unhandled layer type: application/vnd.oci.image.layer.v1.tar+bzip2');
  });

  it('a derived (non-ostree) layer', async () => {
    const ref = await variant('derived', async (m, c, oci) => {
      const blob = await oci.writeBlob(Buffer.alloc(1024));
      m.layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...blob });
      c.rootfs.diff_ids.push(blob.digest);
      c.history!.push({ created_by: 'derived' });
    });
    await expectRejectedCleanly(await freshRepo(), ref, 'Image has 1 non-ostree layers');
  });

  it('a refusal after the manifest was fetched stops the image proxy', async () => {
    const ref = await variant('derived-leak', async (m, c, oci) => {
      const blob = await oci.writeBlob(Buffer.alloc(1024));
      m.layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...blob });
      c.rootfs.diff_ids.push(blob.digest);
    });
    const dest = await freshRepo();
    const before = snapshot();
    await expect(unencapsulate(dest, ref)).rejects.toThrow(new Error('Image has 1 non-ostree layers'));
    expect(await leaksSince(before)).toEqual({ fds: [], children: [] });
  });

  it('cancellation', async () => {
    const r = await freshRepo();
    const before = await repoSnapshot(r.path);
    await expect(unencapsulate(r, OstreeImageReference.parse(`ostree-unverified-image:oci:${chunked}`), { signal: AbortSignal.abort() })).rejects.toThrow(
      /aborted/,
    );
    // Aborted while the layers are being imported.
    const ac = new AbortController();
    const started = unencapsulate(r, OstreeImageReference.parse(`ostree-unverified-image:oci:${chunked}`), {
      signal: ac.signal,
      progress: (e) => e.type === 'layer-started' && ac.abort(),
    });
    await expect(started).rejects.toThrow(/cancel|abort/i);
    expect(await repoSnapshot(r.path)).toEqual(before);
  });

  it('a corrupt layer: the transaction is aborted and the repo unchanged', async () => {
    const ref = await variant('corrupt', async (m, _c, oci) => {
      // Flip a byte near the end of the commit layer's gzip stream (a re-hashed, valid blob).
      const good = await oci.readBlob(m.layers[0]!);
      const bad = Buffer.from(good);
      bad[bad.length - 40] ^= 0xff;
      const blob = await oci.writeBlob(bad);
      m.layers[0] = { ...m.layers[0]!, ...blob };
    });
    await expectRejectedCleanly(await freshRepo(), ref, /^Importing: Layer sha256:[0-9a-f]{64}: /);
  });

  it('a corrupt last chunk layer: no commit, and no partial marker left behind for it', async () => {
    const ref = await variant('corrupt-chunk', async (m, _c, oci) => {
      // The commit layer starts first and is read (and its commit marked partial) before the
      // last layer fails; the transaction is aborted, so the marker would refer to nothing.
      const last = m.layers.length - 1;
      const bad = Buffer.from(await oci.readBlob(m.layers[last]!));
      bad[bad.length - 40] ^= 0xff;
      m.layers[last] = { ...m.layers[last]!, ...(await oci.writeBlob(bad)) };
    });
    await expectRejectedCleanly(await freshRepo(), ref, /^Importing: Layer sha256:[0-9a-f]{64}: /);
  });
});

describe('options and result', () => {
  const unverified = (dir: string) => OstreeImageReference.parse(`ostree-unverified-image:oci:${dir}`);

  it('an unverified import returns the commit and the manifest digest, no verification text', async () => {
    const r = await freshRepo();
    const result = await unencapsulate(r, unverified(single), { parallelism: 1 });
    const { descriptor } = await (await OciDir.open(single)).readManifest();
    expect(result).toStrictEqual({ ostreeCommit: COMMIT_V0, imageDigest: descriptor.digest });
  });

  it('the image at the reference changed since the store pulled it: imported', async () => {
    const dest = await freshRepo();
    const moving = path.join(work, 'moving');
    await cp(single, moving, { recursive: true });
    await pullImage(dest, `ostree-unverified-image:oci:${moving}`);
    // The reference now names another image (chunked: another manifest and config).
    await rm(moving, { recursive: true });
    await cp(chunked, moving, { recursive: true });
    const result = await unencapsulate(dest, unverified(moving));
    expect(result.ostreeCommit).toBe(COMMIT_V0);
    expect(result.imageDigest).toBe((await (await OciDir.open(chunked)).readManifest()).descriptor.digest);
  });

  it('parallelism is checked before anything is fetched', async () => {
    const r = await freshRepo();
    const before = await repoSnapshot(r.path);
    await expect(unencapsulate(r, unverified(single), { parallelism: 0 })).rejects.toThrow(new Error('Invalid parallelism 0'));
    expect(await repoSnapshot(r.path)).toEqual(before);
  });

  it('proxyConfig reaches skopeo', async () => {
    // No skopeo image proxy knows --decryption-key (src/proxy/config.ts): the flag shows it was passed.
    await expect(unencapsulate(await freshRepo(), unverified(single), { proxyConfig: { decryptionKeys: ['/nonexistent.key'] } })).rejects.toThrow(
      /unknown flag: --decryption-key/,
    );
  });

  it('spaceCheck: refused before fetching; false leaves it to libostree', async () => {
    // A reserve larger than any disk: nothing fits.
    const r = await freshRepo();
    await r.setConfig('core', 'min-free-space-size', '100000000MB');
    const r2 = await Repo.open(r.path);
    const before = await repoSnapshot(r.path);
    await expect(unencapsulate(r2, unverified(chunked))).rejects.toThrow(
      new RegExp(`^Importing: Not enough free space in ${r.path} for \\d+ layers of oci:${chunked}: needs [^,]+, 0 bytes free$`),
    );
    expect(await repoSnapshot(r.path)).toEqual(before);
    await expect(unencapsulate(r2, unverified(chunked), { spaceCheck: false })).rejects.toThrow(/min-free-space-size 100000000MB would be exceeded/);
    expect(await r2.hasObject('commit', COMMIT_V0)).toBe(false);
  });
});
