// Untrusted layers through the derived-layer job: random entry lists (paths with `..`, `etc`,
// `var`, object-store paths, links to anything and in any order, names reused as files and
// directories) and random byte damage. Every input commits or fails with an Error, never taking
// the process down (libostree's importer asserts on some malformed hardlinks). Entry lists are
// also run through a model of store spec §3 with our hardlink rules: a layer commits exactly
// when the model says so, and then holds exactly the model's tree (checked out and compared);
// a failure leaves the repo, its refs and its tmp/ as they were. A damaged layer that commits
// holds only file contents that are bytes of its input.
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { importDerivedLayer, normalizeLayerPath } from '../../src/store/derived.js';
import { cliRepo, repoTmpLeftovers, TAR, tempFile } from './store-util.js';
import { type LayerEntry, layerTar } from '../helpers/tar.js';
import { cleanupTmp, fixChecksum, fsck, repoSnapshot, tmpdir } from './tar-util.js';
import type { Repo } from '../../src/repo/repo.js';

afterAll(cleanupTmp);

const OBJ = 'sysroot/ostree/repo/objects/ab/cdef.file';
const component = fc.constantFrom('usr', 'etc', 'var', 'run', 'opt', 'bin', 'a', 'b', '..', '.', '', 'sysroot', '.wh.a', '.wh..wh..opq');
const pathArb = fc.oneof(
  fc.array(component, { minLength: 1, maxLength: 4 }).map((c) => c.join('/')),
  fc.constantFrom(OBJ, `/${OBJ}`, 'usr/a', 'usr/a/b', 'usr/b', 'etc/a', 'var/a', '/usr/a', './usr/a'),
);
const entryArb: fc.Arbitrary<LayerEntry> = fc.record({
  name: pathArb,
  type: fc.constantFrom('file', 'directory', 'symlink', 'link') as fc.Arbitrary<LayerEntry['type']>,
  data: fc.constantFrom('', 'x', 'hello'),
  mtime: fc.constantFrom(0, 42),
  linkname: pathArb,
});

function forType(e: LayerEntry): LayerEntry {
  if (e.type === 'file') return { ...e, linkname: undefined };
  return { ...e, data: undefined, linkname: e.type === 'directory' ? undefined : e.linkname };
}

type Node = { k: 'dir' } | { k: 'file'; data: string } | { k: 'symlink'; target: string } | { k: 'link'; to: string } | { k: 'absent' };
class Refused extends Error {}

