#!/usr/bin/env node
// Run by `npm test` first: the package test packs prebuilds/, so this makes the prebuild for this
// platform (`npm run prebuild`, offline) when it is missing or older than the native sources.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const prebuilds = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);

/** Newest modification time (ms) of `p` and, for a directory, everything below it. */
function newest(p) {
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(p).map((n) => newest(path.join(p, n))));
}

const built = existsSync(prebuilds)
  ? Math.max(0, ...readdirSync(prebuilds).filter((n) => n.endsWith('.node')).map((n) => statSync(path.join(prebuilds, n)).mtimeMs))
  : 0;
const sources = Math.max(newest(path.join(root, 'native')), newest(path.join(root, 'binding.gyp')));
if (built < sources) {
  console.error(`prebuilds/${path.basename(prebuilds)}: ${built ? 'older than native/' : 'missing'}; running npm run prebuild`);
  execFileSync('npm', ['run', 'prebuild'], { cwd: root, stdio: 'inherit' });
}
