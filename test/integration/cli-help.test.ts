// The command line as users and scripts see it (spec store §6, README "CLI at a glance"): every
// command, its usage line and its options, written out here independently of the definitions the
// parser uses, checked against what `--help` and `help-all` really print. A command or option
// added, removed or renamed fails here until this table (the documented surface) says so too.
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';
import { runCli } from '../helpers/cli.js';

/** Proxy options (spec §6 `P`). */
const P = ['--auth-anonymous', '--authfile <path>', '--cert-dir <dir>', '--insecure-skip-tls-verification'];
const HELP = '-h, --help';
/** Pull options (image pull, image deploy). */
const PULL = ['--fetch-concurrency <n>', '--offline', '--no-space-check', '--progress-fd <fd>'];

/** Command path → the usage after `Usage: ostree-container `, and every option's flags. */
const EXPECTED: Record<string, { usage: string; options: string[] }> = {
  '': { usage: '[options] [command]', options: ['-V, --version', HELP] },
  demo: { usage: 'demo [options]', options: ['--repo <dir>', '--mode <mode>', '--dest <imgref>', '--compression <type>', '--list', HELP] },
  compare: { usage: 'compare [options] <old> <new>', options: ['--json', ...P, HELP] },
  encapsulate: {
    usage: 'encapsulate|export [options] <rev> <imgref>',
    options: [
      '--repo <path>', '-l, --label <key=value>', '--authfile <path>', '--config <path>', '--copymeta <key>', '--copymeta-opt <key>',
      '--cmd <arg>', '--compression-fast', '--compression <type>', '--contentmeta <path>', '--max-layers <n>',
      '--chunking <mode>', '--big-file-threshold <size>', '--previous-build-manifest <path>', '--upstream-gzip', '--created <time>',
      '--insecure-skip-tls-verification', '--cert-dir <dir>', '--auth-anonymous', HELP,
    ],
  },
  unencapsulate: { usage: 'unencapsulate|import [options] <imgref>', options: ['--repo <path>', '--write-ref <ref>', '--quiet', ...P, HELP] },
  image: { usage: 'image [options] [command]', options: [HELP] },
  'image pull': { usage: 'image pull [options] <repo> <imgref>', options: ['--quiet', '--check <path>', '--progress <mode>', '--download-only', ...P, ...PULL, HELP] },
  'image list': { usage: 'image list [options]', options: ['--repo <path>', HELP] },
  'image history': { usage: 'image history [options] <imgref>', options: ['--repo <path>', HELP] },
  'image metadata': { usage: 'image metadata [options] <imgref>', options: ['--repo <path>', '--config', HELP] },
  'image clear-cached-update': { usage: 'image clear-cached-update [options] <imgref>', options: ['--repo <path>', HELP] },
  'image remove': { usage: 'image remove [options] <imgrefs...>', options: ['--repo <path>', '--skip-gc', HELP] },
  'image prune-layers': { usage: 'image prune-layers [options]', options: ['--repo <path>', HELP] },
  'image copy': { usage: 'image copy [options] <imgref>', options: ['--src-repo <path>', '--dest-repo <path>', HELP] },
  'image reexport': { usage: 'image reexport [options] <src> <dest>', options: ['--repo <path>', '--authfile <path>', '--compression-fast', HELP] },
  'image replace-detached-metadata': {
    usage: 'image replace-detached-metadata [options] [contents]',
    options: ['--src <imgref>', '--dest <imgref>', '--authfile <path>', '--insecure-skip-tls-verification', HELP],
  },
  'image deploy': {
    usage: 'image deploy [options]',
    options: [
      '--sysroot <path>', '--stateroot <name>', '--imgref <ostree-imgref>', '--image <name>', '--transport <transport>',
      '--no-signature-verification', '--enforce-container-sigpolicy', '--ostree-remote <remote>', ...P, ...PULL,
      '--target-imgref <ostree-imgref>', '--no-imgref', '--karg <arg>', '--write-commitid-to <path>', HELP,
    ],
  },
  'image prune-images': { usage: 'image prune-images [options]', options: ['--sysroot <path>', '--and-layers', '--full', HELP] },
  tar: { usage: 'tar [options] [command]', options: [HELP] },
  'tar import': { usage: 'tar import [options] [path]', options: ['--repo <path>', HELP] },
  'tar export': { usage: 'tar export [options] <rev>', options: ['--repo <path>', '--format-version <n>', HELP] },
  info: { usage: 'info [options] <imgref>', options: [...P, HELP] },
  'install-ostree-ext': { usage: 'install-ostree-ext [options]', options: ['--prefix <dir>', '--force', HELP] },
  commit: { usage: 'commit [options]', options: [HELP] },
  'ima-sign': { usage: 'ima-sign [options] <src-rev> <target-ref> <algorithm> <key>', options: ['--repo <path>', '--overwrite', HELP] },
  'help-all': { usage: 'help-all [options]', options: [HELP] },
};

