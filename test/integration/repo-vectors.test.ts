// Repo binding against upstream's published vectors: the exampleos fixture commit
// (tar-and-encapsulation spec §7.2/7.3) built object by object through the Repo API must give the
// exact object, tree, commit and content checksums, and its update commit likewise.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Repo, variant, xattrName, type VariantDict, type Xattr } from '../../src/index.js';
import { ostreeCli } from '../../src/fixture/ostree-cli.js';

const label = (type: string): Xattr[] => [[xattrName('security.selinux'), Buffer.from(`system_u:object_r:${type}:s0`)]];
const USR_T = label('usr_t');

type FileSpec = { path: string; content?: string; mode?: number; target?: string; xattrs?: Xattr[]; checksum: string };
const FILES: FileSpec[] = [
  { path: 'usr/lib/modules/5.10.18-200.x86_64/vmlinuz', content: 'this-is-a-kernel', checksum: 'ced262e850c9be418ca6b6b3f9487c7f75015c3923659ba42eedb731ce47c00e' },
  { path: 'usr/lib/modules/5.10.18-200.x86_64/initramfs', content: 'this-is-an-initramfs', checksum: '05a3aafe0813726b738ecd75f58f0a045d56d64d8223f69aca1b1492ea66fe2d' },
  { path: 'usr/bin/bash', content: 'the-bash-shell', mode: 0o755, checksum: 'c16705f12dc6420d69b2177cc0166882ac8e90e2a6780c6af4e586b97a511a87' },
  { path: 'usr/bin/sh', target: 'bash', checksum: 'f9e7bafc8e5befac0bab3a7083cc4db5e222f928de860e56a1d273c700540ccf' },
  {
    path: 'usr/bin/arping',
    content: 'arping-binary',
    mode: 0o755,
    // sorted by key bytes: capability, then selinux
    xattrs: [[xattrName('security.capability'), Buffer.from('0sAAAAAgAgAAAAAAAAAAAAAAAAAAA=')], ...USR_T],
    checksum: 'b048a4f451e9fdfaaec911c1fe07d5d1d39be02f932b827c25458d3b15ae589e',
  },
  { path: 'usr/lib/emptyfile', content: '', checksum: '21270f911f1a1db58379515e0dcfa8309d8904ce278280861db236ea7001346e' },
  { path: 'usr/lib64/emptyfile2', content: '', checksum: '21270f911f1a1db58379515e0dcfa8309d8904ce278280861db236ea7001346e' },
  { path: 'usr/bin/hardlink-a', content: 'testlink', checksum: '75535ce3946cbb9a33fe840d37c77ac760276ac13e50fe49b672c6c162024dd5' },
  { path: 'usr/bin/hardlink-b', content: 'testlink', checksum: '75535ce3946cbb9a33fe840d37c77ac760276ac13e50fe49b672c6c162024dd5' },
  { path: 'usr/etc/someconfig.conf', content: 'someconfig', checksum: 'fb5dee24849e4eb59f65484137c5d184a1a4628389efd36c341fa49e58420b81' },
  { path: 'usr/etc/polkit.conf', content: 'a-polkit-config', checksum: 'f5be74d48c320dd9166a8da54ba3f221e14ef489167ce276dcc2ef2e6f036ecc' },
  { path: 'usr/lib/sysimage/pkgdb', content: 'some-package-database', checksum: '790c7e29372cd7d6c26b67a0c92647c060a6ba5a61e20113034c9affc2d85ae5' },
  { path: 'usr/lib/pkgdb/pkgdb', content: 'some-package-database', checksum: '790c7e29372cd7d6c26b67a0c92647c060a6ba5a61e20113034c9affc2d85ae5' },
  { path: 'opt', target: 'var/opt', checksum: 'a91bf662a5b2669d1391270c10d916e2135b4cd9b0faa18dccf76f50712e739b' },
];
const DIRMETA_USR_T = '60a960ec9a1b088a76c8e465c0876a4841ab32ea609dcbab76a02aeed0f11839';
const DIRMETA_BOOT_T = '5bbebe8ae267be7f487c284e0f6619d6b77601bd5ab092f591f3408648ed87c0';
const EMPTY_DIRTREE = '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d';
const ROOT_DIRTREE = '7cdc830f88e37bc9516624cb275a2998b990ffe4fb15a6fac4c7245b68b1461a';
const COMMIT_V0 = '616069c200463abca9c1d3adc65b948f1f1d3ddd42bc2c8ea3308535a0e44c24';
const CONTENTS_CHECKSUM_V0 = 'bd3d13c3059e63e6f8a3d6d046923ded730d90bd7a055c9ad93312111ea7d395';
const COMMIT_V1 = '6e6afc49d902daa2456c858818e0ad8bf9afe79cdcca738c5676c0e175c1def1';
const CONTENTS_CHECKSUM_V1 = '9cf808d999e3097a1a0c61a1096860bdc9b458cfa4c5ba42b1ac079db0e65ca1';
const TIMESTAMP = 872879442;

