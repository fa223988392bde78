import { describe, expect, it } from 'vitest';
import { retryDelay } from './backoff.js';
import {
  actionLabel,
  afterTermination,
  decide,
  decideParentAfterChild,
  stopRetryDelay,
} from './decide.js';
import { M, S, T0, execution, policy } from './fixtures.js';
import type { Execution, OwnerObservation, Status } from './types.js';

const untracked: OwnerObservation = { kind: 'untracked' };
const retrying = policy({ retry: { maxAttempts: 3, backoffMs: 10 * S, maxBackoffMs: 10 * M } });

describe('decide: the decision matrix', () => {
  const cases: {
    name: string;
    execution?: Partial<Execution>;
    observation?: OwnerObservation;
    canTerminate?: boolean;
    now: number;
    verdict: string;
    action: string;
    terminate?: boolean;
  }[] = [
    {
      name: '1. owner unknown → no destructive action, even far over the limit',
      execution: { owner: 'agent-a' },
      observation: { kind: 'unknown', cause: 'HTTP 500' },
      canTerminate: true,
      now: T0 + 60 * M,
      verdict: 'unknown',
      action: 'ignore',
    },
    {
      name: '2. within the dispatch grace → skip',
      execution: { owner: 'agent-a' },
      observation: { kind: 'absent' },
      now: T0 + 10 * S,
      verdict: 'in_grace',
      action: 'ignore',
    },
    {
      name: '2. queued → skip',
      execution: { status: 'queued', startedAt: null },
      now: T0 + 60 * M,
      verdict: 'in_grace',
      action: 'ignore',
    },
    {
      name: '3. absent but recently completed → not an orphan',
      execution: { owner: 'agent-a' },
      observation: { kind: 'recently_completed' },
      now: T0 + 5 * M,
      verdict: 'healthy',
      action: 'ignore',
    },
    {
      name: '4. absent past the grace → orphaned, ended without a terminate',
      execution: { owner: 'agent-a' },
      observation: { kind: 'absent' },
      canTerminate: true,
      now: T0 + 5 * M,
      verdict: 'orphaned',
      action: 'fail',
      terminate: false,
    },
    {
      name: '5. present within every limit → healthy',
      execution: { owner: 'agent-a' },
      observation: { kind: 'present' },
      now: T0 + 5 * M,
      verdict: 'healthy',
      action: 'ignore',
    },
    {
      name: '6. over a limit on an owner that can stop it → terminate, then end',
      execution: { owner: 'agent-a' },
      observation: { kind: 'present' },
      canTerminate: true,
      now: T0 + 20 * M,
      verdict: 'run_timeout',
      action: 'fail',
      terminate: true,
    },
    {
      name: '6. over a limit with no way to stop it → end (the runner learns on its next beat)',
      now: T0 + 20 * M,
      verdict: 'run_timeout',
      action: 'fail',
      terminate: false,
    },
    {
      name: 'a queue timeout is ended without a terminate',
      execution: {
        status: 'queued',
        startedAt: null,
        limits: { run: null, heartbeat: null, progress: null, queue: M },
      },
      canTerminate: true,
      now: T0 + 2 * M,
      verdict: 'queue_timeout',
      action: 'fail',
      terminate: false,
    },
  ];

  it.each(cases)('$name', (c) => {
    const decision = decide({
      execution: execution(c.execution),
      observation: c.observation ?? untracked,
      policy: policy(),
      now: c.now,
      canTerminate: c.canTerminate ?? false,
    });
    expect(decision.verdict).toBe(c.verdict);
    expect(actionLabel(decision.action)).toBe(c.action);
    if (c.terminate !== undefined && decision.action.kind === 'end') {
      expect(decision.action.terminate).toBe(c.terminate);
    }
  });

  it('names the compare-and-set key: id, attempt and the status it expects', () => {
    const decision = decide({
      execution: execution({ attempt: 2 }),
      observation: untracked,
      policy: policy(),
      now: T0 + 20 * M,
      canTerminate: false,
    });
    expect(decision).toMatchObject({ executionId: 'ex-1', attempt: 2, expectedStatus: 'running' });
  });
});

