import { describe, expect, it } from 'vitest';
import { retryDelay } from './backoff.js';
import { M, S, T0, execution, policy } from './fixtures.js';
import { decideMappedRow } from './mapped-row.js';

const retry = { maxAttempts: 3, backoffMs: 4 * M, maxBackoffMs: 8 * M };
const row = (attempt: number) => execution({ id: 'jobs:1', attempt, startedAt: T0 });
// The run limit (15m) is crossed at T0 + 15m; the backoff counts from there.
const crossed = T0 + 15 * M;

describe('a mapped row with requeue', () => {
  const delay = retryDelay(retry, 'jobs:1', 1);

  it.each([
    ['held until its backoff has passed since the limit was crossed', crossed + delay, 'ignore'],
    ['re-queued once it has', crossed + delay + 1, 'retry'],
  ])('is %s', (_what, now, expected) => {
    const { decision } = decideMappedRow({
      execution: row(1),
      policy: policy(),
      now,
      requeue: { retry, hold: true },
    });
    expect(decision.action.kind === 'end' && decision.action.retry ? 'retry' : 'ignore').toBe(
      expected,
    );
    expect(decision.verdict).toBe('run_timeout');
  });

  it('says when a held re-queue is due', () => {
    const { decision } = decideMappedRow({
      execution: row(1),
      policy: policy(),
      now: crossed + S,
      requeue: { retry, hold: true },
    });
    expect(decision.evidence.requeueDueAt).toBe(crossed + delay);
    expect(decision.reason).toMatch(/^re-queue as attempt 2 after a backoff of .+, due in /);
  });

  it('is re-queued at once with a "not before" column (no hold)', () => {
    const { decision } = decideMappedRow({
      execution: row(1),
      policy: policy(),
      now: crossed + S,
      requeue: { retry, hold: false },
    });
    expect(decision.action).toMatchObject({ kind: 'end', retry: { attempt: 2, delayMs: delay } });
  });

  it('is dead after its last attempt, without waiting', () => {
    const { decision } = decideMappedRow({
      execution: row(3),
      policy: policy(),
      now: crossed + S,
      requeue: { retry, hold: true },
    });
    expect(decision.action).toEqual({ kind: 'end', status: 'dead', terminate: false, retry: null });
  });

  it('is failed, never retried, without requeue', () => {
    const { decision } = decideMappedRow({ execution: row(1), policy: policy(), now: crossed + S });
    expect(decision.action).toEqual({
      kind: 'end',
      status: 'failed',
      terminate: false,
      retry: null,
    });
  });
});
