// Stryker on one module a group of files at a time (test/MUTATION.md): the group named by an
// environment variable, its files mutated (`file` or `file:lines`), only its test files run, and
// its own incremental file, reports and sandbox, so a group can be run and re-run on its own.
import base from '../../stryker.config.mjs';

/**
 * The configuration for `module`'s group `process.env[variable]` of `groups` (name → { files,
 * tests, ignoreStatic?, timeoutMS? }); `defaults` apply to every group.
 * @returns {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export function groupConfig(module, variable, groups, defaults = {}) {
  const name = process.env[variable] ?? '';
  const group = groups[name];
  if (!group) throw new Error(`${variable}=${name}: not one of ${Object.keys(groups).join(', ')}`);
  // Read by test/mutation/vitest.config.ts in the test processes.
  process.env.OSTREE_CONTAINER_MUTATION_TESTS = JSON.stringify(group.tests);
  const { files, tests: _tests, ...options } = group;
  return {
    ...base,
    ...defaults,
    ...options,
    mutate: files.map((f) => {
      const [file, lines] = f.split(':');
      return `src/${module}/${file}.ts${lines ? `:${lines}` : ''}`;
    }),
    incrementalFile: `reports/mutation/${module}-${name}.incremental.json`,
    htmlReporter: { fileName: `reports/mutation/${module}-${name}.html` },
    jsonReporter: { fileName: `reports/mutation/${module}-${name}.json` },
    tempDirName: `.stryker-tmp/${module}-${name}`,
  };
}
