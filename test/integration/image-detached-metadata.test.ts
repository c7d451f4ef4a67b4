// Image-level updateDetachedMetadata (spec tar-and-encapsulation §6, CLI `image
// replace-detached-metadata`): only the commit layer is rewritten; what is kept, what changes with
// it, between registries without TLS, and every failure with its context and no temporary files.
// (The index entry's platform it records is not checked: skopeo's copy neither writes nor reads it
// for a single manifest, so nothing outside can see it.)
import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DIFFID_LABEL } from '../../src/container/constants.js';
import { encapsulate } from '../../src/container/encapsulate.js';
import { unencapsulate } from '../../src/container/unencapsulate.js';
import { updateDetachedMetadata } from '../../src/container/update-detached-metadata.js';
import { COMMIT_V0, type ExampleOs } from '../../src/fixture/index.js';
import { OciDir } from '../../src/oci/layout.js';
import { MediaType } from '../../src/oci/media-types.js';
import { skopeoCopy } from '../../src/proxy/skopeo-copy.js';
import { ImageReference, OstreeImageReference } from '../../src/ref/image-reference.js';
import type { Repo } from '../../src/repo/repo.js';
import { registryFixture } from '../helpers/registry.js';
import { editOciImage } from '../helpers/sysroot.js';
import { withOwnTmpdir } from '../helpers/tmpdir.js';
import { cleanupTmp, detachedBytes, exampleWork, freshRepo } from './encapsulate-util.js';
import { execFileP } from './tar-util.js';

const reg = registryFixture('image-detached-');
let fx: ExampleOs;
let repo: Repo;
let work: string;
let chunked: string;
let single: string;
/** Some other valid detached metadata for the commit: its own, plus a key. */
let other: Buffer;

beforeAll(async () => {
  let meta;
  ({ fx, repo, meta, work } = await exampleWork('image-detached-'));
  chunked = path.join(work, 'chunked');
  single = path.join(work, 'single');
  await encapsulate(repo, fx.ref, { labels: { kept: 'yes' } }, { contentmeta: meta }, ImageReference.parse(`oci:${chunked}`));
  await encapsulate(repo, fx.ref, { labels: { kept: 'yes' } }, {}, ImageReference.parse(`oci:${single}`));
  const d = (await repo.readCommitDetachedMetadata(COMMIT_V0))!;
  d.set('org.example.note', { type: 's', value: 'replaced' });
  const { vardictToBytes } = await import('../../src/repo/repo.js');
  other = vardictToBytes(d);
}, 180_000);
afterAll(cleanupTmp);

const oci = (dir: string, tag?: string) => ImageReference.parse(`oci:${dir}${tag ? `:${tag}` : ''}`);

async function image(dir: string, tag?: string) {
  const layout = await OciDir.open(dir);
  const { manifest, descriptor } = await layout.readManifest(tag);
  return { manifest, descriptor, config: await layout.readConfig(manifest), index: await layout.readIndex() };
}

describe('what changes and what is kept', () => {
  for (const shape of ['chunked', 'single'] as const) {
    it(`${shape}: only the commit layer and its diff_id change; the new metadata arrives on import`, async () => {
      const src = shape === 'chunked' ? chunked : single;
      const dest = path.join(work, `${shape}-replaced`);
      const before = await image(src);
      const digest = await updateDetachedMetadata(oci(src), oci(dest), other);
      const after = await image(dest);
      expect(after.descriptor.digest).toBe(digest);
      // The commit layer is the first: rewritten (gzip, annotations dropped as upstream does).
      const [commitLayer, ...rest] = after.manifest.layers;
      expect(commitLayer).toEqual({ mediaType: MediaType.ImageLayerGzip, digest: expect.not.stringMatching(before.manifest.layers[0]!.digest), size: expect.any(Number) });
      expect(rest).toEqual(before.manifest.layers.slice(1));
      expect(after.config.rootfs.diff_ids.slice(1)).toEqual(before.config.rootfs.diff_ids.slice(1));
      expect(after.config.rootfs.diff_ids[0]).not.toBe(before.config.rootfs.diff_ids[0]);
      expect(after.config.history).toEqual(before.config.history);
      // ostree.final-diffid names the last ostree layer: updated when that is the commit layer.
      const labels = after.config.config!.Labels!;
      expect(labels).toEqual({
        ...before.config.config!.Labels,
        ...(shape === 'single' ? { [DIFFID_LABEL]: after.config.rootfs.diff_ids[0] } : {}),
      });
      expect(labels.kept).toBe('yes');
      const r = await freshRepo();
      expect((await unencapsulate(r, OstreeImageReference.parse(`ostree-unverified-image:oci:${dest}`))).ostreeCommit).toBe(COMMIT_V0);
      expect(await detachedBytes(r, COMMIT_V0)).toEqual(other);
    });
  }

  it('from one plain-HTTP registry repository to another (no TLS verification, both copies)', async () => {
    const from = `${reg.registry.ref('exampleos/signed')}:v0`;
    const to = `${reg.registry.ref('exampleos/resigned')}:v0`;
    await skopeoCopy(oci(single), from, { destTlsVerify: false });
    await expect(updateDetachedMetadata(ImageReference.parse(from), ImageReference.parse(to), other)).rejects.toThrow(/^Skopeo copy: skopeo failed: .*https/s);
    const digest = await updateDetachedMetadata(ImageReference.parse(from), ImageReference.parse(to), other, { insecureSkipTlsVerification: true });
    const { stdout } = await execFileP('skopeo', ['inspect', '--tls-verify=false', to]);
    expect((JSON.parse(stdout) as { Digest: string }).Digest).toBe(digest);
  });
});

