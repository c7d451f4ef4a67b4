// `tar import` / `tar export`: the ostree-ext tar format (version 1) on files and pipes.
import { Command, Option } from 'commander';
import { exportCommit } from '../tar/export.js';
import { importTar } from '../tar/import.js';
import { openRepoArg } from './repo-arg.js';

export function registerTar(program: Command): void {
  const tar = program.command('tar').description('Import and export ostree commits as tar streams');
  tar
    .command('import')
    .description('Import an ostree commit from a tar stream (uncompressed)')
    .requiredOption('--repo <path>', 'path to the ostree repository')
    .argument('[path]', 'tar file; standard input when absent')
    .action(async (file: string | undefined, o: { repo: string }) => {
      const repo = await openRepoArg(o.repo);
      const { commit } = await importTar(repo, file ?? process.stdin.fd);
      process.stdout.write(`Imported: ${commit}\n`);
    });
  tar
    .command('export')
    .description('Export an ostree commit as a tar stream on standard output')
    .requiredOption('--repo <path>', 'path to the ostree repository')
    // Upstream requires it and documents "must be 1"; like upstream, the value is not checked.
    .addOption(new Option('--format-version <n>', 'tar format version: must be 1').makeOptionMandatory())
    .argument('<rev>', 'ostree branch or commit')
    .action(async (rev: string, o: { repo: string }) => {
      const repo = await openRepoArg(o.repo);
      // The native writer puts the bytes straight on fd 1; nothing else may be written there.
      await exportCommit(repo, rev, process.stdout.fd);
    });
}
