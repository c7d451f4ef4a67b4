// Authentication defaults and privilege isolation for the proxy (spec §6.1–6.3).
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_UNPRIVILEGED_USER } from '../container/constants.js';
import type { ImageProxyConfig, ProxyCommand } from './config.js';

export interface AuthfileLookupOptions {
  /** Real uid deciding the search list; default `process.getuid()`. */
  uid?: number;
  /** Non-root: GLib's user runtime dir; default `$XDG_RUNTIME_DIR`, else the user cache dir. */
  runtimeDir?: string;
  /** Non-root: GLib's user config dir; default `$XDG_CONFIG_HOME` or `~/.config`. */
  configDir?: string;
}

export interface GlobalAuthfile {
  /** Path relative to the root, as searched (symlinks are not reported). */
  path: string;
  contents: Buffer;
}

function userCacheDir(): string {
  return process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
}

function authSearchPaths(opts: AuthfileLookupOptions): string[] {
  const uid = opts.uid ?? process.getuid?.() ?? 0;
  if (uid === 0) return ['run/ostree/auth.json', 'etc/ostree/auth.json', 'usr/lib/ostree/auth.json'];
  const runtime = opts.runtimeDir ?? (process.env.XDG_RUNTIME_DIR || userCacheDir());
  const config = opts.configDir ?? (process.env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config'));
  return [path.join(runtime, 'ostree/auth.json'), path.join(config, 'ostree/auth.json')].map((p) =>
    p.replace(/^\/+/, ''),
  );
}

const MAX_SYMLINKS = 40;

/**
 * Resolves `rel` beneath `root` the way a chroot would: absolute symlink targets restart at
 * `root` and `..` never climbs above it. Returns the host path of the final file.
 */
export async function resolveInRoot(root: string, rel: string): Promise<string> {
  let pending = rel.split('/').filter((c) => c !== '' && c !== '.');
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const c = pending.shift()!;
    if (c === '..') {
      resolved.pop();
      continue;
    }
    const host = path.join(root, ...resolved, c);
    const st = await fsp.lstat(host);
    if (!st.isSymbolicLink()) {
      resolved.push(c);
      continue;
    }
    if (++links > MAX_SYMLINKS) {
      throw Object.assign(new Error(`Too many levels of symbolic links: ${host}`), { code: 'ELOOP' });
    }
    const target = await fsp.readlink(host);
    if (target.startsWith('/')) resolved.length = 0;
    pending = [...target.split('/').filter((t) => t !== '' && t !== '.'), ...pending];
  }
  return path.join(root, ...resolved);
}

/**
 * The first existing ostree auth file beneath `root` (spec §6.1): for root `/run`, `/etc`,
 * `/usr/lib` (each `…/ostree/auth.json`); for other users the runtime then config dir.
 * A missing file moves on to the next; any other error propagates.
 */
export async function getGlobalAuthfile(
  root = '/',
  opts: AuthfileLookupOptions = {},
): Promise<GlobalAuthfile | null> {
  for (const rel of authSearchPaths(opts)) {
    try {
      const contents = await fsp.readFile(await resolveInRoot(root, rel));
      return { path: rel, contents };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw e;
    }
  }
  return null;
}

/** True under systemd (a non-empty `INVOCATION_ID`), where isolation drops privileges. */
export function runningInSystemd(env: NodeJS.ProcessEnv = process.env): boolean {
  return !!env.INVOCATION_ID;
}

/**
 * A command running `binary` as `user` with no privileges, under systemd only (spec §6.3).
 * Elsewhere `binary` still runs as root, but (unlike upstream, which loses it there) it keeps
 * the parent-death signal, so a skopeo child never outlives us.
 */
export function unprivilegedSubprocess(
  binary: string,
  user: string,
  env: NodeJS.ProcessEnv = process.env,
): ProxyCommand {
  if (!runningInSystemd(env)) return { program: 'setpriv', args: ['--pdeathsig', 'TERM', '--', binary] };
  return {
    program: 'setpriv',
    args: ['--no-new-privs', '--init-groups', '--reuid', user, '--bounding-set', '-all', '--pdeathsig', 'TERM', '--', binary],
    envRemove: ['HOME', 'XDG_DATA_DIR', 'USER'],
    user,
  };
}

export interface MergeOptions {
  /** Root for the global auth file lookup; default `/`. */
  root?: string;
  lookup?: AuthfileLookupOptions;
  env?: NodeJS.ProcessEnv;
}

/**
 * Fills in authentication defaults and, when `user` is given and no `skopeoCmd` is set,
 * runs skopeo as that user (spec §6.2). Without any auth option, the global ostree auth file
 * becomes `authData`, or else `authAnonymous` is set so skopeo's own credential files are
 * never consulted. An `authfile` is read now (privileged) and passed as `authData` when
 * isolating. Idempotent; returns a new config.
 */
export async function mergeDefaultContainerProxyOptsWithIsolation(
  config: ImageProxyConfig,
  user: string | undefined,
  opts: MergeOptions = {},
): Promise<ImageProxyConfig> {
  const out: ImageProxyConfig = { ...config };
  if (!out.authAnonymous && out.authfile === undefined && out.authData === undefined) {
    const found = await getGlobalAuthfile(opts.root ?? '/', opts.lookup);
    if (found) out.authData = found.contents;
    else out.authAnonymous = true;
  }
  const isolationUser = out.skopeoCmd ? undefined : user;
  if (isolationUser !== undefined) {
    if (out.authfile !== undefined) {
      out.authData = await fsp.readFile(out.authfile);
      delete out.authfile;
    }
    out.skopeoCmd = unprivilegedSubprocess('skopeo', isolationUser, opts.env);
  }
  return out;
}

/** As `…WithIsolation`, isolating as `nobody` when the real uid is 0. */
export function mergeDefaultContainerProxyOpts(
  config: ImageProxyConfig,
  opts: MergeOptions = {},
): Promise<ImageProxyConfig> {
  const uid = opts.lookup?.uid ?? process.getuid?.() ?? 0;
  return mergeDefaultContainerProxyOptsWithIsolation(config, uid === 0 ? DEFAULT_UNPRIVILEGED_USER : undefined, opts);
}
