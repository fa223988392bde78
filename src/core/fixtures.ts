import type { Execution, Policy } from './types.js';

// Test fixtures (not exported from the package).

/** Minute and second in milliseconds, for readable tables. */
export const S = 1_000;
export const M = 60_000;
/** A fixed origin: every table states its times relative to it. */
export const T0 = 1_767_268_800_000; // 2026-01-01T12:00:00Z

/** A running execution started at T0 with a 15-minute run limit and nothing else. */
export function execution(overrides: Partial<Execution> = {}): Execution {
  return {
    id: 'ex-1',
    kind: 'embed',
    owner: null,
    parentId: null,
    status: 'running',
    attempt: 1,
    queuedAt: T0,
    startedAt: T0,
    heartbeatAt: null,
    progressAt: null,
    endedAt: null,
    deadlineAt: null,
    limits: { run: 15 * M, heartbeat: null, progress: null, queue: null },
    progress: null,
    reason: null,
    verdict: null,
    endedBy: null,
    result: null,
    error: null,
    lateResult: null,
    metadata: {},
    createdAt: T0,
    ...overrides,
  };
}

export const policy = (overrides: Partial<Policy> = {}): Policy => ({
  dispatchGraceMs: 60 * S,
  retry: { maxAttempts: 1, backoffMs: 10 * S, maxBackoffMs: 10 * M },
  ...overrides,
});
