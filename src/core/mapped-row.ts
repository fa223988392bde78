/**
 * Decisions about a row of another app's table (a mapped table): the ledger's `decide`, with what
 * is particular to rows Vigil cannot queue again, rows it cannot read, and workflow runs whose
 * children live in other tables.
 */
import type { Decision } from './decide.js';
import { decide, decideParentAfterChild } from './decide.js';
import { judge } from './judge.js';
import type { Execution, ExecutionVerdict, OwnerObservation, Policy } from './types.js';
import { isStuck } from './types.js';
import { deriveFromChildren } from './workflow.js';

/**
 * Vigil cannot queue another app's row again, so a stuck row is failed, never retried: whatever
 * retry policy its kind has in vigil.yaml is for executions in Vigil's own ledger.
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
  const policy = { ...facts.policy, retry: NO_RETRY };
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
  const alone = () => decide({ execution, observation, policy, now, canTerminate });
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
