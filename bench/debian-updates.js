// Three builds of one Debian OS for the update-size benchmark (bench/update-size.js), each made
// from Debian's packages the way a distribution makes them:
//   base      debootstrap --variant=minbase of the suite (no security archive) plus a kernel,
//             systemd, udev, dbus, openssl, ca-certificates and tzdata;
//   security  `apt-get upgrade` of base from <suite>-security, inside a chroot of it;
//   feature   `apt-get install curl less vim-tiny python3-minimal` on top of security.
// Each build keeps its chroot (where apt runs) and a copy laid out as an ostree OS commit carries
// it: /etc in /usr/etc, the kernel and initramfs in /usr/lib/modules/<kver>/{vmlinuz,initramfs.img},
// /boot and the mount points empty, apt's caches and lists removed; /var stays (the dpkg database
// is in /var/lib/dpkg, as bench/debian-tree.js leaves it). Made once under bench/work/ (git-ignored)
// and reused; needs root and the mirror the host's apt uses (scripts/debian-mirror.sh).
//
// CLI: node bench/debian-updates.js [--suite bookworm]   (prints each build's tree)
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, writeFile, copyFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BENCH_DIR } from './corpus.js';
import { emptyDir, exec, treeCounts, unmountUnder } from './debian-tree.js';

/** A small bootable server on top of minbase (Depends are pulled in by debootstrap). */
export const BASE_PACKAGES = [
  'linux-image-amd64', 'systemd', 'systemd-sysv', 'udev', 'dbus', 'kmod', 'ca-certificates', 'openssl', 'tzdata',
  'iproute2', 'ifupdown', 'netbase', 'procps', 'sudo',
];
export const FEATURE_PACKAGES = ['curl', 'less', 'vim-tiny', 'python3-minimal'];
const FORMAT_VERSION = 1; // bump when a build step below changes
const MOUNT_POINTS = ['dev', 'proc', 'sys', 'run', 'tmp'];
const APT_CACHES = ['var/cache/apt', 'var/lib/apt/lists'];
const MIRROR_SCRIPT = path.join(BENCH_DIR, '..', 'scripts', 'debian-mirror.sh');

/** The builds in order: name and what makes it from the previous one. */
export const BUILDS = [
  { name: 'base', what: 'debootstrap --variant=minbase + kernel, systemd, udev, dbus, openssl, ca-certificates, tzdata' },
  { name: 'security', what: 'apt-get upgrade from the security archive' },
  { name: 'feature', what: `apt-get install ${FEATURE_PACKAGES.join(' ')}` },
];

/** Fails early, naming the URL, when `url` (a Release file) cannot be fetched. */
async function checkReachable(url) {
  await exec(['curl', '-sSfI', '--max-time', '30', url]).catch((e) => {
    throw new Error(`bench/debian-updates.js: the mirror does not answer for ${url}: ${e.message}`);
  });
}

/** name → version of the packages dpkg has installed in `chroot`. */
async function installed(chroot) {
  const out = await exec(['chroot', chroot, 'dpkg-query', '-W', '-f', '${Package}:${Architecture} ${Version} ${db:Status-Abbrev}\n']);
  const m = new Map();
  for (const line of out.split('\n')) {
    const [pkg, version, status] = line.split(' ');
    if (pkg && status === 'ii') m.set(pkg.replace(/:(amd64|all)$/, ''), version);
  }
  return m;
}

