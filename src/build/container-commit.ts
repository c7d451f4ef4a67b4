// `container commit` (upstream ostree-ext `commit.rs`): the build-time check and cleanup a
// Containerfile's `RUN` step ends with. It refuses to run outside an ostree-based container, then
// empties /run, /tmp, /var/tmp and /var/cache, never crossing into another filesystem or a mount.
import { access, lstat, readdir, readFile, rmdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { withContext } from '../errors.js';

/** Directories whose whole content is removed (upstream's FORCE_CLEAN_PATHS). */
export const FORCE_CLEAN_PATHS = ['run', 'tmp', 'var/tmp', 'var/cache'];

async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}

/** `[core] mode` of a GLib keyfile's text, or undefined. */
function coreMode(text: string): string | undefined {
  let group = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[') && line.endsWith(']')) group = line.slice(1, -1);
    else if (group === 'core' && !line.startsWith('#')) {
      const eq = line.indexOf('=');
      if (eq > 0 && line.slice(0, eq).trim() === 'mode') return line.slice(eq + 1).trim();
    }
  }
  return undefined;
}

/**
 * Whether the running root is an ostree-based container: its /sysroot holds a
 * `bare-split-xattrs` repo (what encapsulated images carry), and it runs in a container
 * (`$container`, /run/.containerenv, /.dockerenv) or at least neither under systemd nor on a
 * booted ostree system. Upstream's `is_ostree_container`.
 */
export async function isOstreeContainer(env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  let config: string | undefined;
  for (const p of ['/sysroot/ostree/repo/config', '/sysroot/config']) {
    config = await readFile(p, 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    if (config !== undefined) break;
  }
  if (config === undefined || coreMode(config) !== 'bare-split-xattrs') return false;
  const inContainer = env.container !== undefined || (await exists('/run/.containerenv')) || (await exists('/.dockerenv'));
  return inContainer || (env.INVOCATION_ID === undefined && !(await exists('/run/ostree-booted')));
}

/** Mount points of this process's mount namespace (empty when /proc is not there). */
async function mountPoints(): Promise<Set<string>> {
  const text = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  // Field 5 is the mount point, with space, tab, newline and backslash as octal escapes.
  return new Set(text.split('\n').filter(Boolean).map((l) => l.split(' ')[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))));
}

/**
 * Removes everything below `dir` that is on `rootDev`, depth first; a directory is removed once
 * empty. Returns true when something on another device was left (so its parents stay).
 */
async function removeAllOnDevice(dir: string, rel: string, rootDev: number): Promise<boolean> {
  let skipped = false;
  const names = await withContext(`Reading "${rel}"`, () => readdir(dir));
  for (const name of names) {
    const p = path.join(dir, name);
    const r = path.join(rel, name);
    const st = await lstat(p);
    if (st.dev !== rootDev) {
      skipped = true;
      continue;
    }
    if (st.isDirectory()) skipped = (await removeAllOnDevice(p, r, rootDev)) || skipped;
    else await withContext(`Removing "${r}"`, () => unlink(p));
  }
  if (!skipped) await withContext(`Removing "${rel}"`, () => rmdir(dir));
  return skipped;
}

/**
 * Empties /run, /tmp, /var/tmp and /var/cache under `root` (those that exist): entries on another
 * filesystem than `root` and mount points (podman's /run/.containerenv, secrets) are left alone.
 * Upstream's `prepare_ostree_commit_in`.
 */
export async function prepareOstreeCommitIn(rootDir: string): Promise<void> {
  const root = path.resolve(rootDir);
  const rootDev = (await stat(root)).dev;
  const mounts = await mountPoints();
  for (const sub of FORCE_CLEAN_PATHS) {
    const dir = path.join(root, sub);
    const st = await stat(dir).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    if (!st) continue;
    await withContext(`Cleaning ${sub}`, async () => {
      if (!st.isDirectory()) throw new Error('Not a directory');
      for (const name of await readdir(dir)) {
        const p = path.join(dir, name);
        const entry = await lstat(p);
        if (entry.dev !== rootDev || mounts.has(p)) continue;
        if (entry.isDirectory()) await removeAllOnDevice(p, name, rootDev);
        else await withContext(`Removing "${name}"`, () => unlink(p));
      }
    });
  }
}

/** The `container commit` verb: the check, then the cleanup of `/`. */
export async function containerCommit(): Promise<void> {
  if (!(await isOstreeContainer())) throw new Error('Not in an ostree-based container environment');
  await prepareOstreeCommitIn('/');
}
