// The package as a user gets it: `npm pack` (its prepack builds lib/), then `npm install` of the
// tarball into a fresh project with no compiler on PATH, so the install must use the shipped
// N-API prebuild. The pack runs in a staging copy of the package, so lib/ and build/ of this
// checkout (in use by other test files) are not rewritten. Dependencies come from npm's cache
// when it has them (--prefer-offline), else from the registry.
//
// $OSTREE_CONTAINER_PACK names a tarball packed elsewhere instead, with the libostree its prebuild
// was compiled against in $OSTREE_CONTAINER_PACK_LIBOSTREE: scripts/test-matrix.sh passes the
// host's (Debian 12, libostree 2022.7) into the Debian 13 chroot (2025.2), where the installed CLI
// must still keep derived /var content in /var, as the running libostree decides.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { cp, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ostreeCli } from '../../src/fixture/index.js';
import { packageRoot } from '../../src/native.js';
import { OciDir } from '../../src/oci/layout.js';
import { cleanupTmp, tmpdir } from './tar-util.js';

const execFileP = promisify(execFile);
const PREBUILDS = path.join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`);
const pkg = JSON.parse(await readFile(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string; files: string[] };

/** Absolute path of a program on the test's own PATH. */
async function which(name: string): Promise<string> {
  return (await execFileP('sh', ['-c', `command -v ${name}`])).stdout.trim();
}

let work: string;
let tarball: string;
/** Paths in the tarball, below its `package/`. */
let shipped: string[];
let app: string;
/** A consumer's environment: PATH holds node, npm, npx and sh only; no npm_* settings of ours. */
let env: NodeJS.ProcessEnv;

/** A tarball packed elsewhere, and the libostree its prebuild was compiled against. */
const GIVEN = process.env.OSTREE_CONTAINER_PACK;
const GIVEN_LIBOSTREE = process.env.OSTREE_CONTAINER_PACK_LIBOSTREE;

/** Packs this checkout in a staging copy: what `files` lists, plus what prepack needs to build lib/. */
async function packCheckout(): Promise<string> {
  const prebuilt = existsSync(PREBUILDS) ? readdirSync(PREBUILDS).filter((n) => n.endsWith('.node')) : [];
  if (prebuilt.length === 0) throw new Error(`no prebuild in ${PREBUILDS}: run \`npm run prebuild\` (npm test does it in pretest)`);
  const stage = path.join(work, 'stage');
  await mkdir(stage);
  for (const f of [...pkg.files, 'package.json', 'tsconfig.json', 'src/']) {
    if (f === 'lib/') continue;
    await cp(path.join(packageRoot, f), path.join(stage, f), { recursive: true });
  }
  await symlink(path.join(packageRoot, 'node_modules'), path.join(stage, 'node_modules'));
  const packed = await execFileP('npm', ['pack', '--json', '--pack-destination', work], { cwd: stage });
  const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }];
  return path.join(work, filename);
}