/** Runs `argv` inside `chroot` with /proc, /sys and /dev mounted and services kept from starting. */
async function inChroot(chroot, argvs, log) {
  const policy = path.join(chroot, 'usr/sbin/policy-rc.d');
  await writeFile(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  await copyFile('/etc/resolv.conf', path.join(chroot, 'etc/resolv.conf'));
  try {
    await exec(['mount', '-t', 'proc', 'proc', path.join(chroot, 'proc')]);
    await exec(['mount', '-t', 'sysfs', 'sysfs', path.join(chroot, 'sys')]);
    await exec(['mount', '--bind', '/dev', path.join(chroot, 'dev')]);
    const env = ['env', 'DEBIAN_FRONTEND=noninteractive', 'LC_ALL=C.UTF-8', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin'];
    for (const argv of argvs) await exec(['chroot', chroot, ...env, ...argv], { log });
  } finally {
    await unmountUnder(chroot);
    await rm(policy, { force: true });
  }
}

/** Copies `chroot` to `rootfs` laid out as an ostree OS commit carries it (see the header). */
async function layout(chroot, rootfs) {
  await rm(rootfs, { recursive: true, force: true });
  await exec(['cp', '-a', '--reflink=auto', chroot, rootfs]);
  for (const m of MOUNT_POINTS) await emptyDir(path.join(rootfs, m));
  for (const c of APT_CACHES) await emptyDir(path.join(rootfs, c));
  const boot = path.join(rootfs, 'boot');
  for (const name of await readdir(boot)) {
    const m = /^(vmlinuz|initrd\.img|config|System\.map)-(.+)$/.exec(name);
    if (!m) continue;
    const dest = { vmlinuz: 'vmlinuz', 'initrd.img': 'initramfs.img', config: 'config', 'System.map': 'System.map' }[m[1]];
    const moddir = path.join(rootfs, 'usr/lib/modules', m[2]);
    await mkdir(moddir, { recursive: true });
    await rename(path.join(boot, name), path.join(moddir, dest));
  }
  await emptyDir(boot);
  // Debian's links to the current kernel (/vmlinuz, /initrd.img and their .old) would dangle.
  for (const l of ['vmlinuz', 'vmlinuz.old', 'initrd.img', 'initrd.img.old']) await rm(path.join(rootfs, l), { force: true });
  await rename(path.join(rootfs, 'etc'), path.join(rootfs, 'usr', 'etc'));
}

/**
 * The cached builds for `suite`: [{ name, what, chroot, tree, packages (name → version), changed
 * (packages added or upgraded from the previous build), files, bytes }]. Built on first use.
 */
export async function debianUpdates({ suite = 'bookworm', log = () => {} } = {}) {
  const key = createHash('sha256')
    .update(JSON.stringify({ FORMAT_VERSION, suite, BASE_PACKAGES, FEATURE_PACKAGES }))
    .digest('hex')
    .slice(0, 10);
  const dir = path.join(BENCH_DIR, 'work', `updates-${suite}-${key}`);
  const builds = [];
  let prev = null;
  for (const b of BUILDS) {
    const bdir = path.join(dir, b.name);
    const infoFile = path.join(bdir, 'build.json');
    const chroot = path.join(bdir, 'chroot');
    const tree = path.join(bdir, 'rootfs');
    if (!existsSync(infoFile)) {
      if (process.getuid?.() !== 0) throw new Error('bench/debian-updates.js: debootstrap and chroot need root');
      const mirror = (await exec([MIRROR_SCRIPT])).trim();
      const security = (await exec([MIRROR_SCRIPT, '--security'])).trim();
      await checkReachable(`${mirror}/dists/${suite}/InRelease`);
      await checkReachable(`${security}/dists/${suite}-security/InRelease`);
      const tmp = `${chroot}.tmp`;
      await mkdir(bdir, { recursive: true });
      await unmountUnder(tmp);
      await rm(tmp, { recursive: true, force: true });
      const t0 = Date.now();
      log(`${b.name}: ${b.what}\n`);
      if (!prev) {
        try {
          await exec(['debootstrap', '--variant=minbase', `--include=${BASE_PACKAGES.join(',')}`, suite, tmp, mirror]);
        } finally {
          await unmountUnder(tmp);
        }
      } else {
        await exec(['cp', '-a', '--reflink=auto', prev.chroot, tmp]);
        const sources = path.join(tmp, 'etc/apt/sources.list');
        const text = await readFile(sources, 'utf8');
        const line = `deb ${security} ${suite}-security main`;
        if (!text.includes(line)) await writeFile(sources, `${text.trimEnd()}\n${line}\n`);
        const apt = ['apt-get', '-y', '-o', 'Dpkg::Options::=--force-confold'];
        const step = b.name === 'security' ? [...apt, 'upgrade'] : [...apt, '--no-install-recommends', 'install', ...FEATURE_PACKAGES];
        await inChroot(tmp, [['apt-get', 'update'], step, ['apt-get', 'clean']], log);
      }
      await rm(chroot, { recursive: true, force: true });
      await rename(tmp, chroot);
      await layout(chroot, tree);
      const packages = await installed(chroot);
      const before = prev?.packages ?? new Map();
      const changed = [...packages].filter(([p, v]) => before.get(p) !== v).map(([p]) => p).sort();
      const info = { name: b.name, what: b.what, packages: [...packages], changed: prev ? changed : [], ...(await treeCounts(tree)), buildSeconds: Math.round((Date.now() - t0) / 1000) };
      await writeFile(infoFile, JSON.stringify(info, null, 1));
      log(`${b.name}: ${info.packages.length} packages (${info.changed.length} changed), ${info.files} files, ${(info.bytes / 1024 ** 2).toFixed(0)} MiB (${info.buildSeconds} s)\n`);
    }
    const info = JSON.parse(await readFile(infoFile, 'utf8'));
    const build = { ...info, packages: new Map(info.packages), chroot, tree, dir: bdir };
    builds.push(build);
    prev = build;
  }
  return builds;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { suite: { type: 'string' } } });
  for (const b of await debianUpdates({ suite: values.suite, log: (m) => process.stderr.write(m) })) {
    process.stdout.write(`${b.name}: ${b.tree}: ${b.packages.size} packages, ${b.changed.length} changed (${b.changed.join(' ')}), ${b.files} files, ${(b.bytes / 1024 ** 2).toFixed(0)} MiB\n`);
  }
}
