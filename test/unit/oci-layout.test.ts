import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  MAX_DOCUMENT_SIZE,
  MediaType,
  OciDir,
  digestOf,
  extractOciArchive,
  hostPlatform,
  openOciArchive,
  writeOciArchive,
  type ImageConfiguration,
  type ImageManifest,
} from '../../src/index.js';
import { layerTar } from '../helpers/tar.js';

let tmp: string;
beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'oci-layout-'));
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Temp files the layout must not leave behind. */
async function leftovers(dir: string): Promise<string[]> {
  const all = await readdir(dir, { recursive: true });
  return all.filter((n) => path.basename(n).startsWith('.tmp-'));
}

async function buildImage(dir: OciDir, content: string, tag?: string) {
  const layer = await dir.writeBlob(content);
  const config: ImageConfiguration = {
    architecture: hostPlatform().architecture,
    os: 'linux',
    config: { Labels: { 'org.opencontainers.image.version': content } },
    rootfs: { type: 'layers', diff_ids: [layer.digest] },
  };
  const manifest: ImageManifest = {
    schemaVersion: 2,
    config: await dir.writeConfig(config),
    layers: [{ mediaType: MediaType.ImageLayer, ...layer }],
  };
  const desc = await dir.insertManifest(manifest, { tag });
  return { manifest, config, desc };
}

