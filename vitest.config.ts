import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // npm run coverage: what the tests run of src/, per folder and file. The built CLI that
    // end-to-end tests spawn is another process and counts nothing; the in-process tests cover the CLI.
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      reporter: [['text', { skipFull: false }], ['text-summary'], ['json-summary']],
      reportsDirectory: 'coverage',
    },
  },
});
