// `encapsulate --chunking auto` on real package databases: rpm packages built with rpmbuild and
// installed with `rpm --root` (every database format this rpm writes, plus BerkeleyDB written by
// BerkeleyDB's own db_load and checked with rpm's reader, plus a SUSE image's ndb file), and dpkg
// packages built with dpkg-deb and installed with `dpkg --root`; the `user.component` xattr, big
// files, the kernel and initramfs; unreadable databases as errors; and the previous build's
// manifest keeping unchanged packages in their layers with a layer budget below the components.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { autoContentMeta, readPackageDatabases, type AutoContentMeta } from '../../src/container/auto-chunking.js';
import { MAX_FREQUENCY } from '../../src/container/chunking.js';
import { TreeIndex } from '../../src/container/tree-index.js';
import { OciDir } from '../../src/oci/layout.js';
import type { ImageManifest } from '../../src/oci/types.js';
import { Repo } from '../../src/repo/repo.js';
import { runCli } from '../helpers/cli.js';
import { cleanupTmp, expectRoundTrip, tmpdir } from './encapsulate-util.js';

const FIXTURES = path.join(import.meta.dirname, '..', 'fixtures', 'rpmdb');
const MiB = 1024 * 1024;
const KVER = '6.9.0-1-test';

let work: string;
beforeAll(async () => {
  work = await tmpdir('auto-chunking-');
});
afterAll(cleanupTmp);

function tool(...names: string[]): string {
  for (const n of names) if (spawnSync('sh', ['-c', `command -v ${n}`]).status === 0) return n;
  throw new Error(`none of ${names.join(', ')} is installed (scripts/install-deps.sh installs it)`);
}

function run(argv: string[], input?: string): string {
  return execFileSync(tool(argv[0]!), argv.slice(1), { input, stdio: ['pipe', 'pipe', 'pipe'] }).toString();
}

interface PkgSpec {
  name: string;
  version: string;
  /** Path in the tree → content; `elf`: compiled code (/bin/true with the path appended, so each differs). */
  files: Record<string, string | Buffer>;
  source?: string;
}

/** Builds rpm packages (one spec per source; subpackages for the others) and returns their files. */
function buildRpms(dir: string, pkgs: PkgSpec[]): string[] {
  const out: string[] = [];
  for (const p of pkgs) {
    const spec = [
      `Name: ${p.name}`, `Version: ${p.version}`, 'Release: 1', 'Summary: test', 'License: MIT',
      ...(p.source ? [] : []), '%description', 'test', '%install',
      ...Object.entries(p.files).flatMap(([f, c]) => [
        `mkdir -p %{buildroot}${path.dirname(f)}`,
        c === 'elf' ? `cp /bin/true %{buildroot}${f} && printf '%s' '${f}' >> %{buildroot}${f}` : `printf '%s' '${c}' > %{buildroot}${f}`,
      ]),
      '%files', ...Object.keys(p.files),
      '%changelog', '* Mon Jan 01 2024 T <t@t> - 1', '- one', '* Sun Jan 01 2023 T <t@t> - 0', '- zero',
    ].join('\n');
    const specFile = path.join(dir, `${p.name}-${p.version}.spec`);
    writeFileSync(specFile, spec);
    const top = path.join(dir, `top-${p.name}-${p.version}`);
    run(['rpmbuild', '--quiet', '--define', `_topdir ${top}`, '--define', '_build_id_links none', '--define', 'debug_package %{nil}', '--define', '__os_install_post %{nil}', '-bb', specFile]);
    for (const arch of readdirSync(path.join(top, 'RPMS'))) for (const f of readdirSync(path.join(top, 'RPMS', arch))) out.push(path.join(top, 'RPMS', arch, f));
  }
  return out;
}

/** Installs `rpms` into `root` with rpm's database in /usr/lib/sysimage/rpm, written by `backend`. */
function installRpms(root: string, rpms: string[], backend: string): void {
  run(['rpm', '--root', root, '--dbpath', '/usr/lib/sysimage/rpm', '--define', `_db_backend ${backend}`, '--nodeps', '--noscripts', '--notriggers', '-i', ...rpms]);
}

/** The database backends this rpm can write (`rpm --showrc`: "available backends", minus read-only ones). */
function writableRpmBackends(): string[] {
  const m = /available backends\s*:\s*(.*)/.exec(run(['rpm', '--showrc']));
  if (!m) throw new Error('rpm --showrc names no database backends');
  return m[1]!.trim().split(/\s+/).filter((b) => !['bdb_ro', 'dummy'].includes(b));
}