/** Store spec §3.2–3.4 and our hardlink rules (README "Derived layers"), in the plainest form. */
function model(entries: LayerEntry[], allowNonusr: boolean): { tree: Map<string, Node>; filtered: Record<string, number> } {
  const tree = new Map<string, Node>([['', { k: 'dir' }]]);
  const parked = new Map<string, string>();
  const relinked = new Map<string, string>();
  const filtered: Record<string, number> = {};
  const refuse = (): never => {
    throw new Refused();
  };
  const names = (p: string) => {
    const lead = p.startsWith('/') ? 'root' : p === '.' || p.startsWith('./') ? 'cur' : 'none';
    return { lead, names: p.split('/').filter((c) => c !== '' && c !== '.') };
  };
  const strip = (p: string) => p.replace(/^\/+/, '');
  const storeKey = (p: string): string | null => {
    const { lead, names: n } = names(p);
    return lead === 'none' && n.length >= 3 && n[0] === 'sysroot' && n[1] === 'ostree' && n[2] === 'repo' ? n.join('/') : null;
  };
  const normalize = (p: string): { key: string } | { filtered: string } => {
    let n: { path: string } | { filtered: string };
    try {
      n = normalizeLayerPath(p, { allowNonusr });
    } catch {
      return refuse();
    }
    return 'filtered' in n ? n : { key: n.path === '.' ? '' : n.path.slice(2) };
  };
  const kind = (key: string) => tree.get(key)?.k ?? 'absent';
  const walk = (key: string) => {
    const parts = key.split('/');
    for (let i = 1; i < parts.length; i++) {
      const up = parts.slice(0, i).join('/');
      const k = kind(up);
      if (k !== 'dir' && k !== 'absent') refuse();
      tree.set(up, { k: 'dir' });
    }
  };
  const nonDirectory = (key: string, node: Node) => {
    if (key === '') refuse();
    walk(key);
    if (kind(key) === 'dir') refuse();
    if (kind(key) !== 'link') tree.set(key, node); // a hardlink wins over a later file
  };
  const link = (key: string, target: string) => {
    if (kind(target) === 'dir') refuse();
    const t = tree.get(target);
    if (t?.k === 'link') target = t.to;
    if (key === '') refuse();
    walk(key);
    const k = kind(key);
    if (k === 'dir') refuse();
    if (k === 'link') return (tree.get(key) as { to: string }).to === target ? undefined : refuse();
    if (key === target) return k === 'absent' ? refuse() : undefined;
    if (!tree.has(target)) tree.set(target, { k: 'absent' });
    tree.set(key, { k: 'link', to: target });
  };
  const linkTarget = (p: string) => {
    const n = names(p).names;
    if (n.length === 0 || n.includes('..')) refuse();
    if (n[0] === 'etc') n[0] = 'usr/etc';
    else if (n[0] === 'var') n[0] = 'usr/share/factory/var';
    return n.join('/');
  };
  for (const e of entries) {
    const p = strip(e.name);
    const modified = (e.mtime ?? 0) > 0;
    const sk = storeKey(p);
    if (sk !== null) {
      if (modified && e.type === 'file') {
        parked.set(sk, String(e.data ?? ''));
        continue;
      }
    } else if (e.type === 'link' && modified) {
      if (!e.linkname) refuse();
      const target = storeKey(strip(e.linkname!));
      if (target !== null) {
        if (!parked.has(target) && !relinked.has(target)) continue;
        const n = normalize(e.name);
        if ('filtered' in n) {
          filtered[n.filtered] = (filtered[n.filtered] ?? 0) + 1;
          continue;
        }
        if (parked.has(target)) {
          nonDirectory(n.key, { k: 'file', data: parked.get(target)! });
          relinked.set(target, n.key);
          parked.delete(target);
        } else {
          link(n.key, relinked.get(target)!);
        }
        continue;
      }
    }
    const n = normalize(e.name);
    if ('filtered' in n) {
      filtered[n.filtered] = (filtered[n.filtered] ?? 0) + 1;
      continue;
    }
    if (e.type === 'directory') {
      walk(n.key);
      if (kind(n.key) !== 'dir' && kind(n.key) !== 'absent') refuse();
      tree.set(n.key, { k: 'dir' });
    } else if (e.type === 'file') {
      nonDirectory(n.key, { k: 'file', data: String(e.data ?? '') });
    } else if (e.type === 'symlink') {
      if (!e.linkname) refuse();
      nonDirectory(n.key, { k: 'symlink', target: e.linkname! });
    } else {
      if (!e.linkname) refuse();
      link(n.key, linkTarget(e.linkname!));
    }
  }
  for (const node of tree.values()) {
    if (node.k !== 'link') continue;
    const t = tree.get(node.to);
    if (t?.k !== 'file' && t?.k !== 'symlink') refuse();
  }
  return { tree, filtered };
}

/** What a commit holds, checked out: path key → dir, file content or symlink target. */
async function checkedOut(repo: Repo, commit: string): Promise<Map<string, string>> {
  const root = path.join(await tmpdir('fuzz-co-'), 'co');
  await repo.checkout(commit, root);
  const out = new Map<string, string>();
  async function visit(rel: string): Promise<void> {
    const abs = path.join(root, rel);
    const st = await lstat(abs);
    if (st.isDirectory()) {
      out.set(rel, 'dir');
      for (const n of await readdir(abs)) await visit(rel ? `${rel}/${n}` : n);
    } else if (st.isSymbolicLink()) {
      out.set(rel, `symlink ${await readlink(abs)}`);
    } else {
      out.set(rel, `file ${await readFile(abs, 'latin1')}`);
    }
  }
  await visit('');
  return out;
}

function expectedTree(tree: Map<string, Node>): Map<string, string> {
  const out = new Map<string, string>();
  const show = (n: Node): string => (n.k === 'dir' ? 'dir' : n.k === 'file' ? `file ${n.data}` : n.k === 'symlink' ? `symlink ${n.target}` : 'absent');
  for (const [key, node] of tree) {
    if (node.k === 'absent') continue;
    out.set(key, node.k === 'link' ? show(tree.get(node.to)!) : show(node));
  }
  return out;
}

