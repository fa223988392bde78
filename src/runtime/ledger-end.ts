/**
 * Ending one of the ledger's executions: asking its owner to stop it, the end written with its
 * audit row, and what is announced once the write won.
 */
import { performance } from 'node:perf_hooks';
import type { Decision } from '../core/decide.js';
import { actionLabel, afterTermination } from '../core/decide.js';
import type { Execution } from '../core/types.js';
import type { RemediationRecord, StepRecord } from '../ports/audit-store.js';
import type { ExecutionStore } from '../ports/execution-store.js';
import type { OwnerClient } from '../ports/owner-client.js';
import type { AttemptEnd, Fence } from '../ports/records.js';
import type { VigilEvent } from './events.js';
import { auditId, elapsed, errorMessage, subjectOf } from './pipeline.js';
import type { StopRetries } from './stop-retries.js';

/** An end the sweep decided, waiting for its page's write. */
export interface PendingEnd {
  execution: Execution;
  decision: Decision;
  reason: string;
  steps: StepRecord[];
  write: { fence: Fence; end: AttemptEnd; audit: RemediationRecord };
}

/** What asking an owner to stop an execution needs. */
export interface StopContext {
  store: ExecutionStore;
  owners: OwnerClient;
  stopRetries: StopRetries;
  /** The sweep's `now`. */
  now: number;
  escalateAfter: number;
  /** Emits at once (an escalation is news before the sweep ends). */
  announce: (event: VigilEvent) => void;
}

export type Stopped =
  { kind: 'stopped'; note: string } | { kind: 'left_running'; audit: boolean; retryAt: number };

/**
 * Asks the owner to stop the execution. A failed stop leaves it running, to be asked again after
 * a backoff; the failure that reaches `sweep.escalateAfter` in a row is escalated, once.
 */
export async function terminate(
  stop: StopContext,
  execution: Execution,
  decision: Decision,
  streak: number,
  steps: StepRecord[],
): Promise<Stopped> {
  const { store, stopRetries, now } = stop;
  const fence = {
    id: decision.executionId,
    attempt: decision.attempt,
    status: decision.expectedStatus,
  };
  const started = performance.now();
  const outcome = await stop.owners.terminate(execution);
  const failures = outcome.kind === 'failed' ? await store.recordTerminationFailure(fence) : 0;
  const next = afterTermination(
    outcome,
    outcome.kind === 'failed' ? Math.max(0, failures - 1) : streak,
    stop.escalateAfter,
  );
  steps.push({
    step: 'terminate',
    outcome: next.kind === 'end' ? 'ok' : 'failed',
    ms: elapsed(started),
    detail: next.note,
  });
  if (next.kind === 'end') {
    stopRetries.forget(fence);
    return { kind: 'stopped', note: next.note };
  }
  if (next.escalate) {
    stop.announce({
      type: 'execution:escalated',
      at: now,
      executionId: decision.executionId,
      attempt: decision.attempt,
      kind: execution.kind,
      verdict: decision.verdict,
      reason: next.note,
      failures: next.failures,
    });
  }
  const retryAt = now + next.retryAfterMs;
  stopRetries.failed(fence, next.failures, retryAt);
  return { kind: 'left_running', audit: next.audit, retryAt };
}

/**
 * The end of an attempt and its audit row, to be written in one transaction so a crash can never
 * leave one without the other. Judged at the sweep's `now`; ended when the write lands. Unless the
 * owner confirmed the termination, a heartbeat that landed since our read (it moved the deadline)
 * wins.
 */
export function endWrite(
  execution: Execution,
  decision: Decision,
  reason: string,
  steps: StepRecord[],
  fence: Fence,
  stamp: { now: number; sweepId: string; dryRun: boolean },
): PendingEnd {
  const { action } = decision;
  if (action.kind !== 'end') throw new Error(`${decision.executionId}: not an end`);
  const end: AttemptEnd = {
    status: action.status,
    verdict: decision.verdict,
    reason,
    endedBy: 'watchdog',
    retry: action.retry && { attempt: action.retry.attempt, queuedAt: action.retry.queuedAt },
  };
  const doneSteps: StepRecord[] = [
    ...steps,
    { step: 'end', outcome: 'ok', ms: 0, detail: `${action.status}: ${reason}` },
  ];
  if (action.retry) {
    doneSteps.push({
      step: 'retry',
      outcome: 'ok',
      ms: 0,
      detail: `attempt ${action.retry.attempt} queued after ${action.retry.delayMs}ms backoff`,
    });
  } else if (action.status === 'dead') {
    doneSteps.push({ step: 'dead_letter', outcome: 'ok', ms: 0 });
  }
  const audit: RemediationRecord = {
    ...subjectOf(decision),
    id: auditId(stamp.now),
    sweepId: stamp.sweepId,
    at: stamp.now,
    steps: doneSteps,
    outcome: 'remediated',
    dryRun: stamp.dryRun,
  };
  return {
    execution,
    decision,
    reason,
    steps,
    write: {
      fence: action.terminate ? fence : { ...fence, deadlineAt: execution.deadlineAt },
      end,
      audit,
    },
  };
}

/** How one end's write went: won (and what to announce), lost to the runner, or failed. */
export function settleEnd(
  p: PendingEnd,
  won: boolean | Error,
  ms: number,
  now: number,
): { outcome: 'remediated'; events: VigilEvent[] } | { outcome: 'failed' | 'lost_race' } {
  if (won instanceof Error) {
    p.steps.push({ step: 'end', outcome: 'failed', ms, detail: errorMessage(won) });
    return { outcome: 'failed' };
  }
  if (!won) {
    // The work finished (or was ended) between our read and our write: it wins, we do nothing.
    p.steps.push({ step: 'end', outcome: 'lost_race', ms });
    return { outcome: 'lost_race' };
  }
  const { execution, decision, reason } = p;
  const { action } = decision;
  if (action.kind !== 'end') return { outcome: 'remediated', events: [] };
  const base = {
    at: now,
    executionId: decision.executionId,
    attempt: decision.attempt,
    kind: execution.kind,
    verdict: decision.verdict,
    reason,
  };
  const events: VigilEvent[] = [
    {
      type: 'execution:remediated',
      ...base,
      status: action.retry ? 'queued' : action.status,
      action: actionLabel(action),
    },
  ];
  if (action.status === 'dead') events.push({ type: 'execution:dead', ...base });
  return { outcome: 'remediated', events };
}
