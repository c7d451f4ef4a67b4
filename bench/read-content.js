// Repo.readContent() of one 128 MiB object (no fd): prints its time and the longest event-loop
// stall (the largest gap between 1 ms ticks); the peak RSS is /usr/bin/time's (bench/run.js
// custom). The repo is made once under bench/work/read-content/.
// Usage: node bench/read-content.js [LIBDIR]   (default: this checkout's lib/)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const lib = process.argv[2] ?? path.join(here, '..', 'lib');
const { Repo } = await import(path.join(lib, 'index.js'));
const work = path.join(here, 'work', 'read-content');
if (!fs.existsSync(path.join(work, 'repo'))) {
  fs.mkdirSync(path.join(work, 'tree'), { recursive: true });
  fs.writeFileSync(path.join(work, 'tree', 'big'), Buffer.alloc(128 << 20, 7));
  execFileSync('ostree', ['init', `--repo=${work}/repo`, '--mode=bare-user']);
  execFileSync('ostree', ['commit', `--repo=${work}/repo`, '-b', 'x', `--tree=dir=${work}/tree`]);
}
const repo = await Repo.open(path.join(work, 'repo'));
const { checksum } = await repo.lookupPath('x', '/big');
let stall = 0;
let last = performance.now();
const ticks = setInterval(() => {
  const now = performance.now();
  stall = Math.max(stall, now - last);
  last = now;
}, 1);
const t0 = performance.now();
const bytes = (await repo.readContent(checksum)).length;
const ms = performance.now() - t0;
clearInterval(ticks);
process.stdout.write(`${bytes} bytes in ${ms.toFixed(0)} ms, longest event-loop stall ${stall.toFixed(0)} ms\n`);
