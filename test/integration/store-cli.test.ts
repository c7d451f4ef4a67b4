// The store's CLI (spec store §6), run as the built command, against oci: directories and a real
// registry: pull (status lines, --check, --quiet, --progress=json), list, history, metadata,
// remove, prune-layers, clear-cached-update, copy, reexport; a registry pull equal to an oci:
// pull; interrupted pulls (kill -9 of the pulling process) resume with only the missing layers.
import { spawn } from 'node:child_process';
import { cp, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeSizes } from '../../src/container/chunking.js';
import { encapsulate } from '../../src/container/encapsulate.js';
import { COMMIT_V0, type ExampleOs } from '../../src/fixture/index.js';
import { packageRoot } from '../../src/native.js';
import { OciDir } from '../../src/oci/layout.js';
import { skopeoCopy } from '../../src/proxy/skopeo-copy.js';
import { ImageReference } from '../../src/ref/image-reference.js';
import { Repo } from '../../src/repo/repo.js';
import { countLayerReferences } from '../../src/store/maintenance.js';
import { listImages, queryImage, refForImage } from '../../src/store/state.js';
import { registryFixture } from '../helpers/registry.js';
import { chunkedExampleWork, cleanupTmp, freshRepo } from './encapsulate-util.js';
import { fsck } from './tar-util.js';

const CLI = path.join(packageRoot, 'lib/cli/main.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI; `onLine` sees each stdout line as it comes and may kill the process. */
function cli(args: string[], onLine?: (line: string, kill: () => void) => void): Promise<Run> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let pending = '';
  const kill = () => child.kill('SIGKILL');
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    out += s;
    pending += s;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      onLine?.(line, kill);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  return new Promise((resolve) => child.on('close', (c, sig) => resolve({ code: c ?? (sig === 'SIGKILL' ? 137 : -1), stdout: out, stderr: err })));
}

const reg = registryFixture('store-cli-');
let fx: ExampleOs;
let src: Repo;
let work: string;
let chunked: string;

beforeAll(async () => {
  ({ fx, repo: src, work, chunked } = await chunkedExampleWork('store-cli-'));
}, 120_000);
afterAll(cleanupTmp);