/** Builds and installs dpkg packages into `root` (an ostree-style tree is made from it later). */
function installDebs(dir: string, root: string, pkgs: PkgSpec[]): void {
  for (const d of ['var/lib/dpkg/info', 'var/lib/dpkg/updates']) mkdirSync(path.join(root, d), { recursive: true });
  writeFileSync(path.join(root, 'var/lib/dpkg/status'), '', { flag: 'a' });
  for (const p of pkgs) {
    const src = path.join(dir, `deb-${p.name}-${p.version}`);
    rmSync(src, { recursive: true, force: true });
    mkdirSync(path.join(src, 'DEBIAN'), { recursive: true });
    writeFileSync(
      path.join(src, 'DEBIAN/control'),
      `Package: ${p.name}\nVersion: ${p.version}\nArchitecture: amd64\nMaintainer: t <t@t>\nDescription: test\n${p.source ? `Source: ${p.source}\nMulti-Arch: same\n` : ''}`,
    );
    for (const [f, c] of Object.entries(p.files)) {
      mkdirSync(path.join(src, path.dirname(f)), { recursive: true });
      writeFileSync(path.join(src, f), c === 'elf' ? Buffer.concat([readFileSync('/bin/true'), Buffer.from(`${f} ${p.version}`)]) : c);
    }
    const deb = `${src}.deb`;
    run(['dpkg-deb', '--root-owner-group', '-Zgzip', '--build', src, deb]);
    run(['dpkg', `--root=${root}`, '--force-script-chrootless', '--log=/dev/null', '-i', deb]);
  }
}

/** Commits `root` (and extra files with xattrs) into a new bare-user repo; returns repo and commit. */
async function commitTree(root: string, extra: { path: string; content: string; component: string }[] = [], repo?: Repo): Promise<{ repo: Repo; commit: string }> {
  repo ??= await Repo.create(path.join(await tmpdir('auto-repo-'), 'repo'), 'bare-user');
  const r = repo;
  const commit = await r.withTransaction(async () => {
    const entries = [];
    for (const e of extra) {
      const checksum = await r.writeRegularFile(Buffer.from(e.content), { xattrs: [[Buffer.from('user.component\0'), Buffer.from(e.component)]] });
      entries.push({ path: e.path, kind: 'file' as const, checksum });
    }
    const tree = await r.writeTree({ directories: [{ source: root }], entries });
    return r.writeCommit({ root: tree, parent: null, timestamp: 1700000000 });
  });
  return { repo, commit };
}

/** A tree with the kernel, initramfs, a big unowned file and small unowned state around `root`'s packages. */
function addSystemFiles(root: string): void {
  const mod = path.join(root, 'usr/lib/modules', KVER);
  mkdirSync(mod, { recursive: true });
  writeFileSync(path.join(mod, 'vmlinuz'), Buffer.alloc(3 * MiB, 1));
  writeFileSync(path.join(mod, 'initramfs.img'), Buffer.alloc(2 * MiB, 2));
  mkdirSync(path.join(root, 'usr/lib/udev'), { recursive: true });
  writeFileSync(path.join(root, 'usr/lib/udev/hwdb.bin'), Buffer.alloc(MiB + 1, 3));
  mkdirSync(path.join(root, 'var/lib/state'), { recursive: true });
  writeFileSync(path.join(root, 'var/lib/state/small'), 'state');
}

async function image(dir: string, tag?: string): Promise<ImageManifest> {
  return (await (await OciDir.open(dir)).readManifest(tag)).manifest;
}

const layerNames = (m: ImageManifest) => m.layers.slice(1).map((l) => l.annotations?.['ostree.components'] ?? '');

describe('Repo.scanTree', () => {
  it("lists what `ostree ls -R` lists, with sizes, symlink targets, ELF and the xattr; refuses bad input", async () => {
    const dir = await tmpdir('scan-');
    const root = path.join(dir, 'root');
    mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
    copyFileSync('/bin/true', path.join(root, 'usr/bin/t'));
    writeFileSync(path.join(root, 'usr/bin/text'), 'hello');
    symlinkSync('t', path.join(root, 'usr/bin/link'));
    const { repo, commit } = await commitTree(root, [{ path: '/usr/x', content: 'x', component: 'comp' }]);
    const scan = await repo.scanTree(commit, 'user.component');
    const listed = run(['ostree', `--repo=${repo.path}`, 'ls', '-R', commit]).trim().split('\n');
    expect([...scan.files].sort()).toEqual(listed.filter((l) => !l.startsWith('d')).map((l) => l.split(/\s+/)[4]!).sort());
    expect([...scan.dirs].sort()).toEqual(listed.filter((l) => l.startsWith('d')).map((l) => l.split(/\s+/)[4]!).sort());
    const at = (p: string) => scan.fileObject[scan.files.indexOf(p)]!;
    expect(scan.sizes[at('/usr/bin/text')]).toBe(5);
    expect(scan.elf[at('/usr/bin/t')]).toBe(1);
    expect(scan.elf[at('/usr/bin/text')]).toBe(0);
    expect(scan.symlinkTargets).toEqual([[at('/usr/bin/link'), 't']]);
    expect(scan.objectXattr).toEqual([[at('/usr/x'), 'comp']]);
    await expect(repo.scanTree('0'.repeat(64), '')).rejects.toThrow(/No such metadata object 0{64}\.commit/);
    expect(() => (repo.native.scanTree as (...a: unknown[]) => unknown)(42, '')).toThrow(TypeError);
    const bad = await commitTree(root);
    const raw = await bad.repo.withTransaction(async (r) => {
      const checksum = await r.writeRegularFile(Buffer.from('z'), { xattrs: [[Buffer.from('user.component\0'), Buffer.from([0xff, 0xfe])]] });
      return r.writeCommit({ root: await r.writeTree({ base: { commit: bad.commit }, entries: [{ path: '/usr/z', kind: 'file', checksum }] }), parent: null, timestamp: 1 });
    });
    await expect(bad.repo.scanTree(raw, 'user.component')).rejects.toThrow('xattr user.component of /usr/z is not a UTF-8 string');
  });
});