describe('decide: retries and dead-letters', () => {
  const at = T0 + 20 * M;
  const decideAttempt = (attempt: number, p = retrying, overrides: Partial<Execution> = {}) =>
    decide({
      execution: execution({ attempt, ...overrides }),
      observation: untracked,
      policy: p,
      now: at,
      canTerminate: false,
    });

  it('without a retry policy, a stuck execution is failed', () => {
    const { action } = decideAttempt(1, policy());
    expect(action).toEqual({ kind: 'end', status: 'failed', terminate: false, retry: null });
  });

  it('retries as the next attempt, queued until its backoff elapses', () => {
    const { action } = decideAttempt(1);
    expect(actionLabel(action)).toBe('retry');
    if (action.kind !== 'end' || !action.retry) throw new Error('expected a retry');
    expect(action.retry.attempt).toBe(2);
    expect(action.retry.queuedAt).toBe(at + action.retry.delayMs);
    expect(action.retry.delayMs).toBeGreaterThanOrEqual(5 * S);
    expect(action.retry.delayMs).toBeLessThanOrEqual(10 * S);
  });

  it('dead-letters after the last attempt', () => {
    const { action } = decideAttempt(3);
    expect(action).toEqual({ kind: 'end', status: 'dead', terminate: false, retry: null });
    expect(actionLabel(action)).toBe('dead_letter');
  });

  it('does not retry a queue timeout: queueing it again would only wait again', () => {
    const limits = { run: null, heartbeat: null, progress: null, queue: M };
    const { action, verdict } = decideAttempt(1, retrying, {
      status: 'queued',
      startedAt: null,
      limits,
    });
    expect(verdict).toBe('queue_timeout');
    expect(action).toMatchObject({ status: 'dead', retry: null });
  });
});

describe('retryDelay: exponential, capped, jittered deterministically', () => {
  const p = { maxAttempts: 10, backoffMs: 1_000, maxBackoffMs: 30_000 };
  it.each([
    [1, 500, 1_000],
    [2, 1_000, 2_000],
    [3, 2_000, 4_000],
    [5, 8_000, 16_000],
    [6, 15_000, 30_000],
    [9, 15_000, 30_000],
  ])('after attempt %d the delay is within [%d, %d]', (attempt, low, high) => {
    const delay = retryDelay(p, 'job-42', attempt);
    expect(delay).toBeGreaterThanOrEqual(low);
    expect(delay).toBeLessThanOrEqual(high);
    expect(retryDelay(p, 'job-42', attempt)).toBe(delay);
  });

  it('spreads executions failed by one sweep over the window', () => {
    const delays = new Set(Array.from({ length: 50 }, (_, i) => retryDelay(p, `job-${i}`, 1)));
    expect(delays.size).toBeGreaterThan(40);
  });
});

describe('afterTermination', () => {
  it('confirmed termination → end', () => {
    expect(afterTermination({ kind: 'terminated' }, 0, 3)).toEqual({
      kind: 'end',
      note: 'terminated by its owner',
    });
  });

  it('"already finished" ends the record but is never labelled terminated', () => {
    const next = afterTermination({ kind: 'already_finished' }, 0, 3);
    expect(next.kind).toBe('end');
    expect(next.note).toContain('not terminated');
    expect(next.note).not.toMatch(/^terminated/);
  });

  it('termination failed → left running, escalated after N failures in a row', () => {
    expect(afterTermination({ kind: 'failed', cause: 'HTTP 503' }, 0, 3)).toMatchObject({
      kind: 'leave_running',
      failures: 1,
      escalate: false,
    });
    expect(afterTermination({ kind: 'failed', cause: 'HTTP 503' }, 2, 3)).toMatchObject({
      kind: 'leave_running',
      failures: 3,
      escalate: true,
    });
  });

  it('escalates once per streak, audits its start and escalation, and waits longer each time', () => {
    const streak = [0, 1, 2, 3, 4, 5].map((soFar) =>
      afterTermination({ kind: 'failed', cause: 'HTTP 500' }, soFar, 3),
    );
    expect(streak.map((n) => n.kind === 'leave_running' && n.escalate)).toEqual([
      false,
      false,
      true,
      false,
      false,
      false,
    ]);
    expect(streak.map((n) => n.kind === 'leave_running' && n.audit)).toEqual([
      true,
      false,
      true,
      false,
      false,
      false,
    ]);
    const waits = streak.map((n) => (n.kind === 'leave_running' ? n.retryAfterMs : 0));
    expect(waits).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000]);
    expect(stopRetryDelay(40)).toBe(5 * 60_000);
    expect(afterTermination({ kind: 'terminated' }, 4, 3).note).toBe(
      'terminated by its owner after 4 failed stop requests',
    );
  });
});

