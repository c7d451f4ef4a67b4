// Stryker on src/store one group of files at a time, each with the test files that reach the
// group inside their tests (test/MUTATION.md, store):
//   npm run build:ts && STORE_GROUP=pure npx stryker run test/mutation/store-groups.mjs
// Why not `npm run mutate -- --mutate 'src/store/…'`: code that a test file's beforeAll runs (a
// pull that several tests then look at) makes its mutants "static", and Stryker runs each static
// mutant against every test file of the module (40–110 s here): hours for the store. These sets
// leave out the files that pull in a beforeAll, or (kept) run the static mutants apart.
import { groupConfig } from './groups.mjs';

const unit = ['test/unit/store-*.test.ts'];
const importerTests = [
  ...unit,
  ...['store', 'store-pull', 'store-import-checks', 'store-import-steps', 'store-faults', 'store-upstream', 'unencapsulate'].map((f) => `test/integration/${f}.test.ts`),
];
// A pull mutant that makes a pull hang runs every pulling test: 20 s past their measured time is
// enough on a busy machine and keeps such a mutant from costing minutes.
const PULL_TIMEOUT = 20_000;
// State, GC, reexport, copy and the merge commit's metadata: the test files that reach them.
const keptTests = [
  ...unit,
  'test/unit/merge-metadata.test.ts',
  ...['store', 'store-query', 'store-gc', 'store-reexport', 'store-merge', 'store-upstream', 'store-layered', 'store-cli', 'image-pull-cli'].map((f) => `test/integration/${f}.test.ts`),
];
const GROUPS = {
  // plan, progress, layer reuse, free space, keyfile, prepare-root, the prepared plan.
  pure: { files: ['plan', 'progress', 'layer-reuse', 'fetch-concurrency', 'free-space', 'keyfile', 'prepare-root', 'prepared'], tests: unit },
  // State, GC, reexport, copy and the merge commit; every store test file here pulls in a
  // beforeAll, so the static mutants are left out (ignoreStatic) and run by kept-static-a/-b.
  kept: {
    files: ['state', 'maintenance', 'export', 'copy', 'merge'],
    tests: keptTests,
    ignoreStatic: true,
  },
  // The kept group's static mutants, all in merge.ts's document shapes (module-level constants):
  // each runs every test file above (25–46 s), so they are split in two runs of 17 and 12 min.
  // Seed each incremental file with the kept group's, so its report holds the whole group
  // (test/MUTATION.md, store).
  'kept-static-a': { files: ['merge:43-49'], tests: keptTests },
  'kept-static-b': { files: ['merge:50-55'], tests: keptTests },
  // The pull, in sub-groups that each finish in under half an hour on a shared machine (Stryker
  // keeps nothing of a stopped run). Each runs the test files that reach its code inside their
  // tests, fewest first.
  // The derived-layer wrapper: the files that call importDerivedLayer directly.
  'pull-derived': {
    files: ['derived'],
    timeoutMS: PULL_TIMEOUT,
    tests: ['store-derived', 'store-derived-hardlinks'].map((f) => `test/integration/${f}.test.ts`),
  },
  // The pipeline: fetch and import slots, the first layer's gate, the layer transactions, spools,
  // the digest, size and diff_id checks.
  'pull-pipeline': {
    files: ['pipeline'],
    // Its mutants that leave a batch uncommitted make every pulling test wait: 10 s past the
    // measured time still tells such a wait from a slow run and halves what each one costs.
    timeoutMS: 10_000,
    tests: ['blob-streams', 'store-import-checks', 'store-faults'].map((f) => `test/integration/${f}.test.ts`),
  },
  // The importer, in two halves by line: its settings, prepare() and the proxies; then the
  // pipeline's setup, the base and derived steps, the merge commit, download() and importBaseOnly().
  'pull-importer-prepare': { files: ['importer:1-309'], tests: importerTests, timeoutMS: PULL_TIMEOUT },
  'pull-importer-import': { files: ['importer:310-603'], tests: importerTests, timeoutMS: PULL_TIMEOUT },
  // The registry proxies alone (addRegistryProxies, and where the pipeline waits for them), with
  // the faults that reach them: run again after they changed, without both halves.
  'pull-importer-proxies': {
    files: ['importer:237-257', 'importer:334-378'],
    tests: [...importerTests, 'test/integration/store-import-faults.test.ts'],
    timeoutMS: PULL_TIMEOUT,
  },
};

export default groupConfig('store', 'STORE_GROUP', GROUPS);
