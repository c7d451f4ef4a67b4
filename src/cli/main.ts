#!/usr/bin/env node
// The `ostree-container` command. Each concern registers its subcommands from its own file.
import { Command, CommanderError } from 'commander';
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { packageRoot } from '../native.js';
import { messageOf } from '../errors.js';
import { concurrencyFromEnv } from '../concurrency.js';
import { registerDemo } from './demo.js';
import { registerCompare } from './compare.js';
import { registerEncapsulate } from './encapsulate.js';
import { registerUnencapsulate } from './unencapsulate.js';
import { registerImage } from './image.js';
import { registerDeploy } from './deploy.js';
import { registerTar } from './tar.js';
import { registerInfo } from './info.js';
import { registerInstallOstreeExt } from './install-ostree-ext.js';
import { registerBuild } from './build.js';

export function buildProgram(): Command {
  const pkg = JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string };
  const program = new Command('ostree-container')
    .description('Bridge OSTree commits and OCI container images')
    .version(pkg.version)
    .showHelpAfterError()
    .exitOverride();
  registerDemo(program);
  registerCompare(program);
  registerEncapsulate(program);
  registerUnencapsulate(program);
  registerImage(program);
  registerDeploy(program);
  registerTar(program);
  registerInfo(program);
  registerInstallOstreeExt(program);
  registerBuild(program);
  program
    .command('help-all')
    .description('Print the help of every command')
    .action(() => {
      process.stdout.write(helpAll(program));
    });
  return program;
}

/** The `--help` text of `cmd` and of every subcommand below it, depth first. */
export function helpAll(cmd: Command): string {
  return [cmd.helpInformation(), ...cmd.commands.map(helpAll)].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  // `ostree container …` runs us as `ostree-container container …` (ostree's external-command
  // lookup); upstream's command tree also nests under `container`.
  const args = argv[0] === 'container' ? argv.slice(1) : argv;
  try {
    concurrencyFromEnv();
    await program.parseAsync(args, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    process.stderr.write(`error: ${messageOf(e)}\n`);
    return 1;
  }
}

// Through npm's bin symlink argv[1] is the link, so compare real paths.
const invokedDirectly = !!process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
if (invokedDirectly) {
  // A reader that went away (`| head`) is not an error of ours: stop quietly, as C tools do.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
