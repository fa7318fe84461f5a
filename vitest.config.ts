import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Native addon + LMDB env registry per process: isolate files in forks.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Crash and multi-process tests start many processes; two cores here.
    maxWorkers: 2
  }
})
