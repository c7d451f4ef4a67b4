// Our side of the derived-layer bench: import one gzip layer tar as a derived layer (store spec §3)
// into a new bare-user repo and print the commit.
//   node bench/derived-ours.js REPO LAYER.tar.gz
import { execFileSync } from 'node:child_process';
import { Repo } from '../lib/repo/repo.js';
import { importDerivedLayer } from '../lib/store/derived.js';

const [repoPath, layer] = process.argv.slice(2);
execFileSync('ostree', ['init', `--repo=${repoPath}`, '--mode=bare-user']);
const repo = await Repo.open(repoPath);
const r = await importDerivedLayer(repo, layer, {
  mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
  importerVersion: 'bench',
  timestamp: 1,
});
console.log(r.commit);
