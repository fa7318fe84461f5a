import { defineConfig } from 'vitest/config'

// Checks against LMDB's own command-line tools (Debian lmdb-utils); not part
// of `npm test`, which needs nothing but Node and npm.
export default defineConfig({
  test: {
    include: ['interop/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000
  }
})