describe('workflow runs: state derived from children', () => {
  const parent = execution({
    id: 'wf',
    kind: 'workflow',
    limits: { run: 30 * M, heartbeat: 2 * M, progress: null, queue: null },
  });
  const child = (id: string, status: Status, reason: string | null = null) =>
    execution({
      id,
      parentId: 'wf',
      status,
      reason,
      endedAt: status === 'running' || status === 'queued' ? null : T0,
    });
  const overdue = T0 + 3 * M; // the parent's runner has been silent past its 2-minute heartbeat limit
  const decideParent = (children: Execution[], now = overdue) =>
    decide({
      execution: parent,
      observation: untracked,
      policy: policy(),
      now,
      canTerminate: false,
      children,
    });

  it('a failed child → failed, never succeeded', () => {
    const d = decideParent([
      child('a', 'succeeded'),
      child('b', 'failed', 'ran 20m, limit 15m'),
      child('c', 'succeeded'),
    ]);
    expect(d.action).toMatchObject({ kind: 'end', status: 'failed' });
    expect(d.reason).toMatch(/^child b failed: ran 20m, limit 15m/);
  });

  it('a dead child → failed', () => {
    expect(decideParent([child('a', 'dead')]).action).toMatchObject({ status: 'failed' });
  });

  it('a cancelled child → failed: the workflow did not do all its work', () => {
    expect(decideParent([child('a', 'succeeded'), child('b', 'cancelled')]).action).toMatchObject({
      status: 'failed',
    });
  });

  it('all children succeeded → succeeded', () => {
    const d = decideParent([child('a', 'succeeded'), child('b', 'succeeded')]);
    expect(d.action).toMatchObject({ kind: 'end', status: 'succeeded' });
    expect(d.reason).toMatch(/^all 2 children succeeded/);
  });

  it('children pending and none running → failed "stalled"', () => {
    const d = decideParent([child('a', 'succeeded'), child('b', 'queued')]);
    expect(d.action).toMatchObject({ kind: 'end', status: 'failed' });
    expect(d.reason).toMatch(/^stalled: 1 children pending, none running/);
  });

  it('a child still running keeps a silent workflow open', () => {
    expect(decideParent([child('a', 'running')]).action.kind).toBe('ignore');
  });

  it('…but not past the workflow run limit', () => {
    const d = decideParent([child('a', 'running')], T0 + 31 * M);
    expect(d.verdict).toBe('run_timeout');
    expect(d.action).toMatchObject({ kind: 'end', status: 'failed' });
  });

  it('within its limits, a workflow is not derived at all', () => {
    expect(decideParent([child('a', 'failed')], T0 + M).action.kind).toBe('ignore');
  });

  it('after a child is ended for good, a failed child ends its still-open workflow', () => {
    const d = decideParentAfterChild(
      parent,
      [child('a', 'succeeded'), child('b', 'dead', 'no heartbeat for 3m, limit 2m')],
      {
        verdict: 'heartbeat_lost',
      },
    );
    expect(d?.action).toMatchObject({ kind: 'end', status: 'failed' });
    expect(d?.reason).toBe('child b dead: no heartbeat for 3m, limit 2m');
  });

  it('after a child succeeded, the workflow stays open', () => {
    expect(
      decideParentAfterChild(parent, [child('a', 'succeeded'), child('b', 'running')], {
        verdict: 'orphaned',
      }),
    ).toBeNull();
  });
});
