// A real OS tree for the benchmarks: Debian (bookworm by default) built by `debootstrap
// --variant=minbase` plus a server's package set, from the mirror the host's apt uses
// (scripts/debian-mirror.sh). Made once under bench/work/ (git-ignored) and reused; needs root.
//
// The tree is laid out as an ostree commit would carry it: /etc moved to /usr/etc, the mount points
// (/dev, /proc, /sys, /run, /tmp) empty, apt's caches and package lists removed (as container
// images do). The dpkg database stays in /var/lib/dpkg: bench/objectmeta.js maps every content
// object to its package from it.
//
// CLI: node bench/debian-tree.js [--suite bookworm]   (prints the tree's directory and size)
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BENCH_DIR } from './corpus.js';

/** What a small server image would install on top of minbase (Depends are pulled in by debootstrap). */
export const PACKAGES = [
  'systemd', 'systemd-sysv', 'dbus', 'udev', 'kmod', 'iproute2', 'iputils-ping', 'ifupdown', 'isc-dhcp-client',
  'openssh-server', 'curl', 'wget', 'ca-certificates', 'python3', 'less', 'vim', 'sudo', 'locales', 'tzdata',
  'procps', 'rsync', 'gnupg', 'git', 'man-db', 'manpages', 'bash-completion', 'cron', 'logrotate', 'netbase',
  'file', 'xz-utils', 'zstd', 'firmware-linux-free',
];
const FORMAT_VERSION = 1; // bump when the post-processing below changes
const MOUNT_POINTS = ['dev', 'proc', 'sys', 'run', 'tmp'];
const APT_CACHES = ['var/cache/apt', 'var/lib/apt/lists'];

export function exec(argv, { log } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout.on('data', (b) => {
      out.push(b);
      log?.(b);
    });
    child.stderr.on('data', (b) => {
      err.push(b);
      log?.(b);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString());
      else reject(new Error(`${argv.join(' ')}: exit status ${code}: ${Buffer.concat(err).toString().trim().split('\n').slice(-5).join('\n')}`));
    });
  });
}

/** Unmounts what a killed debootstrap left mounted under `dir` (deepest first), so removing it is safe. */
export async function unmountUnder(dir) {
  const mounts = (await readFile('/proc/self/mounts', 'utf8'))
    .split('\n')
    .map((l) => l.split(' ')[1])
    .filter((m) => m && (m === dir || m.startsWith(`${dir}/`)))
    .sort()
    .reverse();
  for (const m of mounts) await exec(['umount', '-l', m]);
}

export async function emptyDir(dir) {
  if (!existsSync(dir)) return;
  for (const name of await readdir(dir)) await rm(path.join(dir, name), { recursive: true, force: true });
}

/** Regular files, their bytes, symlinks and directories under `root` (hardlinks counted once per name). */
export async function treeCounts(root) {
  const c = { files: 0, bytes: 0, symlinks: 0, dirs: 0 };
  const walk = async (d) => {
    for (const ent of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, ent.name);
      if (ent.isDirectory()) {
        c.dirs++;
        await walk(p);
      } else if (ent.isSymbolicLink()) c.symlinks++;
      else if (ent.isFile()) {
        c.files++;
        c.bytes += (await lstat(p)).size;
      }
    }
  };
  await walk(root);
  return c;
}

/**
 * The cached tree for `suite` and `packages`: { dir, tree, suite, packages, files, bytes, symlinks,
 * dirs, installed } (installed = dpkg packages). Built on first use.
 */
export async function debianTree({ suite = 'bookworm', packages = PACKAGES, log = () => {} } = {}) {
  const key = createHash('sha256').update(JSON.stringify({ FORMAT_VERSION, suite, packages })).digest('hex').slice(0, 10);
  const dir = path.join(BENCH_DIR, 'work', `debian-${suite}-${key}`);
  const tree = path.join(dir, 'rootfs');
  const infoFile = path.join(dir, 'tree.json');
  if (existsSync(infoFile)) return { dir, tree, ...JSON.parse(await readFile(infoFile, 'utf8')) };
  if (process.getuid?.() !== 0) throw new Error('bench/debian-tree.js: debootstrap needs root');
  const mirror = (await exec([path.join(BENCH_DIR, '..', 'scripts', 'debian-mirror.sh')])).trim();
  const tmp = `${tree}.tmp`;
  await mkdir(dir, { recursive: true });
  await unmountUnder(tmp);
  await rm(tmp, { recursive: true, force: true });
  log(`debootstrap ${suite} (minbase + ${packages.length} packages) from ${mirror} into ${tmp}\n`);
  const t0 = Date.now();
  try {
    await exec(['debootstrap', '--variant=minbase', `--include=${packages.join(',')}`, suite, tmp, mirror]);
  } finally {
    await unmountUnder(tmp);
  }
  for (const m of MOUNT_POINTS) await emptyDir(path.join(tmp, m));
  for (const c of APT_CACHES) await emptyDir(path.join(tmp, c));
  await rename(path.join(tmp, 'etc'), path.join(tmp, 'usr', 'etc'));
  const installed = (await readdir(path.join(tmp, 'var', 'lib', 'dpkg', 'info'))).filter((n) => n.endsWith('.list')).length;
  const info = { suite, packages, installed, ...(await treeCounts(tmp)), buildSeconds: Math.round((Date.now() - t0) / 1000) };
  await rm(tree, { recursive: true, force: true });
  await rename(tmp, tree);
  await writeFile(infoFile, JSON.stringify(info, null, 1));
  log(`${tree}: ${info.files} files, ${(info.bytes / 1024 ** 2).toFixed(0)} MiB, ${installed} packages (${info.buildSeconds} s)\n`);
  return { dir, tree, ...info };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { suite: { type: 'string' } } });
  const t = await debianTree({ suite: values.suite, log: (m) => process.stderr.write(m) });
  process.stdout.write(`${t.tree}: ${t.files} files, ${(t.bytes / 1024 ** 2).toFixed(0)} MiB, ${t.symlinks} symlinks, ${t.dirs} directories, ${t.installed} packages\n`);
}
