import type { Command } from 'commander';

/** `demo`: the README's main job on the built-in example OS (grows with each issue). */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('Run the main job on the built-in example OS commit')
    .action(() => {
      throw new Error('demo: not implemented yet');
    });
}
