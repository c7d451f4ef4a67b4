// The `REPO` / `--repo <path>` argument of the commands: opened with upstream's error contexts.
import { stat } from 'node:fs/promises';
import { withContext } from '../errors.js';
import { Repo } from '../repo/repo.js';

/** Opens `--repo <path>` with upstream's error contexts. */
export async function openRepoArg(p: string): Promise<Repo> {
  await withContext(`Opening directory at '${p}'`, async () => {
    if (!(await stat(p)).isDirectory()) throw new Error('Not a directory');
  });
  return withContext(`Opening ostree repository at '${p}'`, () => Repo.open(p));
}