const RPMS: PkgSpec[] = [
  { name: 'alpha', version: '1.0', files: { '/usr/bin/alpha': 'elf', '/usr/share/alpha/data.txt': 'alpha data' } },
  { name: 'beta', version: '1.0', files: { '/usr/bin/beta': 'elf', '/usr/lib/udev/rules.d/99-beta.rules': 'rule' } },
];

describe('rpm databases', () => {
  it('chunks an rpm tree: a layer per package, big files, kernel, initramfs, an xattr component; the image imports', async () => {
    const dir = await tmpdir('rpm-');
    const root = path.join(dir, 'root');
    installRpms(root, buildRpms(dir, RPMS), 'sqlite');
    addSystemFiles(root);
    const { repo, commit } = await commitTree(root, [{ path: '/usr/bin/app', content: 'app', component: 'my-app' }]);
    const out = path.join(dir, 'oci');
    const r = await runCli('encapsulate', '--repo', repo.path, '--chunking', 'auto', commit, `oci:${out}:v1`);
    expect(r.stderr).toBe('Automatic chunking: sqlite /usr/lib/sysimage/rpm/rpmdb.sqlite (2 packages); 8 components in 8 layers\n');
    expect(r.code).toBe(0);
    const m = await image(out, 'v1');
    // Each package, big file and xattr component alone; the tiny unowned groups (rpm's lock and
    // shared memory, /var/lib/state) ride together: a layer each would cost more than they weigh.
    const names = layerNames(m);
    for (const n of ['alpha', 'beta', '/usr/lib/udev/hwdb.bin', 'vmlinuz', 'initramfs', 'my-app']) expect(names).toContain(n);
    expect(names).toContain('unpackaged:/usr/lib/sysimage,unpackaged:/var/lib/state');
    expect(names.at(-1)).toBe('');
    expect(names).toHaveLength(8);
    await expectRoundTrip(repo, commit, `ostree-unverified-image:oci:${out}:v1`);
  });

  it("reads every database format this rpm writes (sqlite also in /var/lib/rpm), BerkeleyDB from db_load (checked by rpm's reader) and a SUSE ndb file", async () => {
    const dir = await tmpdir('rpm-formats-');
    const rpms = buildRpms(dir, [{ name: 'gamma', version: '2.0', files: { '/usr/bin/gamma': 'elf' } }, ...RPMS]);
    const found: Record<string, string[]> = {};
    const check = async (root: string, what: string) => {
      const { repo, commit } = await commitTree(root);
      const auto = await autoContentMeta(repo, commit);
      found[what] = auto.databases.map((d) => `${d.format} ${d.path} ${d.packages}`);
      return auto;
    };
    for (const backend of writableRpmBackends()) {
      const root = path.join(dir, `root-${backend}`);
      installRpms(root, rpms, backend);
      const auto = await check(root, backend);
      expect(auto.meta.sizes.map((s) => s.name)).toEqual(expect.arrayContaining(['alpha', 'beta', 'gamma']));
    }
    expect(found.sqlite).toEqual(['sqlite /usr/lib/sysimage/rpm/rpmdb.sqlite 3']);

    // BerkeleyDB: the sqlite database's headers loaded by BerkeleyDB's db_load into a hash
    // database in /usr/share/rpm (rpm-ostree's older location), then listed by rpm itself.
    const sqlite = path.join(dir, 'root-sqlite/usr/lib/sysimage/rpm/rpmdb.sqlite');
    const rows = run(['sqlite3', sqlite, 'SELECT hnum, hex(blob) FROM Packages']).trim().split('\n');
    const key = (n: number) => Buffer.from(Uint32Array.of(n).buffer).toString('hex');
    const dump = ['VERSION=3', 'format=bytevalue', 'type=hash', 'HEADER=END', ` ${key(0)}`, ` ${key(rows.length + 1)}`];
    for (const r of rows) dump.push(` ${key(Number(r.split('|')[0]))}`, ` ${r.split('|')[1]!.toLowerCase()}`);
    const bdbRoot = path.join(dir, 'root-bdb');
    mkdirSync(path.join(bdbRoot, 'usr/share/rpm'), { recursive: true });
    run([tool('db5.3_load', 'db_load'), path.join(bdbRoot, 'usr/share/rpm/Packages')], `${[...dump, 'DATA=END'].join('\n')}\n`);
    const listed = run(['rpm', '--dbpath', path.join(bdbRoot, 'usr/share/rpm'), '--define', '_db_backend bdb_ro', '-qa', '--qf', '%{NAME}\n'], undefined);
    expect(listed.trim().split('\n').sort()).toEqual(['alpha', 'beta', 'gamma']);
    for (const f of ['/usr/bin/alpha', '/usr/bin/beta', '/usr/bin/gamma']) {
      mkdirSync(path.dirname(path.join(bdbRoot, f)), { recursive: true });
      writeFileSync(path.join(bdbRoot, f), f);
    }
    // The sqlite database again, in /var/lib/rpm (the traditional location) alone.
    const varRoot = path.join(dir, 'root-var');
    mkdirSync(path.join(varRoot, 'var/lib/rpm'), { recursive: true });
    copyFileSync(sqlite, path.join(varRoot, 'var/lib/rpm/rpmdb.sqlite'));
    await check(varRoot, 'var');
    expect(found.var).toEqual(['sqlite /var/lib/rpm/rpmdb.sqlite 3']);

    const bdb = await check(bdbRoot, 'bdb');
    expect(found.bdb).toEqual(['bdb /usr/share/rpm/Packages 3']);
    expect(bdb.meta.sizes.map((s) => s.name).sort()).toEqual(expect.arrayContaining(['alpha', 'beta', 'gamma']));

    // ndb: a SUSE image's database, with two of its packages' files in the tree.
    // (Its own root: where this rpm writes ndb too, the loop above has made root-ndb.)
    const ndbRoot = path.join(dir, 'root-suse-ndb');
    mkdirSync(path.join(ndbRoot, 'usr/lib/sysimage/rpm'), { recursive: true });
    writeFileSync(path.join(ndbRoot, 'usr/lib/sysimage/rpm/Packages.db'), gunzipSync(readFileSync(path.join(FIXTURES, 'sle15-bci-Packages.db.gz'))));
    mkdirSync(path.join(ndbRoot, 'usr/bin'), { recursive: true });
    writeFileSync(path.join(ndbRoot, 'usr/bin/bash'), 'not really bash');
    mkdirSync(path.join(ndbRoot, 'lib64'), { recursive: true });
    copyFileSync('/bin/true', path.join(ndbRoot, 'lib64/libc.so.6'));
    const ndb = await check(ndbRoot, 'suse-ndb');
    expect(found['suse-ndb']).toEqual(['ndb /usr/lib/sysimage/rpm/Packages.db 35']);
    const nameOf = new Map(ndb.meta.sizes.map((s) => [s.identifier, s.name]));
    // The 1.3 MB database is a big file: a layer of its own.
    expect([...ndb.meta.map.values()].map((id) => nameOf.get(id)).sort()).toEqual(['/usr/lib/sysimage/rpm/Packages.db', 'bash', 'glibc']);
  });

  it('refuses a database it cannot read, naming the file and format, and writes no image', async () => {
    const dir = await tmpdir('rpm-bad-');
    const root = path.join(dir, 'root');
    installRpms(root, buildRpms(dir, RPMS.slice(0, 1)), 'sqlite');
    const db = path.join(root, 'usr/lib/sysimage/rpm/rpmdb.sqlite');
    const bytes = readFileSync(db);
    bytes.fill(0x41, 4096, 8192);
    writeFileSync(db, bytes);
    const { repo, commit } = await commitTree(root);
    const out = path.join(dir, 'oci');
    const r = await runCli('encapsulate', '--repo', repo.path, '--chunking', 'auto', commit, `oci:${out}`);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: Automatic chunking: \/usr\/lib\/sysimage\/rpm\/rpmdb\.sqlite: page 2: type 65 is not a table b-tree page\n$/);
    expect((await (await OciDir.open(out)).readIndex()).manifests).toEqual([]);

    // A database directory without any database file rpm writes.
    rmSync(path.join(root, 'usr/lib/sysimage/rpm'), { recursive: true });
    mkdirSync(path.join(root, 'usr/lib/sysimage/rpm'));
    writeFileSync(path.join(root, 'usr/lib/sysimage/rpm/Index.db'), 'x');
    const other = await commitTree(root);
    await expect(autoContentMeta(other.repo, other.commit)).rejects.toThrow(
      '/usr/lib/sysimage/rpm: no rpm database file (rpmdb.sqlite, Packages.db, Packages) among Index.db',
    );
    // Of more names, the first five.
    for (const f of ['a', 'b', 'c', 'd', 'e']) writeFileSync(path.join(root, 'usr/lib/sysimage/rpm', f), f);
    const six = await commitTree(root);
    await expect(autoContentMeta(six.repo, six.commit)).rejects.toThrow(
      new Error('/usr/lib/sysimage/rpm: no rpm database file (rpmdb.sqlite, Packages.db, Packages) among Index.db, a, b, c, d'),
    );
  });
});

