// The vitest configuration Stryker runs (stryker.config.mjs): the suite's own, except that the
// StrykerJS vitest runner forces `pool: 'threads'`. In worker threads the tests would share one
// process (fd and child-process leak checks see each other, `process.env` is a per-thread copy that
// native code and libc never see), so each project is put back on forks once its config is resolved.
import { mergeConfig } from 'vitest/config';
import base from '../../vitest.config.js';

export default mergeConfig(base, {
  plugins: [
    {
      name: 'ostree-container:forks-under-stryker',
      configureVitest({ project }: { project: { config: { pool: string } } }) {
        project.config.pool = 'forks';
      },
    },
  ],
});
