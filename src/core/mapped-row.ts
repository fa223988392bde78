/**
 * Decisions about a row of another app's table (a mapped table): the ledger's `decide`, with what
 * is particular to rows Vigil cannot queue again, rows it cannot read, and workflow runs whose
 * children live in other tables.
 */
import type { Decision } from './decide.js';
import { decide, decideParentAfterChild } from './decide.js';
import { formatDuration } from './duration.js';
import { judge } from './judge.js';
import { limitDeadlines } from './limits.js';
import type {
  Execution,
  ExecutionVerdict,
  OwnerObservation,
  Policy,
  RetryPolicy,
} from './types.js';
import { isStuck } from './types.js';
import { deriveFromChildren } from './workflow.js';

/**
 * A row is failed, never retried, unless its table says how to queue it again (`requeue`):
 * whatever retry policy its kind has in vigil.yaml is for executions in Vigil's own ledger.
 */
export const NO_RETRY: Policy['retry'] = { maxAttempts: 1, backoffMs: 0, maxBackoffMs: 0 };

/** What is known about a row when it is decided. */
export interface MappedRowFacts {
  execution: Execution;
  policy: Policy;
  now: number;
  /** A column that holds no time (or the start column, empty): the row cannot be judged. */
  unreadable?: { column: string; empty: boolean } | undefined;
  /** Set when other tables point at this one: the row is a workflow run. */
  children?: { kind: 'read'; children: Execution[] } | { kind: 'error'; message: string };
  /** The verdict of a child this sweep ended, when it ended one. */
  touchedBy?: ExecutionVerdict | undefined;
  /** What the row's owner said about it (a reconciled table); untracked when not asked. */
  observation?: OwnerObservation | undefined;
  /** The owner offers a way to stop the row's work (a reconciled table with a stop endpoint). */
  canTerminate?: boolean | undefined;
  /**
   * The table re-queues stuck rows: attempts in all and the backoff. With `hold`, the re-queue
   * waits until the backoff has passed since the row's limit was crossed (the row says when that
   * was, so nothing needs remembering); without, it is written at once with a "not before" time.
   */
  requeue?: { retry: RetryPolicy; hold: boolean } | undefined;
}

/** A row's decision; `unjudged` when it was left alone because its children could not be read. */
export interface MappedRowDecision {
  decision: Decision;
  unjudged: boolean;
}

/** Whether deciding about the row needs its children read first. */
export function needsChildren(
  facts: Pick<MappedRowFacts, 'execution' | 'policy' | 'now' | 'touchedBy'>,
): boolean {
  if (facts.touchedBy !== undefined) return true;
  const alone = judge(facts.execution, { kind: 'untracked' }, facts.policy, { now: facts.now });
  return isStuck(alone.verdict);
}

export function decideMappedRow(facts: MappedRowFacts): MappedRowDecision {
  const { execution, now } = facts;
  const policy = { ...facts.policy, retry: facts.requeue?.retry ?? NO_RETRY };
  const observation = facts.observation ?? UNTRACKED;
  const canTerminate = facts.canTerminate ?? false;
  if (facts.unreadable) {
    const { column, empty } = facts.unreadable;
    const because = `${column} is ${empty ? 'empty' : 'not a time'}: the row cannot be judged`;
    return decided({
      ...decisionBase(execution),
      verdict: 'unknown',
      reason: because,
      evidence: { column },
      action: { kind: 'ignore', because },
    });
  }
  const alone = () =>
    holdForBackoff(decide({ execution, observation, policy, now, canTerminate }), execution, facts);
  const { children } = facts;
  if (!children) return decided(alone());
  const judged = judge(execution, observation, policy, { now });
  if (children.kind === 'error') {
    // Without its children a workflow run's state cannot be derived: leave it, say why.
    const because = `its children could not be read: ${children.message}`;
    return {
      decision: {
        ...decisionBase(execution),
        verdict: judged.verdict,
        reason: because,
        evidence: { ...judged.evidence },
        action: { kind: 'ignore', because },
      },
      unjudged: true,
    };
  }
  const state = deriveFromChildren(children.children);
  if (state.kind === 'running') {
    // A workflow run with a running child stays open, even past its own limits: the child is
    // judged on its own limits, and the run is closed from the children once they have ended.
    const because = `${state.running} of its children still running; ${judged.reason}`;
    return decided({
      ...decisionBase(execution),
      verdict: judged.verdict,
      reason: because,
      evidence: { ...judged.evidence, running: state.running },
      action: { kind: 'ignore', because },
    });
  }
  if (isStuck(judged.verdict)) {
    return decided(
      decide({
        execution,
        observation,
        policy,
        now,
        canTerminate,
        children: children.children,
      }),
    );
  }
  const verdict = facts.touchedBy;
  const afterChild =
    verdict === undefined
      ? null
      : decideParentAfterChild(execution, children.children, { verdict });
  return decided(afterChild ?? alone());
}

/**
 * A re-queue held until its backoff has passed since the moment the row's limit was crossed:
 * before that the row is left as it is, with the time the re-queue is due.
 */
export function holdForBackoff(
  decision: Decision,
  execution: Execution,
  facts: Pick<MappedRowFacts, 'requeue' | 'now'>,
): Decision {
  const { action } = decision;
  if (action.kind !== 'end' || !action.retry) return decision;
  const due = stuckSince(execution, decision.verdict) + action.retry.delayMs;
  const evidence = { ...decision.evidence, requeueAttempt: action.retry.attempt };
  if (!facts.requeue?.hold || facts.now > due) {
    return { ...decision, evidence: { ...evidence, backoffMs: action.retry.delayMs } };
  }
  const because = `re-queue as attempt ${action.retry.attempt} after a backoff of ${formatDuration(action.retry.delayMs)}, due in ${formatDuration(due - facts.now)}; ${decision.reason}`;
  return {
    ...decision,
    reason: because,
    evidence: { ...evidence, requeueDueAt: due },
    action: { kind: 'ignore', because },
  };
}

/** When the limit behind a verdict was crossed (the earliest limit for any other verdict). */
function stuckSince(execution: Execution, verdict: ExecutionVerdict): number {
  const deadlines = limitDeadlines(execution);
  const of =
    verdict === 'heartbeat_lost'
      ? deadlines.heartbeat
      : verdict === 'run_timeout'
        ? deadlines.run
        : null;
  const earliest = Object.values(deadlines).filter((at): at is number => at !== null);
  return of ?? (earliest.length > 0 ? Math.min(...earliest) : (execution.startedAt ?? 0));
}

const UNTRACKED = { kind: 'untracked' } as const;

const decided = (decision: Decision): MappedRowDecision => ({ decision, unjudged: false });

function decisionBase(execution: Execution) {
  return {
    executionId: execution.id,
    attempt: 1,
    expectedStatus: 'running' as const,
    owner: execution.owner,
    kind: execution.kind,
    parentId: execution.parentId,
  };
}
