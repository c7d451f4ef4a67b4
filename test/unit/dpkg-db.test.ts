// dpkg's database read from untrusted text: the `status` paragraphs, `.list` files and changelog
// trailers, each malformed case refused with the file and line it is at (the real database made
// by dpkg is read in test/integration/auto-chunking.test.ts).
import { describe, expect, it } from 'vitest';
import { debianChangelogTimes, parseDpkgList, parseDpkgStatus, readDpkg } from '../../src/container/packages/dpkg.js';

const para = (name: string, state: string, extra = '') => `Package: ${name}\nStatus: install ok ${state}\nVersion: 1.${name.length}\n${extra}`;

describe('dpkg status', () => {
  it('keeps the packages whose files are on disk, with source, version and architecture', () => {
    const onDisk = ['installed', 'unpacked', 'half-configured', 'half-installed', 'triggers-awaited', 'triggers-pending'];
    const text = [
      ...onDisk.map((s, i) => para(`p${i}`, s, 'Architecture: amd64\n')),
      para('gone', 'not-installed'),
      para('conf', 'config-files'),
      'Package: nostatus\nVersion: 1\n',
    ].join('\n');
    expect(parseDpkgStatus(text, 'status').map((e) => e.name)).toEqual(onDisk.map((_, i) => `p${i}`));
  });

  it('reads Source with and without a version, field names in any case, values trimmed, continuation lines skipped', () => {
    const text = [
      'Package: libfoo1\nstatus:  install ok installed \nARCHITECTURE: arm64\nVersion: 2.0-1\nSource: foo (2.0-0.1)\nDescription: a\n more\n\tand more\n',
      'Package: foo-bin\nStatus: install ok installed\nVersion: 2.0-1\nSource: foo\n',
      'Package: plain\nStatus: install ok installed\nVersion: 3\n',
      'Package: weird\nStatus: install ok installed\nVersion: 4\nSource: a b c\n',
      'Package: spaced\nStatus: install  ok\tinstalled\nVersion: 5\nSource: sp \t (5-1)\n',
    ].join(' \t\n');
    expect(parseDpkgStatus(text, 'status')).toEqual([
      { name: 'libfoo1', arch: 'arm64', version: '2.0-1', source: 'foo', sourceVersion: '2.0-0.1' },
      { name: 'foo-bin', arch: '', version: '2.0-1', source: 'foo', sourceVersion: '2.0-1' },
      { name: 'plain', arch: '', version: '3', source: 'plain', sourceVersion: '3' },
      // Not "name" or "name (version)": the package's own name and version.
      { name: 'weird', arch: '', version: '4', source: 'weird', sourceVersion: '4' },
      { name: 'spaced', arch: '', version: '5', source: 'sp', sourceVersion: '5-1' },
    ]);
    expect(parseDpkgStatus('\n\n\n', 'status')).toEqual([]);
    expect(parseDpkgStatus('Package: nover\nStatus: install ok installed\n', 'status')).toEqual([
      { name: 'nover', arch: '', version: '', source: 'nover', sourceVersion: '' },
    ]);
  });

  it('refuses malformed paragraphs naming the file and line', () => {
    expect(() => parseDpkgStatus(`${para('a', 'installed')}\n continued`, 'st')).toThrow(/^st: line 5: continuation line outside a field$/);
    expect(() => parseDpkgStatus(`${para('a', 'installed')}\nPackage: b\nno colon here`, 'st')).toThrow(/^st: line 6: not a "Field: value" line$/);
    expect(() => parseDpkgStatus('Package: a\n: empty name', 'st')).toThrow(/^st: line 2: not a "Field: value" line$/);
    expect(() => parseDpkgStatus(`${para('a', 'installed')}\nVersion: 1\nStatus: install ok installed\n`, 'st')).toThrow(
      /^st: a paragraph before line 8 has no Package field$/,
    );
    expect(() => parseDpkgStatus('Package:\nStatus: install ok installed', 'st')).toThrow(/^st: a paragraph before line 3 has no Package field$/);
  });
});

