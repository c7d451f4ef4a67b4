// Automatic chunking's pure parts: which component each content object of a scanned tree goes
// to (packages through the tree's symlinks, xattrs, kernel, big files, groups, shared objects,
// code apart from data), and the packing into a layer budget, kept stable by a previous build.
// The scan here is a literal value (what Repo.scanTree returns); the real scan and databases are
// in test/integration/auto-chunking.test.ts.
import { describe, expect, it } from 'vitest';
import { assignComponents, groupByDirectory } from '../../src/container/auto-chunking.js';
import { changeProbability, packComponents } from '../../src/container/auto-packing.js';
import { MAX_FREQUENCY, sizeObjectMeta, type ObjectSourceMetaSized, type PriorBuildManifest } from '../../src/container/chunking.js';
import type { InstalledPackage } from '../../src/container/packages/types.js';
import { TreeIndex } from '../../src/container/tree-index.js';
import type { TreeScan } from '../../src/repo/repo.js';

interface File {
  path: string;
  /** Content key: files with the same key share one object. */
  object: string;
  size?: number;
  elf?: boolean;
  symlink?: string;
  component?: string;
}

/** A scan of a tree holding `files` (directories implied, `dirComponents` on some). */
function scan(files: File[], dirComponents: Record<string, string> = {}): TreeScan {
  const objects: File[] = [];
  const index = new Map<string, number>();
  const dirs = new Set<string>(['/']);
  for (const f of files) {
    for (let p = f.path.slice(0, f.path.lastIndexOf('/')); p; p = p.slice(0, p.lastIndexOf('/'))) dirs.add(p);
    if (!index.has(f.object)) {
      index.set(f.object, objects.length);
      objects.push(f);
    }
  }
  const dirList = [...dirs].sort();
  const checksums = Buffer.alloc(32 * objects.length);
  objects.forEach((o, i) => checksums.write(Buffer.from(o.object).toString('hex').padEnd(64, '0').slice(0, 64), 32 * i, 'hex'));
  return {
    files: files.map((f) => f.path),
    fileObject: Uint32Array.from(files.map((f) => index.get(f.object)!)),
    checksums,
    sizes: Float64Array.from(objects.map((o) => (o.symlink ? 0 : (o.size ?? 100)))),
    elf: Uint8Array.from(objects.map((o) => (o.elf ? 1 : 0))),
    symlinkTargets: objects.flatMap((o, i) => (o.symlink ? [[i, o.symlink] as [number, string]] : [])),
    objectXattr: objects.flatMap((o, i) => (o.component ? [[i, o.component] as [number, string]] : [])),
    dirs: dirList,
    dirXattr: Object.entries(dirComponents).map(([d, v]) => [dirList.indexOf(d), v] as [number, string]),
  };
}

function pkg(name: string, files: string[], source = name, metadata: string[] = []): InstalledPackage {
  return { name, identifier: `${name}_1`, source, sourceVersion: '1', files, metadata, changeTimes: [] };
}

/** path → component name, for every file of `files`. */
function components(files: File[], packages: InstalledPackage[], opts: { threshold?: number; dirs?: Record<string, string> } = {}) {
  const s = scan(files, opts.dirs);
  const tree = new TreeIndex(s);
  const meta = assignComponents(tree, packages, opts.threshold ?? 1024 * 1024, ['/var/lib/dpkg']);
  const out: Record<string, string> = {};
  s.files.forEach((p, i) => {
    out[p] = meta.set.get(meta.map.get(tree.checksum(s.fileObject[i]!))!)!.name;
  });
  return { byPath: out, meta };
}

