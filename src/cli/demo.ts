import type { Command } from 'commander';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { cliListTree, cliShowCommit, createExampleOs, type RepoModeName } from '../fixture/index.js';

interface DemoOptions {
  repo?: string;
  mode: RepoModeName;
}

const MODES: RepoModeName[] = ['archive', 'bare', 'bare-user', 'bare-user-only'];

function modeString(mode: number, kind: string): string {
  const type = kind === 'dir' ? 'd' : kind === 'symlink' ? 'l' : '-';
  return type + mode.toString(8).padStart(5, '0');
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
    const shown = await cliShowCommit(fx.repoPath, fx.commit);
    w(`Example OS committed to ${o.repo ? fx.repoPath : `a temporary ${o.mode} repository`}`);
    w(`ref:              ${fx.ref}`);
    w(`commit:           ${fx.commit}`);
    w(`content checksum: ${shown.contentChecksum}`);
    w(`version:          ${shown.version ?? '(none)'}`);
    w(`timestamp:        ${new Date(fx.timestamp * 1000).toISOString().replace('.000Z', 'Z')}`);
    w(`signed by:        ${fx.signed ? `GPG key ${fx.keyId}` : '(unsigned)'}`);
    w('tree:');
    for (const e of await cliListTree(fx.repoPath, fx.commit)) {
      const target = e.target !== undefined ? ` -> ${e.target}` : '';
      w(`  ${modeString(e.mode, e.kind)} ${e.uid} ${e.gid} ${String(e.size).padStart(5)} ${e.path}${target}`);
    }
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
