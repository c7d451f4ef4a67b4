// Hardlinks in derived layers, in every order (issue 18), against upstream: libostree's archive
// importer (what `ostree commit --tree=tar=` and upstream's derived-layer import run) imports
// hardlinks after the last entry, each as whatever its target path holds then. So a hardlink may
// come before its target, and takes the target's final content; a hardlink at a path wins over a
// later file there. Where upstream commits, we commit the same checksum; where it fails, we fail
// with an error naming the link. Where its result depends on the hash order of the target paths
// (a chain whose links come before their targets, a path linked twice), we refuse.
import { afterAll, describe, expect, it } from 'vitest';
import { importDerivedLayer } from '../../src/store/derived.js';
import { catFile, cliRepo, fileChecksum, repoTmpLeftovers, TAR, tempFile, upstreamCommit, VERSION } from './store-util.js';
import { type LayerEntry, layerTar } from '../helpers/tar.js';
import { cleanupTmp, fsck, repoSnapshot } from './tar-util.js';

afterAll(cleanupTmp);

const dir = (name: string): LayerEntry => ({ name, type: 'directory' });
const file = (name: string, data: string): LayerEntry => ({ name, data });
const link = (name: string, linkname: string): LayerEntry => ({ name, type: 'link', linkname });
const symlink = (name: string, linkname: string): LayerEntry => ({ name, type: 'symlink', linkname });

const TS = 1_650_000_000;

