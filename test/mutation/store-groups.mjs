// Stryker on src/store one group of files at a time, each with the test files that reach the
// group inside their tests (test/MUTATION.md, store):
//   npm run build:ts && STORE_GROUP=pure npx stryker run test/mutation/store-groups.mjs
// Why not `npm run mutate -- --mutate 'src/store/…'`: code that a test file's beforeAll runs (a
// pull that several tests then look at) makes its mutants "static", and Stryker runs each static
// mutant against every test file of the module (40–110 s here): hours for the store. These sets
// leave out the files that pull in a beforeAll, or (kept) skip the static mutants.
import base from '../../stryker.config.mjs';

const unit = ['test/unit/store-*.test.ts'];
const GROUPS = {
  // plan, progress, layer reuse, free space, keyfile, prepare-root, the prepared plan.
  pure: { files: ['plan', 'progress', 'layer-reuse', 'fetch-concurrency', 'free-space', 'keyfile', 'prepare-root', 'prepared'], tests: unit },
  // State, GC, reexport, copy and the merge commit; every store test file here pulls in a
  // beforeAll, so the static mutants are left out (ignoreStatic).
  kept: {
    files: ['state', 'maintenance', 'export', 'copy', 'merge'],
    tests: [
      ...unit,
      'test/unit/merge-metadata.test.ts',
      ...['store', 'store-query', 'store-gc', 'store-reexport', 'store-merge', 'store-upstream', 'store-layered', 'store-cli', 'image-pull-cli'].map((f) => `test/integration/${f}.test.ts`),
    ],
    ignoreStatic: true,
  },
  // The pull: importer, pipeline, derived layers; test files that pull inside their tests.
  pull: {
    files: ['pipeline', 'derived', 'importer'],
    tests: [
      ...unit,
      ...['store', 'store-pull', 'store-import-checks', 'store-faults', 'blob-streams', 'store-derived', 'store-derived-hardlinks', 'store-merge', 'store-upstream', 'outcomes'].map((f) => `test/integration/${f}.test.ts`),
    ],
  },
};

const name = process.env.STORE_GROUP ?? '';
const group = GROUPS[name];
if (!group) throw new Error(`STORE_GROUP=${name}: not one of ${Object.keys(GROUPS).join(', ')}`);
// Read by test/mutation/vitest.config.ts in the test processes.
process.env.OSTREE_CONTAINER_MUTATION_TESTS = JSON.stringify(group.tests);

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  ...base,
  mutate: group.files.map((f) => `src/store/${f}.ts`),
  ignoreStatic: group.ignoreStatic ?? false,
  incrementalFile: `reports/mutation/store-${name}.incremental.json`,
  htmlReporter: { fileName: `reports/mutation/store-${name}.html` },
  jsonReporter: { fileName: `reports/mutation/store-${name}.json` },
  tempDirName: `.stryker-tmp/store-${name}`,
};