/** Change frequency of each component, by name. */
const frequencies = (auto: AutoContentMeta) => Object.fromEntries(auto.meta.sizes.map((s) => [s.name, s.change_frequency]));

/** The component name of each file of `commit`. */
async function componentOf(repo: Repo, commit: string, auto: AutoContentMeta): Promise<Record<string, string>> {
  const scan = await repo.scanTree(commit, '');
  const nameOf = new Map(auto.meta.sizes.map((s) => [s.identifier, s.name]));
  const byPath: Record<string, string> = {};
  scan.files.forEach((p, i) => {
    const o = scan.fileObject[i]!;
    byPath[p] = nameOf.get(auto.meta.map.get(scan.checksums.toString('hex', 32 * o, 32 * o + 32))!)!;
  });
  return byPath;
}

describe('rpm database files', () => {
  it('finds a database once when a symlinked directory names it twice, reads its WAL (through a symlink), skips empty directories; refuses a hot journal and a dangling database', async () => {
    const dir = await tmpdir('rpm-files-');
    const root = path.join(dir, 'root');
    installRpms(root, buildRpms(dir, RPMS), 'sqlite');
    const rpmdir = path.join(root, 'usr/lib/sysimage/rpm');
    // A WAL that removes beta: sqlite3 keeps it uncheckpointed while both files are copied.
    const db = path.join(rpmdir, 'rpmdb.sqlite');
    const copy = path.join(dir, 'walcopy.sqlite');
    execFileSync(tool('sqlite3'), [db], {
      input: `PRAGMA journal_mode=WAL;\nPRAGMA wal_autocheckpoint=0;\nDELETE FROM Packages WHERE hnum = (SELECT hnum FROM Packages WHERE hex(blob) LIKE '%${Buffer.from('beta').toString('hex').toUpperCase()}%');\n.shell cp ${db} ${copy}\n.shell cp ${db}-wal ${copy}-wal\n`,
    });
    rmSync(`${db}-wal`, { force: true });
    rmSync(`${db}-shm`, { force: true });
    renameSync(copy, db);
    mkdirSync(path.join(root, 'usr/lib/sysimage/wal'));
    renameSync(`${copy}-wal`, path.join(root, 'usr/lib/sysimage/wal/rpmdb.sqlite-wal'));
    symlinkSync('/usr/lib/sysimage/wal/rpmdb.sqlite-wal', `${db}-wal`);
    writeFileSync(`${db}-journal`, ''); // an empty journal is no transaction
    // /var/lib/rpm names the same directory (through /var/lib → /usr/lib/sysimage); /usr/share/rpm is empty.
    rmSync(path.join(root, 'var/lib'), { recursive: true, force: true });
    mkdirSync(path.join(root, 'var'), { recursive: true });
    symlinkSync('../usr/lib/sysimage', path.join(root, 'var/lib'));
    mkdirSync(path.join(root, 'usr/share/rpm'), { recursive: true });
    const { repo, commit } = await commitTree(root);
    const auto = await autoContentMeta(repo, commit);
    expect(auto.databases).toEqual([{ path: '/usr/lib/sysimage/rpm/rpmdb.sqlite', format: 'sqlite', packages: 1 }]);
    const byPath = await componentOf(repo, commit, auto);
    expect([byPath['/usr/bin/alpha'], byPath['/usr/bin/beta']]).toEqual(['alpha', 'unpackaged:/usr/bin']);
    // The database's directory changes with every update.
    expect(frequencies(auto)['unpackaged:/usr/lib/sysimage']).toBe(MAX_FREQUENCY);

    writeFileSync(`${db}-journal`, 'x');
    const hot = await commitTree(root);
    await expect(autoContentMeta(hot.repo, hot.commit)).rejects.toThrow(
      new Error('/usr/lib/sysimage/rpm/rpmdb.sqlite-journal: an interrupted SQLite transaction (hot journal); the rpm database cannot be read consistently'),
    );
    rmSync(`${db}-journal`);
    rmSync(db);
    symlinkSync('/nowhere/rpmdb.sqlite', db);
    const dangling = await commitTree(root);
    await expect(autoContentMeta(dangling.repo, dangling.commit)).rejects.toThrow(new Error('/usr/lib/sysimage/rpm/rpmdb.sqlite: a symlink to nothing, not an rpm database'));
  });
});

