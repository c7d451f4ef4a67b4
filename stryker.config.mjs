// Mutation testing (StrykerJS + its vitest runner) of the modules whose mistakes would store or
// deploy something wrong. `npm run mutate` runs every module; one at a time:
//   npm run mutate -- --mutate 'src/ref/**'
// Only the test files that exercise the mutated module run (TESTS below), and each mutant only
// with the tests that reach it (per-test coverage). Results: test/MUTATION.md.

/** The test files that pin each module's behaviour. */
const TESTS = {
  ref: ['test/unit/ref-*.test.ts'],
  oci: ['test/unit/oci-*.test.ts', 'test/unit/manifest-diff.test.ts', 'test/integration/oci-skopeo.test.ts'],
  deploy: ['test/integration/deploy*.test.ts', 'test/integration/sysroot.test.ts'],
  proxy: ['test/unit/proxy-*.test.ts', 'test/integration/proxy*.test.ts', 'test/integration/signed-image.test.ts'],
  store: [
    'test/unit/store-*.test.ts',
    'test/unit/merge-metadata.test.ts',
    'test/integration/store*.test.ts',
    'test/integration/image-pull-cli.test.ts',
    'test/integration/blob-streams.test.ts',
    'test/integration/upstream-fixtures.test.ts',
    'test/integration/outcomes.test.ts',
  ],
  container: [
    'test/unit/auto-chunking.test.ts',
    'test/unit/chunking.test.ts',
    'test/unit/constants.test.ts',
    'test/unit/content-meta.test.ts',
    'test/unit/dpkg-db.test.ts',
    'test/unit/encapsulate.test.ts',
    'test/unit/layer-plan.test.ts',
    'test/unit/manifest-diff.test.ts',
    'test/unit/rpm-blobs.test.ts',
    'test/unit/rpm-db.test.ts',
    'test/unit/rpm-header.test.ts',
    'test/unit/sqlite-db.test.ts',
    'test/integration/auto-chunking.test.ts',
    'test/integration/encapsulate.test.ts',
    'test/integration/encapsulate-registry.test.ts',
    'test/integration/encapsulate-tar-cli.test.ts',
    'test/integration/unencapsulate.test.ts',
    'test/integration/upstream-fixtures.test.ts',
    'test/integration/tar-detached.test.ts',
    'test/integration/image-detached-metadata.test.ts',
  ],
};

/** The `--mutate` globs given on the command line (the modules to test), if any. */
function mutateArgs() {
  const out = [];
  const argv = process.argv;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--mutate' || argv[i] === '-m') out.push(...(argv[i + 1] ?? '').split(','));
    else if (argv[i].startsWith('--mutate=')) out.push(...argv[i].slice('--mutate='.length).split(','));
  }
  return out;
}

const modules = Object.keys(TESTS);
const asked = mutateArgs();
const chosen = asked.length === 0 ? modules : modules.filter((m) => asked.some((g) => g.startsWith(`src/${m}/`) || g === `src/${m}`));
if (asked.length > 0 && chosen.length === 0) throw new Error(`--mutate ${asked.join(',')}: not one of src/{${modules.join(',')}}/**`);

// One module: its own incremental file and reports, so modules can be run (and re-run) apart.
const name = chosen.length === 1 ? chosen[0] : 'all';

// The test files reach the test processes as vitest's `include` (test/mutation/vitest.config.ts),
// not as Stryker's `testFiles`: with `testFiles` set, Stryker 9.6 activates static mutants (module-
// level constants) only after the modules were loaded, so they all "survive".
process.env.OSTREE_CONTAINER_MUTATION_TESTS = JSON.stringify([...new Set(chosen.flatMap((m) => TESTS[m]))]);

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'test/mutation/vitest.config.ts', related: false },
  mutate: modules.map((m) => `src/${m}/**/*.ts`),
  coverageAnalysis: 'perTest',
  // 2 cores shared with other work: one test process at a time.
  concurrency: 1,
  incremental: true,
  incrementalFile: `reports/mutation/${name}.incremental.json`,
  // Integration tests start skopeo, registries and sysroots: give a mutant what a slow run takes.
  timeoutMS: 60_000,
  timeoutFactor: 2,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: `reports/mutation/${name}.html` },
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  ignorePatterns: ['build-asan', 'bench/work', 'docs', 'reports'],
  tempDirName: `.stryker-tmp/${name}`,
  cleanTempDir: 'always',
};
