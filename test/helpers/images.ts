// Tiny test images: built as skopeo `dir:` layouts (manifest.json + blobs named by hex digest),
// then copied by skopeo to the other transports.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { digestOf } from '../../src/oci/digest.js';
import { MediaType } from '../../src/oci/media-types.js';
import type { Descriptor, ImageConfiguration, ImageIndex, ImageManifest } from '../../src/oci/types.js';
import { skopeoCopy } from '../../src/proxy/skopeo-copy.js';
import { layerTar } from './tar.js';

export interface BuiltLayer {
  descriptor: Descriptor;
  /** Compressed bytes as stored. */
  blob: Buffer;
  diffId: string;
}

export interface BuiltImage {
  /** `dir:<path>` */
  ref: string;
  path: string;
  manifest: ImageManifest;
  manifestBytes: Buffer;
  manifestDigest: string;
  config: ImageConfiguration;
  configDigest: string;
  layers: BuiltLayer[];
}

export interface ImageSpec {
  architecture?: string;
  /** One map of file name → contents per layer. */
  layers: Record<string, string | Buffer>[];
  labels?: Record<string, string>;
}

const hex = (digest: string): string => digest.slice(digest.indexOf(':') + 1);

async function writeBlob(dir: string, data: Buffer): Promise<string> {
  const digest = digestOf(data);
  await fsp.writeFile(path.join(dir, hex(digest)), data);
  return digest;
}

/** Blobs and manifest of one image into `dir` (shared by the instances of a multi-arch image). */
async function writeImageBlobs(dir: string, spec: ImageSpec): Promise<Omit<BuiltImage, 'ref' | 'path'>> {
  const layers: BuiltLayer[] = [];
  for (const files of spec.layers) {
    const tar = await layerTar(files);
    const blob = gzipSync(tar);
    const digest = await writeBlob(dir, blob);
    layers.push({ descriptor: { mediaType: MediaType.ImageLayerGzip, digest, size: blob.length }, blob, diffId: digestOf(tar) });
  }
  const config: ImageConfiguration = {
    architecture: spec.architecture ?? 'amd64',
    os: 'linux',
    config: { Labels: spec.labels ?? {} },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map(() => ({ created_by: 'ostree-container test' })),
  } as ImageConfiguration;
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDigest = await writeBlob(dir, configBytes);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ImageManifest,
    config: { mediaType: MediaType.ImageConfig, digest: configDigest, size: configBytes.length },
    layers: layers.map((l) => l.descriptor),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  return { manifest, manifestBytes, manifestDigest: digestOf(manifestBytes), config, configDigest, layers };
}

async function startDir(dir: string): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  await fsp.writeFile(path.join(dir, 'version'), 'Directory Transport Version: 1.1\n');
}

/** A single-image `dir:` layout at `dir`. */
export async function buildDirImage(dir: string, spec: ImageSpec): Promise<BuiltImage> {
  await startDir(dir);
  const img = await writeImageBlobs(dir, spec);
  await fsp.writeFile(path.join(dir, 'manifest.json'), img.manifestBytes);
  return { ref: `dir:${dir}`, path: dir, ...img };
}

export interface BuiltIndex {
  ref: string;
  path: string;
  index: ImageIndex;
  indexDigest: string;
  instances: Record<string, BuiltImage>;
}

/** A multi-arch `dir:` layout: an OCI index as manifest.json, instances as `<hex>.manifest.json`. */
export async function buildDirIndex(dir: string, specs: Record<string, ImageSpec>): Promise<BuiltIndex> {
  await startDir(dir);
  const instances: Record<string, BuiltImage> = {};
  const manifests: Descriptor[] = [];
  for (const [arch, spec] of Object.entries(specs)) {
    const img = await writeImageBlobs(dir, { ...spec, architecture: arch });
    await fsp.writeFile(path.join(dir, `${hex(img.manifestDigest)}.manifest.json`), img.manifestBytes);
    instances[arch] = { ref: `dir:${dir}`, path: dir, ...img };
    manifests.push({
      mediaType: MediaType.ImageManifest,
      digest: img.manifestDigest,
      size: img.manifestBytes.length,
      platform: { architecture: arch, os: 'linux' },
    });
  }
  const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests };
  const bytes = Buffer.from(JSON.stringify(index));
  await fsp.writeFile(path.join(dir, 'manifest.json'), bytes);
  return { ref: `dir:${dir}`, path: dir, index, indexDigest: digestOf(bytes), instances };
}

/** The image copied to each local transport under `root`; values are image references. */
export async function copyToLocalTransports(
  src: string,
  root: string,
): Promise<{ oci: string; ociArchive: string; dockerArchive: string }> {
  const oci = `oci:${path.join(root, 'oci')}:latest`;
  const ociArchive = `oci-archive:${path.join(root, 'image.ociarchive')}:latest`;
  const dockerArchive = `docker-archive:${path.join(root, 'image.dockerarchive')}`;
  await skopeoCopy(src, oci);
  await skopeoCopy(src, ociArchive);
  await skopeoCopy(src, dockerArchive);
  return { oci, ociArchive, dockerArchive };
}