const sorted = (m: Map<string, string>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

describe('derived layers from untrusted tars', () => {
  it('random entry lists commit exactly the model tree, or fail when it does and lose nothing', async () => {
    const { path: rp, repo } = await cliRepo();
    let ok = 0;
    let failed = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(entryArb, { minLength: 1, maxLength: 8 }), fc.boolean(), async (raw, nonusr) => {
        const entries = raw.map(forType);
        const tar = await layerTar(entries).catch(() => null);
        if (!tar) return; // tar-stream refuses some names itself
        let expected: ReturnType<typeof model> | null = null;
        try {
          expected = model(entries, nonusr);
        } catch (e) {
          if (!(e instanceof Refused)) throw e;
        }
        const before = await repoSnapshot(rp);
        const refs = await repo.listRefs();
        try {
          const r = await importDerivedLayer(repo, await tempFile(tar), { mediaType: TAR, importerVersion: 'fuzz', allowNonusr: nonusr, ref: 'fuzz' });
          expect(expected, `the model refuses ${JSON.stringify(entries)}`).not.toBeNull();
          expect(sorted(await checkedOut(repo, r.commit))).toEqual(sorted(expectedTree(expected!.tree)));
          expect(r.filtered).toEqual(Object.fromEntries(Object.entries(expected!.filtered).sort(([a], [b]) => (a < b ? -1 : 1))));
          ok++;
          await repo.setRefImmediate('fuzz', null);
        } catch (e) {
          if (!(e instanceof Error) || e.name === 'AssertionError') throw e;
          expect(expected, `the model commits ${JSON.stringify(entries)}: ${e.message}`).toBeNull();
          expect(await repoSnapshot(rp)).toEqual(before);
          expect(await repo.listRefs()).toEqual(refs);
          failed++;
        }
        expect(await repoTmpLeftovers(rp)).toEqual([]);
      }),
      { numRuns: 100, seed: 1234 },
    );
expect(ok).toBeGreaterThan(20);
    expect(failed).toBeGreaterThan(20);
    await fsck(rp);
  });

  it('damaged bytes of a valid layer commit only bytes of the input, or fail and lose nothing', async () => {
    const { path: rp, repo } = await cliRepo();
    const good = await layerTar([
      { name: 'usr/', type: 'directory' },
      { name: 'usr/bin/a', data: 'a'.repeat(700), pax: { 'SCHILY.xattr.user.x': 'y' } },
      { name: 'usr/bin/b', type: 'link', linkname: 'usr/bin/a' },
      { name: 'usr/bin/c', type: 'symlink', linkname: 'a' },
      { name: OBJ, data: 'obj', mtime: 5 },
      { name: 'usr/bin/d', type: 'link', linkname: OBJ, mtime: 5 },
      { name: 'etc/e', data: 'e' },
    ]);
    // Header blocks, so damage can be given a valid checksum and reach past the tar reader.
    const headers: number[] = [];
    for (let off = 0; off + 512 <= good.length && good[off] !== 0; ) {
      headers.push(off);
      const size = parseInt(good.subarray(off + 124, off + 136).toString('latin1').replace(/\0.*$/, '').trim() || '0', 8);
      off += 512 + Math.ceil(size / 512) * 512;
    }
    expect(headers.length).toBeGreaterThan(7);
    let ok = 0;
    let failed = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ at: fc.nat({ max: good.length - 1 }), value: fc.nat({ max: 255 }) }), { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        async (edits, fix) => {
          const bad = Buffer.from(good);
          for (const { at, value } of edits) bad[at] = value;
          if (fix) for (const h of headers) fixChecksum(bad.subarray(h, h + 512));
          const before = await repoSnapshot(rp);
          try {
            const r = await importDerivedLayer(repo, await tempFile(bad), { mediaType: TAR, importerVersion: 'fuzz', ref: 'fuzz' });
            for (const [p, what] of await checkedOut(repo, r.commit)) {
              if (what.startsWith('file ')) expect(bad.includes(Buffer.from(what.slice(5), 'latin1')), `${p} holds bytes not in the layer`).toBe(true);
            }
            await repo.setRefImmediate('fuzz', null);
            ok++;
          } catch (e) {
            if (!(e instanceof Error) || e.name === 'AssertionError') throw e;
            expect(await repoSnapshot(rp)).toEqual(before);
            failed++;
          }
          expect(await repoTmpLeftovers(rp)).toEqual([]);
        },
      ),
      { numRuns: 100, seed: 4321 },
    );
expect(ok).toBeGreaterThan(10);
    expect(failed).toBeGreaterThan(10);
    await fsck(rp);
  });
});
