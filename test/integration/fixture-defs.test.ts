// The fixture's file-definition language, label rules and PAX tar (no repository needed).
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tarStream from 'tar-stream';
import { CONTENTS_V0, GPG_HOME_TARBALL, applyFileDefs, parseFileDefs, selinuxLabelFor, treeToPaxTar } from '../../src/fixture/index.js';

it('ships the GPG test home of upstream unchanged (spec §8)', () => {
  expect(createHash('sha256').update(readFileSync(GPG_HOME_TARBALL)).digest('hex')).toBe(
    '185002958da6be6766f48bead5f4c1dc3e7b953bf665a6ef0be7c56a05d9084f',
  );
});

describe('parseFileDefs', () => {
  it('applies m lines as written (raw, for plain tars) and resets on bare m', () => {
    const defs = parseFileDefs(CONTENTS_V0);
    const by = (p: string) => defs.find((d) => d.path === p)!;
    expect(by('usr/etc/polkit.conf')).toMatchObject({ kind: 'file', uid: 10, gid: 10, mode: 0o644, content: 'a-polkit-config' });
    expect(by('usr/bin/bash')).toMatchObject({ mode: 0o755, content: 'the-bash-shell' });
    expect(by('usr/lib/emptyfile')).toMatchObject({ kind: 'file', content: '', mode: 0o644 });
    expect(by('usr/bin/arping')).toMatchObject({ xattrs: [['security.capability', '0sAAAAAgAgAAAAAAAAAAAAAAAAAAA=']] });
    expect(by('opt')).toEqual({ kind: 'symlink', path: 'opt', target: 'var/opt', uid: 0, gid: 0, mode: 0o644 });
    expect(by('usr/bin/sh')).toMatchObject({ kind: 'symlink', mode: 0o755 });
    expect(by('tmp')).toMatchObject({ kind: 'dir', mode: 0o1755 });
    expect(by('boot')).toMatchObject({ kind: 'dir', mode: 0o644 });
    expect(defs).toHaveLength(17);
  });

  it('names the line and the problem on bad input', () => {
    expect(() => parseFileDefs('# c\nq foo')).toThrow('file definitions line 2 ("q foo"): unknown kind "q"');
    expect(() => parseFileDefs('r')).toThrow('file definitions line 1 ("r"): missing path');
    expect(() => parseFileDefs('l a')).toThrow('expected "l PATH TARGET"');
    expect(() => parseFileDefs('m 0 0 9z')).toThrow('expected "m UID GID OCTALMODE"');
    expect(() => parseFileDefs('r a b novalue')).toThrow('expected key=value, got "novalue"');
  });
});

describe('labels and tree', () => {
  it('follows upstream label rules', () => {
    expect(selinuxLabelFor('')).toBe('system_u:object_r:root_t:s0');
    expect(selinuxLabelFor('usr/bin/bash')).toBe('system_u:object_r:usr_t:s0');
    expect(selinuxLabelFor('usr/lib/systemd/system/x')).toBe('system_u:object_r:systemd_unit_file_t:s0');
    expect(selinuxLabelFor('boot')).toBe('system_u:object_r:boot_t:s0');
    expect(selinuxLabelFor('etc/ab')).toBe('system_u:object_r:etc_t:s0');
    expect(selinuxLabelFor('etc/a')).toBe('system_u:object_r:system_conf_t:s0');
    expect(selinuxLabelFor('opt')).toBe('system_u:object_r:usr_t:s0');
  });

  it('labels implicit parents, the root included, with the entry parent path label (QUIRK)', () => {
    const tree = applyFileDefs(new Map(), parseFileDefs(CONTENTS_V0));
    const label = (p: string) => tree.get(p)!.xattrs.map(([k, v]) => `${k}=${v.toString()}`);
    expect(label('')).toEqual(['security.selinux=system_u:object_r:usr_t:s0']);
    expect(label('boot')).toEqual(['security.selinux=system_u:object_r:boot_t:s0']);
    expect(label('usr/bin/arping')).toEqual([
      'security.capability=0sAAAAAgAgAAAAAAAAAAAAAAAAAAA=',
      'security.selinux=system_u:object_r:usr_t:s0',
    ]);
    expect(tree.get('usr/etc/polkit.conf')).toMatchObject({ kind: 'file', mode: 0o644 });
    expect(tree.get('tmp')).toMatchObject({ kind: 'dir' }); // stored 0/0 0755 whatever `m` said
    const paths = [...tree.keys()];
    for (const p of paths) if (p) expect(paths.indexOf(p.split('/').slice(0, -1).join('/')), p).toBeLessThan(paths.indexOf(p));
    expect(() => applyFileDefs(tree, parseFileDefs('r opt/x y'))).toThrow('opt/x: parent opt is not a directory');
  });
});

describe('treeToPaxTar', () => {
  it('writes PAX records (SCHILY.xattr, reversed key order), mtime 0, owner 0/0', async () => {
    const tar = await treeToPaxTar(applyFileDefs(new Map(), parseFileDefs(CONTENTS_V0)));
    const extract = tarStream.extract();
    const seen = new Map<string, tarStream.Headers>();
    const done = (async () => {
      for await (const e of extract) {
        seen.set(e.header.name, e.header);
        e.resume();
      }
    })();
    extract.end(tar);
    await done;
    expect([...seen.keys()].slice(0, 3)).toEqual(['./', './usr/', './usr/lib/']);
    const arping = seen.get('./usr/bin/arping')!;
    expect(Object.keys(arping.pax!)).toEqual(['path', 'SCHILY.xattr.security.selinux', 'SCHILY.xattr.security.capability']);
    expect(arping).toMatchObject({ mode: 0o755, uid: 0, gid: 0, mtime: new Date(0), type: 'file' });
    expect(seen.get('./usr/bin/sh')).toMatchObject({ type: 'symlink', linkname: 'bash', mode: 0o777 });
    expect(seen.get('./')!.pax).toMatchObject({ 'SCHILY.xattr.security.selinux': 'system_u:object_r:usr_t:s0' });
    // Each entry is preceded by a typeflag 'x' (per-file PAX) header.
    expect(tar[156]).toBe('x'.charCodeAt(0));
  });
});
