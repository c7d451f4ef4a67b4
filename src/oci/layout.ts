// An OCI image layout directory (`oci:` transport): content-addressed blobs under
// blobs/<alg>/<hex>, `index.json` naming manifests (optionally by tag), and `oci-layout`.
// Every write is temp file → fsync → rename → fsync(dir), so readers (skopeo included) never
// see a partial blob or index.
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { withContext } from '../errors.js';
import { fsyncDir, fsyncFile, tempName, writeFileAtomic } from './atomic.js';
import { canonicalJson } from './canonical-json.js';
import { createDigester, digestOf, parseDigest, type DigestAlgorithm } from './digest.js';
import { ANNOTATION_REF_NAME, MediaType, OCI_LAYOUT_VERSION } from './media-types.js';
import { hostPlatform } from './platform.js';
import {
  INDEX_MEDIA_TYPES,
  MANIFEST_MEDIA_TYPES,
  parseImageConfiguration,
  parseImageIndex,
  parseImageManifest,
  type Descriptor,
  type ImageConfiguration,
  type ImageIndex,
  type ImageManifest,
  type Platform,
} from './types.js';

/** Digest and size of a stored blob. */
export interface BlobInfo {
  digest: string;
  size: number;
}

/** What a caller expects a blob to be; `size` is checked when given. */
export interface ExpectedBlob {
  digest: string;
  size?: number;
}

/** A manifest read back from the layout, with the index descriptor that led to it. */
export interface ResolvedManifest {
  descriptor: Descriptor;
  manifest: ImageManifest;
}

const EMPTY_INDEX: ImageIndex = { schemaVersion: 2, manifests: [] };

/** Largest manifest, index or config we read into memory (containers/image uses the same 4 MiB). */
export const MAX_DOCUMENT_SIZE = 4 * 1024 * 1024;

function isNotFound(e: unknown): boolean {
  return (e as NodeJS.ErrnoException)?.code === 'ENOENT';
}

/** Streams a file through a digester; returns its `<alg>:<hex>` digest. */
async function hashFile(file: string, algorithm: DigestAlgorithm): Promise<string> {
  const h = createDigester(algorithm);
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return `${algorithm}:${h.digest('hex')}`;
}

/**
 * An OCI image layout directory. Obtain one with `OciDir.ensure` (create if missing) or
 * `OciDir.open` (must already be a layout). Methods are safe to call concurrently on one
 * instance: blob writes use unique temp files, and index updates are serialised.
 */
export class OciDir {
  /** Serialises read-modify-write cycles of index.json within this process. */
  private indexLock: Promise<unknown> = Promise.resolve();

  private constructor(
    /** Absolute path of the layout directory. */
    readonly path: string,
  ) {}

