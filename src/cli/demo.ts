import type { Command } from 'commander';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { createExampleOs, walkTree } from '../fixture/index.js';
import type { Repo, RepoMode } from '../repo/repo.js';

interface DemoOptions {
  repo?: string;
  mode: RepoMode;
}

const MODES: RepoMode[] = ['archive', 'bare', 'bare-user', 'bare-user-only'];

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/** `ostree ls`-style lines for every entry of a commit. */
async function listing(repo: Repo, rev: string): Promise<string[]> {
  const lines: string[] = [];
  for (const e of await walkTree(repo, rev)) {
    const info = e.kind === 'dir' ? { ...(await repo.readDirMeta(e.metadata!)), size: 0, symlinkTarget: null } : await repo.queryContent(e.checksum);
    const type = (info.mode & S_IFMT) === S_IFDIR ? 'd' : (info.mode & S_IFMT) === S_IFLNK ? 'l' : '-';
    const perms = (info.mode & 0o7777).toString(8).padStart(5, '0');
    const target = info.symlinkTarget !== null ? ` -> ${info.symlinkTarget}` : '';
    lines.push(`  ${type}${perms} ${info.uid} ${info.gid} ${String(info.size).padStart(5)} ${e.path}${target}`);
  }
  return lines;
}

/** Builds the example OS; returns the report of what was committed. */
async function runDemo(o: DemoOptions): Promise<string> {
  if (!MODES.includes(o.mode)) throw new Error(`Invalid --mode ${JSON.stringify(o.mode)}: expected one of ${MODES.join(', ')}`);
  // The GPG home (and, without --repo, the repo) live in a scratch dir removed at the end.
  const work = await mkdtemp('/var/tmp/ostree-container-demo-');
  const lines: string[] = [];
  const w = (s: string) => lines.push(s);
  try {
    const fx = await createExampleOs({ dir: work, mode: o.mode, ...(o.repo ? { repo: o.repo } : {}) });
    const commit = await fx.repo.loadCommit(fx.commit);
    const version = commit.metadata.get('version');
    w(`Example OS committed to ${o.repo ? fx.repoPath : `a temporary ${o.mode} repository`}`);
    w(`ref:              ${fx.ref}`);
    w(`commit:           ${fx.commit}`);
    w(`content checksum: ${commit.contentChecksum}`);
    w(`version:          ${version?.type === 's' ? String(version.value) : '(none)'}`);
    w(`timestamp:        ${new Date(commit.timestamp * 1000).toISOString().replace('.000Z', 'Z')}`);
    w(`signed by:        ${fx.signed ? `GPG key ${fx.keyId}` : '(unsigned)'}`);
    w('tree:');
    lines.push(...(await listing(fx.repo, fx.commit)));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return lines.map((l) => `${l}\n`).join('');
}

/** `demo`: the README's main job on the built-in example OS (grows with each issue). */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('Run the main job on the built-in example OS commit')
    .option('--repo <dir>', 'commit into this repository (created if missing) and keep it; default: a temporary one')
    .option('--mode <mode>', `mode of a newly created repository (${MODES.join(', ')})`, 'archive')
    .action(async (opts: DemoOptions) => {
      // Printed in one piece once the scratch dir is gone, so a closed stdout cannot leave it behind.
      process.stdout.write(await runDemo({ ...opts, ...(opts.repo ? { repo: path.resolve(opts.repo) } : {}) }));
    });
}