describe('OciDir', () => {
  it('ensure creates the layout (not parents) and open accepts it', async () => {
    const p = path.join(tmp, 'img');
    await expect(OciDir.ensure(path.join(tmp, 'no/such/parent'))).rejects.toThrow(/^Creating OCI directory .*no\/such\/parent: ENOENT/);
    await writeFile(path.join(tmp, 'file'), '');
    await expect(OciDir.ensure(path.join(tmp, 'file'))).rejects.toThrow(`Creating OCI directory ${tmp}/file: ENOTDIR`);
    const d = await OciDir.ensure(p);
    expect(d.path).toBe(p);
    expect(await readFile(path.join(p, 'oci-layout'), 'utf8')).toBe('{"imageLayoutVersion":"1.0.0"}');
    expect(await readFile(path.join(p, 'index.json'), 'utf8')).toBe('{"manifests":[],"schemaVersion":2}');
    expect((await stat(path.join(p, 'blobs/sha256'))).isDirectory()).toBe(true);
    await OciDir.open(p);
    // ensure on an existing layout keeps its content
    await buildImage(d, 'x', 'v1');
    await OciDir.ensure(p);
    expect((await d.readIndex()).manifests).toHaveLength(1);
  });

  it('open rejects what is not a layout', async () => {
    await expect(OciDir.open(tmp)).rejects.toThrow(`Not an OCI image layout: ${tmp}/oci-layout not found`);
    await writeFile(path.join(tmp, 'oci-layout'), '{"imageLayoutVersion":');
    await expect(OciDir.open(tmp)).rejects.toThrow(`Invalid ${tmp}/oci-layout: malformed JSON:`);
    await writeFile(path.join(tmp, 'oci-layout'), '{"imageLayoutVersion":"2.0.0"}');
    await expect(OciDir.open(tmp)).rejects.toThrow(`Invalid ${tmp}/oci-layout: unsupported imageLayoutVersion "2.0.0"`);
    await writeFile(path.join(tmp, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    await expect(OciDir.open(tmp)).rejects.toThrow(`Not an OCI image layout: ${tmp}/index.json not found`);
  });

  it('writes content-addressed blobs and reads them back verified', async () => {
    const d = await OciDir.ensure(tmp);
    const info = await d.writeBlob('hello');
    expect(info).toEqual({ digest: digestOf('hello'), size: 5 });
    expect(d.blobPath(info.digest)).toBe(path.join(tmp, 'blobs/sha256', info.digest.slice(7)));
    expect(await readFile(d.blobPath(info.digest), 'utf8')).toBe('hello');
    expect(((await stat(d.blobPath(info.digest))).mode & 0o777).toString(8)).toBe('644');
    expect(await d.hasBlob(info.digest)).toBe(true);
    expect((await d.readBlob(info)).toString()).toBe('hello');
    expect(await d.writeBlob('hello')).toEqual(info);
    expect(() => d.blobPath('sha256:xyz')).toThrow('Invalid sha256 digest "sha256:xyz"');
    expect(await leftovers(tmp)).toEqual([]);
  });

  it('writeBlobFromFile moves a produced file into place after checking it', async () => {
    const d = await OciDir.ensure(tmp);
    const t = d.tempPath();
    expect(path.dirname(t)).toBe(tmp);
    await writeFile(t, 'layer bytes');
    const digest = digestOf('layer bytes');
    expect(await d.writeBlobFromFile(t, { digest, size: 11 })).toEqual({ digest, size: 11 });
    expect(await readFile(d.blobPath(digest), 'utf8')).toBe('layer bytes');
    await expect(stat(t)).rejects.toThrow(/ENOENT/);

    // verify: false trusts the producer's digest but still checks the size
    const t2 = d.tempPath();
    await writeFile(t2, 'abc');
    await expect(d.writeBlobFromFile(t2, { digest: digestOf('abcd'), size: 4 }, { verify: false })).rejects.toThrow(
      `Blob ${digestOf('abcd')}: expected 4 bytes, file ${t2} has 3`,
    );
    await expect(stat(t2)).rejects.toThrow(/ENOENT/);

    // a digest mismatch stores nothing and removes the temp file
    const t3 = d.tempPath();
    await writeFile(t3, 'abc');
    const wrong = digestOf('xyz');
    await expect(d.writeBlobFromFile(t3, { digest: wrong })).rejects.toThrow(
      `Blob ${t3} does not match its digest: expected ${wrong}, found ${digestOf('abc')}`,
    );
    expect(await d.hasBlob(wrong)).toBe(false);
    expect(await leftovers(tmp)).toEqual([]);
  });

  it('writeBlobFromStream hashes while writing and checks an expected digest', async () => {
    const d = await OciDir.ensure(tmp);
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    const info = await d.writeBlobFromStream(Readable.from([big.subarray(0, 100), big.subarray(100)]));
    expect(info).toEqual({ digest: digestOf(big), size: big.length });
    await expect(d.writeBlobFromStream(Readable.from([Buffer.from('abc')]), { digest: digestOf('abd') })).rejects.toThrow(
      `Blob ${digestOf('abd')} does not match its digest: found ${digestOf('abc')}`,
    );
    expect(await d.hasBlob(digestOf('abd'))).toBe(false);
    expect(await leftovers(tmp)).toEqual([]);
  });

  it('insertManifest: untagged replaces the index, tagged keeps others and replaces the same tag', async () => {
    const d = await OciDir.ensure(tmp);
    const a = await buildImage(d, 'a', 'v1');
    const b = await buildImage(d, 'b', 'v2');
    expect(a.desc).toEqual({
      mediaType: MediaType.ImageManifest,
      digest: a.desc.digest,
      size: a.desc.size,
      platform: hostPlatform(),
      annotations: { 'org.opencontainers.image.ref.name': 'v1' },
    });
    expect((await d.readManifest('v1')).manifest).toEqual(a.manifest);
    expect((await d.readManifest('v2')).descriptor.digest).toBe(b.desc.digest);
    expect((await d.readManifest(b.desc.digest)).manifest).toEqual(b.manifest);
    await expect(d.readManifest()).rejects.toThrow(`OCI directory ${tmp} has 2 manifests in index.json; a tag is required`);
    await expect(d.readManifest('nope')).rejects.toThrow(`OCI directory ${tmp}: no descriptor found for reference "nope"`);

    const c = await buildImage(d, 'c', 'v1');
    const idx = await d.readIndex();
    expect(idx.manifests.map((m) => m.digest)).toEqual([b.desc.digest, c.desc.digest]);
    expect(await d.readConfig((await d.readManifest('v1')).manifest)).toEqual(c.config);

    const u = await buildImage(d, 'u');
    expect((await d.readIndex()).manifests).toEqual([u.desc]);
    expect((await d.readManifest()).manifest).toEqual(u.manifest);
    // The manifest blob is canonical JSON: a digest others can recompute.
    expect(digestOf(await readFile(d.blobPath(u.desc.digest)))).toBe(u.desc.digest);
    expect(await leftovers(tmp)).toEqual([]);
  });

  it('serialises concurrent index updates', async () => {
    const d = await OciDir.ensure(tmp);
    await Promise.all(Array.from({ length: 8 }, (_, i) => buildImage(d, `img${i}`, `t${i}`)));
    const tags = (await d.readIndex()).manifests.map((m) => m.annotations?.['org.opencontainers.image.ref.name']).sort();
    expect(tags).toEqual(['t0', 't1', 't2', 't3', 't4', 't5', 't6', 't7']);
  });

  it('tags may contain ":"', async () => {
    const d = await OciDir.ensure(tmp);
    const a = await buildImage(d, 'a', 'baz:latest');
    expect((await d.readManifest('baz:latest')).descriptor.digest).toBe(a.desc.digest);
  });

  it('resolves an image index entry to the host platform manifest', async () => {
    const d = await OciDir.ensure(tmp);
    const a = await buildImage(d, 'a');
    const other = { ...a.desc, digest: digestOf('other'), platform: { architecture: 'mips64le', os: 'linux' } };
    const nested = await d.writeJsonBlob({ schemaVersion: 2, manifests: [other, a.desc] }, MediaType.ImageIndex);
    await d.writeIndex({ schemaVersion: 2, manifests: [{ ...nested, annotations: { 'org.opencontainers.image.ref.name': 'multi' } }] });
    expect((await d.readManifest('multi')).manifest).toEqual(a.manifest);
  });
});

describe('OciDir bad input', () => {
  it('names the missing blob an index points at', async () => {
    const d = await OciDir.ensure(tmp);
    const a = await buildImage(d, 'a', 'v1');
    await rm(d.blobPath(a.desc.digest));
    await expect(d.readManifest('v1')).rejects.toThrow(`Blob ${a.desc.digest} not found in OCI directory ${tmp}`);
  });

  it('names a blob whose bytes do not match its digest', async () => {
    const d = await OciDir.ensure(tmp);
    const a = await buildImage(d, 'a', 'v1');
    const file = d.blobPath(a.manifest.config.digest);
    const bytes = await readFile(file);
    bytes[0] ^= 1;
    await writeFile(file, bytes);
    await expect(d.readConfig(a.manifest)).rejects.toThrow(
      `Blob ${file} does not match its digest: expected ${a.manifest.config.digest}, found ${digestOf(bytes)}`,
    );
    await writeFile(file, Buffer.concat([bytes, Buffer.from(' ')]));
    await expect(d.readConfig(a.manifest)).rejects.toThrow(`Blob ${file}: expected ${bytes.length} bytes from its descriptor, found ${bytes.length + 1}`);
  });

  it('refuses to read an oversized document into memory', async () => {
    const d = await OciDir.ensure(tmp);
    const big = await d.writeBlob(Buffer.alloc(MAX_DOCUMENT_SIZE + 1, 0x20));
    await d.writeIndex({ schemaVersion: 2, manifests: [{ mediaType: MediaType.ImageManifest, ...big }] });
    await expect(d.readManifest()).rejects.toThrow(
      `Blob ${d.blobPath(big.digest)} has ${MAX_DOCUMENT_SIZE + 1} bytes, more than the ${MAX_DOCUMENT_SIZE} allowed here`,
    );
  });

  it('rejects malformed index.json and wrong media types, naming the file', async () => {
    const d = await OciDir.ensure(tmp);
    const a = await buildImage(d, 'a', 'v1');
    const index = path.join(tmp, 'index.json');
    await writeFile(index, '{"schemaVersion":2,');
    await expect(d.readManifest('v1')).rejects.toThrow(`Invalid image index ${index}: malformed JSON:`);
    await writeFile(index, JSON.stringify({ schemaVersion: 2, manifests: [{ ...a.desc, mediaType: MediaType.ImageLayerGzip }] }));
    await expect(d.readManifest('v1')).rejects.toThrow(
      `OCI directory ${tmp}: descriptor ${a.desc.digest} has unexpected media type "application/vnd.oci.image.layer.v1.tar+gzip" for an image manifest`,
    );
    await writeFile(index, JSON.stringify({ schemaVersion: 2, manifests: [{ ...a.desc, digest: 'sha1:abc' }] }));
    await expect(d.readManifest('v1')).rejects.toThrow(`Invalid image index ${index}: manifests[0].digest: Unsupported digest algorithm "sha1"`);
    // A manifest blob with the right digest but invalid content
    const bad = await d.writeBlob('{"schemaVersion":2,"config":{},"layers":[]}');
    await writeFile(index, JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: MediaType.ImageManifest, ...bad }] }));
    await expect(d.readManifest()).rejects.toThrow(`Invalid image manifest ${bad.digest} in ${tmp}: config.mediaType: expected a string`);
  });
});