beforeAll(async () => {
  work = await tmpdir('package-');
  if (GIVEN !== undefined && GIVEN_LIBOSTREE === undefined) throw new Error('OSTREE_CONTAINER_PACK needs OSTREE_CONTAINER_PACK_LIBOSTREE (the libostree its prebuild was built against)');
  tarball = GIVEN ?? (await packCheckout());
  shipped = (await execFileP('tar', ['-tzf', tarball])).stdout.trim().split('\n').map((p) => p.replace(/^package\//, ''));

  const bin = path.join(work, 'bin');
  await mkdir(bin);
  await symlink(process.execPath, path.join(bin, 'node'));
  // npm and sh to install; skopeo and setpriv, which image pulls run.
  for (const name of ['npm', 'npx', 'sh', 'skopeo', 'setpriv']) await symlink(await which(name), path.join(bin, name));
  env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));
  env.PATH = bin;

  app = path.join(work, 'app');
  await mkdir(app);
  await writeFile(path.join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
}, 600_000);
afterAll(cleanupTmp);

describe('npm pack, then npm install in a fresh project without a compiler', () => {
  it('installs from the prebuild (nothing compiled) and the library and the CLI work, the CLI doing a real job', async () => {
    for (const tool of ['g++', 'cc', 'make', 'node-gyp']) {
      await expect(execFileP('sh', ['-c', `command -v ${tool}`], { env }), tool).rejects.toMatchObject({ stdout: '' });
    }
    const prebuilt = shipped.filter((p) => p.startsWith(`prebuilds/${path.basename(PREBUILDS)}/`) && p.endsWith('.node'));
    expect(prebuilt).toHaveLength(1);
    expect(shipped).toEqual(expect.arrayContaining(['lib/index.js', 'lib/cli/main.js', 'lib/fixture/index.js']));
    expect(shipped.filter((p) => p.startsWith('build/') || p.startsWith('test/'))).toEqual([]);
    await execFileP('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: app, env });
    const installed = path.join(app, 'node_modules/ostree-container');
    expect(existsSync(path.join(installed, 'build'))).toBe(false); // node-gyp-build took the prebuild

    const script = path.join(app, 'use.mjs');
    await writeFile(script, `
      import * as api from 'ostree-container';
      import { Repo, encapsulate, ContextError } from 'ostree-container';
      import { existsSync } from 'node:fs';
      import { createExampleOs, GPG_HOME_TARBALL } from 'ostree-container/fixture';
      const created = await Repo.create(process.argv[2], 'archive');
      const opened = await Repo.open(process.argv[2]);
      const deep = await import('ostree-container/lib/proxy/config.js').then(() => 'importable', (e) => e.code);
      console.log(JSON.stringify({
        mode: opened.mode, path: opened.path === created.path, encapsulate: typeof encapsulate,
        contextError: new ContextError('Opening', new Error('x')) instanceof Error, fixture: typeof createExampleOs,
        testKeys: existsSync(GPG_HOME_TARBALL),
        internals: ['encapsulateToOciDir', 'proxyArgs', 'skopeoCopyArgs', 'joinFetch', 'MAX_MSG_SIZE', 'createExampleOs'].filter((n) => n in api),
        deep,
      }));
    `);
    const repo = path.join(work, 'repo');
    const used = await execFileP('node', [script, repo], { cwd: app, env });
    expect(JSON.parse(used.stdout)).toEqual({
      mode: 'archive', path: true, encapsulate: 'function', contextError: true, fixture: 'function', testKeys: true, internals: [],
      deep: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
    });
    expect(existsSync(path.join(repo, 'objects'))).toBe(true);

    expect(await execFileP('npx', ['--no-install', 'ostree-container', '--version'], { cwd: app, env })).toMatchObject({ stdout: `${pkg.version}\n` });

    // A real job through the installed CLI, which loads the addon: encapsulate a small commit
    // (made by the ostree CLI) into an OCI layout, then read the layout back here.
    const src = path.join(work, 'src-repo');
    const tree = path.join(work, 'tree');
    await mkdir(path.join(tree, 'usr/bin'), { recursive: true });
    await writeFile(path.join(tree, 'usr/bin/hello'), 'hello from the installed package\n');
    await ostreeCli(src, ['init', '--mode=archive']);
    const commit = (await ostreeCli(src, ['commit', '-b', 'example', `--tree=dir=${tree}`, '--no-bindings'])).trim();
    const dest = path.join(work, 'oci');
    const run = await execFileP('npx', ['--no-install', 'ostree-container', 'encapsulate', '--repo', src, 'example', `oci:${dest}:v1`], { cwd: app, env });
    expect(run.stderr).toBe('');
    const oci = await OciDir.open(dest);
    const { manifest, descriptor } = await oci.readManifest('v1');
    expect(run.stdout).toBe(`${descriptor.digest}\n`);
    expect((await oci.readConfig(manifest)).config?.Labels?.['ostree.commit']).toBe(commit);
    expect(manifest.layers).toHaveLength(1);
  });

  it('runs the shipped prebuild unchanged, and the running libostree (not the one it was built on) decides where derived /var goes', async () => {
    const installed = path.join(app, 'node_modules/ostree-container');
    expect(existsSync(installed), 'needs the install of the test above').toBe(true);
    // The file node-gyp-build loads is the tarball's prebuild, byte for byte: nothing was rebuilt.
    const rel = shipped.find((p) => p.startsWith('prebuilds/') && p.endsWith('.node'))!;
    const probe = path.join(app, 'probe.cjs');
    await writeFile(probe, `
      const binding = require('node-gyp-build').path(${JSON.stringify(installed)});
      console.log(JSON.stringify({ binding, built: require(binding).libostreeBuilt.version }));
    `);
    const { binding, built } = JSON.parse((await execFileP('node', [probe], { cwd: app, env })).stdout) as { binding: string; built: string };
    expect(binding).toBe(path.join(installed, rel));
    const fromTarball = (await execFileP('tar', ['-xzOf', tarball, `package/${rel}`], { encoding: 'buffer', maxBuffer: 64 << 20 })).stdout;
    expect(createHash('sha256').update(await readFile(binding)).digest('hex')).toBe(createHash('sha256').update(fromTarball).digest('hex'));
    // Built against the pack's libostree: the host's in the Debian 13 chroot (test-matrix.sh), else this system's.
    expect(built).toBe(GIVEN_LIBOSTREE ?? (await execFileP('pkg-config', ['--modversion', 'ostree-1'])).stdout.trim());

    // The installed CLI pulls upstream's derived image (test/fixtures/upstream-2026/).
    const running = /Version: '(\d+)\.(\d+)'/.exec((await execFileP('ostree', ['--version'])).stdout);
    if (!running) throw new Error('no version in `ostree --version`');
    const retains = Number(running[1]) > 2024 || (Number(running[1]) === 2024 && Number(running[2]) >= 3);
    await execFileP('tar', ['-C', work, '--zstd', '-xf', path.join(packageRoot, 'test/fixtures/upstream-2026/exampleos-up26-store.oci.tar.zst')]);
    const repo = path.join(work, 'pull-repo');
    await execFileP('ostree', ['init', `--repo=${repo}`, '--mode=bare-user']);
    const pulled = await execFileP('npx', ['--no-install', 'ostree-container', 'image', 'pull', '--quiet', repo, `ostree-unverified-image:oci:${work}/up26-store:d`], { cwd: app, env });
    const merge = /^Wrote: \S+ => ([0-9a-f]{64})$/m.exec(pulled.stdout)?.[1];
    const listing = (await execFileP('ostree', ['ls', `--repo=${repo}`, '-R', merge ?? 'missing-merge'])).stdout;
    expect({ var: listing.includes(' /var/lib/derived/s\n'), factory: listing.includes(' /usr/share/factory/var/lib/derived/s\n') }).toEqual({ var: retains, factory: !retains });
    // From 2024.3 on, upstream's own merge commit for this image (store-upstream.test.ts has both stacks).
    if (retains) expect(merge).toBe('57828250efe4ff96405c96ce5ea565ced892dd61df8aecc26a4e60194cf27c9e');
  });
});
