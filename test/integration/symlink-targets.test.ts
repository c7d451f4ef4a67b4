// Symlink targets are written literally (spec tar-and-encapsulation §1.4.3 QUIRK): upstream's tar
// writer normalises `.` components out of non-"denormal" targets, which changes the object's
// checksum on re-import. Ours keeps the stored bytes, so the commit round-trips unchanged.
import { mkdir, readFile, symlink } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ostreeCli } from '../../src/fixture/index.js';
import { tar } from '../../src/index.js';
import { cleanupTmp, fsck, newRepo, openRepo, parseTar, tmpdir } from './tar-util.js';

afterAll(cleanupTmp);

const TARGETS: Record<string, string> = {
  dot: 'a/./b',
  trailing: 'foo/.',
  denormal: '../../usr/sbin//chkconfig',
  // > 100 bytes with a `.` component: a GNU K entry carries it
  long: `./${'x'.repeat(120)}/./y`,
};

describe('symlink targets', () => {
  it('are exported as stored and re-import to the same commit', async () => {
    const d = await tmpdir('symlinks-');
    const tree = path.join(d, 'tree');
    await mkdir(path.join(tree, 'usr/bin'), { recursive: true });
    for (const [name, target] of Object.entries(TARGETS)) await symlink(target, path.join(tree, 'usr/bin', name));
    const src = path.join(d, 'repo');
    await ostreeCli(src, ['init', '--mode=bare-user']);
    const commit = (await ostreeCli(src, ['commit', '-b', 'links', '--no-xattrs', `--tree=dir=${tree}`])).trim();

    const out = path.join(d, 'links.tar');
    await tar.exportCommit(await openRepo(src), 'links', out);
    const objects = parseTar(await readFile(out)).filter((e) => e.type === '2' && e.name.endsWith('.file'));
    expect(objects.map((e) => e.linkname).sort()).toEqual(Object.values(TARGETS).sort());

    const dest = await newRepo();
    expect((await tar.importTar(dest.repo, out)).commit).toBe(commit);
    expect(await fsck(dest.path)).toMatch(/no errors found/);
    expect((await ostreeCli(dest.path, ['ls', commit, '/usr/bin/dot'])).trim()).toMatch(/\/usr\/bin\/dot -> a\/\.\/b$/);
  });
});
