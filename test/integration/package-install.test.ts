// The package as a user gets it: `npm pack` (its prepack builds lib/), then `npm install` of the
// tarball into a fresh project with no compiler on PATH, so the install must use the shipped
// N-API prebuild. The pack runs in a staging copy of the package, so lib/ and build/ of this
// checkout (in use by other test files) are not rewritten. Dependencies come from npm's cache
// when it has them (--prefer-offline), else from the registry.
import { execFile } from 'node:child_process';
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
let app: string;
/** A consumer's environment: PATH holds node, npm, npx and sh only; no npm_* settings of ours. */
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  const prebuilt = existsSync(PREBUILDS) ? readdirSync(PREBUILDS).filter((n) => n.endsWith('.node')) : [];
  if (prebuilt.length === 0) throw new Error(`no prebuild in ${PREBUILDS}: run \`npm run prebuild\` (npm test does it in pretest)`);
  work = await tmpdir('package-');

  // Staging copy: what `files` lists, plus what prepack needs to build lib/.
  const stage = path.join(work, 'stage');
  await mkdir(stage);
  for (const f of [...pkg.files, 'package.json', 'tsconfig.json', 'src/']) {
    if (f === 'lib/') continue;
    await cp(path.join(packageRoot, f), path.join(stage, f), { recursive: true });
  }
  await symlink(path.join(packageRoot, 'node_modules'), path.join(stage, 'node_modules'));
  const packed = await execFileP('npm', ['pack', '--json', '--pack-destination', work], { cwd: stage });
  const [{ filename, files }] = JSON.parse(packed.stdout) as [{ filename: string; files: { path: string }[] }];
  tarball = path.join(work, filename);
  const shipped = files.map((f) => f.path);
  expect(shipped).toEqual(expect.arrayContaining(['lib/index.js', 'lib/cli/main.js', 'lib/fixture/index.js', ...prebuilt.map((n) => `prebuilds/${path.basename(PREBUILDS)}/${n}`)]));
  expect(shipped.filter((p) => p.startsWith('build/') || p.startsWith('test/'))).toEqual([]);

  const bin = path.join(work, 'bin');
  await mkdir(bin);
  await symlink(process.execPath, path.join(bin, 'node'));
  for (const name of ['npm', 'npx', 'sh']) await symlink(await which(name), path.join(bin, name));
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
});