/** A gzipped Debian changelog with an entry at the start of each year, newest first, and `filler` random bytes after them. */
function debianChangelog(name: string, years: number[], filler = 0): Buffer {
  const entries = years.map(
    (y, i) => `${name} (1.${years.length - i}) unstable; urgency=medium\n\n  * Change.\n\n -- T <t@t>  ${new Date(Date.UTC(y, 0, 1)).toUTCString().replace('GMT', '+0000')}\n`,
  );
  const noise = randomBytes(filler).toString('base64').replace(/.{76}/g, '$&\n');
  return gzipSync(`${entries.join('\n')}\n${noise}`);
}

const DEBS: PkgSpec[] = Array.from({ length: 9 }, (_, i) => ({
  name: `pkg${i}`,
  version: '1.0',
  files: { [`/bin/pkg${i}`]: 'elf', [`/etc/pkg${i}.conf`]: `conf ${i}`, [`/usr/share/pkg${i}/data`]: `data ${i}` },
}));

/** A dpkg tree as an ostree commit carries it: /etc in /usr/etc, merged /usr (/bin → usr/bin). */
function dpkgTree(dir: string, name: string, pkgs: PkgSpec[]): string {
  const root = path.join(dir, name);
  mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
  symlinkSync('usr/bin', path.join(root, 'bin'));
  installDebs(dir, root, pkgs);
  renameSync(path.join(root, 'etc'), path.join(root, 'usr/etc'));
  chmodSync(root, 0o755);
  return root;
}