describe('components of a tree', () => {
  it("maps the package database's paths through the tree's symlinks and /etc → /usr/etc", () => {
    const files: File[] = [
      { path: '/bin', object: 'l-bin', symlink: 'usr/bin' },
      { path: '/usr/bin/bash', object: 'bash', elf: true },
      { path: '/usr/bin/rbash', object: 'l-rbash', symlink: 'bash' },
      { path: '/usr/etc/bash.bashrc', object: 'bashrc' },
      { path: '/usr/lib/x86_64-linux-gnu/libssl.so.3', object: 'libssl', elf: true },
      { path: '/usr/bin/openssl', object: 'openssl-bin', elf: true },
      { path: '/var/lib/dpkg/status', object: 'status' },
    ];
    const { byPath } = components(files, [
      pkg('bash', ['/bin/bash', '/bin/rbash', '/etc/bash.bashrc']),
      pkg('libssl3', ['/usr/lib/x86_64-linux-gnu/libssl.so.3'], 'openssl'),
      pkg('openssl', ['/usr/bin/openssl']),
    ]);
    expect(byPath).toEqual({
      '/bin': 'unpackaged:/',
      '/usr/bin/bash': 'bash',
      '/usr/bin/rbash': 'bash',
      '/usr/etc/bash.bashrc': 'bash',
      // Binary packages of one source package are one component: they are updated together.
      '/usr/lib/x86_64-linux-gnu/libssl.so.3': 'openssl',
      '/usr/bin/openssl': 'openssl',
      '/var/lib/dpkg/status': 'unpackaged:/var/lib/dpkg',
    });
  });

  it('keeps /etc paths in /etc when the tree has an /etc directory, even beside /usr/etc', () => {
    const files: File[] = [
      { path: '/etc/a.conf', object: 'etc-a' },
      { path: '/usr/etc/a.conf', object: 'usr-etc-a' },
    ];
    expect(components(files, [pkg('a', ['/etc/a.conf'])]).byPath).toEqual({ '/etc/a.conf': 'a', '/usr/etc/a.conf': 'unpackaged:/usr/etc' });
  });

  it('gives big unowned files, the kernel and the initramfs a component each; groups small unowned ones by directory', () => {
    const MiB = 1024 * 1024;
    const files: File[] = [
      { path: '/usr/lib/udev/hwdb.bin', object: 'hwdb', size: 13 * MiB },
      { path: '/usr/lib/modules/6.1.0-9-amd64/vmlinuz', object: 'vmlinuz', size: 8 * MiB },
      { path: '/usr/lib/modules/6.1.0-9-amd64/initramfs.img', object: 'initramfs', size: 36 * MiB },
      { path: '/usr/lib/modules/6.1.0-9-amd64/kernel/fs/ext4.ko', object: 'ext4', size: 2 * MiB, elf: true },
      { path: '/var/cache/debconf/templates.dat', object: 'templates', size: MiB - 1 },
      { path: '/var/cache/debconf/config.dat', object: 'config' },
      { path: '/usr/etc/passwd', object: 'passwd' },
      { path: '/usr/etc/ssl/certs/ca-certificates.crt', object: 'certs', size: 200_000 },
    ];
    const { byPath } = components(files, [pkg('linux-image', ['/usr/lib/modules/6.1.0-9-amd64/kernel/fs/ext4.ko', '/boot/vmlinuz-6.1.0-9-amd64'])]);
    expect(byPath).toEqual({
      '/usr/lib/udev/hwdb.bin': '/usr/lib/udev/hwdb.bin',
      '/usr/lib/modules/6.1.0-9-amd64/vmlinuz': 'vmlinuz',
      '/usr/lib/modules/6.1.0-9-amd64/initramfs.img': 'initramfs',
      '/usr/lib/modules/6.1.0-9-amd64/kernel/fs/ext4.ko': 'linux-image',
      '/var/cache/debconf/templates.dat': 'unpackaged:/var/cache/debconf',
      '/var/cache/debconf/config.dat': 'unpackaged:/var/cache/debconf',
      '/usr/etc/passwd': 'unpackaged:/usr/etc',
      '/usr/etc/ssl/certs/ca-certificates.crt': 'unpackaged:/usr/etc/ssl',
    });
    // The threshold is an option.
    expect(components(files, [], { threshold: 150_000 }).byPath['/usr/etc/ssl/certs/ca-certificates.crt']).toBe('/usr/etc/ssl/certs/ca-certificates.crt');
  });

  it('lets user.component on a file or a directory above it override the package', () => {
    const files: File[] = [
      { path: '/usr/bin/tool', object: 'tool', component: 'my-tool', elf: true },
      { path: '/usr/bin/other', object: 'other', elf: true },
      { path: '/opt/app/bin/app', object: 'app' },
      { path: '/opt/app/lib/x.so', object: 'x' },
      { path: '/opt/app/lib/special', object: 'special', component: 'special' },
    ];
    const { byPath, meta } = components(files, [pkg('tools', ['/usr/bin/tool', '/usr/bin/other'])], { dirs: { '/opt/app': 'app' } });
    expect(byPath).toEqual({
      '/usr/bin/tool': 'my-tool',
      '/usr/bin/other': 'tools',
      '/opt/app/bin/app': 'app',
      '/opt/app/lib/x.so': 'app',
      '/opt/app/lib/special': 'special',
    });
    expect([...meta.exclusive].sort()).toEqual(['app', 'my-tool', 'special']);
  });

  it('puts objects whose paths are in several components apart, and Python bytecode with its source', () => {
    const files: File[] = [
      { path: '/usr/share/doc/a/copyright', object: 'gpl' },
      { path: '/usr/share/doc/b/copyright', object: 'gpl' },
      { path: '/var/lib/apt/extended_states', object: 'empty', size: 0 },
      { path: '/usr/share/a/empty', object: 'empty', size: 0 },
      { path: '/usr/lib/python3/dist-packages/b/mod.py', object: 'mod' },
      { path: '/usr/lib/python3/dist-packages/b/__pycache__/mod.cpython-311.pyc', object: 'pyc' },
    ];
    const { byPath } = components(files, [
      pkg('a', ['/usr/share/doc/a/copyright', '/usr/share/a/empty']),
      pkg('b', ['/usr/share/doc/b/copyright', '/usr/lib/python3/dist-packages/b/mod.py']),
    ]);
    expect(byPath).toEqual({
      '/usr/share/doc/a/copyright': 'shared',
      '/usr/share/doc/b/copyright': 'shared',
      '/var/lib/apt/extended_states': 'shared',
      '/usr/share/a/empty': 'shared',
      '/usr/lib/python3/dist-packages/b/mod.py': 'b',
      '/usr/lib/python3/dist-packages/b/__pycache__/mod.cpython-311.pyc': 'b',
    });
  });

  it("keeps a package's code, metadata and man pages together and its data apart, by directory", () => {
    const files: File[] = [
      { path: '/usr/bin/apt', object: 'apt-bin', elf: true, size: 50_000 },
      { path: '/var/lib/dpkg/info/apt.md5sums', object: 'md5sums' },
      { path: '/var/lib/dpkg/info/apt.postinst', object: 'postinst', size: 70_000 },
      { path: '/usr/share/man/man8/apt.8.gz', object: 'man', size: 9_000 },
      ...['de', 'fr', 'ja', 'ru'].map((l) => ({ path: `/usr/share/locale/${l}/LC_MESSAGES/apt.mo`, object: `mo-${l}`, size: 300_000 })),
      { path: '/usr/share/apt/big-table', object: 'table', size: 2_000_000 },
    ];
    const { byPath } = components(files, [
      pkg('apt', files.map((f) => f.path), 'apt', ['/var/lib/dpkg/info/apt.md5sums']),
    ]);
    expect(byPath).toEqual({
      '/usr/bin/apt': 'apt',
      '/var/lib/dpkg/info/apt.md5sums': 'apt',
      '/usr/share/man/man8/apt.8.gz': 'apt',
      // A package's own data: at most a few directory groups (a quarter of its data or more) and the rest.
      '/var/lib/dpkg/info/apt.postinst': 'apt:data',
      '/usr/share/locale/de/LC_MESSAGES/apt.mo': 'apt:/usr/share/locale',
      '/usr/share/locale/fr/LC_MESSAGES/apt.mo': 'apt:/usr/share/locale',
      '/usr/share/locale/ja/LC_MESSAGES/apt.mo': 'apt:/usr/share/locale',
      '/usr/share/locale/ru/LC_MESSAGES/apt.mo': 'apt:/usr/share/locale',
      '/usr/share/apt/big-table': 'apt:/usr/share/apt',
    });
  });

  it('escapes the separator of the components annotation in names', () => {
    const { byPath } = components([{ path: '/x', object: 'x', component: 'a,b%c' }], []);
    expect(byPath['/x']).toBe('a%2Cb%25c');
  });

  it('groups by directory bottom-up, independently of other packages', () => {
    const g = groupByDirectory(
      [
        { object: 1, path: '/a/b/c/1', size: 300 },
        { object: 2, path: '/a/b/2', size: 50 },
        { object: 3, path: '/a/d/3', size: 100 },
        { object: 4, path: '/a/d/4', size: 100 },
        { object: 5, path: '/e/5', size: 10 },
      ],
      200,
    );
    expect(Object.fromEntries(g)).toEqual({ 1: '/a/b/c', 3: '/a/d', 4: '/a/d' });
  });
});

