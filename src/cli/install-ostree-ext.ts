// `install-ostree-ext`: makes `ostree container …` run this CLI. The ostree command line runs a
// command it does not know, NAME, as `<libexecdir>/libostree/ext/ostree-NAME` (libexecdir is fixed
// when libostree is built: /usr/libexec on Debian and Fedora), passing its own arguments on.
import type { Command } from 'commander';
import { lstat, mkdir, realpath, rename, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Path of the entry below a prefix. */
export function ostreeExtEntry(prefix: string): string {
  return path.join(prefix, 'libexec/libostree/ext/ostree-container');
}

/**
 * Points `<prefix>/libexec/libostree/ext/ostree-container` at this CLI (a symbolic link, replaced
 * atomically). An existing entry that is not a symbolic link is kept unless `force`.
 * Returns the entry and its target.
 */
export async function installOstreeExt(prefix: string, force = false): Promise<{ entry: string; target: string }> {
  const entry = ostreeExtEntry(path.resolve(prefix));
  const target = await realpath(fileURLToPath(new URL('./main.js', import.meta.url)));
  const existing = await lstat(entry).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  if (existing && !existing.isSymbolicLink() && !force) {
    throw new Error(`${entry} exists and is not a symbolic link (another ostree-container?); --force replaces it`);
  }
  await mkdir(path.dirname(entry), { recursive: true });
  const tmp = `${entry}.tmp-${process.pid}`;
  await rm(tmp, { force: true });
  await symlink(target, tmp);
  try {
    await rename(tmp, entry);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  return { entry, target };
}

export function registerInstallOstreeExt(program: Command): void {
  program
    .command('install-ostree-ext')
    .description('Make `ostree container …` run this command: links <prefix>/libexec/libostree/ext/ostree-container to it')
    .option('--prefix <dir>', 'installation prefix; the ostree command looks under its own, /usr on Debian and Fedora', '/usr')
    .option('--force', 'replace an existing entry that is not a symbolic link')
    .action(async (o: { prefix: string; force?: boolean }) => {
      const { entry, target } = await installOstreeExt(o.prefix, !!o.force);
      process.stdout.write(`${entry} -> ${target}\n`);
    });
}
