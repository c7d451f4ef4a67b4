// Every command answers --help, and `help-all` prints exactly those texts: the help is generated
// from the command definitions, so it cannot drift from the code.
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram, helpAll } from '../../src/cli/main.js';
import { runCli } from '../helpers/cli.js';

/** Every command below `cmd` as its path of names, depth first. */
function commandPaths(cmd: Command, prefix: string[] = []): { path: string[]; cmd: Command }[] {
  return cmd.commands.flatMap((c) => [{ path: [...prefix, c.name()], cmd: c }, ...commandPaths(c, [...prefix, c.name()])]);
}

describe('CLI help', () => {
  const program = buildProgram();
  const all = commandPaths(program);

  it('covers the commands of the README', () => {
    expect(all.map((c) => c.path.join(' '))).toEqual(expect.arrayContaining([
      'demo', 'compare', 'encapsulate', 'unencapsulate', 'image replace-detached-metadata', 'tar import', 'tar export', 'info',
      'install-ostree-ext', 'commit', 'ima-sign', 'help-all',
    ]));
  });

  it('--help works for every command and prints its generated help', async () => {
    for (const { path, cmd } of all) {
      const r = await runCli(...path, '--help');
      expect(r, path.join(' ')).toEqual({ code: 0, stdout: cmd.helpInformation(), stderr: '' });
      expect(r.stdout).toMatch(new RegExp(`^Usage: ostree-container ${path.join(' ')}`));
    }
  });

  it('help-all prints the program help and every command help', async () => {
    const r = await runCli('help-all');
    expect(r).toEqual({ code: 0, stdout: helpAll(buildProgram()), stderr: '' });
    for (const { cmd } of all) expect(r.stdout).toContain(cmd.helpInformation());
    expect(r.stdout).toContain('--format-version <n>');
    expect(r.stdout).toMatch(/--compression <type>\s+layer compression \(default: gzip\) \(choices:\s+"gzip", "gzip-fast", "zstd", "none"\)/);
  });
});