describe('oci-archive', () => {
  it('round-trips a layout through an archive', async () => {
    const src = await OciDir.ensure(path.join(tmp, 'src'));
    const a = await buildImage(src, 'a', 'v1');
    await buildImage(src, 'b', 'v2');
    const archive = path.join(tmp, 'img.ociarchive');
    await writeOciArchive(src, archive);
    const again = path.join(tmp, 'again.ociarchive');
    await writeOciArchive(src, again);
    expect((await readFile(archive)).equals(await readFile(again))).toBe(true);

    const dest = await extractOciArchive(archive, path.join(tmp, 'dest'));
    expect(await readFile(path.join(dest.path, 'index.json'), 'utf8')).toBe(await readFile(path.join(src.path, 'index.json'), 'utf8'));
    expect((await dest.readManifest('v1')).manifest).toEqual(a.manifest);
    const opened = await openOciArchive(archive, tmp);
    expect((await opened.dir.readManifest('v2')).descriptor).toEqual((await src.readManifest('v2')).descriptor);
    await opened.remove();
    await expect(stat(opened.dir.path)).rejects.toThrow(/ENOENT/);
    expect(await leftovers(tmp)).toEqual([]);
  });

  it('rejects an archive whose blob does not match its name, and non-archives', async () => {
    const lie = digestOf('truth');
    const bad = await layerTar({
      'oci-layout': '{"imageLayoutVersion":"1.0.0"}',
      'index.json': JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: MediaType.ImageManifest, digest: lie, size: 5 }] }),
      [`blobs/sha256/${lie.slice(7)}`]: 'lies',
    });
    const archive = path.join(tmp, 'bad.tar');
    await writeFile(archive, bad);
    await expect(extractOciArchive(archive, path.join(tmp, 'x'))).rejects.toThrow(
      `Reading OCI archive ${archive}: Blob ${lie} does not match its digest: found ${digestOf('lies')}`,
    );
    // The layout keeps its previous (empty) index: nothing names the rejected blob.
    expect(await readFile(path.join(tmp, 'x', 'index.json'), 'utf8')).toBe('{"manifests":[],"schemaVersion":2}');
    await writeFile(path.join(tmp, 'plain'), 'not a tar at all'.repeat(64));
    await expect(openOciArchive(path.join(tmp, 'plain'), tmp)).rejects.toThrow(`Reading OCI archive ${tmp}/plain:`);
    const empty = path.join(tmp, 'empty.tar');
    await writeFile(empty, await layerTar([]));
    await expect(extractOciArchive(empty, path.join(tmp, 'y'))).rejects.toThrow(`Reading OCI archive ${empty}: missing oci-layout`);
    expect((await readdir(tmp)).filter((n) => n.startsWith('oci-archive-'))).toEqual([]);
    expect(await leftovers(tmp)).toEqual([]);
  });
});