describe('components of a tree, edges', () => {
  const YEAR = 365 * 24 * 3600;
  const NEWEST = 1_700_000_000;
  /** name → [identifier, change frequency] of each component. */
  function models(meta: ReturnType<typeof assignComponents>) {
    return Object.fromEntries([...meta.set.values()].map((c) => [c.name, [c.identifier, c.srcid, c.change_frequency]]));
  }

  it("counts a source package's changelog entries of the three years before the newest change of any package", () => {
    const files: File[] = [
      { path: '/usr/bin/a1', object: 'a1', elf: true },
      { path: '/usr/bin/a2', object: 'a2', elf: true },
      { path: '/usr/bin/b', object: 'b', elf: true },
      { path: '/usr/share/a/README', object: 'readme' },
      { path: '/usr/share/common', object: 'common' },
    ];
    const packages: InstalledPackage[] = [
      // Listed out of order: the result does not depend on it.
      { ...pkg('b', ['/usr/bin/b', '/usr/share/common']), changeTimes: [] },
      // Two binaries of source a at different versions; both list README (still a's alone).
      { ...pkg('a2', ['/usr/bin/a2', '/usr/share/a/README'], 'a'), sourceVersion: '1', changeTimes: [NEWEST - 10] },
      // 3 years exactly is inside the window, a second more is not.
      { ...pkg('a1', ['/usr/bin/a1', '/usr/share/a/README', '/usr/share/common'], 'a'), sourceVersion: '2', changeTimes: [NEWEST, NEWEST - 3 * YEAR, NEWEST - 3 * YEAR - 1] },
    ];
    const { byPath, meta } = components(files, packages);
    expect(models(meta)).toEqual({ a: ['a-1+2', 'a', 2], b: ['b-1', 'b', 1], shared: ['shared objects', 'shared', 78] });
    // Components in package identifier order (a1_1, a2_1, b_1), then the shared one.
    expect([...meta.set.keys()]).toEqual(['a-1+2', 'b-1', 'shared objects']);
    // A path two source packages list is shared; one listed twice by the same source is not.
    expect(byPath).toEqual({ '/usr/bin/a1': 'a', '/usr/bin/a2': 'a', '/usr/bin/b': 'b', '/usr/share/a/README': 'a', '/usr/share/common': 'shared' });
  });

  it('names kernels by version when there are several; big means at least the threshold', () => {
    const MiB = 1024 * 1024;
    const { byPath, meta } = components(
      [
        { path: '/usr/lib/modules/6.1.0-9-amd64/vmlinuz', object: 'v9', size: 8 * MiB },
        { path: '/usr/lib/modules/6.1.0-10-amd64/vmlinuz', object: 'v10', size: 8 * MiB },
        { path: '/usr/lib/modules/6.1.0-10-amd64/initramfs.img', object: 'i10', size: 8 * MiB },
        // Not kernels: another name in the kernel's directory, a copy of the layout elsewhere.
        { path: '/usr/lib/modules/6.1.0-10-amd64/vmlinuz.old', object: 'old' },
        { path: '/srv/usr/lib/modules/6.1.0-10-amd64/vmlinuz', object: 'copy' },
        { path: '/usr/share/exactly', object: 'exact', size: MiB },
        // The same big object at two paths is named by the smaller one.
        { path: '/usr/share/z/big', object: 'big', size: 2 * MiB },
        { path: '/usr/share/a/big', object: 'big', size: 2 * MiB },
      ],
      [],
    );
    expect(byPath).toEqual({
      '/usr/lib/modules/6.1.0-9-amd64/vmlinuz': 'vmlinuz 6.1.0-9-amd64',
      '/usr/lib/modules/6.1.0-10-amd64/vmlinuz': 'vmlinuz 6.1.0-10-amd64',
      '/usr/lib/modules/6.1.0-10-amd64/initramfs.img': 'initramfs 6.1.0-10-amd64',
      '/usr/lib/modules/6.1.0-10-amd64/vmlinuz.old': 'unpackaged:/usr/lib/modules',
      '/srv/usr/lib/modules/6.1.0-10-amd64/vmlinuz': 'unpackaged:/srv/usr/lib',
      '/usr/share/exactly': '/usr/share/exactly',
      '/usr/share/z/big': '/usr/share/a/big',
      '/usr/share/a/big': '/usr/share/a/big',
    });
    expect(models(meta)).toMatchObject({
      'vmlinuz 6.1.0-9-amd64': ['vmlinuz (kernel 6.1.0-9-amd64)', 'kernel 6.1.0-9-amd64', 78],
      'unpackaged:/usr/lib/modules': ['unpackaged /usr/lib/modules', 'unpackaged /usr/lib/modules', 78],
    });
  });

  it('inherits user.component from the root directory and from any path of an object, never from a name prefix', () => {
    const files: File[] = [
      { path: '/opt/ap/y', object: 'y' },
      { path: '/opt/app/x', object: 'x' },
      // One object at two paths: one under a tagged directory.
      { path: '/a/twin', object: 'twin' },
      { path: '/opt/tagged/twin', object: 'twin' },
    ];
    expect(components(files, [], { dirs: { '/opt/ap': 'ap', '/opt/tagged': 'tagged' } }).byPath).toEqual({
      '/opt/ap/y': 'ap',
      '/opt/app/x': 'unpackaged:/opt/app',
      '/a/twin': 'tagged',
      '/opt/tagged/twin': 'tagged',
    });
    expect(models(components(files, [], { dirs: { '/opt/ap': 'ap' } }).meta).ap).toEqual(['ap', 'component:ap', MAX_FREQUENCY]);
    expect(components(files, [], { dirs: { '/': 'all' } }).byPath).toEqual({ '/opt/ap/y': 'all', '/opt/app/x': 'all', '/a/twin': 'all', '/opt/tagged/twin': 'all' });
  });

  it("changes the package databases' directories and /var/log with every update, nothing else", () => {
    const files: File[] = [
      { path: '/var/lib/dpkg/status', object: 'status' },
      { path: '/usr/lib/sysimage/rpm/rpmdb.sqlite', object: 'rpmdb' },
      { path: '/var/log/dpkg.log', object: 'log' },
      { path: '/srv/var/log/x', object: 'srv-log' },
      { path: '/var/lib/misc/x', object: 'misc' },
    ];
    const meta = assignComponents(new TreeIndex(scan(files)), [], 1024 * 1024, ['/var/lib/dpkg', '/usr/lib/sysimage/rpm']);
    expect(Object.fromEntries([...meta.set.values()].map((c) => [c.name, c.change_frequency]))).toEqual({
      'unpackaged:/var/lib/dpkg': MAX_FREQUENCY,
      'unpackaged:/usr/lib/sysimage': MAX_FREQUENCY,
      'unpackaged:/var/log': MAX_FREQUENCY,
      'unpackaged:/srv/var/log': 78,
      'unpackaged:/var/lib/misc': 78,
    });
    // /var/log itself, as a file.
    const file = assignComponents(new TreeIndex(scan([{ path: '/var/log', object: 'f' }])), []);
    expect([...file.set.values()].map((c) => [c.name, c.change_frequency])).toEqual([['unpackaged:/var', MAX_FREQUENCY]]);
  });

  it("keeps bytecode next to its source only for real .pyc names; a package's data rest of 64 KiB is a component, with the package's event at half its level", () => {
    const files: File[] = [
      { path: '/usr/lib/python3/b/mod.py', object: 'mod' },
      { path: '/usr/lib/python3/b/__pycache__/mod.cpython-311.pyc.bak', object: 'bak' },
      { path: '/usr/bin/p', object: 'p-bin', elf: true },
      // 64 KiB of data in all, with the man page below.
      { path: '/usr/share/p/a', object: 'pa', size: 32 * 1024 - 5 },
      { path: '/usr/share/p/b', object: 'pb', size: 32 * 1024 - 5 },
      // A man page shipped under another prefix is data; an object also at a man page path is code.
      { path: '/opt/p/usr/share/man/man1/p.1', object: 'man-elsewhere', size: 10 },
      { path: '/usr/share/man/man1/q.1', object: 'qman', size: 300_000 },
      { path: '/usr/share/q/manual', object: 'qman', size: 300_000 },
      { path: '/usr/bin/q', object: 'q-bin', elf: true },
    ];
    const { byPath, meta } = components(files, [
      pkg('b', ['/usr/lib/python3/b/mod.py']),
      pkg('p', ['/usr/bin/p', '/usr/share/p/a', '/usr/share/p/b', '/opt/p/usr/share/man/man1/p.1']),
      pkg('q', ['/usr/bin/q', '/usr/share/man/man1/q.1', '/usr/share/q/manual']),
    ]);
    expect(byPath).toEqual({
      '/usr/lib/python3/b/mod.py': 'b',
      '/usr/lib/python3/b/__pycache__/mod.cpython-311.pyc.bak': 'unpackaged:/usr/lib/python3',
      '/usr/bin/p': 'p',
      '/usr/share/p/a': 'p:data',
      '/usr/share/p/b': 'p:data',
      '/opt/p/usr/share/man/man1/p.1': 'p:data',
      '/usr/share/man/man1/q.1': 'q',
      '/usr/share/q/manual': 'q',
      '/usr/bin/q': 'q',
    });
    expect(meta.changes.get('p-1 data')).toEqual({ event: 'package p', level: 0.5 });
    expect(meta.changes.get('p-1')).toEqual({ event: 'package p', level: 1 });
  });

  it('groups by directory: a directory gathers what its subdirectories did not group; the root never groups', () => {
    const files = [
      { object: 1, path: '/p/x/1', size: 150 },
      { object: 2, path: '/p/y/2', size: 150 },
      { object: 3, path: '/big', size: 500 },
    ];
    expect(Object.fromEntries(groupByDirectory(files, 200))).toEqual({ 1: '/p', 2: '/p' });
  });
});

