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

const program = await buildProgram();
const all = commandPaths(program);

describe('CLI help', () => {
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
    expect(r).toEqual({ code: 0, stdout: helpAll(await buildProgram()), stderr: '' });
    for (const { cmd } of all) expect(r.stdout).toContain(cmd.helpInformation());
    expect(r.stdout).toContain('--format-version <n>');
    expect(r.stdout).toMatch(/--compression <type>\s+layer compression \(default: gzip\) \(choices:\s+"gzip", "gzip-fast", "zstd", "none"\)/);
  });

  it('a command line loads only the module of its command; that command and its help are the same', async () => {
    const names = (c: Command) => c.commands.map((x) => x.name());
    for (const { path, cmd } of all) {
      const lazy = commandPaths(await buildProgram([...path, 'ARG'])).find((c) => c.path.join(' ') === path.join(' '));
      expect(lazy?.cmd.helpInformation(), path.join(' ')).toBe(cmd.helpInformation());
    }
    const pull = await buildProgram(['image', 'pull', 'REPO', 'IMGREF']);
    expect([names(pull), names(pull.commands[0]!)]).toEqual([['image', 'help-all'], ['pull']]);
    const list = await buildProgram(['image', 'list', '--repo', 'R']);
    expect(names(list.commands[0]!)).toEqual(expect.arrayContaining(['list', 'history', 'replace-detached-metadata']));
    expect(names(list.commands[0]!)).not.toContain('pull');
    expect(names(await buildProgram(['--version']))).toEqual(['help-all']);
    // A group's help: its every subcommand; help, an unknown or misspelt command: everything, so
    // commander can list and suggest.
    const image = (p: Command) => p.commands.find((c) => c.name() === 'image')!;
    for (const args of [['image'], ['image', '--help']]) expect(names(image(await buildProgram(args))), args.join(' ')).toEqual(names(image(program)));
    for (const args of [[], ['--help'], ['image', 'pul'], ['nope'], ['help', 'image']]) {
      expect(commandPaths(await buildProgram(args)).length, args.join(' ')).toBe(all.length);
    }
    expect(await runCli('image', 'pul')).toMatchObject({ code: 1, stderr: expect.stringContaining("(Did you mean pull?)") });
  });
});