describe('CLI options', () => {
  it('checks --chunking, --big-file-threshold and --previous-build-manifest before any work', async () => {
    const dir = await tmpdir('cli-opts-');
    const repo = (await Repo.create(path.join(dir, 'repo'), 'bare-user')).path;
    const fail = async (...argv: string[]) => {
      const r = await runCli('encapsulate', '--repo', repo, ...argv, 'nosuchref', `oci:${dir}/oci`);
      expect(r.code).toBe(1);
      return r.stderr;
    };
    expect(await fail('--chunking', 'manual')).toMatch(/option '--chunking <mode>' argument 'manual' is invalid. Allowed choices are auto/);
    expect(await fail('--big-file-threshold', '1M')).toBe('error: --big-file-threshold needs --chunking auto\n');
    expect(await fail('--chunking', 'auto', '--big-file-threshold', '1X')).toBe('error: Invalid --big-file-threshold: 1X\n');
    expect(await fail('--chunking', 'auto', '--contentmeta', '/dev/null')).toBe('error: --chunking and --contentmeta cannot be combined\n');
    expect(await fail('--chunking', 'auto', '--previous-build-manifest', `${dir}/none.json`)).toMatch(
      new RegExp(`^error: Reading previous build manifest ${dir}/none.json: ENOENT`),
    );
    writeFileSync(`${dir}/bad.json`, '{"schemaVersion": 2}');
    expect(await fail('--chunking', 'auto', '--previous-build-manifest', `${dir}/bad.json`)).toMatch(/^error: Reading previous build manifest .*bad\.json: .*config/);
  });
});