describe('image pull and the query commands', () => {
  it('pull, no changes, list, history, metadata, check, remove, prune-layers', async () => {
    const repo = await freshRepo();
    const dir = path.join(work, 'cli-img');
    await cp(chunked, dir, { recursive: true });
    const imgref = `ostree-unverified-image:oci:${dir}`;
    const first = await cli(['image', 'pull', repo.path, imgref]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const lines = first.stdout.trimEnd().split('\n');
    const { manifest } = await (await OciDir.open(dir)).readManifest();
    const n = manifest.layers.length;
    expect(lines[0]).toMatch(new RegExp(`^layers already present: 0; layers needed: ${n} \\(.+\\)$`));
    // Off a terminal: upstream's plain start/finish lines, one pair per layer.
    expect(lines.filter((l) => /^Fetching ostree chunk [0-9a-f]{19} \(.+\)$/.test(l))).toHaveLength(n);
    expect(lines.filter((l) => /^Fetched ostree chunk [0-9a-f]{19}$/.test(l))).toHaveLength(n);
    const state = (await queryImage(repo, `oci:${dir}`))!;
    expect(lines.at(-1)).toBe(`Wrote: ${imgref} => ${state.mergeCommit}`);

    expect((await cli(['image', 'pull', repo.path, imgref])).stdout).toBe(`No changes in ${imgref} => ${state.mergeCommit}\n`);
    expect((await cli(['image', 'list', '--repo', repo.path])).stdout).toBe(`oci:${dir}\n`);

    const history = await cli(['image', 'history', '--repo', repo.path, `oci:${dir}`]);
    const rows = history.stdout.trimEnd().split('\n');
    expect(rows[0]).toMatch(/^ ID +SIZE +CREATED BY$/);
    expect(rows).toHaveLength(n + 1);
    expect(rows[1]).toMatch(new RegExp(`^ ${manifest.layers[0]!.digest.slice(7, 27)} +\\S+\\s\\S+ +ostree export of commit ${COMMIT_V0}$`));

    const meta = await cli(['image', 'metadata', '--repo', repo.path, `oci:${dir}`]);
    expect(JSON.parse(meta.stdout)).toEqual(state.manifest);
    expect(meta.stdout.endsWith('\n')).toBe(false);
    expect(JSON.parse((await cli(['image', 'metadata', '--repo', repo.path, `oci:${dir}`, '--config'])).stdout)).toEqual(state.configuration);
    const missing = await cli(['image', 'metadata', '--repo', repo.path, 'oci:/nonexistent']);
    expect(missing).toMatchObject({ code: 1, stderr: 'error: No such image: oci:/nonexistent\n' });

    // --check writes the new manifest and imports nothing.
    await fx.update();
    await encapsulate(src, fx.ref, {}, { contentmeta: await computeSizes(src, await fx.getObjectMeta()) }, ImageReference.parse(`oci:${dir}`));
    const check = await cli(['image', 'pull', repo.path, imgref, '--check', path.relative(process.cwd(), path.join(work, 'check.json'))]);
    expect(check).toMatchObject({ code: 0, stdout: '' });
    const newManifest = (await (await OciDir.open(dir)).readManifest()).manifest;
    expect(JSON.parse(await readFile(path.join(work, 'check.json'), 'utf8'))).toEqual(newManifest);
    expect((await queryImage(repo, `oci:${dir}`))!.mergeCommit).toBe(state.mergeCommit);
    // The check recorded the pending update; clear-cached-update drops it.
    expect((await queryImage(repo, `oci:${dir}`))!.cachedUpdate).not.toBeNull();
    expect((await cli(['image', 'clear-cached-update', '--repo', repo.path, `oci:${dir}`])).code).toBe(0);
    expect((await queryImage(repo, `oci:${dir}`))!.cachedUpdate).toBeNull();

    // The upgrade prints the manifest diff, then fetches only the changed layers (quietly).
    const upgrade = await cli(['image', 'pull', repo.path, imgref, '--quiet']);
    const u = upgrade.stdout.trimEnd().split('\n');
    expect(u[0]).toMatch(/^Total new layers: \d+ +Size: /);
    expect(u[1]).toMatch(/^Removed layers: +\d+ +Size: /);
    expect(u[2]).toMatch(/^Added layers: +\d+ +Size: /);
    expect(u[3]).toMatch(/^layers already present: [1-9]\d*; layers needed: [1-9]\d* \(.+\)$/);
    expect(u.filter((l) => l.startsWith('Fetch'))).toEqual([]);
    expect(u[4]).toMatch(new RegExp(`^Wrote: ${imgref.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} => [0-9a-f]{64}$`));

    expect((await cli(['image', 'remove', '--repo', repo.path, `oci:${dir}`, '--skip-gc'])).stdout).toBe('Removed images: 1\n');
    expect((await cli(['image', 'prune-layers', '--repo', repo.path])).stdout).toBe(`Removed layers: ${n}\n`);
    expect(await countLayerReferences(repo)).toBe(0);
    const again = await cli(['image', 'pull', repo.path, imgref, '--quiet']);
    expect(again.code).toBe(0);
    expect((await cli(['image', 'remove', '--repo', repo.path, `oci:${dir}`])).stdout).toBe(`Removed images: 1 layers: ${n}\n`);
    const gone = await cli(['image', 'remove', '--repo', repo.path, `oci:${dir}`]);
    expect(gone).toMatchObject({ code: 1, stderr: `error: Missing images: oci:${dir}\n` });
    expect(await fsck(repo.path)).toMatch(/no errors found/);
  });

  it('--progress=json: one event per line, per-layer bytes never above the total', async () => {
    const repo = await freshRepo();
    const r = await cli(['image', 'pull', repo.path, `ostree-unverified-image:oci:${chunked}`, '--progress=json']);
    expect(r.code).toBe(0);
    const events = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { type: string; fetched?: number; total?: number; layerIndex?: number; layer?: { digest: string } });
    const { manifest } = await (await OciDir.open(chunked)).readManifest();
    expect(events.filter((e) => e.type === 'layer-started')).toHaveLength(manifest.layers.length);
    expect(events.filter((e) => e.type === 'layer-completed')).toHaveLength(manifest.layers.length);
    for (const e of events) if (e.fetched !== undefined) expect(e.fetched).toBeLessThanOrEqual(e.total!);
    const total = manifest.layers.reduce((n, l) => n + l.size, 0);
    expect(events.filter((e) => e.type === 'progress').at(-1)).toEqual({ type: 'progress', fetched: total, total });
  });

  it('on a terminal: progress bars per layer and overall, with bytes, rate and ETA', async () => {
    const repo = await freshRepo();
    const command = [process.execPath, CLI, 'image', 'pull', repo.path, `ostree-unverified-image:oci:${chunked}`].map((a) => `'${a}'`).join(' ');
    // script(1) gives the command a pseudo-terminal (util-linux; Debian bsdutils, Fedora util-linux-script).
    const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, COLUMNS: '120' } });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', (e) => reject(new Error(`script(1) is needed for this test: ${e.message}`)));
      child.once('close', resolve);
    });
    expect(code).toBe(0);
    expect(out).toMatch(/ostree chunk [0-9a-f]{19} \[[░█]{20}\] \S+\s\S+\/\S+\s\S+ \S+\s\S+\/s ETA +\d+s/);
    expect(out).toMatch(/total \[[░█]{20}\] /);
    expect(out).toMatch(/Fetched ostree chunk [0-9a-f]{19}/);
    expect(out).toMatch(/Wrote: ostree-unverified-image:oci:\S+ => [0-9a-f]{64}/);
  });

  it('copy to an archive repo and reexport to oci: re-import the same content', async () => {
    const repo = await freshRepo();
    const imgref = `ostree-unverified-image:oci:${chunked}`;
    expect((await cli(['image', 'pull', repo.path, imgref, '--quiet'])).code).toBe(0);
    const archive = await freshRepo('archive');
    const copied = await cli(['image', 'copy', '--src-repo', repo.path, '--dest-repo', archive.path, imgref]);
    expect(copied).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const state = (await queryImage(repo, `oci:${chunked}`))!;
    expect(await listImages(archive)).toEqual([`oci:${chunked}`]);
    expect((await queryImage(archive, `oci:${chunked}`))!.mergeCommit).toBe(state.mergeCommit);
    expect(await fsck(archive.path)).toMatch(/no errors found/);

    const out = path.join(work, 'reexported');
    const re = await cli(['image', 'reexport', '--repo', repo.path, `oci:${chunked}`, `oci:${out}:tag`]);
    expect(re.stderr).toBe('');
    expect(re.stdout).toMatch(/^Exported: sha256:[0-9a-f]{64}\n$/);
    const fresh = await freshRepo();
    expect((await cli(['image', 'pull', fresh.path, `ostree-unverified-image:oci:${out}:tag`, '--quiet'])).code).toBe(0);
    const back = (await queryImage(fresh, `oci:${out}:tag`))!;
    expect(back.baseCommit).toBe(COMMIT_V0);
    expect(back.manifest.layers).toHaveLength(state.manifest.layers.length);
    expect(await fresh.contentChecksum(back.mergeCommit)).toBe(await repo.contentChecksum(state.mergeCommit));
  });
});

