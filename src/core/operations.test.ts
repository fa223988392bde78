import { describe, expect, it } from 'vitest';
import type { OperationMemory, OperationObservation, OperationPolicy } from './operations.js';
import { decideOperationActions, judgeOperation } from './operations.js';
import { M, S, T0 } from './fixtures.js';

const policy: OperationPolicy = { limitMs: 10 * M, running: ['running', 'in_progress'] };
const op = (o: Partial<OperationObservation> = {}): OperationObservation => ({
  id: 'op-1',
  status: 'running',
  lastUpdateAt: T0,
  ...o,
});

describe('judgeOperation: first sight', () => {
  const cases: {
    name: string;
    observed: OperationObservation;
    now: number;
    stuck: boolean;
    stuckForMs?: number | null;
    reason?: string;
  }[] = [
    { name: 'updated 9 minutes ago', observed: op(), now: T0 + 9 * M, stuck: false },
    {
      name: 'exactly at the limit is not stuck',
      observed: op(),
      now: T0 + 10 * M,
      stuck: false,
      stuckForMs: null,
    },
    {
      name: '1 ms past the limit is stuck',
      observed: op(),
      now: T0 + 10 * M + 1,
      stuck: true,
      stuckForMs: 10 * M + 1,
    },
    {
      name: 'an hour without change',
      observed: op(),
      now: T0 + 60 * M,
      stuck: true,
      stuckForMs: 60 * M,
      reason: 'running with no state change for 1h, limit 10m',
    },
    {
      name: 'another running value counts',
      observed: op({ status: 'in_progress' }),
      now: T0 + 60 * M,
      stuck: true,
    },
    {
      name: 'a finished operation is never stuck',
      observed: op({ status: 'done' }),
      now: T0 + 60 * M,
      stuck: false,
      stuckForMs: null,
      reason: 'not running',
    },
    {
      name: 'a last update in the future (skewed clock) is "just changed"',
      observed: op({ lastUpdateAt: T0 + 5 * M }),
      now: T0,
      stuck: false,
    },
    {
      name: 'without a last-update time the clock starts at first sight',
      observed: op({ lastUpdateAt: null }),
      now: T0 + 60 * M,
      stuck: false,
    },
  ];
  it.each(cases)('$name', ({ observed, now, stuck, stuckForMs, reason }) => {
    const { verdict } = judgeOperation(observed, undefined, policy, now);
    expect(verdict.stuck).toBe(stuck);
    if (stuckForMs !== undefined) expect(verdict.stuckForMs).toBe(stuckForMs);
    if (reason !== undefined) expect(verdict.reason).toBe(reason);
  });
});

describe('judgeOperation: across checks', () => {
  /** Feeds observations one after another, returning each verdict's stuck flag. */
  function sequence(steps: { at: number; observed: OperationObservation }[]) {
    let memory: OperationMemory | undefined;
    return steps.map(({ at, observed }) => {
      const judged = judgeOperation(observed, memory, policy, at);
      memory = judged.memory;
      return { stuck: judged.verdict.stuck, memory };
    });
  }

  it('without a last-update field, a status that never moves is stuck a limit after first sight', () => {
    const seen = sequence([
      { at: T0, observed: op({ lastUpdateAt: null }) },
      { at: T0 + 10 * M, observed: op({ lastUpdateAt: null }) },
      { at: T0 + 10 * M + S, observed: op({ lastUpdateAt: null }) },
    ]);
    expect(seen.map((s) => s.stuck)).toEqual([false, false, true]);
  });

  it('a status change restarts the clock and the episode', () => {
    const seen = sequence([
      { at: T0, observed: op({ lastUpdateAt: null, status: 'running' }) },
      { at: T0 + 11 * M, observed: op({ lastUpdateAt: null, status: 'running' }) },
      { at: T0 + 12 * M, observed: op({ lastUpdateAt: null, status: 'in_progress' }) },
      { at: T0 + 21 * M, observed: op({ lastUpdateAt: null, status: 'in_progress' }) },
    ]);
    expect(seen.map((s) => s.stuck)).toEqual([false, true, false, false]);
    expect(seen[2]!.memory).toMatchObject({ observedChangeAt: T0 + 12 * M, notified: false });
  });

  it('a moving last-update keeps it healthy however long it runs', () => {
    const seen = Array.from({ length: 10 }, (_, i) => ({
      at: T0 + i * 5 * M,
      observed: op({ lastUpdateAt: T0 + i * 5 * M - S }),
    }));
    expect(sequence(seen).every((s) => !s.stuck)).toBe(true);
  });

  it('remembers what was done while nothing changes and forgets it when the state moves', () => {
    const first = judgeOperation(op(), undefined, policy, T0 + 20 * M);
    const acted: OperationMemory = {
      ...first.memory,
      notified: true,
      cancelled: true,
      cancelAttempts: 1,
    };
    const same = judgeOperation(op(), acted, policy, T0 + 21 * M);
    expect(same.memory).toMatchObject({ notified: true, cancelled: true, cancelAttempts: 1 });
    const moved = judgeOperation(op({ lastUpdateAt: T0 + 21 * M }), acted, policy, T0 + 21 * M);
    expect(moved.memory).toMatchObject({ notified: false, cancelled: false, cancelAttempts: 0 });
    expect(moved.verdict.stuck).toBe(false);
  });

  it('carries its evidence', () => {
    const { verdict } = judgeOperation(op(), undefined, policy, T0 + 20 * M);
    expect(verdict.evidence).toEqual({
      operationId: 'op-1',
      status: 'running',
      lastUpdateAt: T0,
      observedChangeAt: null,
      lastChangeAt: T0,
      idleMs: 20 * M,
      limitMs: 10 * M,
    });
  });
});

describe('decideOperationActions', () => {
  const stuck = judgeOperation(op(), undefined, policy, T0 + 20 * M);
  const healthy = judgeOperation(op(), undefined, policy, T0 + M);
  const both = { notify: true, cancel: true, maxCancelAttempts: 3 };
  const cases: {
    name: string;
    judged: typeof stuck;
    memory?: Partial<OperationMemory>;
    policy?: Partial<typeof both>;
    expected: { notify: boolean; cancel: boolean };
  }[] = [
    { name: 'healthy: nothing', judged: healthy, expected: { notify: false, cancel: false } },
    { name: 'stuck, first time: both', judged: stuck, expected: { notify: true, cancel: true } },
    {
      name: 'stuck, already notified and cancelled: nothing (once per episode)',
      judged: stuck,
      memory: { notified: true, cancelled: true, cancelAttempts: 1 },
      expected: { notify: false, cancel: false },
    },
    {
      name: 'stuck, notified, the cancel failed once: cancel again, no second notice',
      judged: stuck,
      memory: { notified: true, cancelAttempts: 1 },
      expected: { notify: false, cancel: true },
    },
    {
      name: 'stuck, cancel failed as often as allowed: give up',
      judged: stuck,
      memory: { notified: true, cancelAttempts: 3 },
      expected: { notify: false, cancel: false },
    },
    {
      name: 'notify only',
      judged: stuck,
      policy: { cancel: false },
      expected: { notify: true, cancel: false },
    },
  ];
  it.each(cases)('$name', ({ judged, memory, policy: p, expected }) => {
    expect(
      decideOperationActions(judged.verdict, { ...judged.memory, ...memory }, { ...both, ...p }),
    ).toEqual(expected);
  });
});
