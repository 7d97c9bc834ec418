import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'examples/**/*.test.ts'],
    // Timeouts catch hangs, not slowness: tests that spawn processes (CLI, sandboxes) take seconds each on a loaded
    // 2-core machine, and speed is measured by `npm run bench`, never here.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
