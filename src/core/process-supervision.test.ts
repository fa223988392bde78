import { describe, expect, it } from 'vitest';
import { S, T0 } from './fixtures.js';
import type { SupervisionPolicy, SupervisionState } from './process-supervision.js';
import {
  afterRecovery,
  decideCheck,
  initialSupervision,
  restartDelay,
} from './process-supervision.js';

const policy: SupervisionPolicy = {
  unhealthyAfter: 2,
  backoff: { initialMs: 1 * S, maxMs: 5 * S, resetAfterMs: 60 * S },
  giveUpAfter: 3,
};
const unhealthy = { verdict: 'timed_out' as const, inGrace: false };
const healthy = { verdict: 'healthy' as const, inGrace: false };
const state = (over: Partial<SupervisionState> = {}): SupervisionState => ({
  ...initialSupervision(),
  ...over,
});

describe('decideCheck', () => {
  it.each([
    ['one unhealthy check only counts', state(), unhealthy, 'none', 1, []],
    [
      'the Nth in a row recovers',
      state({ consecutiveUnhealthy: 1 }),
      unhealthy,
      'recover',
      2,
      ['unhealthy'],
    ],
    [
      'within the startup grace nothing counts',
      state({ consecutiveUnhealthy: 1 }),
      { verdict: 'no_heartbeat' as const, inGrace: true },
      'none',
      1,
      [],
    ],
    [
      'an error status counts even in grace',
      state({ consecutiveUnhealthy: 1 }),
      { verdict: 'error_status' as const, inGrace: false },
      'recover',
      2,
      ['unhealthy'],
    ],
    [
      'a healthy check resets the count',
      state({ consecutiveUnhealthy: 1 }),
      healthy,
      'none',
      0,
      [],
    ],
    [
      'healthy after an unhealthy episode is a recovery',
      state({ consecutiveUnhealthy: 0, unhealthySince: T0 - S }),
      healthy,
      'none',
      0,
      ['recovered'],
    ],
    [
      'off: never acts',
      state({ enabled: false, consecutiveUnhealthy: 5 }),
      unhealthy,
      'none',
      0,
      [],
    ],
    [
      'within the backoff: waits',
      state({ consecutiveUnhealthy: 2, unhealthySince: T0, nextRestartAt: T0 + 1 }),
      unhealthy,
      'none',
      3,
      [],
    ],
    [
      'at the end of the backoff: recovers',
      state({ consecutiveUnhealthy: 2, unhealthySince: T0, nextRestartAt: T0, streak: 1 }),
      unhealthy,
      'recover',
      3,
      [],
    ],
    [
      'restarts used up: gives up',
      state({ consecutiveUnhealthy: 2, unhealthySince: T0, streak: 3 }),
      unhealthy,
      'give_up',
      3,
      ['gave_up'],
    ],
    [
      'gave up: stays put',
      state({ consecutiveUnhealthy: 2, unhealthySince: T0, gaveUp: true }),
      unhealthy,
      'none',
      3,
      [],
    ],
  ])('%s', (_what, before, judgement, action, count, events) => {
    const decision = decideCheck(before, judgement, policy, T0);
    expect(decision.action.kind).toBe(action);
    expect(decision.state.consecutiveUnhealthy).toBe(count);
    expect(decision.events).toEqual(events);
  });

  it('a process healthy for resetAfter since its last restart starts its backoff over', () => {
    const before = state({
      streak: 2,
      lastRestartAt: T0,
      nextRestartAt: T0 + 2 * S,
      gaveUp: false,
    });
    expect(decideCheck(before, healthy, policy, T0 + 59 * S).state.streak).toBe(2);
    expect(decideCheck(before, healthy, policy, T0 + 60 * S).state).toMatchObject({
      streak: 0,
      nextRestartAt: null,
    });
  });
});

describe('afterRecovery and restartDelay', () => {
  it('doubles from 1 s to the cap', () => {
    expect([1, 2, 3, 4, 5].map((n) => restartDelay(policy, n))).toEqual(
      [1, 2, 4, 5, 5].map((n) => n * S),
    );
  });

  it('a successful restart waits out the backoff with fresh checks; a failed one keeps its count', () => {
    const before = state({ consecutiveUnhealthy: 2, unhealthySince: T0 });
    expect(afterRecovery(before, { succeeded: true }, policy, T0).state).toMatchObject({
      streak: 1,
      consecutiveUnhealthy: 0,
      lastRestartAt: T0,
      nextRestartAt: T0 + S,
      gaveUp: false,
    });
    expect(afterRecovery(before, { succeeded: false }, policy, T0).state).toMatchObject({
      streak: 1,
      consecutiveUnhealthy: 2,
      nextRestartAt: T0 + S,
    });
  });

  it('the last allowed restart failing gives up at once; succeeding gets its chance', () => {
    const before = state({ streak: 2 });
    expect(afterRecovery(before, { succeeded: false }, policy, T0).events).toEqual(['gave_up']);
    expect(afterRecovery(before, { succeeded: true }, policy, T0)).toMatchObject({
      events: [],
      state: { gaveUp: false, streak: 3 },
    });
  });
});
