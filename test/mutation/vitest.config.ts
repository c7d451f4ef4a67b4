// The vitest configuration Stryker runs (stryker.config.mjs): the suite's own, with two changes.
// - Only the mutated module's test files (passed by stryker.config.mjs in the environment).
// - Forks: the StrykerJS vitest runner forces `pool: 'threads'`, where the tests would share one
//   process (fd and child-process leak checks see each other, and `process.env` is a per-thread
//   copy that native code and libc never see); each project goes back to forks once resolved.
import { mergeConfig } from 'vitest/config';
import base from '../../vitest.config.js';

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
const include = process.env.OSTREE_CONTAINER_MUTATION_TESTS;
// Replaced, not merged (mergeConfig would append to the suite's `include`).
if (include) config.test!.include = JSON.parse(include) as string[];

export default config;
