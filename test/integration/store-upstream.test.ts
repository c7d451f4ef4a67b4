// The store as today's upstream writes it (test/fixtures/upstream-2026/, see its README): pulling
// the same image gives the merge commit upstream wrote, byte for byte — parent, metadata (keys,
// order, canonical JSON, importer version), timestamp, subject/body and the merged tree — as
// `ostree show --raw` shows it. Where derived `/var` content goes is the running libostree's
// choice (`ostree_check_version(2024, 3)`), so the `d` image's merge commit depends on the stack:
// upstream's 57828250… from libostree 2024.3 (the Debian 13 matrix), on older ones (Debian 12)
// the same commit with `/var` moved to `/usr/share/factory/var`, as upstream would write it there.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ostreeCli } from '../../src/fixture/index.js';
import { native } from '../../src/native.js';
import { OstreeImageReference } from '../../src/ref/image-reference.js';
import { Repo } from '../../src/repo/repo.js';
import { ImageImporter } from '../../src/store/importer.js';
import { runCli } from '../helpers/cli.js';
import { cleanupTmp, tmpdir } from './encapsulate-util.js';
import { cliRepo, fixture, listCommit } from './store-util.js';

const execFileP = promisify(execFile);
const BASE = '616069c200463abca9c1d3adc65b948f1f1d3ddd42bc2c8ea3308535a0e44c24';
/** The merge commits today's upstream wrote (libostree 2025.2). */
const UPSTREAM = {
  v: 'd38ddd2df4621c7a26fc61924ea2cf02e571ea6c62dbc83eeced1b83c8bae66f',
  d: '57828250efe4ff96405c96ce5ea565ced892dd61df8aecc26a4e60194cf27c9e',
};
/**
 * `d` on libostree < 2024.3 (Debian 12), where upstream moves `/var` to `/usr/share/factory/var`:
 * upstream 0.15.3, built by hand and run on Debian 12 (2022.7) against this image, wrote the merge
 * root (dirtree, dirmeta) below. Its derived-layer filter and merge checkout are unchanged in
 * today's upstream, which differs from 0.15.3 only in the commit's parent and metadata, both
 * checked against today's dump; so today's upstream would write the commit below there.
 */
const UPSTREAM_BEFORE_2024_3 = {
  root: ['b84ae30976500e78f4eee9620864de7a28f9d147a60f310d21ec60d98b614db8', '446a0ef11b7cc167f3b603e585c7eeeeb675faa412d5ec73f62988eb0b6c5488'],
  d: '55f122fe4a7eeb07d9e2583534b6698c6e335d9e5cd49aa299647773cef93d91',
};
const DUMP = { v: fixture('upstream-2026/merge-commit-v.txt'), d: fixture('upstream-2026/merge-commit-d.txt') };

let layout: string;
beforeAll(async () => {
  const dir = await tmpdir('upstream-2026-');
  await execFileP('tar', ['-C', dir, '--zstd', '-xf', fixture('upstream-2026/exampleos-up26-store.oci.tar.zst')]);
  layout = path.join(dir, 'up26-store');
});
afterAll(cleanupTmp);

const imgref = (tag: 'v' | 'd') => `ostree-unverified-image:oci:${layout}:${tag}`;

/** `image pull` as a user runs it, into a fresh bare-user repo; returns the repo and the merge commit. */
async function pull(tag: 'v' | 'd'): Promise<{ repo: string; merge: string }> {
  const { path: repo } = await cliRepo('bare-user');
  const r = await runCli('image', 'pull', '--quiet', repo, imgref(tag));
  expect(r).toMatchObject({ code: 0, stderr: '' });
  const merge = /^Wrote: \S+ => ([0-9a-f]{64})$/m.exec(r.stdout)?.[1];
  if (!merge) throw new Error(`no merge commit in: ${r.stdout}`);
  return { repo, merge };
}

describe("merge commits identical to today's upstream", () => {
  it('v (no derived layer): d38ddd2d…, parent the base commit, `ostree show --raw` equal to upstream\'s', async () => {
    const { repo, merge } = await pull('v');
    expect(merge).toBe(UPSTREAM.v);
    expect(await ostreeCli(repo, ['show', '--raw', merge])).toBe(await readFile(DUMP.v, 'utf8'));
    expect((await ostreeCli(repo, ['rev-parse', `${merge}^`])).trim()).toBe(BASE);
    // The same paths as the base (its SELinux labels are not carried: the base holds no policy).
    expect([...(await listCommit(repo, merge)).keys()]).toEqual([...(await listCommit(repo, BASE)).keys()]);
  });

  it("d (a derived layer with /var content): where /var goes is the running libostree's choice", async () => {
    const retains = native().ostreeCheckVersion(2024, 3);
    const { repo, merge } = await pull('d');
    const tree = await listCommit(repo, merge);
    expect([tree.has('/var/lib/derived/s'), tree.has('/usr/share/factory/var/lib/derived/s')]).toEqual([retains, !retains]);
    expect(tree.get('/usr/etc/derived/x.conf')).toMatch(/^-00644 0 0 +5 /);
    expect(tree.get('/usr/share/derived/file')).toMatch(/^-00644 0 0 +6 /);
    expect(tree.has('/usr/bin/bash')).toBe(false); // the layer's whiteout
    expect(await ostreeCli(repo, ['cat', merge, retains ? '/var/lib/derived/s' : '/usr/share/factory/var/lib/derived/s'])).toBe('state\n');
    const dump = await ostreeCli(repo, ['show', '--raw', merge]);
    const upstream = await readFile(DUMP.d, 'utf8');
    if (retains) {
      expect(merge).toBe(UPSTREAM.d);
      expect(dump).toBe(upstream);
    } else {
      // Everything but the checksum and the root tree (the last two byte arrays) is upstream's,
      // and the root tree is the one upstream writes on this libostree, so the commit is what
      // today's upstream would write here (see UPSTREAM_BEFORE_2024_3).
      const head = (s: string) => s.split('\n').slice(1).join('\n').replace(/\[byte [^\]]*\], \[byte [^\]]*\]\)\n$/, '');
      expect(head(dump)).toBe(head(upstream));
      const info = await (await Repo.open(repo)).loadCommit(merge);
      expect([info.rootContents, info.rootMetadata]).toEqual(UPSTREAM_BEFORE_2024_3.root);
      expect(merge).toBe(UPSTREAM_BEFORE_2024_3.d);
    }
  });

  it('d with the ≥ 2024.3 behaviour asked for (setOstreeVersion): upstream\'s 57828250… on any libostree', async () => {
    const { path: repo } = await cliRepo('bare-user');
    const importer = new ImageImporter(await Repo.open(repo), OstreeImageReference.parse(imgref('d'))).setOstreeVersion(2024, 3);
    const prepared = await importer.prepare();
    if (prepared.kind !== 'ready') throw new Error(`expected a fresh import, got ${prepared.kind}`);
    const state = await importer.import(prepared.prepared);
    expect(state.mergeCommit).toBe(UPSTREAM.d);
    expect(await ostreeCli(repo, ['show', '--raw', state.mergeCommit])).toBe(await readFile(DUMP.d, 'utf8'));
  });
});
