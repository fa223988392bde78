import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Generous bounds, not expectations: on a busy 2-core machine (CI runs beside other work) a
    // test that waits for real processes can take many times its usual seconds. Tests wait for
    // conditions; these only bound how long a broken one takes to fail.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
