import { describe, expect, it } from 'vitest';
import { M, S, T0, execution, policy } from './fixtures.js';
import { judge } from './judge.js';
import type { Execution, OwnerObservation } from './types.js';

const untracked: OwnerObservation = { kind: 'untracked' };
const limits = (l: Partial<Execution['limits']>): Execution['limits'] => ({
  run: null,
  heartbeat: null,
  progress: null,
  queue: null,
  ...l,
});

describe('judge: limits, with strict boundaries', () => {
  const cases: {
    name: string;
    execution: Partial<Execution>;
    now: number;
    verdict: string;
    reason?: string;
  }[] = [
    { name: 'run: 14 minutes into 15', execution: {}, now: T0 + 14 * M, verdict: 'healthy' },
    {
      name: 'run: exactly at the limit is healthy',
      execution: {},
      now: T0 + 15 * M,
      verdict: 'healthy',
    },
    {
      name: 'run: 1 ms past the limit',
      execution: {},
      now: T0 + 15 * M + 1,
      verdict: 'run_timeout',
    },
    {
      name: 'run: 20m 3s into 15m',
      execution: {},
      now: T0 + 20 * M + 3 * S,
      verdict: 'run_timeout',
      reason: 'ran 20m 3s, limit 15m',
    },
    {
      name: 'heartbeat: exactly at the limit since the last beat',
      execution: { limits: limits({ heartbeat: 2 * M }), heartbeatAt: T0 + 5 * M },
      now: T0 + 7 * M,
      verdict: 'healthy',
    },
    {
      name: 'heartbeat: past the limit since the last beat',
      execution: { limits: limits({ heartbeat: 2 * M }), heartbeatAt: T0 + 5 * M },
      now: T0 + 7 * M + 5 * S,
      verdict: 'heartbeat_lost',
      reason: 'no heartbeat for 2m 5s, limit 2m',
    },
    {
      name: 'heartbeat: never beaten counts from the start',
      execution: { limits: limits({ heartbeat: 2 * M }) },
      now: T0 + 2 * M + 1,
      verdict: 'heartbeat_lost',
    },
    {
      name: 'progress: exactly at the limit',
      execution: {
        limits: limits({ progress: 10 * M }),
        progressAt: T0 + M,
        heartbeatAt: T0 + 11 * M,
      },
      now: T0 + 11 * M,
      verdict: 'healthy',
    },
    {
      name: 'progress: beating but not progressing (hung but alive)',
      execution: {
        limits: limits({ heartbeat: M, progress: 10 * M }),
        progressAt: T0 + M,
        heartbeatAt: T0 + 11 * M,
      },
      now: T0 + 11 * M + 1,
      verdict: 'no_progress',
      reason: 'no progress for 10m, limit 10m',
    },
    {
      name: 'queue: exactly at the limit',
      execution: { status: 'queued', startedAt: null, limits: limits({ queue: 5 * M }) },
      now: T0 + 5 * M,
      verdict: 'in_grace',
    },
    {
      name: 'queue: past the limit',
      execution: { status: 'queued', startedAt: null, limits: limits({ queue: 5 * M }) },
      now: T0 + 6 * M,
      verdict: 'queue_timeout',
      reason: 'queued for 6m, limit 5m',
    },
    {
      name: 'queued without a queue limit waits',
      execution: { status: 'queued', startedAt: null },
      now: T0 + 100 * M,
      verdict: 'in_grace',
    },
    {
      name: 'queue time never counts against the run limit',
      execution: { queuedAt: T0 - 60 * M, startedAt: T0 },
      now: T0 + 14 * M,
      verdict: 'healthy',
    },
    {
      name: 'no run limit: runs as long as it likes',
      execution: { limits: limits({}) },
      now: T0 + 1000 * M,
      verdict: 'healthy',
    },
    {
      name: 'two limits crossed: the earlier deadline explains the other',
      execution: { limits: limits({ run: 15 * M, heartbeat: 2 * M }), heartbeatAt: T0 + M },
      now: T0 + 20 * M,
      verdict: 'heartbeat_lost',
    },
    {
      name: 'two limits crossed at the same moment: heartbeat wins the tie',
      execution: { limits: limits({ run: 2 * M, heartbeat: 2 * M }) },
      now: T0 + 3 * M,
      verdict: 'heartbeat_lost',
    },
  ];

  it.each(cases)('$name → $verdict', ({ execution: overrides, now, verdict, reason }) => {
    const judgement = judge(execution(overrides), untracked, policy(), { now });
    expect(judgement.verdict).toBe(verdict);
    if (reason) expect(judgement.reason).toBe(reason);
  });

  it('is deterministic: the same input gives the same judgement', () => {
    const input = execution({ limits: limits({ heartbeat: 2 * M }) });
    const a = judge(input, untracked, policy(), { now: T0 + 3 * M });
    const b = judge(input, untracked, policy(), { now: T0 + 3 * M });
    expect(a).toEqual(b);
  });

  it('records the evidence: limit, elapsed time and deadline', () => {
    const judgement = judge(execution(), untracked, policy(), { now: T0 + 20 * M });
    expect(judgement.evidence).toMatchObject({
      limit: 'run',
      limitMs: 15 * M,
      elapsedMs: 20 * M,
      deadlineAt: T0 + 15 * M,
    });
  });
});

