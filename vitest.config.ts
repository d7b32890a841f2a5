import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // the integration project's globalSetup removes its Docker hosts in teardown
    teardownTimeout: 120_000,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/integration/globalSetup.ts'],
          testTimeout: 300_000,
          hookTimeout: 600_000,
          // test files share the Docker hosts (and two cores): one file at a time
          fileParallelism: false,
        },
      },
    ],
  },
});