/** Every command below `cmd` as its path of names, depth first. */
function commandPaths(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands.flatMap((c) => [[...prefix, c.name()], ...commandPaths(c, [...prefix, c.name()])]);
}

/** The flags of each line of the `Options:` section of a help text, in order. */
function optionFlags(help: string): string[] {
  const section = help.split(/^Options:\n/m)[1]?.split(/^\S.*:\n/m)[0] ?? '';
  return [...section.matchAll(/^ {2}(-\S.*?)(?: {2,}|$)/gm)].map((m) => m[1]!);
}

const program = await buildProgram();
const all = commandPaths(program);

describe('CLI help', () => {
  it('the commands are the documented ones, no more, no fewer', () => {
    expect(['', ...all.map((p) => p.join(' '))].sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [path, { usage, options }] of Object.entries(EXPECTED)) {
    it(`${path || '(program)'} --help: usage line and options`, async () => {
      const argv = path === '' ? ['--help'] : [...path.split(' '), '--help'];
      const r = await runCli(...argv);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.stdout.split('\n')[0]).toBe(`Usage: ostree-container ${usage}`);
      expect(optionFlags(r.stdout)).toEqual(options);
    });
  }

  it('help-all prints the program help and every command help, in command order', async () => {
    const r = await runCli('help-all');
    expect(r.code).toBe(0);
    const usages = r.stdout.split('\n').filter((l) => l.startsWith('Usage: ')).map((l) => l.slice('Usage: ostree-container '.length));
    expect(usages).toEqual(['', ...all.map((p) => p.join(' '))].map((p) => EXPECTED[p]!.usage));
    for (const p of Object.keys(EXPECTED).filter((k) => k !== '')) {
      expect(r.stdout).toContain((await runCli(...p.split(' '), '--help')).stdout);
    }
    expect(r.stdout).toMatch(/--compression <type>\s+layer compression \(default: gzip\) \(choices:\s+"gzip", "gzip-fast", "zstd", "none"\)/);
    expect(r.stdout).toMatch(/--progress <mode>\s+progress display: [^]*\(choices: "auto", "bars", "plain", "json",\s+"none", default: "auto"\)/);
  });

  it('an unknown command or option is an error naming it, with the help hint', async () => {
    const r = await runCli('image', 'nosuchcommand');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: unknown command 'nosuchcommand'/);
    expect(r.stderr).toContain('Usage: ostree-container image [options] [command]');
    const o = await runCli('image', 'list', '--repo', '/nonexistent', '--nosuchoption');
    expect(o.code).toBe(1);
    expect(o.stderr).toMatch(/^error: unknown option '--nosuchoption'\n\nUsage: ostree-container image list \[options\]\n/);
  });

  it('a command line loads only the module of its command; that command and its help are the same', async () => {
    const names = (c: Command) => c.commands.map((x) => x.name());
    const find = (p: Command, path: string[]) => path.reduce<Command | undefined>((c, n) => c?.commands.find((x) => x.name() === n), p);
    for (const path of all) {
      const lazy = find(await buildProgram([...path, 'ARG']), path);
      expect(lazy?.helpInformation(), path.join(' ')).toBe(find(program, path)!.helpInformation());
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
