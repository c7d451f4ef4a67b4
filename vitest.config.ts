import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each test file runs in its own process: the addon, temp repos and child processes
    // (skopeo, the registry) stay isolated.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 300_000,
    reporters: ['default', './test/summary-reporter.ts'],
    // scripts/test-asan.sh: keep the preloaded ASan runtime out of the programs tests start
    setupFiles: process.env.OSTREE_CONTAINER_ASAN ? ['./test/helpers/asan-env.ts'] : [],
  },
});
