// `oci-archive:`: a tar of an OCI image layout (oci-layout, index.json, blobs/<alg>/<hex>).
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { extract as tarExtract, pack as tarPack, type Header } from 'tar-stream';
import { fsyncDir, fsyncFile, tempName, writeFileAtomic } from './atomic.js';
import { parseDigest } from './digest.js';
import { OciDir } from './layout.js';
import { parseImageIndex } from './types.js';
import { bigTempDir } from '../tmpdir.js';

/** Fixed entry metadata, so the same layout always gives the same archive bytes. */
const FILE = { mode: 0o644, mtime: new Date(0), uid: 0, gid: 0 } as const;
const DIR = { type: 'directory', mode: 0o755, mtime: new Date(0), uid: 0, gid: 0 } as const;

/** The small JSON files of a layout are read into memory; cap them so a hostile tar can't exhaust it. */
const MAX_METADATA_SIZE = 16 * 1024 * 1024;

/**
 * Writes the layout `dir` as an OCI archive at `archivePath` (replaced atomically). Blob files
 * are streamed; temp files inside the layout are left out.
 */
export async function writeOciArchive(dir: OciDir, archivePath: string): Promise<void> {
  const dest = path.resolve(archivePath);
  const tmp = tempName(path.dirname(dest), path.basename(dest));
  try {
    const pack = tarPack();
    const written = pipeline(pack, createWriteStream(tmp, { flags: 'wx', mode: 0o644 }));
    const addFile = async (name: string, file: string) => {
      const { size } = await stat(file);
      await pipeline(createReadStream(file), pack.entry({ ...FILE, name, size }));
    };
    await addFile('oci-layout', path.join(dir.path, 'oci-layout'));
    await addFile('index.json', path.join(dir.path, 'index.json'));
    pack.entry({ ...DIR, name: 'blobs/' });
    const blobs = path.join(dir.path, 'blobs');
    for (const alg of (await readdir(blobs, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort()) {
      pack.entry({ ...DIR, name: `blobs/${alg}/` });
      for (const hex of (await readdir(path.join(blobs, alg))).filter((n) => !n.startsWith('.')).sort()) {
        await addFile(`blobs/${alg}/${hex}`, path.join(blobs, alg, hex));
      }
    }
    pack.finalize();
    await written;
    await fsyncFile(tmp);
    await rename(tmp, dest);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new Error(`Writing OCI archive ${dest}: ${(e as Error).message}`, { cause: e });
  }
  await fsyncDir(path.dirname(dest));
}

/** A tar entry as tar-stream yields it: a byte stream with its header. */
type Entry = AsyncIterable<Uint8Array> & { header: Header };

async function readSmall(entry: Entry, what: string): Promise<Buffer> {
  if ((entry.header.size ?? 0) > MAX_METADATA_SIZE) throw new Error(`${what} is larger than ${MAX_METADATA_SIZE} bytes`);
  const chunks: Uint8Array[] = [];
  for await (const c of entry) chunks.push(c);
  return Buffer.concat(chunks);
}

/**
 * Extracts the OCI archive at `archivePath` into the layout directory `destDir` (created if
 * missing; an existing index.json is replaced by the archive's, once every blob is stored). Blob
 * entries are verified against the digest their name states; entries that are not part of an
 * image layout are skipped. Returns the opened layout.
 */
export async function extractOciArchive(archivePath: string, destDir: string): Promise<OciDir> {
  const source = path.resolve(archivePath);
  const dir = await OciDir.ensure(destDir);
  const extract = tarExtract();
  const fed = pipeline(createReadStream(source), extract);
  let sawLayout = false;
  let index: Buffer | undefined;
  try {
    for await (const entry of extract as AsyncIterable<Entry & { resume(): void }>) {
      const name = entry.header.name.replace(/^(\.\/)+/, '');
      const type = entry.header.type;
      if (name === 'oci-layout' && type === 'file') {
        JSON.parse((await readSmall(entry, name)).toString('utf8'));
        sawLayout = true;
      } else if (name === 'index.json' && type === 'file') {
        index = await readSmall(entry, name);
        parseImageIndex(index, `index.json in ${source}`);
      } else if (/^blobs\/[^/]+\/[^/]+$/.test(name)) {
        if (type !== 'file') throw new Error(`Entry ${name} is a ${type}, expected a regular file`);
        const [, alg, hex] = name.split('/');
        const digest = `${alg}:${hex}`;
        parseDigest(digest);
        await dir.writeBlobFromStream(entry, { digest, size: entry.header.size ?? 0 });
      } else {
        entry.resume();
      }
    }
    await fed;
    if (!sawLayout) throw new Error('missing oci-layout');
    if (!index) throw new Error('missing index.json');
    // Written last, so a failed extraction never leaves an index naming blobs that are not there.
    await writeFileAtomic(path.join(dir.path, 'index.json'), index);
  } catch (e) {
    extract.destroy();
    await fed.catch(() => undefined);
    throw new Error(`Reading OCI archive ${source}: ${(e as Error).message}`, { cause: e });
  }
  return dir;
}

/** An archive extracted into a temporary layout; call `remove()` when done. */
export interface ExtractedArchive {
  dir: OciDir;
  remove(): Promise<void>;
}

/** Extracts `archivePath` into a new temp directory under `tmpRoot` (default: bigTempDir()). */
export async function openOciArchive(archivePath: string, tmpRoot = bigTempDir()): Promise<ExtractedArchive> {
  const tmp = await mkdtemp(path.join(tmpRoot, 'oci-archive-'));
  const remove = () => rm(tmp, { recursive: true, force: true });
  try {
    return { dir: await extractOciArchive(archivePath, path.join(tmp, 'layout')), remove };
  } catch (e) {
    await remove();
    throw e;
  }
}