  /**
   * Opens `dir` as a layout, creating what is missing: the directory itself (not its parents),
   * `oci-layout`, `blobs/sha256/` and an empty `index.json`. Existing content is kept.
   */
  static async ensure(dir: string): Promise<OciDir> {
    const d = new OciDir(path.resolve(dir));
    await withContext(`Creating OCI directory ${d.path}`, async () => {
      try {
        await mkdir(d.path, { mode: 0o755 });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      await mkdir(path.join(d.path, 'blobs', 'sha256'), { recursive: true, mode: 0o755 });
      if (!(await exists(d.file('oci-layout')))) {
        await writeFileAtomic(d.file('oci-layout'), canonicalJson({ imageLayoutVersion: OCI_LAYOUT_VERSION }));
      }
      if (!(await exists(d.file('index.json')))) await d.writeIndex(EMPTY_INDEX);
    });
    return d;
  }

  /** Opens an existing layout; fails unless `oci-layout` declares version 1.x and index.json exists. */
  static async open(dir: string): Promise<OciDir> {
    const d = new OciDir(path.resolve(dir));
    let layout: string;
    try {
      layout = await readFile(d.file('oci-layout'), 'utf8');
    } catch (e) {
      if (isNotFound(e)) throw new Error(`Not an OCI image layout: ${d.file('oci-layout')} not found`);
      throw e;
    }
    let version: unknown;
    try {
      version = (JSON.parse(layout) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
    } catch (e) {
      throw new Error(`Invalid ${d.file('oci-layout')}: malformed JSON: ${(e as Error).message}`);
    }
    if (typeof version !== 'string' || !version.startsWith('1.')) {
      throw new Error(`Invalid ${d.file('oci-layout')}: unsupported imageLayoutVersion ${JSON.stringify(version)}`);
    }
    if (!(await exists(d.file('index.json')))) throw new Error(`Not an OCI image layout: ${d.file('index.json')} not found`);
    return d;
  }

  private file(name: string): string {
    return path.join(this.path, name);
  }

  /** Path of the blob for `digest` (validated; the blob need not exist). */
  blobPath(digest: string): string {
    const { algorithm, encoded } = parseDigest(digest);
    return path.join(this.path, 'blobs', algorithm, encoded);
  }

  async hasBlob(digest: string): Promise<boolean> {
    return exists(this.blobPath(digest));
  }

  /**
   * A fresh temp file path inside the layout (same filesystem as the blobs), for a producer such
   * as native code to write a blob into before `writeBlobFromFile`. Nothing is created; the
   * caller removes the file if it abandons it.
   */
  tempPath(): string {
    return tempName(this.path, 'blob');
  }

  /** Writes `data` as a sha256 blob; a no-op rewrite if it already exists. */
  async writeBlob(data: string | Uint8Array): Promise<BlobInfo> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const info = { digest: digestOf(bytes), size: bytes.byteLength };
    const dest = this.blobPath(info.digest);
    if (!(await exists(dest))) await writeFileAtomic(dest, bytes);
    return info;
  }

  /** Writes `value` as a canonical-JSON blob and returns its descriptor. */
  async writeJsonBlob(value: unknown, mediaType: string): Promise<Descriptor> {
    const info = await this.writeBlob(canonicalJson(value));
    return { mediaType, digest: info.digest, size: info.size };
  }

  /** Writes an image configuration blob. */
  async writeConfig(config: ImageConfiguration): Promise<Descriptor> {
    return this.writeJsonBlob(config, MediaType.ImageConfig);
  }

  /**
   * Moves a finished temp file (from `tempPath()`) into place as the blob `expected.digest`.
   * The file is fsync'd first. Its size is always checked; its content is re-hashed unless
   * `verify: false` (for producers that hashed the bytes while writing them). On any mismatch
   * or error the temp file is removed and nothing is stored.
   */
  async writeBlobFromFile(tmpPath: string, expected: ExpectedBlob, opts: { verify?: boolean } = {}): Promise<BlobInfo> {
    try {
      const dest = this.blobPath(expected.digest);
      const { algorithm } = parseDigest(expected.digest);
      const size = (await stat(tmpPath)).size;
      if (expected.size !== undefined && size !== expected.size) {
        throw new Error(`Blob ${expected.digest}: expected ${expected.size} bytes, file ${tmpPath} has ${size}`);
      }
      if (opts.verify !== false) {
        const actual = await hashFile(tmpPath, algorithm);
        if (actual !== expected.digest) {
          throw new Error(`Blob ${tmpPath} does not match its digest: expected ${expected.digest}, found ${actual}`);
        }
      }
      await fsyncFile(tmpPath);
      await mkdir(path.dirname(dest), { recursive: true, mode: 0o755 });
      await rename(tmpPath, dest);
      await fsyncDir(path.dirname(dest));
      return { digest: expected.digest, size };
    } catch (e) {
      await rm(tmpPath, { force: true });
      throw e;
    }
  }

  /**
   * Streams `source` (any byte stream: a Readable, a tar entry…) into a new sha256 blob (hashed on the way). When `expected` is given the
   * result must match it, or nothing is stored.
   */
  async writeBlobFromStream(source: AsyncIterable<Uint8Array>, expected?: ExpectedBlob): Promise<BlobInfo> {
    const tmp = this.tempPath();
    const algorithm = expected ? parseDigest(expected.digest).algorithm : 'sha256';
    const h = createDigester(algorithm);
    let size = 0;
    try {
      const fh = await open(tmp, 'wx', 0o644);
      try {
        for await (const chunk of source) {
          h.update(chunk);
          size += chunk.byteLength;
          await fh.write(chunk);
        }
      } finally {
        await fh.close();
      }
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    const digest = `${algorithm}:${h.digest('hex')}`;
    if (expected && digest !== expected.digest) {
      await rm(tmp, { force: true });
      throw new Error(`Blob ${expected.digest} does not match its digest: found ${digest}`);
    }
    return this.writeBlobFromFile(tmp, { digest, size: expected?.size ?? size }, { verify: false });
  }

  /**
   * Reads a whole blob into memory, checking that it exists, has `expected.size` bytes and at
   * most `maxSize` (both before reading), and hashes to its digest. For documents, not layers.
   */
  async readBlob(expected: ExpectedBlob | string, maxSize = MAX_DOCUMENT_SIZE): Promise<Buffer> {
    const want = typeof expected === 'string' ? { digest: expected } : expected;
    const file = this.blobPath(want.digest);
    let st;
    try {
      st = await stat(file);
    } catch (e) {
      if (isNotFound(e)) throw new Error(`Blob ${want.digest} not found in OCI directory ${this.path}`);
      throw e;
    }
    if (want.size !== undefined && st.size !== want.size) {
      throw new Error(`Blob ${file}: expected ${want.size} bytes from its descriptor, found ${st.size}`);
    }
    if (st.size > maxSize) throw new Error(`Blob ${file} has ${st.size} bytes, more than the ${maxSize} allowed here`);
    const bytes = await readFile(file);
    const actual = digestOf(bytes, parseDigest(want.digest).algorithm);
    if (actual !== want.digest) throw new Error(`Blob ${file} does not match its digest: expected ${want.digest}, found ${actual}`);
    return bytes;
  }

  /** Reads and validates `index.json`. */
  async readIndex(): Promise<ImageIndex> {
    const file = this.file('index.json');
    return parseImageIndex(await readFile(file), file);
  }

  /** Replaces `index.json` (canonical JSON, atomically). */
  async writeIndex(index: ImageIndex): Promise<void> {
    await writeFileAtomic(this.file('index.json'), canonicalJson(index));
  }

  /**
   * Writes `manifest` as a blob and records it in index.json. With a `tag`, other manifests are
   * kept, any with the same tag dropped, and this one appended with the
   * `org.opencontainers.image.ref.name` annotation; without, the index holds only this manifest.
   * `platform` defaults to the host's.
   */
  async insertManifest(manifest: ImageManifest, opts: { tag?: string; platform?: Platform } = {}): Promise<Descriptor> {
    const blob = await this.writeJsonBlob(manifest, MediaType.ImageManifest);
    const desc: Descriptor = { ...blob, platform: opts.platform ?? hostPlatform() };
    if (opts.tag !== undefined) desc.annotations = { [ANNOTATION_REF_NAME]: opts.tag };
    await this.updateIndex((index) => {
      if (opts.tag === undefined) return { ...index, manifests: [desc] };
      const others = index.manifests.filter((m) => m.annotations?.[ANNOTATION_REF_NAME] !== opts.tag);
      return { ...index, manifests: [...others, desc] };
    });
    return desc;
  }

  private async updateIndex(fn: (index: ImageIndex) => ImageIndex): Promise<void> {
    const run = this.indexLock.then(async () => this.writeIndex(fn(await this.readIndex())));
    this.indexLock = run.catch(() => undefined);
    await run;
  }

  /**
   * Finds a manifest in index.json: by tag (`org.opencontainers.image.ref.name`), by digest
   * (`sha256:…`), or — with no reference — the only manifest. An entry that is itself an image
   * index is resolved to its manifest for the host platform.
   */
  async resolveManifest(reference?: string): Promise<Descriptor> {
    const index = await this.readIndex();
    const where = `OCI directory ${this.path}`;
    let desc: Descriptor | undefined;
    if (reference === undefined) {
      if (index.manifests.length !== 1) {
        throw new Error(`${where} has ${index.manifests.length} manifests in index.json; a tag is required`);
      }
      desc = index.manifests[0];
    } else if (isDigest(reference)) {
      desc = index.manifests.find((m) => m.digest === reference);
    } else {
      desc = index.manifests.filter((m) => m.annotations?.[ANNOTATION_REF_NAME] === reference).pop();
    }
    if (!desc) throw new Error(`${where}: no descriptor found for reference "${reference}"`);
    if (INDEX_MEDIA_TYPES.includes(desc.mediaType)) {
      const nested = parseImageIndex(await this.readBlob(desc), desc.digest);
      const host = hostPlatform();
      const match = nested.manifests.find((m) => m.platform?.architecture === host.architecture && m.platform?.os === host.os);
      if (!match) throw new Error(`${where}: image index ${desc.digest} has no manifest for ${host.os}/${host.architecture}`);
      desc = match;
    }
    if (!MANIFEST_MEDIA_TYPES.includes(desc.mediaType)) {
      throw new Error(`${where}: descriptor ${desc.digest} has unexpected media type ${JSON.stringify(desc.mediaType)} for an image manifest`);
    }
    return desc;
  }

  /** Resolves `reference` (see `resolveManifest`) and reads the verified manifest. */
  async readManifest(reference?: string): Promise<ResolvedManifest> {
    const descriptor = await this.resolveManifest(reference);
    const manifest = parseImageManifest(await this.readBlob(descriptor), `${descriptor.digest} in ${this.path}`);
    return { descriptor, manifest };
  }

  /** Reads the verified image configuration a manifest points at. */
  async readConfig(manifest: ImageManifest): Promise<ImageConfiguration> {
    return parseImageConfiguration(await this.readBlob(manifest.config), `${manifest.config.digest} in ${this.path}`);
  }
}

/** Tags may contain `:`, so only a reference that is a valid digest is taken as one. */
function isDigest(reference: string): boolean {
  try {
    parseDigest(reference);
    return true;
  } catch {
    return false;
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}
