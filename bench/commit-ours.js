// Our side of the `commit` benchmark: commit a host directory through the in-process Repo binding,
// exactly as `ostree commit --branch=bench --no-bindings --timestamp=@0 --tree=dir=DIR` does; prints
// the commit checksum. Usage: node bench/commit-ours.js REPO DIR  (needs `npm run build:ts` first).
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const [repoPath, tree] = process.argv.slice(2);
if (!repoPath || !tree) throw new Error('usage: node bench/commit-ours.js REPO DIR');
const lib = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'lib', 'index.js');
const { Repo } = await import(lib);
if (typeof Repo?.prototype?.writeTree !== 'function') throw new Error(`${lib} has no Repo.writeTree (build with npm run build:ts)`);

const repo = await Repo.open(repoPath);
const commit = await repo.withTransaction(async (r) => {
  const root = await r.writeTree({ directories: [{ source: path.resolve(tree) }] });
  const checksum = await r.writeCommit({ root, parent: null, timestamp: 0 });
  r.transactionSetRef('bench', checksum);
  return checksum;
});
process.stdout.write(`${commit}\n`);