describe('dpkg file lists and changelogs', () => {
  it("lists a package's paths without the root and empty lines", () => {
    expect(parseDpkgList('/.\n/usr\n/usr/bin/x\n\n/etc/x.conf\n')).toEqual(['/usr', '/usr/bin/x', '/etc/x.conf']);
  });

  it("reads the changelog's trailer dates, newest first, skipping unparsable ones", () => {
    const text = [
      'foo (2.0-1) unstable; urgency=medium',
      '',
      '  * New upstream release.',
      '',
      ' -- Jane Doe <jane@example.org>  Tue, 01 Aug 2023 12:00:00 +0200',
      '',
      'foo (1.0-1) unstable; urgency=low',
      ' -- Jane Doe <jane@example.org>  not a date',
      ' -- Jane Doe <jane@example.org> Mon, 02 Jan 2023 00:00:00 +0000',
      'x -- Jane Doe <jane@example.org>  Mon, 02 Jan 2023 00:00:00 +0000',
      ' -- Jane Doe <jane@example.org>  2023-01-01T00:00:00.999Z',
    ].join('\n');
    expect(debianChangelogTimes(text)).toEqual([Date.UTC(2023, 7, 1, 10) / 1000, Date.UTC(2023, 0, 1) / 1000]);
  });
});

describe('dpkg databases in a tree', () => {
  /** `files` as a tree: read gives a file's text, list a directory's names. */
  function tree(files: Record<string, string>) {
    const read = async (p: string) => files[p] ?? null;
    const list = (d: string) => Object.keys(files).filter((p) => p.startsWith(`${d}/`)).map((p) => p.slice(d.length + 1));
    return [read, list] as const;
  }
  const D = '/var/lib/dpkg';

  it("maps each package to its list and its own info files, preferring name:arch; checksums and list are its metadata", async () => {
    const files = {
      [`${D}/status`]: [para('libfoo1', 'installed', 'Architecture: amd64\nSource: foo\n'), para('bar', 'installed', 'Architecture: all\n')].join('\n'),
      [`${D}/info/libfoo1:amd64.list`]: '/.\n/usr/lib/libfoo.so.1\n',
      [`${D}/info/libfoo1:amd64.md5sums`]: 'x',
      [`${D}/info/libfoo1:amd64.postinst`]: 'x',
      [`${D}/info/libfoo1.list`]: '/wrong\n',
      [`${D}/info/bar.list`]: '/usr/bin/bar\n',
      [`${D}/info/bar.templates`]: 'x',
      [`${D}/info/.hidden`]: 'x',
      // No package part: not bar's although it starts with it.
      [`${D}/info/barx`]: 'x',
    };
    expect(await readDpkg(D, ...tree(files))).toEqual([
      {
        name: 'libfoo1',
        identifier: 'libfoo1_1.7',
        source: 'foo',
        sourceVersion: '1.7',
        files: ['/usr/lib/libfoo.so.1', `${D}/info/libfoo1:amd64.list`, `${D}/info/libfoo1:amd64.md5sums`, `${D}/info/libfoo1:amd64.postinst`],
        metadata: [`${D}/info/libfoo1:amd64.list`, `${D}/info/libfoo1:amd64.md5sums`],
        changeTimes: [],
      },
      {
        name: 'bar',
        identifier: 'bar_1.3',
        source: 'bar',
        sourceVersion: '1.3',
        files: ['/usr/bin/bar', `${D}/info/bar.list`, `${D}/info/bar.templates`],
        metadata: [`${D}/info/bar.list`],
        changeTimes: [],
      },
    ]);
  });

  it('refuses a missing status, a missing or unreadable list', async () => {
    await expect(readDpkg(D, ...tree({}))).rejects.toThrow(/^\/var\/lib\/dpkg\/status: missing$/);
    const status = { [`${D}/status`]: para('a', 'installed'), [`${D}/info/a.md5sums`]: 'x' };
    await expect(readDpkg(D, ...tree(status))).rejects.toThrow(/^\/var\/lib\/dpkg\/info\/a\.list: missing for installed package a$/);
    const [, list] = tree({ ...status, [`${D}/info/a.list`]: '' });
    const read = async (p: string) => (p === `${D}/status` ? status[p] : null);
    await expect(readDpkg(D, read, list)).rejects.toThrow(/^\/var\/lib\/dpkg\/info\/a\.list: unreadable$/);
  });
});
