// A layer whose objects share one xattrs set unpacks on ext4 (65,000 links per inode at most): a
// commit of 70,000 files without xattrs, exported as one layer, is extracted by GNU tar with no
// "Too many links" (each object carries its own .file-xattrs-link file; the format before 2025
// hardlinked all 70,000 to one .file-xattrs). A control extraction of 65,001 links to one file
// shows that the directory the test extracts into does enforce the limit.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encapsulate } from '../../src/container/encapsulate.js';
import { ostreeCli } from '../../src/fixture/index.js';
import { OciDir } from '../../src/oci/layout.js';
import { ImageReference } from '../../src/ref/image-reference.js';
import { Repo } from '../../src/repo/repo.js';
import { buildTar, cleanupTmp, entry, tmpdir, type RawEntry } from './tar-util.js';

const execFileP = promisify(execFile);
const FILES = 70_000;
const DIRS = 70;

/** GNU tar's extraction into `dir`: its exit code and error lines. */
async function untar(file: string, dir: string): Promise<{ code: number; stderr: string }> {
  try {
    await execFileP('tar', ['-C', dir, '-xf', file], { maxBuffer: 64 << 20 });
    return { code: 0, stderr: '' };
  } catch (e) {
    const err = e as { code?: number; stderr?: string };
    return { code: err.code ?? -1, stderr: err.stderr ?? '' };
  }
}

/**
 * A scratch directory for the repo and the layer: tmpfs when there is one (creating 70,000
 * objects on a disk costs tens of seconds on a busy machine), else /var/tmp.
 */
async function scratch(): Promise<string> {
  const { stdout } = await execFileP('stat', ['-f', '-c', '%T', '/dev/shm']).catch(() => ({ stdout: '' }));
  return stdout.trim() === 'tmpfs' ? mkdtemp('/dev/shm/hardlink-limit-') : tmpdir('hardlink-limit-');
}

let work: string;
let extractRoot: string;
beforeAll(async () => {
  work = await scratch();
  // Extraction goes to /var/tmp, on the disk (ext4 here and in CI).
  extractRoot = await tmpdir('hardlink-limit-x-');
}, 120_000);
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
  await cleanupTmp();
});

describe('a one-layer image of 70,000 objects sharing one xattrs set', () => {
  it('the extraction directory enforces the 65,000-link limit (control)', async () => {
    const links: RawEntry[] = [entry('target', 'x')];
    for (let i = 0; i <= 65_000; i++) links.push(entry(`l${i}`, '', { type: '1', linkname: 'target' }));
    const file = path.join(work, 'control.tar');
    await writeFile(file, buildTar(links));
    const dir = path.join(extractRoot, 'control');
    await mkdir(dir);
    const r = await untar(file, dir);
    expect(r.code, `tar -x of 65,001 links to one file succeeded in ${dir}: this test needs a filesystem with ext4's hardlink limit there`).not.toBe(0);
    expect(r.stderr).toMatch(/Too many links/);
  }, 120_000);

  it('unpacks with tar -x, every object with its own xattrs file', async () => {
    // The commit, through a tar that `ostree commit` reads: distinct tiny files, no xattrs.
    const entries: RawEntry[] = [];
    for (let d = 0; d < DIRS; d++) {
      for (let i = 0; i < FILES / DIRS; i++) entries.push(entry(`usr/share/many/d${d}/f${i}`, `${d}/${i}\n`));
    }
    const treeTar = path.join(work, 'tree.tar');
    await writeFile(treeTar, buildTar(entries));
    const repoPath = path.join(work, 'repo');
    await ostreeCli(repoPath, ['init', '--mode=bare-user-only']);
    await ostreeCli(repoPath, ['commit', '-b', 'many', `--tree=tar=${treeTar}`, '--tar-autocreate-parents', '--no-xattrs', '--timestamp=0']);

    const img = path.join(work, 'img');
    await encapsulate(await Repo.open(repoPath), 'many', {}, { compression: 'none' }, ImageReference.parse(`oci:${img}`));
    const oci = await OciDir.open(img);
    const { manifest } = await oci.readManifest();
    expect(manifest.layers).toHaveLength(1);

    const dir = path.join(extractRoot, 'layer');
    await mkdir(dir);
    const r = await untar(oci.blobPath(manifest.layers[0]!.digest), dir);
    expect(r).toEqual({ code: 0, stderr: '' });
    const objects = path.join(dir, 'sysroot/ostree/repo/objects');
    let files = 0;
    let links = 0;
    for (const shard of await readdir(objects)) {
      for (const name of await readdir(path.join(objects, shard))) {
        if (name.endsWith('.file')) files++;
        if (!name.endsWith('.file-xattrs-link')) continue;
        links++;
        if (links % 7000 === 1) {
          // the empty xattrs set, in a file of its own
          const st = await stat(path.join(objects, shard, name));
          expect([st.size, st.nlink]).toEqual([0, 1]);
        }
      }
    }
    expect([files, links]).toEqual([FILES, FILES]);
    expect(await readFile(path.join(dir, 'usr/share/many/d69/f999'), 'utf8')).toBe('69/999\n');
    expect((await stat(path.join(dir, 'usr/share/many/d0/f0'))).nlink).toBe(2);
  }, 300_000);
});
