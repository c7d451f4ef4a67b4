// The vitest configuration Stryker runs (stryker.config.mjs): the suite's own, with three changes.
// - Only the mutated module's test files (passed by stryker.config.mjs in the environment).
// - Forks: the StrykerJS vitest runner forces `pool: 'threads'`, where the tests would share one
//   process (fd and child-process leak checks see each other, and `process.env` is a per-thread
//   copy that native code and libc never see); each project goes back to forks once resolved.
// - A test file or `describe` that fails while it is being collected (a mutant that breaks loading
//   a module, or code a `describe` body runs), or in a `beforeAll`/`afterAll` hook (its tests are
//   then skipped), counts as a failed test: the runner only looks at tests, so such a mutant would
//   otherwise "survive" although the suite fails.
import type { RunnerTask, RunnerTestCase, RunnerTestSuite } from 'vitest';
import { mergeConfig } from 'vitest/config';
import type { Reporter, TestModule } from 'vitest/node';
import base from '../../vitest.config.js';

function hasFailedTest(suite: RunnerTestSuite): boolean {
  return suite.tasks.some((t: RunnerTask) => (t.type === 'test' && t.result?.state === 'fail') || (t.type === 'suite' && hasFailedTest(t)));
}

/** Adds a failed test to every suite that failed with no failed test to show for it. */
function surfaceCollectionFailures(suite: RunnerTestSuite): void {
  for (const t of suite.tasks) if (t.type === 'suite') surfaceCollectionFailures(t);
  if (suite.result?.state !== 'fail' || hasFailedTest(suite)) return;
  const failed = { type: 'test', name: '(collecting the tests, or a hook)', mode: 'run', suite, file: suite.file, result: { state: 'fail', errors: suite.result.errors } };
  suite.tasks.push(failed as unknown as RunnerTestCase);
}

const collectionFailures: Reporter = {
  onTestRunEnd(modules: ReadonlyArray<TestModule>) {
    for (const m of modules) surfaceCollectionFailures(m.task);
  },
};

const config = mergeConfig(base, {
  plugins: [
    {
      name: 'ostree-container:forks-under-stryker',
      configureVitest({ project }: { project: { config: { pool: string } } }) {
        project.config.pool = 'forks';
      },
    },
  ],
});
config.test!.reporters = [...((config.test!.reporters as unknown[]) ?? []), collectionFailures] as typeof config.test.reporters;
const include = process.env.OSTREE_CONTAINER_MUTATION_TESTS;
// Replaced, not merged (mergeConfig would append to the suite's `include`).
if (include) config.test!.include = JSON.parse(include) as string[];

export default config;