describe('judge: owner observations', () => {
  const withOwner = (overrides: Partial<Execution> = {}) =>
    execution({ owner: 'agent-a', ...overrides });
  const cases: { name: string; observation: OwnerObservation; now: number; verdict: string }[] = [
    {
      name: 'present and within limits',
      observation: { kind: 'present' },
      now: T0 + M,
      verdict: 'healthy',
    },
    {
      name: 'present and over its limit',
      observation: { kind: 'present' },
      now: T0 + 16 * M,
      verdict: 'run_timeout',
    },
    {
      name: 'absent within the dispatch grace',
      observation: { kind: 'absent' },
      now: T0 + 30 * S,
      verdict: 'in_grace',
    },
    {
      name: 'absent exactly at the grace',
      observation: { kind: 'absent' },
      now: T0 + 60 * S,
      verdict: 'in_grace',
    },
    {
      name: 'absent past the grace',
      observation: { kind: 'absent' },
      now: T0 + 60 * S + 1,
      verdict: 'orphaned',
    },
    {
      name: 'absent past the grace but recently completed there',
      observation: { kind: 'recently_completed', at: T0 + 2 * M },
      now: T0 + 5 * M,
      verdict: 'healthy',
    },
    {
      name: 'owner unknown, even far over the limit',
      observation: { kind: 'unknown', cause: 'connect ECONNREFUSED' },
      now: T0 + 60 * M,
      verdict: 'unknown',
    },
    {
      name: 'absent and past the grace outranks its limits: nothing to terminate',
      observation: { kind: 'absent' },
      now: T0 + 20 * M,
      verdict: 'orphaned',
    },
  ];

  it.each(cases)('$name → $verdict', ({ observation, now, verdict }) => {
    expect(judge(withOwner(), observation, policy(), { now }).verdict).toBe(verdict);
  });
});

describe('judge: silence while Vigil was not listening', () => {
  const beating = execution({ limits: limits({ heartbeat: 2 * M, run: 60 * M }), heartbeatAt: T0 });

  it('a heartbeat deadline that fell in the gap gets one full limit from when Vigil listens again', () => {
    const listeningSince = T0 + 10 * M;
    expect(
      judge(beating, { kind: 'untracked' }, policy(), { now: T0 + 11 * M, listeningSince }).verdict,
    ).toBe('healthy');
    expect(
      judge(beating, { kind: 'untracked' }, policy(), { now: T0 + 12 * M, listeningSince }).verdict,
    ).toBe('healthy');
    expect(
      judge(beating, { kind: 'untracked' }, policy(), { now: T0 + 12 * M + 1, listeningSince })
        .verdict,
    ).toBe('heartbeat_lost');
  });

  it('run limits are absolute and get no such grace', () => {
    const listeningSince = T0 + 59 * M;
    // Silent since T0 and Vigil listening again only at 60m: the heartbeat gets until 62m, the
    // 60-minute run limit does not move.
    expect(
      judge(beating, { kind: 'untracked' }, policy(), {
        now: T0 + 60 * M + 1,
        listeningSince: T0 + 60 * M,
      }).verdict,
    ).toBe('run_timeout');
    const runOnly = execution({ limits: limits({ run: 15 * M }) });
    expect(
      judge(runOnly, { kind: 'untracked' }, policy(), { now: T0 + 16 * M, listeningSince }).verdict,
    ).toBe('run_timeout');
  });
});

describe('judge: a forward step of the wall clock', () => {
  const jump = { from: T0 + 20 * M, to: T0 + 80 * M };

  it('moves every deadline counted from before it by its length, run limits too', () => {
    const running = execution({ limits: limits({ heartbeat: 30 * M, run: 30 * M }) });
    const context = { now: T0 + 81 * M, clockJumps: [jump] };
    expect(judge(running, { kind: 'untracked' }, policy(), context).verdict).toBe('healthy');
    expect(
      judge(running, { kind: 'untracked' }, policy(), { ...context, now: T0 + 90 * M + 1 }).verdict,
    ).toBe('heartbeat_lost');
  });

  it('leaves alone a deadline that had passed before it, and one counted from after it', () => {
    const overdue = execution({ limits: limits({ run: 10 * M }) });
    expect(
      judge(overdue, { kind: 'untracked' }, policy(), { now: T0 + 81 * M, clockJumps: [jump] })
        .verdict,
    ).toBe('run_timeout');
    const later = execution({ limits: limits({ run: 10 * M }), startedAt: T0 + 80 * M });
    expect(
      judge(later, { kind: 'untracked' }, policy(), { now: T0 + 90 * M + 1, clockJumps: [jump] })
        .verdict,
    ).toBe('run_timeout');
  });
});