describe('dpkg databases', () => {
  it("maps each package's files (merged /usr, /etc in /usr/etc) and its metadata; user.component overrides", async () => {
    const dir = await tmpdir('dpkg-');
    const root = dpkgTree(dir, 'root', [
      ...DEBS.slice(0, 2),
      { name: 'libfoo1', version: '2.0', source: 'foo', files: { '/usr/lib/libfoo.so.1': 'elf' } },
      { name: 'foo-bin', version: '2.0', source: 'foo', files: { '/bin/foo': 'elf' } },
    ]);
    const { repo, commit } = await commitTree(root, [{ path: '/usr/bin/pkg1', content: 'replaced', component: 'mine' }]);
    const auto = await autoContentMeta(repo, commit);
    expect(auto.databases).toEqual([{ path: '/var/lib/dpkg', format: 'dpkg', packages: 4 }]);
    expect(await componentOf(repo, commit, auto)).toMatchObject({
      '/usr/bin/pkg0': 'pkg0',
      '/usr/etc/pkg0.conf': 'pkg0',
      '/usr/share/pkg0/data': 'pkg0',
      '/var/lib/dpkg/info/pkg0.list': 'pkg0',
      '/var/lib/dpkg/info/pkg0.md5sums': 'pkg0',
      '/usr/bin/pkg1': 'mine',
      '/usr/lib/libfoo.so.1': 'foo',
      '/usr/bin/foo': 'foo',
      '/var/lib/dpkg/info/libfoo1:amd64.list': 'foo',
      '/var/lib/dpkg/status': 'unpackaged:/var/lib/dpkg',
    });
    expect([...auto.exclusive]).toEqual(['mine']);
  });

  it('change frequencies from Debian changelogs; the database found once when a symlinked directory names it twice, its status file through a symlink', async () => {
    const dir = await tmpdir('dpkg-changelog-');
    const doc = (p: string, f: string) => `/usr/share/doc/${p}/${f}`;
    const root = dpkgTree(dir, 'root', [
      // Three entries in the three years before the newest change (2024), one before.
      { name: 'alpha', version: '1.0', files: { '/bin/alpha': 'elf', '/etc/alpha.conf': 'c', [doc('alpha', 'changelog.Debian.gz')]: debianChangelog('alpha', [2024, 2023, 2022, 2019]), '/usr/share/alpha/blob': 'b'.repeat(100_000) } },
      // A broken changelog.Debian.gz counts as none; then the native package's changelog.gz.
      { name: 'beta', version: '1.0', files: { '/bin/beta': 'elf', [doc('beta', 'changelog.Debian.gz')]: 'not gzip', [doc('beta', 'changelog.gz')]: debianChangelog('beta', [2024, 2023]) } },
      // changelog.Debian.gz wins over changelog.gz.
      { name: 'gamma', version: '1.0', files: { '/bin/gamma': 'elf', [doc('gamma', 'changelog.Debian.gz')]: debianChangelog('gamma', [2023]), [doc('gamma', 'changelog.gz')]: debianChangelog('gamma', [2024, 2023, 2022]) } },
      { name: 'delta', version: '1.0', files: { '/bin/delta': 'elf' } },
      // A changelog bigger than what is read of it (64 KiB of its gzip stream): its head counts.
      { name: 'epsilon', version: '1.0', files: { '/bin/epsilon': 'elf', [doc('epsilon', 'changelog.Debian.gz')]: debianChangelog('epsilon', [2024, 2022], 120_000) } },
    ]);
    const dpkg = path.join(root, 'var/lib/dpkg');
    renameSync(path.join(dpkg, 'status'), path.join(dpkg, 'status.real'));
    symlinkSync('status.real', path.join(dpkg, 'status'));
    // /usr/lib/sysimage/dpkg names /var/lib/dpkg again (through /usr/lib/sysimage → /var/lib).
    mkdirSync(path.join(root, 'usr/lib'), { recursive: true });
    symlinkSync('../../var/lib', path.join(root, 'usr/lib/sysimage'));
    mkdirSync(path.join(root, 'usr/share/dpkg/database'), { recursive: true }); // no status: no database
    mkdirSync(path.join(root, 'var/lib/misc'), { recursive: true });
    writeFileSync(path.join(root, 'var/lib/misc/state'), 'x');
    const { repo, commit } = await commitTree(root);
    const auto = await autoContentMeta(repo, commit);
    expect(auto.databases).toEqual([{ path: '/var/lib/dpkg', format: 'dpkg', packages: 5 }]);
    expect(frequencies(auto)).toMatchObject({
      alpha: 3,
      beta: 2,
      gamma: 1,
      delta: 1,
      epsilon: 2,
      'unpackaged:/var/lib/dpkg': MAX_FREQUENCY,
      'unpackaged:/var/lib/misc': 78,
    });
    // The changelog and dpkg's lists change with every version: code, not data.
    const byPath = await componentOf(repo, commit, auto);
    expect(byPath).toMatchObject({
      '/usr/share/alpha/blob': 'alpha:data',
      [doc('alpha', 'changelog.Debian.gz')]: 'alpha',
      '/var/lib/dpkg/info/alpha.md5sums': 'alpha',
      '/var/lib/dpkg/info/alpha.list': 'alpha',
    });
    for (const bad of [0, -1, 2.5]) {
      await expect(autoContentMeta(repo, commit, { bigFileThreshold: bad })).rejects.toThrow(new Error(`Invalid big-file threshold: ${bad}`));
    }
  });

  it('finds a dpkg database in /usr/lib/sysimage/dpkg and in /usr/share/dpkg/database, and reads it with the signal', async () => {
    const dir = await tmpdir('dpkg-dirs-');
    const root = dpkgTree(dir, 'root', DEBS.slice(0, 1));
    let at = 'var/lib/dpkg';
    for (const d of ['usr/lib/sysimage/dpkg', 'usr/share/dpkg/database']) {
      mkdirSync(path.dirname(path.join(root, d)), { recursive: true });
      renameSync(path.join(root, at), path.join(root, d));
      at = d;
      const { repo, commit } = await commitTree(root);
      const auto = await autoContentMeta(repo, commit);
      expect(auto.databases).toEqual([{ path: `/${d}`, format: 'dpkg', packages: 1 }]);
      expect((await componentOf(repo, commit, auto))['/usr/bin/pkg0']).toBe('pkg0');
    }
    // The signal reaches the reads of the database's files.
    const { repo, commit } = await commitTree(root);
    const tree = new TreeIndex(await repo.scanTree(commit, ''));
    await expect(readPackageDatabases(repo, tree, AbortSignal.abort())).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('reads a changelog of up to 16 MiB, and counts a bigger one as no history', async () => {
    const dir = await tmpdir('dpkg-big-changelog-');
    const root = dpkgTree(dir, 'root', DEBS.slice(0, 1));
    const doc = path.join(root, 'usr/share/doc/pkg0');
    mkdirSync(doc, { recursive: true });
    const log = debianChangelog('pkg0', [2024, 2023, 2022]);
    // The gzip stream, then zeros up to the size (a reader stops at the end of the stream).
    for (const [size, frequency] of [[16 * MiB, 3], [16 * MiB + 1, 1]] as const) {
      writeFileSync(path.join(doc, 'changelog.Debian.gz'), Buffer.concat([log, Buffer.alloc(size - log.length)]));
      const { repo, commit } = await commitTree(root);
      expect(frequencies(await autoContentMeta(repo, commit)).pkg0).toBe(frequency);
    }
  });

  it('follows at most 40 symlinks to a database file, and names the file past them', async () => {
    const dir = await tmpdir('dpkg-links-');
    const root = dpkgTree(dir, 'root', DEBS.slice(0, 1));
    const dpkg = path.join(root, 'var/lib/dpkg');
    renameSync(path.join(dpkg, 'status'), path.join(dpkg, 'status.real'));
    /** status → l1 → … → l<n-1> → `last`: n links. */
    const links = (n: number, last = 'status.real') => {
      for (const f of readdirSync(dpkg)) if (/^(status|l\d+)$/.test(f)) rmSync(path.join(dpkg, f));
      const names = ['status', ...Array.from({ length: n - 1 }, (_, i) => `l${i + 1}`)];
      names.forEach((f, i) => symlinkSync(names[i + 1] ?? last, path.join(dpkg, f)));
    };
    const read = async () => {
      const { repo, commit } = await commitTree(root);
      return autoContentMeta(repo, commit);
    };
    links(40);
    expect((await read()).databases).toEqual([{ path: '/var/lib/dpkg', format: 'dpkg', packages: 1 }]);
    const tooMany = new Error('/var/lib/dpkg/status: more than 40 symbolic links to follow (a chain or a loop)');
    links(41);
    await expect(read()).rejects.toThrow(tooMany);
    links(1, 'status');
    await expect(read()).rejects.toThrow(tooMany);
  });

  it('refuses a dpkg database whose file list is missing', async () => {
    const dir = await tmpdir('dpkg-bad-');
    const root = dpkgTree(dir, 'root', DEBS.slice(0, 2));
    rmSync(path.join(root, 'var/lib/dpkg/info/pkg1.list'));
    const { repo, commit } = await commitTree(root);
    await expect(autoContentMeta(repo, commit)).rejects.toThrow('/var/lib/dpkg/info/pkg1.list: missing for installed package pkg1');
  });

  it('keeps unchanged packages in their layers across an upgrade and an addition, with --max-layers below the components (CLI, previous build manifest)', async () => {
    const dir = await tmpdir('dpkg-prior-');
    const v1 = dpkgTree(dir, 'v1', DEBS);
    const { repo, commit: c1 } = await commitTree(v1);
    const v2pkgs = DEBS.map((p) => (p.name === 'pkg4' ? { ...p, version: '2.0', files: { ...p.files, '/usr/share/pkg4/data': 'data 4, version 2' } } : p));
    const v2 = dpkgTree(dir, 'v2', [...v2pkgs, { name: 'added', version: '1.0', files: { '/bin/added': 'elf' } }]);
    const { commit: c2 } = await commitTree(v2, [], repo);
    const out = path.join(dir, 'oci');
    const budget = ['--max-layers', '6'];
    expect((await runCli('encapsulate', '--repo', repo.path, '--chunking', 'auto', ...budget, c1, `oci:${out}:v1`)).code).toBe(0);
    const m1 = await image(out, 'v1');
    expect(m1.layers).toHaveLength(7);
    const manifest1 = path.join(dir, 'v1.json');
    writeFileSync(manifest1, JSON.stringify(m1));
    const r2 = await runCli('encapsulate', '--repo', repo.path, '--chunking', 'auto', ...budget, '--previous-build-manifest', manifest1, c2, `oci:${out}:v2`);
    expect(r2.code).toBe(0);
    const m2 = await image(out, 'v2');
    expect(m2.layers).toHaveLength(7);
    const before = new Map(m1.layers.slice(1).map((l) => [l.annotations!['ostree.components']!, l.digest]));
    const after = new Map(m2.layers.slice(1).map((l) => [l.annotations!['ostree.components']!, l.digest]));
    // Same layers by components; a layer without pkg4 or the package state is byte-identical.
    expect([...after.keys()].slice(0, -1)).toEqual([...before.keys()].slice(0, -1));
    let reused = 0;
    for (const [names, digest] of before) {
      const list = names.split(',');
      if (list.includes('pkg4') || names === '' || list.some((n) => n.startsWith('unpackaged:'))) continue;
      expect(after.get(names), names).toBe(digest);
      reused++;
    }
    expect(reused).toBeGreaterThan(0);
    // The added package had no room of its own: it joins the reserved last layer.
    expect(m2.layers.at(-1)!.annotations!['ostree.components']).toBe('added');
    // Without the previous manifest, nothing promises the same layout: check the flag is what kept it.
    expect(r2.stderr).toMatch(/^Automatic chunking: dpkg \/var\/lib\/dpkg \(10 packages\); \d+ components in 6 layers\n$/);
  });
});