describe('registry', () => {
  it('a pull from the registry equals a pull from oci:', async () => {
    const dest = `${reg.registry.ref('exampleos/chunked')}:v0`;
    await skopeoCopy(`oci:${chunked}`, dest, { destTlsVerify: false });
    const a = await freshRepo();
    const b = await freshRepo();
    const fromReg = await cli(['image', 'pull', a.path, `ostree-unverified-registry:${dest.slice('docker://'.length)}`, '--insecure-skip-tls-verification', '--quiet']);
    expect(fromReg.stderr).toBe('');
    expect(fromReg.code).toBe(0);
    expect((await cli(['image', 'pull', b.path, `ostree-unverified-image:oci:${chunked}`, '--quiet'])).code).toBe(0);
    const sa = (await queryImage(a, dest))!;
    const sb = (await queryImage(b, `oci:${chunked}`))!;
    expect(sa.manifestDigest).toBe(sb.manifestDigest);
    expect(sa.mergeCommit).toBe(sb.mergeCommit);
  });

  it('a corrupt blob in the registry: clear error, no image ref, fsck clean, rerun succeeds once repaired', async () => {
    const dest = `${reg.registry.ref('exampleos/corrupt')}:v0`;
    await skopeoCopy(`oci:${chunked}`, dest, { destTlsVerify: false });
    const { manifest } = await (await OciDir.open(chunked)).readManifest();
    const victim = manifest.layers.at(-1)!;
    const blobFile = reg.registry.blobPath(victim.digest);
    const good = await readFile(blobFile);
    const bad = Buffer.from(good);
    bad[bad.length >> 1] ^= 0xff;
    const { writeFile } = await import('node:fs/promises');
    await writeFile(blobFile, bad);
    const repo = await freshRepo();
    const imgref = `ostree-unverified-registry:${dest.slice('docker://'.length)}`;
    // The first failing layer stops the pull. One fetch at a time, so the corrupt last layer is
    // fetched only once earlier layers left their spool slots (the commit layer, at least, is then
    // stored); with 8 at once all 11 may be fetched before any import is done, and nothing kept.
    const r = await cli(['image', 'pull', repo.path, imgref, '--insecure-skip-tls-verification', '--quiet', '--fetch-concurrency', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^error: Importing: Layer ${victim.digest}: .*(digest|Digest|corrupt|gzip|invalid).*\\n$`, 's'));
    expect(await listImages(repo)).toEqual([]);
    expect(await repo.resolveRev(refForImage(dest), { allowNoent: true })).toBeNull();
    expect(await fsck(repo.path)).toMatch(/no errors found/);
    await writeFile(blobFile, good);
    const rerun = await cli(['image', 'pull', repo.path, imgref, '--insecure-skip-tls-verification']);
    expect(rerun.code).toBe(0);
    // Only what failed (and whatever its failure cancelled) is fetched again.
    const refetched = rerun.stdout.split('\n').filter((l) => l.startsWith('Fetching ')).length;
    expect(refetched).toBeGreaterThanOrEqual(1);
    expect(refetched).toBeLessThan(manifest.layers.length);
    expect(await fsck(repo.path)).toMatch(/no errors found/);
  });
});

describe('interrupted pulls (kill -9)', () => {
  /** Kills a pull after `completed` layers finished (0: as soon as the first layer started). */
  async function killAfter(repo: Repo, imgref: string, completed: number): Promise<Run> {
    let done = 0;
    return cli(['image', 'pull', repo.path, imgref, '--progress=json'], (line, kill) => {
      if (!line.startsWith('{')) return;
      const e = JSON.parse(line) as { type: string };
      if (completed === 0 && e.type === 'layer-started') kill();
      if (e.type === 'layer-completed' && ++done >= completed) kill();
    });
  }

  for (const completed of [0, 1, 3]) {
    it(`killed after ${completed} completed layer(s): fsck clean, no half image, the rerun fetches only the rest`, async () => {
      const repo = await freshRepo();
      const imgref = `ostree-unverified-image:oci:${chunked}`;
      const { manifest } = await (await OciDir.open(chunked)).readManifest();
      const killed = await killAfter(repo, imgref, completed);
      expect(killed.code).toBe(137);
      expect(await fsck(repo.path)).toMatch(/no errors found/);
      const stored = await countLayerReferences(repo);
      expect(stored).toBeGreaterThanOrEqual(completed);
      // An image ref exists only for a complete image.
      if ((await listImages(repo)).length > 0) expect(stored).toBe(manifest.layers.length);
      const rerun = await cli(['image', 'pull', repo.path, imgref]);
      expect(rerun.stderr).toBe('');
      expect(rerun.code).toBe(0);
      const fetched = rerun.stdout.split('\n').filter((l) => l.startsWith('Fetching ')).length;
      expect(fetched).toBe(manifest.layers.length - stored);
      expect(await countLayerReferences(repo)).toBe(manifest.layers.length);
      expect(await fsck(repo.path)).toMatch(/no errors found/);
      // Same merge commit as an uninterrupted pull.
      const clean = await freshRepo();
      expect((await cli(['image', 'pull', clean.path, imgref, '--quiet'])).code).toBe(0);
      expect((await queryImage(repo, `oci:${chunked}`))!.mergeCommit).toBe((await queryImage(clean, `oci:${chunked}`))!.mergeCommit);
      await rm(clean.path, { recursive: true, force: true });
    });
  }
});
