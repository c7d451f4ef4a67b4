// The `image` command group, shared by the modules that add subcommands to it.
import type { Command } from 'commander';

/** The `image` command group (created once; other files add subcommands to it). */
export function imageCommand(program: Command): Command {
  return program.commands.find((c) => c.name() === 'image') ?? program.command('image').description('Operations on container images');
}