describe('tree index', () => {
  const files: File[] = [
    { path: '/usr/bin/sh', object: 'sh', size: 7 },
    { path: '/usr/lib/x/y', object: 'y', size: 9 },
    { path: '/bin', object: 'L-bin', symlink: 'usr/bin' },
    { path: '/lib', object: 'L-lib', symlink: '/usr/lib' },
    { path: '/usr/lib/up', object: 'L-up', symlink: '../bin' },
    { path: '/usr/lib/self', object: 'L-self', symlink: '.' },
    { path: '/usr/lib/abs', object: 'L-abs', symlink: '/usr/bin' },
    { path: '/loop1', object: 'L-loop1', symlink: '/loop2' },
    { path: '/loop2', object: 'L-loop2', symlink: '/loop1' },
    { path: '/dangling', object: 'L-dangling', symlink: '/nowhere' },
    // A chain of 40 links resolves (the kernel's MAXSYMLINKS), one of 41 does not.
    ...Array.from({ length: 41 }, (_, i) => ({ path: `/c${i}`, object: `L-c${i}`, symlink: i === 40 ? '/usr' : `/c${i + 1}` })),
  ];
  const t = new TreeIndex(scan(files));

  it('resolves directory components through symlinks, keeping the last one as is', () => {
    expect(t.resolve('/bin/sh')).toBe('/usr/bin/sh');
    expect(t.resolve('/lib/x/y')).toBe('/usr/lib/x/y');
    expect(t.resolve('/lib/up/sh')).toBe('/usr/bin/sh');
    expect(t.resolve('/lib/self/self/x')).toBe('/usr/lib/x');
    expect(t.resolve('/usr/./lib/../bin/sh')).toBe('/usr/bin/sh');
    expect(t.resolve('/usr//bin/sh')).toBe('/usr/bin/sh');
    expect(t.resolve('/usr/lib/x/../x/y')).toBe('/usr/lib/x/y');
    expect(t.resolve('/lib/abs/sh')).toBe('/usr/bin/sh');
    expect(t.resolve('/./')).toBe('/');
    expect(t.resolve('/../usr/bin/sh')).toBe('/usr/bin/sh');
    expect(t.resolve('/bin')).toBe('/bin');
    expect(t.resolve('/lib/up')).toBe('/usr/lib/up');
    expect(t.resolve('/sh')).toBe('/sh');
    expect(t.resolve('/bin/')).toBe('/usr/bin');
    expect(t.resolve('/bin/.')).toBe('/usr/bin');
    expect(t.resolve('/bin/..')).toBe('/usr');
    expect(t.resolve('/usr/..')).toBe('/');
    expect(t.resolve('/..')).toBe('/');
    // Twice: the second answer comes from the cache of resolved directories. (That cache makes
    // the hop limit depend on what was resolved before: it only has to stop loops.)
    for (const [p, want] of [['/c1/bin/sh', '/usr/bin/sh'], ['/c0/bin/sh', null]] as const) {
      const fresh = new TreeIndex(scan(files));
      expect(fresh.resolve(p)).toBe(want);
      expect(fresh.resolve(p)).toBe(want);
    }
  });

  it('gives null for relative paths, missing components, files as directories and loops', () => {
    expect(t.resolve('usr')).toBeNull();
    expect(t.resolve('usrx')).toBeNull();
    expect(t.resolve('/nope/sh')).toBeNull();
    expect(t.resolve('/usr/bin/sh/x')).toBeNull();
    expect(t.resolve('/loop1/x')).toBeNull();
    expect(t.resolve('/dangling/x')).toBeNull();
  });

  it('looks up objects, sizes, symlinks and directory listings', () => {
    expect(t.objectCount).toBe(4 + 8 + 41 - 2);
    const sh = t.objectAt('/usr/bin/sh')!;
    expect(t.size(sh)).toBe(7);
    expect(t.checksum(sh)).toBe(Buffer.from('sh').toString('hex').padEnd(64, '0'));
    expect(t.objectAt('/usr/bin')).toBeUndefined();
    expect(t.objectAt('/bin/sh')).toBeUndefined();
    expect(t.symlinkAt('/bin')).toBe('usr/bin');
    expect(t.symlinkAt('/usr/bin/sh')).toBeUndefined();
    expect(t.symlinkAt('/none')).toBeUndefined();
    expect(t.isDir('/usr/lib/x')).toBe(true);
    expect(t.isDir('/bin')).toBe(false);
    expect(t.list('/usr/lib').sort()).toEqual(['abs', 'self', 'up', 'x']);
    expect(t.list('/usr')).toEqual(['bin', 'lib']);
    expect(t.list('/').filter((n) => !n.startsWith('c'))).toEqual(['bin', 'lib', 'loop1', 'loop2', 'dangling', 'usr']);
    expect(t.list('/usr/bin/sh')).toEqual([]);
  });
});

