#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --no-opt --max-semi-space-size=1
// The `ostree-container` command. Each concern registers its subcommands from its own file.
//
// Started through this line (npm's bin link, `ostree container`) it keeps its peak memory lower at
// no measurable cost in time (bench/RESULTS.md, issue 19): the heavy work runs in native threads
// and JavaScript only drives it, so V8's optimizing compiler (--no-opt) would only add its code and
// zones, a 1 MiB young generation holds the little garbage a command makes, and two malloc arenas
// replace glibc's default of one per thread (up to 8 per CPU), each keeping its freed buffers.
import { Command, CommanderError } from 'commander';
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { packageRoot } from '../native.js';
import { messageOf } from '../errors.js';
import { concurrencyFromEnv } from '../concurrency.js';
import { imageCommand } from './image-group.js';

type Registrar = (program: Command) => void;

/**
 * Which module defines which commands, in help order. A command line loads only the module of the
 * command it runs: a pull does not load the encapsulation, the example OS, the deploy code or the
 * progress bars it does not draw (memory, issue 19). Help, `help-all`, an unknown or misspelt
 * command: all of them.
 */
const MODULES: { commands: string[][]; load: () => Promise<Registrar> }[] = [
  { commands: [['demo']], load: async () => (await import('./demo.js')).registerDemo },
  { commands: [['compare']], load: async () => (await import('./compare.js')).registerCompare },
  { commands: [['encapsulate'], ['export']], load: async () => (await import('./encapsulate.js')).registerEncapsulate },
  { commands: [['unencapsulate']], load: async () => (await import('./unencapsulate.js')).registerUnencapsulate },
  {
    commands: [['image', 'pull']],
    load: async () => {
      const { registerImagePull } = await import('./image-pull.js');
      return (program) => registerImagePull(imageCommand(program));
    },
  },
  { commands: [['image']], load: async () => (await import('./image.js')).registerImage },
  { commands: [['image', 'deploy'], ['image', 'prune-images']], load: async () => (await import('./deploy.js')).registerDeploy },
  { commands: [['tar']], load: async () => (await import('./tar.js')).registerTar },
  { commands: [['info']], load: async () => (await import('./info.js')).registerInfo },
  { commands: [['install-ostree-ext']], load: async () => (await import('./install-ostree-ext.js')).registerInstallOstreeExt },
  { commands: [['commit'], ['ima-sign']], load: async () => (await import('./build.js')).registerBuild },
];

/** The modules `args` needs: the most specific match of its leading words, none for `--version`, else all. */
function modulesFor(args: string[] | undefined): typeof MODULES {
  if (!args) return MODULES;
  if (args[0] === '--version' || args[0] === '-V') return [];
  const [a, b] = args;
  const exact = MODULES.filter((m) => m.commands.some((c) => c.length === 2 && c[0] === a && c[1] === b));
  if (exact.length > 0) return exact;
  // `image` with no subcommand or an option (its help) needs every module adding to it.
  const group = MODULES.filter((m) => m.commands.some((c) => c[0] === a));
  if (b === undefined || b.startsWith('-')) return group.length > 0 ? group : MODULES;
  const single = group.filter((m) => m.commands.some((c) => c.length === 1));
  return single.length > 0 ? single : MODULES;
}

/** Whether `program` defines the command `args` starts with (a word that is not one falls back to all modules). */
function defines(program: Command, args: string[]): boolean {
  let cmd = program;
  for (const word of args.slice(0, 2)) {
    if (word.startsWith('-')) return true;
    const sub = cmd.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (!sub) return cmd.commands.length === 0;
    cmd = sub;
  }
  return true;
}

/** The program with the commands `args` needs (every command when `args` is absent). */
export async function buildProgram(args?: string[]): Promise<Command> {
  let program = await programWith(modulesFor(args));
  if (args && !defines(program, args)) program = await programWith(MODULES);
  return program;
}

async function programWith(modules: typeof MODULES): Promise<Command> {
  const pkg = JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string };
  const program = new Command('ostree-container')
    .description('Bridge OSTree commits and OCI container images')
    .version(pkg.version)
    .showHelpAfterError()
    .exitOverride();
  for (const register of await Promise.all(modules.map((m) => m.load()))) register(program);
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
  // `ostree container …` runs us as `ostree-container container …` (ostree's external-command
  // lookup); upstream's command tree also nests under `container`.
  const args = argv[0] === 'container' ? argv.slice(1) : argv;
  try {
    concurrencyFromEnv();
    const program = await buildProgram(args);
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
