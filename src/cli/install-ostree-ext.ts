// `install-ostree-ext`: makes `ostree container …` run this CLI. The ostree command line runs a
// command it does not know, NAME, as `<libexecdir>/libostree/ext/ostree-NAME` (libexecdir is fixed
// when libostree is built: /usr/libexec on Debian and Fedora), passing its own arguments on.
import type { Command } from 'commander';
import { existsSync, type Stats } from 'node:fs';
import { lstat, mkdir, readFile, readlink, realpath, rename, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Path of the entry below a prefix. */
export function ostreeExtEntry(prefix: string): string {
  return path.join(prefix, 'libexec/libostree/ext/ostree-container');
}

/** Whether a link target is a CLI of this package (an install of it, or one since removed). */
async function isOurCli(target: string): Promise<boolean> {
  if (!target.endsWith('/lib/cli/main.js')) return false;
  const dir = path.resolve(target, '../../..');
  try {
    return (JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown }).name === 'ostree-container';
  } catch (e) {
    // A package removed after install-ostree-ext left its link dangling: still ours.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !existsSync(target)) return path.basename(dir) === 'ostree-container';
    return false;
  }
}

/** What is at `entry` in words, when install-ostree-ext did not put it there. */
async function foreignEntry(entry: string, st: Stats): Promise<string | null> {
  if (st.isSymbolicLink()) {
    const target = await readlink(entry);
    return (await isOurCli(path.resolve(path.dirname(entry), target))) ? null : `a symbolic link to ${target}`;
  }
  if (st.isFile()) return `a regular file of ${st.size} bytes`;
  return st.isDirectory() ? 'a directory' : 'a special file';
}

/**
 * Points `<prefix>/libexec/libostree/ext/ostree-container` at this CLI (a symbolic link, replaced
 * atomically). An entry it did not make (rpm-ostree ships a link to itself there) is kept unless
 * `force`; a directory is never replaced. Returns the entry and its target.
 */
export async function installOstreeExt(prefix: string, force = false): Promise<{ entry: string; target: string }> {
  const entry = ostreeExtEntry(path.resolve(prefix));
  const target = await realpath(fileURLToPath(new URL('./main.js', import.meta.url)));
  const existing = await lstat(entry).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  const foreign = existing ? await foreignEntry(entry, existing) : null;
  if (foreign === 'a directory') throw new Error(`${entry} exists and is a directory; not replacing it`);
  if (foreign !== null && !force) {
    throw new Error(`${entry} exists and was not made by install-ostree-ext: ${foreign}; --force replaces it`);
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
    .option('--force', 'replace an entry install-ostree-ext did not make (a file, or a link elsewhere such as rpm-ostree)')
    .action(async (o: { prefix: string; force?: boolean }) => {
      const { entry, target } = await installOstreeExt(o.prefix, !!o.force);
      process.stdout.write(`${entry} -> ${target}\n`);
    });
}
