// The non-ostree example image (spec §7.6), read back by skopeo and by a tar reader.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import tarStream from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import { createNonOstreeExampleImage } from '../../src/fixture/index.js';

const tmpdirs: string[] = [];
async function tmp(): Promise<string> {
  const d = await mkdtemp('/var/tmp/fxn-');
  tmpdirs.push(d);
  return d;
}
afterAll(async () => {
  await Promise.all(tmpdirs.map((d) => rm(d, { recursive: true, force: true })));
});

const skopeo = async (args: string[]) => (await promisify(execFile)('skopeo', args)).stdout;

describe('non-ostree example image', () => {
  it('is a valid OCI directory skopeo reads and copies, with one gzip layer of the definitions', async () => {
    const dir = await tmp();
    const img = await createNonOstreeExampleImage({ dir });
    expect(img.path).toBe(path.join(dir, 'src/oci'));
    const raw = await skopeo(['inspect', '--raw', img.imageReference]);
    expect(`sha256:${createHash('sha256').update(raw).digest('hex')}`).toBe(img.manifestDigest);
    const manifest = JSON.parse(raw) as { layers: { mediaType: string; digest: string }[] };
    expect(manifest.layers.map((l) => l.mediaType)).toEqual(['application/vnd.oci.image.layer.v1.tar+gzip']);
    const config = JSON.parse(await skopeo(['inspect', '--config', '--raw', img.imageReference])) as Record<string, unknown>;
    expect(config).toMatchObject({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [img.diffId] } });
    // skopeo verifies every blob digest while copying.
    await skopeo(['copy', img.imageReference, `dir:${path.join(dir, 'copy')}`]);

    const tar = gunzipSync(await readFile(path.join(img.path, 'blobs/sha256', manifest.layers[0]!.digest.slice(7))));
    expect(`sha256:${createHash('sha256').update(tar).digest('hex')}`).toBe(img.diffId);
    const headers: tarStream.Headers[] = [];
    const extract = tarStream.extract();
    const done = (async () => {
      for await (const e of extract) {
        headers.push(e.header);
        e.resume();
      }
    })();
    extract.end(tar);
    await done;
    expect(headers).toHaveLength(17);
    const by = new Map(headers.map((h) => [h.name.replace(/\/$/, ''), h]));
    expect(by.get('usr/etc/polkit.conf')).toMatchObject({ uid: 10, gid: 10, mode: 0o644, type: 'file', size: 15 });
    expect(by.get('tmp')).toMatchObject({ type: 'directory', mode: 0o1755 });
    expect(by.get('usr/bin/sh')).toMatchObject({ type: 'symlink', linkname: 'bash', mode: 0o755 });
    expect(by.get('usr/bin/bash')).toMatchObject({ mode: 0o755, mtime: new Date(0) });
    expect(by.has('usr')).toBe(false); // paths as written: no parent entries
    expect(headers.every((h) => h.pax === null || h.pax === undefined)).toBe(true); // no xattrs
  });

  it('is reproducible: the same manifest digest every time', async () => {
    const [a, b] = await Promise.all([tmp(), tmp()]);
    expect((await createNonOstreeExampleImage({ dir: a })).manifestDigest).toBe((await createNonOstreeExampleImage({ dir: b })).manifestDigest);
  });
});