/** Upstream's commit of `tar` (its importer on this host's libostree), or its error. */
async function upstream(repoPath: string, tar: Buffer): Promise<{ commit: string } | { error: string }> {
  try {
    return { commit: await upstreamCommit(repoPath, await tempFile(tar), TS) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

const SAME: [string, LayerEntry[], Record<string, string>][] = [
  ['a hardlink before its target', [dir('usr/'), link('usr/a', 'usr/b'), file('usr/b', 'bbb')], { '/usr/a': 'bbb', '/usr/b': 'bbb' }],
  ['a hardlink before its target, its own directory missing', [link('usr/d/a', 'usr/b'), file('usr/b', 'bbb')], { '/usr/d/a': 'bbb' }],
  ['a target overwritten after the link: the final content', [dir('usr/'), file('usr/b', '111'), link('usr/a', 'usr/b'), file('usr/b', '222')], { '/usr/a': '222' }],
  ['a target written twice after the link', [dir('usr/'), link('usr/a', 'usr/b'), file('usr/b', '111'), file('usr/b', '222')], { '/usr/a': '222' }],
  ['a hardlink then a file at its path: the hardlink wins', [dir('usr/'), file('usr/b', 'bbb'), link('usr/a', 'usr/b'), file('usr/a', 'aaa')], { '/usr/a': 'bbb' }],
  ['a file then a hardlink at its path', [dir('usr/'), file('usr/b', 'bbb'), file('usr/a', 'aaa'), link('usr/a', 'usr/b')], { '/usr/a': 'bbb' }],
  ['a hardlink to a symlink', [dir('usr/'), symlink('usr/s', 'target'), link('usr/a', 'usr/s')], {}],
  ['a file linked to itself', [dir('usr/'), file('usr/a', 'aaa'), link('usr/a', 'usr/a')], { '/usr/a': 'aaa' }],
];

const REFUSED: [string, LayerEntry[], RegExp][] = [
  ['a target never in the layer', [dir('usr/'), link('usr/a', 'usr/missing')], /^Hardlink \.\/usr\/a: target usr\/missing is not a file in the layer$/],
  ['a target that becomes a directory', [dir('usr/'), link('usr/a', 'usr/b'), dir('usr/b/')], /^Hardlink \.\/usr\/a: target usr\/b is a directory$/],
  ['a link to itself, never a file', [dir('usr/'), link('usr/a', 'usr/a')], /^Hardlink \.\/usr\/a: target usr\/a is not a file in the layer$/],
  ['a hardlink whose path becomes a directory', [dir('usr/'), file('usr/b', 'b'), link('usr/a', 'usr/b'), dir('usr/a/')], /^Invalid layer: \.\/usr\/a is both a directory and a non-directory$/],
  ['a cycle', [dir('usr/'), link('usr/a', 'usr/b'), link('usr/b', 'usr/a')], /^Hardlink \.\/usr\/b: target usr\/a is not a file in the layer$/],
];

describe('derived layers: hardlinks in any order, as upstream', () => {
  it.each(SAME)('%s: the commit upstream makes', async (_name, entries, contents) => {
    const { path: rp, repo } = await cliRepo();
    const tar = await layerTar(entries);
    const theirs = await upstream(rp, tar);
    expect(theirs).toHaveProperty('commit');
    const ours = await importDerivedLayer(repo, await tempFile(tar), { mediaType: TAR, importerVersion: VERSION, timestamp: TS });
    expect(ours.commit).toBe((theirs as { commit: string }).commit);
    for (const [p, data] of Object.entries(contents)) expect(await catFile(rp, ours.commit, p), p).toBe(data);
    await fsck(rp);
  });

  it.each(REFUSED)('%s: upstream fails too; ours names the link, loses nothing', async (_name, entries, error) => {
    const { path: rp, repo } = await cliRepo();
    const tar = await layerTar(entries);
    expect(await upstream(rp, tar)).toHaveProperty('error');
    const before = await repoSnapshot(rp);
    await expect(importDerivedLayer(repo, await tempFile(tar), { mediaType: TAR, importerVersion: VERSION, ref: 'x' })).rejects.toThrow(error);
    expect(await repoSnapshot(rp)).toEqual(before);
    expect(await repoTmpLeftovers(rp)).toEqual([]);
  });

  it('a chain whose links come before their targets: upstream succeeds or fails by the names, we refuse', async () => {
    const { path: rp, repo } = await cliRepo();
    const outcomes = new Set<string>();
    for (const [a, b, c] of [['a', 'b', 'c'], ['x', 'y', 'z'], ['p', 'q', 'r'], ['c', 'b', 'a']]) {
      const tar = await layerTar([dir('usr/'), link(`usr/${c}`, `usr/${b}`), link(`usr/${b}`, `usr/${a}`), file(`usr/${a}`, 'data')]);
      outcomes.add(Object.keys(await upstream(rp, tar))[0]!);
      await expect(importDerivedLayer(repo, await tempFile(tar), { mediaType: TAR, importerVersion: VERSION })).rejects.toThrow(
        `Hardlink ./usr/${c}: target usr/${b} is a hardlink too (a chain libostree would resolve by chance)`,
      );
    }
    expect([...outcomes].sort()).toEqual(['commit', 'error']);
  });

  it('a target replaced by a hardlink after a link to it, or a path linked twice to different files: refused', async () => {
    const { repo } = await cliRepo();
    const late = await layerTar([dir('usr/'), file('usr/a', 'aaa'), file('usr/b', 'bbb'), link('usr/c', 'usr/b'), link('usr/b', 'usr/a')]);
    await expect(importDerivedLayer(repo, await tempFile(late), { mediaType: TAR, importerVersion: VERSION })).rejects.toThrow(
      'Hardlink ./usr/c: target usr/b is a hardlink too (a chain libostree would resolve by chance)',
    );
    const twice = await layerTar([dir('usr/'), file('usr/x', 'x'), file('usr/y', 'y'), link('usr/a', 'usr/x'), link('usr/a', 'usr/y')]);
    await expect(importDerivedLayer(repo, await tempFile(twice), { mediaType: TAR, importerVersion: VERSION })).rejects.toThrow(
      'Hardlink ./usr/a: given again with another target (usr/y)',
    );
  });

  it('etc and var targets are remapped with the files, forward too', async () => {
    const { path: rp, repo } = await cliRepo();
    const tar = await layerTar([link('etc/b', 'etc/a'), link('var/lib/y', '/var/lib/x'), file('etc/a', 'conf'), file('var/lib/x', 'state')]);
    const r = await importDerivedLayer(repo, await tempFile(tar), { mediaType: TAR, importerVersion: VERSION });
    expect(await catFile(rp, r.commit, '/usr/etc/b')).toBe('conf');
    expect(await catFile(rp, r.commit, '/usr/share/factory/var/lib/y')).toBe('state');
  });

  it('a chain in layer order (link to an earlier link) names the file itself', async () => {
    const { path: rp, repo } = await cliRepo();
    const tar = await layerTar([dir('usr/'), file('usr/a', 'aaa'), link('usr/b', 'usr/a'), link('usr/c', 'usr/b'), link('usr/d', 'usr/c')]);
    const r = await importDerivedLayer(repo, await tempFile(tar), { mediaType: TAR, importerVersion: VERSION });
    const sum = await fileChecksum(rp, r.commit, '/usr/a');
    for (const p of ['/usr/b', '/usr/c', '/usr/d']) expect(await fileChecksum(rp, r.commit, p), p).toBe(sum);
  });
});
