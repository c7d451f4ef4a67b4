// The build side of upstream's CLI: `container commit` (the check and cleanup a Containerfile's
// `RUN` step ends with) and `ima-sign` (IMA signatures for every file of a commit).
import type { Command } from 'commander';
import { containerCommit } from '../build/container-commit.js';
import { imaSign } from '../build/ima.js';
import { openRepoArg } from './repo-arg.js';

export function registerBuild(program: Command): void {
  program
    .command('commit')
    .description('Check that this runs in an ostree-based container and empty /run, /tmp, /var/tmp and /var/cache (end a RUN step with it)')
    .action(async () => {
      await containerCommit();
    });
  program
    .command('ima-sign')
    .description('Sign every file of a commit with IMA (evmctl), writing a new commit')
    .requiredOption('--repo <path>', 'path to the ostree repository')
    .argument('<src-rev>', 'the ostree ref or commit to sign')
    .argument('<target-ref>', 'the ostree ref to point at the signed commit')
    .argument('<algorithm>', 'digest algorithm (sha256, sha512, …)')
    .argument('<key>', 'path to the IMA private key')
    .option('--overwrite', 'replace existing IMA signatures')
    .action(async (srcRev: string, targetRef: string, algorithm: string, key: string, o: { repo: string; overwrite?: boolean }) => {
      const repo = await openRepoArg(o.repo);
      const signed = await repo.withTransaction(async () => {
        const commit = await imaSign(repo, srcRev, { algorithm, key, overwrite: !!o.overwrite });
        repo.transactionSetRef(targetRef, commit);
        return commit;
      });
      process.stdout.write(`${targetRef} => ${signed}\n`);
    });
}