function comp(name: string, size: number, freq = 1): ObjectSourceMetaSized {
  return { identifier: `${name}-1`, name, srcid: name, change_time_offset: 0, change_frequency: freq, size };
}

function manifestOf(bins: ObjectSourceMetaSized[][]): PriorBuildManifest {
  return { layers: [{}, ...bins.map((b) => ({ annotations: { 'ostree.components': b.map((c) => c.name).sort().join(',') } }))] };
}

const names = (bins: ObjectSourceMetaSized[][]) => bins.map((b) => b.map((c) => c.name).sort());

describe('packing into a layer budget', () => {
  it('gives every component a layer when there is room, plus the reserved last one', () => {
    const cs = [comp('a', 100), comp('b', 300), comp('c', 200)];
    expect(names(packComponents(cs, 64))).toEqual([['b'], ['c'], ['a'], []]);
  });

  it('merges down to the budget, cheapest first: small and co-changing things, never exclusive ones', () => {
    const cs = [
      comp('kernel', 400e6), comp('glibc', 14e6), comp('openssl', 7e6, 18), comp('systemd', 16e6, 26),
      comp('tiny1', 2e3), comp('tiny2', 3e3), comp('tiny3', 1e3), comp('mine', 5e3),
      comp('log', 1e3, MAX_FREQUENCY), comp('status', 2e3, MAX_FREQUENCY),
    ];
    const bins = packComponents(cs, 6, { exclusive: new Set(['mine-1']) });
    expect(bins).toHaveLength(6);
    expect(bins.at(-1)).toEqual([]);
    const n = names(bins);
    expect(n).toContainEqual(['kernel']);
    expect(n).toContainEqual(['mine']);
    expect(n.flat().sort()).toEqual(cs.map((c) => c.name).sort());
    // The two always-changing files ride together, with the small stable ones, not with a big package.
    expect(n.find((b) => b.includes('log'))).toContain('status');
    expect(n.find((b) => b.includes('log'))!.every((x) => !['glibc', 'openssl', 'systemd', 'kernel'].includes(x))).toBe(true);
    expect(() => packComponents(cs, 4, { exclusive: new Set(['mine-1', 'tiny1-1', 'tiny2-1', 'tiny3-1']) })).toThrow(
      '4 components with a layer of their own (user.component) need more than 3 layers',
    );
    expect(() => packComponents([comp('a', 1), comp('a', 2)], 8)).toThrow('Two components named a');
  });

  it('keeps unchanged components in their layers when packages are upgraded and added, budget below the component count', () => {
    const v1 = Array.from({ length: 40 }, (_, i) => comp(`p${i}`, 1000 + 37 * i));
    const b1 = packComponents(v1, 10);
    expect(b1).toHaveLength(10);
    // v2: p3 upgraded (new identifier and size), p7 removed, two packages added.
    const v2 = v1.filter((c) => c.name !== 'p7').map((c) => (c.name === 'p3' ? { ...c, identifier: 'p3-2', size: 5000 } : c));
    v2.push(comp('new1', 800), comp('new2', 900));
    const b2 = packComponents(v2, 10, { prior: manifestOf(b1) });
    expect(b2.length).toBeLessThanOrEqual(10);
    const old = names(b1);
    const now = names(b2);
    // Every layer without p3 or p7 is unchanged; the new packages went to the reserved layer (no room).
    for (const bin of old.slice(0, -1)) {
      if (bin.includes('p3') || bin.includes('p7')) continue;
      expect(now).toContainEqual(bin);
    }
    expect(now.at(-1)).toEqual(['new1', 'new2']);
    expect(b2.flat().find((c) => c.name === 'p3')!.identifier).toBe('p3-2');
    // With room, new packages get layers of their own and the reserved one stays empty.
    const b3 = packComponents(v2, 40, { prior: manifestOf(b1) });
    expect(names(b3)).toContainEqual(['new1']);
    expect(names(b3)).toContainEqual(['new2']);
    expect(b3.at(-1)).toEqual([]);
    for (const bin of old.slice(0, -1)) if (!bin.includes('p3') && !bin.includes('p7')) expect(names(b3)).toContainEqual(bin);
  });

  it('packs afresh when the previous layout no longer fits the budget', () => {
    const v1 = Array.from({ length: 20 }, (_, i) => comp(`p${i}`, 1000 + i));
    const prior = manifestOf(packComponents(v1, 21));
    expect(packComponents(v1, 8, { prior })).toHaveLength(8);
    expect(() => packComponents(v1, 8, { prior: { layers: [{}, { annotations: {} }] } })).toThrow('Missing ostree.components on prior build');
  });

  it('budget boundaries: exclusive components filling every layer but the reserved one; a previous layout one layer too big', () => {
    const cs = [comp('a', 100), comp('b', 200), comp('c', 300)];
    expect(names(packComponents(cs, 4, { exclusive: new Set(['a-1', 'b-1', 'c-1']) }))).toEqual([['c'], ['b'], ['a'], []]);
    // Four kept layers and the reserved one do not fit four: packed afresh.
    const v1 = Array.from({ length: 4 }, (_, i) => comp(`p${i}`, 1000 + i));
    const prior = manifestOf(packComponents(v1, 5));
    expect(names(packComponents(v1, 4, { prior }))).toEqual(names(packComponents(v1, 4)));
  });

  it('sizes components from their objects', () => {
    const meta = sizeObjectMeta(
      { set: new Map([['x', { identifier: 'x', name: 'x', srcid: 'x', change_time_offset: 0, change_frequency: 1 }]]), map: new Map([['c1', 'x'], ['c2', 'x']]) },
      (c) => (c === 'c1' ? 5 : 7),
    );
    expect(meta.sizes[0]!.size).toBe(12);
  });
});

