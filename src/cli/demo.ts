// `demo`: the README's main job, on the built-in example OS (upstream's test fixture):
// build and sign the commit, encapsulate it as a chunked OCI image, unencapsulate that image into a
// fresh repository with GPG verification, and show that the same commit came back.
import { Option, type Command } from 'commander';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { computeSizes } from '../container/chunking.js';
import { encapsulate, type Compression } from '../container/encapsulate.js';
import { unencapsulate } from '../container/unencapsulate.js';
import { formatSize } from '../format.js';
import { PKGS_V0_LEN } from '../fixture/constants.js';
import { createExampleOs, gpgKeyFile } from '../fixture/index.js';
import { OciDir } from '../oci/layout.js';
import { ImageReference, OstreeImageReference, SignatureSource, parseOciPathAndTag } from '../ref/image-reference.js';
import { Transport } from '../ref/transport.js';
import { Repo, type RepoMode } from '../repo/repo.js';
import { bigTempDir } from '../tmpdir.js';
import { COMPRESSIONS } from './encapsulate.js';

interface DemoOptions {
  repo?: string;
  mode: RepoMode;
  dest?: string;
  compression: Compression;
  list?: boolean;
}

const MODES: RepoMode[] = ['archive', 'bare', 'bare-user', 'bare-user-only'];
/** The ostree remote the demo verifies the imported commit through. */
const DEMO_REMOTE = 'exampleos';

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/** `ostree ls`-style lines for every entry of a commit. */
async function listing(repo: Repo, rev: string): Promise<string[]> {
  const lines: string[] = [];
  for await (const e of repo.walkTree(rev)) {
    const info = e.kind === 'dir' ? { ...(await repo.readDirMeta(e.metadata)), size: 0, symlinkTarget: null } : await repo.queryContent(e.checksum);
    const type = (info.mode & S_IFMT) === S_IFDIR ? 'd' : (info.mode & S_IFMT) === S_IFLNK ? 'l' : '-';
    const perms = (info.mode & 0o7777).toString(8).padStart(5, '0');
    const target = info.symlinkTarget !== null ? ` -> ${info.symlinkTarget}` : '';
    lines.push(`  ${type}${perms} ${info.uid} ${info.gid} ${String(info.size).padStart(5)} ${e.path}${target}`);
  }
  return lines;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** One row per manifest layer: short digest, compressed size, history comment. */
async function layerTable(dest: ImageReference, digest: string): Promise<string[]> {
  if (dest.transport !== Transport.OciDir) return [];
  const { path: dir } = parseOciPathAndTag(dest.name);
  const oci = await OciDir.open(dir);
  const { manifest } = await oci.readManifest(digest);
  const config = await oci.readConfig(manifest);
  const history = (config.history ?? []).filter((h) => !h.empty_layer);
  const rows = manifest.layers.map((l, i) => [l.digest.slice(0, 19), formatSize(l.size), history[i]?.created_by ?? '']);
  const width = Math.max(...rows.map((r) => r[1].length), 4);
  return [
    `  ${'LAYER'.padEnd(19)}  ${'SIZE'.padEnd(width)}  CONTENT`,
    ...rows.map(([d, s, c]) => `  ${d}  ${s.padEnd(width)}  ${c}`),
  ];
}

/** Runs the whole job; returns the report. */
async function runDemo(o: DemoOptions): Promise<string> {
  const dest = o.dest !== undefined ? ImageReference.parse(o.dest) : undefined;
  // The GPG home, the image (without --dest), the repos (without --repo) live in a scratch dir
  // removed at the end.
  const work = await mkdtemp(path.join(bigTempDir(), 'ostree-container-demo-'));
  const lines: string[] = [];
  const w = (s: string) => lines.push(s);
  const start = performance.now();
  try {
    // 1. The example OS commit, signed with the test key.
    let t = performance.now();
    const fx = await createExampleOs({ dir: work, mode: o.mode, ...(o.repo ? { repo: o.repo } : {}) });
    const commit = await fx.repo.loadCommit(fx.commit);
    const version = commit.metadata.get('version');
    w(`Example OS committed to ${o.repo ? fx.repoPath : `a temporary ${o.mode} repository`} in ${seconds(performance.now() - t)}`);
    w(`  ref:              ${fx.ref}`);
    w(`  commit:           ${fx.commit}`);
    w(`  content checksum: ${commit.contentChecksum}`);
    w(`  version:          ${version?.type === 's' ? String(version.value) : '(none)'}`);
    w(`  timestamp:        ${new Date(commit.timestamp * 1000).toISOString().replace('.000Z', 'Z')}`);
    w(`  signed by:        ${fx.signed ? `GPG key ${fx.keyId}` : '(unsigned)'}`);
    if (o.list) {
      w('  tree:');
      lines.push(...(await listing(fx.repo, fx.commit)).map((l) => `  ${l}`));
    }

    // 2. Encapsulate: one layer per package group (the fixture's ownership map), as upstream's test.
    t = performance.now();
    const image = dest ?? new ImageReference(Transport.OciDir, `${path.join(work, 'image')}:latest`);
    const contentmeta = await computeSizes(fx.repo, await fx.getObjectMeta());
    const digest = await encapsulate(fx.repo, fx.ref, {}, { contentmeta, maxLayers: PKGS_V0_LEN, compression: o.compression }, image);
    w('');
    w(`Encapsulated as ${dest ? image.toString() : 'a temporary OCI image'} in ${seconds(performance.now() - t)} (${o.compression} layers)`);
    w(`  image digest: ${digest}`);
    lines.push(...(await layerTable(image, digest)));

    // 3. Unencapsulate into a fresh repository that verifies the signature through an ostree remote.
    t = performance.now();
    const target = await Repo.create(path.join(work, 'imported'), 'bare-user');
    await target.remoteAdd(DEMO_REMOTE, null, { 'gpg-verify': 'true' });
    await target.remoteGpgImport(DEMO_REMOTE, await readFile(gpgKeyFile(fx.gpgHome)));
    const imported = await unencapsulate(target, new OstreeImageReference(SignatureSource.OstreeRemote(DEMO_REMOTE), image));
    const back = await target.loadCommit(imported.ostreeCommit);
    w('');
    w(`Unencapsulated into a fresh bare-user repository in ${seconds(performance.now() - t)}`);
    w(`  commit:           ${imported.ostreeCommit} (${imported.ostreeCommit === fx.commit ? 'same as built' : 'DIFFERS from the built commit'})`);
    w(`  content checksum: ${back.contentChecksum} (${back.contentChecksum === commit.contentChecksum ? 'same' : 'DIFFERS'})`);
    for (const l of (imported.verifyText ?? '').split('\n').filter(Boolean)) w(`  ${l}`);
    if (imported.ostreeCommit !== fx.commit || back.contentChecksum !== commit.contentChecksum) {
      throw new Error(`Round trip changed the commit: built ${fx.commit}, imported ${imported.ostreeCommit}`);
    }
    w('');
    w(`Total: ${seconds(performance.now() - start)}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return lines.map((l) => `${l}\n`).join('');
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('Run the main job on the built-in example OS: build, encapsulate (chunked), unencapsulate, verify')
    .option('--repo <dir>', 'commit into this repository (created if missing) and keep it; default: a temporary one')
    .addOption(new Option('--mode <mode>', 'mode of a newly created repository').choices(MODES).default('archive'))
    .option('--dest <imgref>', 'where to write the image (e.g. oci:DIR:TAG, docker://HOST/NAME:TAG); default: a temporary OCI directory')
    .addOption(new Option('--compression <type>', 'layer compression').choices(COMPRESSIONS).default('gzip'))
    .option('--list', 'also list the commit tree')
    .action(async (opts: DemoOptions) => {
      // Printed in one piece once the scratch dir is gone, so a closed stdout cannot leave it behind.
      process.stdout.write(await runDemo({ ...opts, ...(opts.repo ? { repo: path.resolve(opts.repo) } : {}) }));
    });
}