const METADATA: VariantDict = new Map([
  ['buildsys.checksum', variant('s', '41af286dc0b172ed2f1ca934fd2278de4a1192302ffa07087cea2682e7d372e3')],
  ['ostree.container-cmd', variant('as', ['/usr/bin/bash'])],
  ['version', variant('s', '42.0')],
  ['ostree.bootable', variant('b', true)],
]);

let tmp: string;
let repo: Repo;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'repo-vectors-'));
  repo = await Repo.create(path.join(tmp, 'repo'), 'archive');
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('exampleos fixture through the Repo API', () => {
  it('objects, trees, commit and content checksum match upstream', async () => {
    const commit = await repo.withTransaction(async (r) => {
      for (const f of FILES) {
        const xattrs = f.xattrs ?? USR_T;
        const csum =
          f.target !== undefined
            ? await r.writeSymlink(f.target, { xattrs, expectedChecksum: f.checksum })
            : await r.writeRegularFile(Buffer.from(f.content!), { mode: f.mode ?? 0o644, xattrs, expectedChecksum: f.checksum });
        expect(csum, f.path).toBe(f.checksum);
      }
      const usrT = await r.writeDirMeta({ uid: 0, gid: 0, mode: 0o755, xattrs: USR_T });
      const bootT = await r.writeDirMeta({ uid: 0, gid: 0, mode: 0o755, xattrs: label('boot_t') });
      expect([usrT, bootT]).toEqual([DIRMETA_USR_T, DIRMETA_BOOT_T]);
      const root = await r.writeTree({
        entries: [
          ...FILES.map((f) => ({ path: f.path, kind: 'file' as const, checksum: f.checksum })),
          { path: 'boot', kind: 'dir', metadata: bootT },
          { path: 'run', kind: 'dir' },
          { path: 'tmp', kind: 'dir' },
        ],
        parentDirMetadata: usrT,
        rootMetadata: usrT,
      });
      expect(root).toEqual({ contents: ROOT_DIRTREE, metadata: DIRMETA_USR_T });
      const c = await r.writeCommit({ root, metadata: METADATA, timestamp: TIMESTAMP });
      r.transactionSetRef('exampleos/x86_64/stable', c);
      return c;
    });
    expect(commit).toBe(COMMIT_V0);
    expect(await repo.contentChecksum('exampleos/x86_64/stable')).toBe(CONTENTS_CHECKSUM_V0);
    expect((await repo.lookupPath(commit, '/boot'))).toMatchObject({ contents: EMPTY_DIRTREE, metadata: DIRMETA_BOOT_T });
    const show = await ostreeCli(repo.path, ['show', 'exampleos/x86_64/stable']);
    expect(show).toContain(`commit ${COMMIT_V0}`);
    expect(show).toContain(`ContentChecksum:  ${CONTENTS_CHECKSUM_V0}`);
    expect(await ostreeCli(repo.path, ['fsck'])).not.toMatch(/corrupt|missing/i);
  });

  it('the update commit (bash replaced, parent set, one day later) matches upstream', async () => {
    const bash = await repo.withTransaction((t) => t.writeRegularFile(Buffer.from('bash-v0'), { xattrs: USR_T }));
    expect(bash).toBe('e453385c89e3701eb880a83842c4203f9089594593d414bf91cf63e22d39ef62');
    const parent = await repo.resolveRev('exampleos/x86_64/stable');
    const prev = await repo.loadCommit(parent);
    const commit = await repo.withTransaction((t) => t.writeCommit({
      root: { base: { commit: parent }, entries: [{ path: 'usr/bin/bash', kind: 'file', checksum: bash }] },
      parent,
      metadata: prev.metadata,
      timestamp: prev.timestamp + 86400,
    }));
    expect(commit).toBe(COMMIT_V1);
    expect((await repo.loadCommit(commit)).contentChecksum).toBe(CONTENTS_CHECKSUM_V1);
  });
});