describe('packing, exactly', () => {
  /** Bins as names in their order (members and bins as packComponents orders them). */
  const exact = (bins: ObjectSourceMetaSized[][]) => bins.map((b) => b.map((c) => c.name).join(' '));
  // Sizes around the layer overhead, frequencies from rare to every build, two source packages
  // whose parts change together, and one component with a layer of its own.
  const cs = Array.from({ length: 24 }, (_, i) => comp(`c${String(i).padStart(2, '0')}`, [3e3, 20e3, 90e3, 2e6][i % 4]! + i, [1, 10, 78, MAX_FREQUENCY][(i >> 2) % 4]!));
  const changes = new Map([
    ['c01-1', { event: 'package x', level: 1 }],
    ['c05-1', { event: 'package x', level: 0.5 }],
    ['c09-1', { event: 'package x', level: 1 }],
    ['c02-1', { event: 'package y', level: 1 }],
    ['c06-1', { event: 'package y', level: 1 }],
  ]);
  const opts = { exclusive: new Set(['c03-1']), changes };

  it('gives the same layers whatever the input order', () => {
    const want = exact(packComponents(cs, 8, opts));
    expect(want).toHaveLength(8);
    expect(want.at(-1)).toBe('');
    expect(want).toContain('c03');
    const shuffled = [[...cs].reverse(), [...cs.slice(7), ...cs.slice(0, 7)], cs.filter((_, i) => i % 2).concat(cs.filter((_, i) => !(i % 2)))];
    for (const s of shuffled) expect(exact(packComponents(s, 8, opts))).toEqual(want);
    expect(want).toMatchInlineSnapshot(`
      [
        "c04 c08 c09 c10 c12 c13 c14 c15 c20",
        "c01 c02 c17 c18 c19",
        "c23",
        "c11",
        "c07",
        "c03",
        "c00 c05 c06 c16 c21 c22",
        "",
      ]
    `);
  });

  it('packs the same components into more and fewer layers: big independent ones stay alone', () => {
    expect(exact(packComponents(cs, 20, opts))).toMatchInlineSnapshot(`
      [
        "c08 c09 c12 c13 c14 c15",
        "c23",
        "c19",
        "c11",
        "c07",
        "c03",
        "c22",
        "c18",
        "c10",
        "c06",
        "c02",
        "c21",
        "c17",
        "c05",
        "c01",
        "c20",
        "c16",
        "c04",
        "c00",
        "",
      ]
    `);
    expect(exact(packComponents(cs, 4, opts))).toMatchInlineSnapshot(`
      [
        "c01 c02 c07 c17 c18 c19 c23",
        "c00 c04 c05 c06 c08 c09 c10 c11 c12 c13 c14 c15 c16 c20 c21 c22",
        "c03",
        "",
      ]
    `);
  });

  it('breaks ties between equal components by name, whatever the input order', () => {
    const same = Array.from({ length: 12 }, (_, i) => comp(`s${String.fromCharCode(97 + ((i * 5) % 12))}`, 30e3, 10));
    const want = exact(packComponents(same, 5));
    for (const s of [[...same].reverse(), [...same.slice(5), ...same.slice(0, 5)]]) expect(exact(packComponents(s, 5))).toEqual(want);
    expect(want).toMatchInlineSnapshot(`
      [
        "sa sb sc sd",
        "se sf sg sh",
        "si sj",
        "sk sl",
        "",
      ]
    `);
  });

  it('merges tiny independent things for the layer overhead, and the parts of one package whatever their size', () => {
    expect(exact(packComponents([comp('a', 1, 78), comp('b', 1, 78)], 64))).toEqual(['a b', '']);
    expect(exact(packComponents([comp('a', 1e6, 78), comp('b', 1e6, 78)], 64))).toEqual(['a', 'b', '']);
    const together = new Map([
      ['a-1', { event: 'package p', level: 1 }],
      ['b-1', { event: 'package p', level: 1 }],
    ]);
    expect(exact(packComponents([comp('a', 1e6, 78), comp('b', 1e6, 78), comp('c', 1e6, 78)], 64, { changes: together }))).toEqual(['a b', 'c', '']);
    // A data part that seldom changes with the code is not worth its megabyte riding along.
    const data = new Map([...together, ['b-1', { event: 'package p', level: 0.1 }]]);
    expect(exact(packComponents([comp('a', 1e6, 78), comp('b', 1e6, 78)], 64, { changes: data }))).toEqual(['a', 'b', '']);
  });

  it('breaks ties of equal merge cost by unit number, keys a merged layer by its smallest name, and makes no merge of no gain', () => {
    const M = 1 << 20;
    // Four equal independent components, one merge forced: the first two by name.
    expect(exact(packComponents(['a', 'b', 'c', 'd'].map((n) => comp(n, M, 10)), 4))).toEqual(['a b', 'c', 'd', '']);
    // Merges forced in turn among sizes of 3, 2 and 1 MB: each tie goes to the lowest unit numbers.
    const seven = [...['a', 'b', 'c', 'd'].map((n) => comp(n, 3e6, 10)), comp('e', 2e6, 10), comp('f', 2e6, 10), comp('g', 1e6, 10)];
    expect(exact(packComponents(seven, 4))).toEqual(['b c', 'd e g', 'a f', '']);
    // a, c and d change together (merged a + c, then d with that); b alone is as big: the merged
    // layer's name is a, so it comes first.
    const e = { event: 'p', level: 1 };
    const together = new Map([['a-1', e], ['c-1', e], ['d-1', e]]);
    expect(exact(packComponents([comp('a', M, 10), comp('b', 3 * M, 10), comp('c', M, 10), comp('d', M, 10)], 8, { changes: together }))).toEqual(['a c d', 'b', '']);
    // Components that never change with their events: merging them gains nothing, so it is not done.
    const never = new Map([['a-1', { event: 'x', level: 0 }], ['b-1', { event: 'y', level: 0 }]]);
    expect(exact(packComponents([comp('a', M, 10), comp('b', M, 10)], 8, { changes: never }))).toEqual(['a', 'b', '']);
  });

  it('gives each component its chance to change in an update', () => {
    const p = (f: number) => changeProbability(comp('x', 1, f));
    expect([p(0), p(1), p(78), p(156), p(1000), p(MAX_FREQUENCY - 1), p(MAX_FREQUENCY)]).toEqual([1 / 156, 1 / 156, 0.5, 1, 1, 1, 1]);
  });

  it('refuses a budget below four layers and a previous build without layers or names', () => {
    for (const max of [3, 4.5, NaN]) expect(() => packComponents(cs, max)).toThrow(new RegExp(`^Invalid max layers: ${max} \\(at least 4\\)$`));
    expect(packComponents(cs.slice(0, 3), 4).map((b) => b.length)).toEqual([1, 1, 1, 0]);
    expect(packComponents([], 4)).toEqual([]);
    expect(() => packComponents(cs, 8, { prior: { layers: [{}] } })).toThrow(/^No empty last bin for added packages$/);
    expect(() => packComponents(cs, 8, { prior: { layers: [{}, { annotations: {} }] } })).toThrow(/^Missing ostree\.components on prior build$/);
    expect(() => packComponents(cs, 8, { prior: { layers: [{}, {}] } })).toThrow(/^Missing ostree\.components on prior build$/);
  });

  it('keeps a previous layout: gone components leave, emptied layers go, the reserved layer keeps its own', () => {
    const small = [comp('a', 10), comp('b', 20), comp('c', 30), comp('d', 40), comp('e', 50)];
    const prior = { layers: [{}, { annotations: { 'ostree.components': 'a,gone' } }, { annotations: { 'ostree.components': 'gone2' } }, { annotations: { 'ostree.components': ',b,' } }, { annotations: { 'ostree.components': 'c,gone3' } }] };
    // Kept: [a], [b]; reserved: [c]; added d, e (name order) with room for 1 of them: merged into one layer.
    expect(exact(packComponents(small, 4, { prior }))).toEqual(['a', 'b', 'd e', 'c']);
    // Room for both: a layer each.
    expect(exact(packComponents(small, 5, { prior }))).toEqual(['a', 'b', 'd', 'e', 'c']);
    // No room: into the reserved layer, after its own.
    const tight = { layers: [{}, { annotations: { 'ostree.components': 'a' } }, { annotations: { 'ostree.components': 'b' } }, { annotations: { 'ostree.components': 'c' } }, { annotations: { 'ostree.components': '' } }] };
    expect(exact(packComponents([...small].reverse(), 4, { prior: tight }))).toEqual(['a', 'b', 'c', 'd e']);
  });
});