describe('failures: context, nothing left behind', () => {
  it('skopeo failing on either copy, a broken authfile, an abort: named, the temporary layout removed', async () => {
    await withOwnTmpdir(work, async (tmp) => {
      await expect(updateDetachedMetadata(oci('/nonexistent/image'), oci(path.join(work, 'x')), other)).rejects.toThrow(/^Skopeo copy: skopeo failed: /);
      expect(await readdir(tmp)).toEqual([]);
      await expect(updateDetachedMetadata(oci(single), ImageReference.parse('docker://127.0.0.1:9/nowhere:v0'), other, { insecureSkipTlsVerification: true })).rejects.toThrow(
        /^Skopeo copy: skopeo failed: .*127\.0\.0\.1:9/s,
      );
      expect(await readdir(tmp)).toEqual([]);
      const authfile = path.join(work, 'broken-auth.json');
      await writeFile(authfile, 'not json');
      const to = ImageReference.parse(`${reg.registry.ref('exampleos/auth')}:v0`);
      await expect(updateDetachedMetadata(oci(single), to, other, { authfile, insecureSkipTlsVerification: true })).rejects.toThrow(/broken-auth\.json/);
      const ac = new AbortController();
      ac.abort();
      await expect(updateDetachedMetadata(oci(single), oci(path.join(work, 'z')), other, { signal: ac.signal })).rejects.toThrow(/^Skopeo copy: .*aborted/s);
      expect(await readdir(tmp)).toEqual([]);
    });
  });

  it('an abort while the commit layer is rewritten: named with the layer, its temporary blob removed', async () => {
    const layer = (await image(single)).manifest.layers[0]!.digest;
    const ac = new AbortController();
    // The abort comes when the copied image is read, i.e. after the first skopeo copy.
    const readIndex = OciDir.prototype.readIndex;
    const spy = vi.spyOn(OciDir.prototype, 'readIndex').mockImplementation(function (this: OciDir) {
      ac.abort();
      return readIndex.call(this);
    });
    try {
      await withOwnTmpdir(work, async (tmp) => {
        await expect(updateDetachedMetadata(oci(single), oci(path.join(work, 'never')), other, { signal: ac.signal })).rejects.toThrow(
          `Rewriting commit layer ${layer}: This operation was aborted`,
        );
        expect(await readdir(tmp)).toEqual([]);
      });
    } finally {
      spy.mockRestore();
    }
  });

  it('an image without a configuration section is refused', async () => {
    const bare = await editOciImage(single, path.join(work, 'no-config'), (_o, _m, c) => {
      delete c.config;
    });
    await expect(updateDetachedMetadata(oci(bare), oci(path.join(work, 'no-config-out')), other)).rejects.toThrow(/^Image is missing container configuration$/);
  });

  it('a copy that is not the image skopeo reported is refused (a skopeo that lies about the digest, or copies nothing)', async () => {
    // Fakes only to inject the fault: a skopeo that reports sha256:0…0 after running the real one
    // (or instead of it), found first on PATH.
    const real = (await execFileP('sh', ['-c', 'command -v skopeo'])).stdout.trim();
    const fake = async (name: string, copy: boolean): Promise<string> => {
      const bin = path.join(work, name);
      await mkdir(bin, { recursive: true });
      await writeFile(
        path.join(bin, 'skopeo'),
        `#!/bin/sh\ndf=; prev=\nfor a in "$@"; do [ "$prev" = --digestfile ] && df=$a; prev=$a; done\n` +
          (copy
            ? `"${real}" "$@" || exit $?\n`
            : // an empty layout at the destination (the last argument, oci:DIR)
              `dest=\${prev#oci:}; mkdir -p "$dest" && echo '{"imageLayoutVersion":"1.0.0"}' > "$dest/oci-layout" && echo '{"schemaVersion":2,"manifests":[]}' > "$dest/index.json"\n`) +
          `printf 'sha256:%064d' 0 > "$df"\n`,
      );
      await chmod(path.join(bin, 'skopeo'), 0o755);
      return bin;
    };
    const saved = process.env.PATH;
    try {
      process.env.PATH = `${await fake('lying-skopeo', true)}:${saved}`;
      await expect(updateDetachedMetadata(oci(single), oci(path.join(work, 'lied')), other)).rejects.toThrow(
        new RegExp(`^Copied image has manifest ${(await image(single)).descriptor.digest}, expected sha256:0{64}$`),
      );
      process.env.PATH = `${await fake('idle-skopeo', false)}:${saved}`;
      await expect(updateDetachedMetadata(oci(single), oci(path.join(work, 'idle')), other)).rejects.toThrow(/^Copied image has manifest \(none\), expected sha256:0{64}$/);
    } finally {
      process.env.PATH = saved;
    }
  });
});
