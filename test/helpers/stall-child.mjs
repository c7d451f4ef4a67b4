// Child of scheduler.test.ts (UV_THREADPOOL_SIZE must be set before libuv's pool starts): runs
// `unencapsulate` of the same oci: image into several fresh repos at once while timing `fs.stat`
// calls and the event loop's own delay, then prints what it measured as JSON.
import { promises as fsp } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const [libIndex, ociDir, workDir, countArg] = process.argv.slice(2);
const { Repo, unencapsulate, OstreeImageReference } = await import(libIndex);
const count = Number(countArg);

const repos = [];
for (let i = 0; i < count; i++) {
  const p = path.join(workDir, `repo-${i}`);
  execFileSync('ostree', ['init', '--mode=bare-user', `--repo=${p}`]);
  repos.push(await Repo.open(p));
}
const imgref = OstreeImageReference.parse(`ostree-unverified-image:oci:${ociDir}`);

const loop = monitorEventLoopDelay({ resolution: 5 });
loop.enable();
let stop = false;
const stats = [];
const statLoop = (async () => {
  while (!stop) {
    const t0 = performance.now();
    await fsp.stat(workDir);
    stats.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 10));
  }
})();
const t0 = performance.now();
const results = await Promise.all(repos.map((r) => unencapsulate(r, imgref)));
const wall = performance.now() - t0;
stop = true;
await statLoop;
loop.disable();
process.stdout.write(JSON.stringify({
  commits: results.map((r) => r.ostreeCommit),
  wallMs: wall,
  statCount: stats.length,
  statMaxMs: Math.max(...stats),
  loopDelayMaxMs: loop.max / 1e6,
}));
