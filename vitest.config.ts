import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Generous bounds, not expectations: on a busy 2-core machine (CI runs beside other work) a
    // test that waits for real processes can take many times its usual seconds. Tests wait for
    // conditions; these only bound how long a broken one takes to fail.
    testTimeout: 120_000,
    // Most of the suite waits on real processes, servers and databases rather than computing:
    // two files at a time keep both cores of a small CI machine busy (Vitest's default would run
    // one file at a time there). A test that fails beside another file is a defect, as one that
    // fails beside CPU hogs is.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    hookTimeout: 120_000,
  },
});
