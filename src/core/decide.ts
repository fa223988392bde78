import { retryDelay } from './backoff.js';
import { formatDuration } from './duration.js';
import type { ClockJump } from './judge.js';
import { judge } from './judge.js';
import type {
  EndStatus,
  Execution,
  ExecutionVerdict,
  Judgement,
  JsonValue,
  OpenStatus,
  OwnerObservation,
  Policy,
} from './types.js';
import { isStuck } from './types.js';
import { deriveFromChildren, describeChildFailure } from './workflow.js';

export interface Retry {
  /** The attempt number the retry runs as. */
  attempt: number;
  delayMs: number;
  /** When the backoff ends and the new attempt may start. */
  queuedAt: number;
}

export type Action =
  | { kind: 'ignore'; because: string }
  | {
      kind: 'end';
      /** How the current attempt ends. With a retry the execution itself goes back to `queued`. */
      status: EndStatus;
      /** Ask the owner to stop the work first, and end the record only once it confirms. */
      terminate: boolean;
      retry: Retry | null;
    };

/** What the watchdog decided about one execution, and why. */
export interface Decision {
  executionId: string;
  /** The compare-and-set key: the write applies only while the row is still this attempt in this status. */
  attempt: number;
  expectedStatus: OpenStatus;
  owner: string | null;
  kind: string;
  parentId: string | null;
  verdict: ExecutionVerdict;
  reason: string;
  evidence: Record<string, JsonValue>;
  action: Action;
}

export type ActionLabel =
  | 'ignore'
  | 'fail'
  | 'retry'
  | 'dead_letter'
  | 'succeed'
  /** HTTP operation lists: Vigil asked the API to cancel a stuck operation. */
  | 'cancel'
  /** HTTP operation lists: a stuck operation was reported, nothing else was done. */
  | 'notify';

/** The one-word name of an action, as reports and metrics show it. */
export function actionLabel(action: Action): ActionLabel {
  if (action.kind === 'ignore') return 'ignore';
  if (action.retry) return 'retry';
  if (action.status === 'dead') return 'dead_letter';
  if (action.status === 'succeeded') return 'succeed';
  return 'fail';
}

export interface DecideInput {
  execution: Execution;
  observation: OwnerObservation;
  policy: Policy;
  now: number;
  listeningSince?: number | undefined;
  /** Forward steps of the wall clock (see `JudgeContext`). */
  clockJumps?: readonly ClockJump[] | undefined;
  /** The owner offers a way to stop the work (a stop endpoint, a signal). */
  canTerminate: boolean;
  /** The execution's children, when it is a workflow run. Judge the children first. */
  children?: readonly Execution[] | undefined;
}

/** Verdicts where the work may still be burning resources on its owner. */
const STILL_RUNNING_VERDICTS: ReadonlySet<ExecutionVerdict> = new Set([
  'run_timeout',
  'heartbeat_lost',
  'no_progress',
]);

/**
 * Decides what to do about one open execution at `now`: the decision matrix of docs/design.md. Returns
 * "ignore, because…" as a decision too, so every sweep can be audited. Pure.
 */
export function decide(input: DecideInput): Decision {
  const { execution, policy, now } = input;
  const judgement = judge(execution, input.observation, policy, {
    now,
    listeningSince: input.listeningSince,
    clockJumps: input.clockJumps,
  });
  const decision = (j: Judgement, action: Action): Decision => ({
    executionId: execution.id,
    attempt: execution.attempt,
    expectedStatus: execution.status === 'queued' ? 'queued' : 'running',
    owner: execution.owner,
    kind: execution.kind,
    parentId: execution.parentId,
    verdict: j.verdict,
    reason: j.reason,
    evidence: j.evidence,
    action,
  });

  if (!isStuck(judgement.verdict)) {
    return decision(judgement, { kind: 'ignore', because: judgement.reason });
  }
  const terminate =
    input.canTerminate &&
    execution.status === 'running' &&
    STILL_RUNNING_VERDICTS.has(judgement.verdict);

  const children = deriveFromChildren(input.children ?? []);
  const withChildren = (reason: string, extra: Record<string, JsonValue>): Judgement => ({
    ...judgement,
    reason,
    evidence: { ...judgement.evidence, ...extra },
  });
  switch (children.kind) {
    case 'none':
      return decision(judgement, endAction(execution, judgement.verdict, policy, now, terminate));
    case 'failed':
      return decision(
        withChildren(`${describeChildFailure(children.child)}; ${judgement.reason}`, {
          derivedFrom: children.child.id,
        }),
        { kind: 'end', status: 'failed', terminate, retry: null },
      );
    case 'succeeded':
      return decision(
        withChildren(`all ${children.count} children succeeded; ${judgement.reason}`, {
          children: children.count,
        }),
        { kind: 'end', status: 'succeeded', terminate, retry: null },
      );
    case 'stalled':
      return decision(
        withChildren(
          `stalled: ${children.pending} children pending, none running; ${judgement.reason}`,
          {
            pending: children.pending,
          },
        ),
        { kind: 'end', status: 'failed', terminate, retry: null },
      );
    case 'running': {
      // Running children prove the workflow is moving: only its absolute run limit ends it.
      const overRun = judge(
        { ...execution, limits: { ...execution.limits, heartbeat: null, progress: null } },
        input.observation,
        policy,
        { now },
      );
      if (overRun.verdict === 'run_timeout') {
        return decision(
          {
            ...overRun,
            reason: `${overRun.reason}; ${children.running} children still running`,
            evidence: { ...overRun.evidence, running: children.running },
          },
          { kind: 'end', status: 'failed', terminate, retry: null },
        );
      }
      const because = `${children.running} children still running; ${judgement.reason}`;
      return decision({ ...judgement, reason: because }, { kind: 'ignore', because });
    }
  }
}

/**
 * How an attempt that is ended as stuck (or failed by its runner as retryable) ends: a retry while
 * attempts remain, `dead` once a retry policy is exhausted, `failed` when there is no retry policy.
 * A queue timeout is not retried: queueing it again would only wait again.
 */
export function endAction(
  execution: Pick<Execution, 'id' | 'attempt'>,
  verdict: ExecutionVerdict | 'runner_failed',
  policy: Pick<Policy, 'retry'>,
  now: number,
  terminate: boolean,
): Action & { kind: 'end' } {
  const { retry } = policy;
  if (verdict !== 'queue_timeout' && execution.attempt < retry.maxAttempts) {
    const delayMs = retryDelay(retry, execution.id, execution.attempt);
    return {
      kind: 'end',
      status: 'failed',
      terminate,
      retry: { attempt: execution.attempt + 1, delayMs, queuedAt: now + delayMs },
    };
  }
  return { kind: 'end', status: retry.maxAttempts > 1 ? 'dead' : 'failed', terminate, retry: null };
}

/**
 * Once a child has been ended for good, its workflow run is ended too when the child failed: a
 * workflow with a failed child can never succeed. Returns null when the parent stays open.
 */
export function decideParentAfterChild(
  parent: Execution,
  children: readonly Execution[],
  endedChild: Pick<Decision, 'verdict'>,
): Decision | null {
  if (parent.status !== 'running' && parent.status !== 'queued') return null;
  const state = deriveFromChildren(children);
  if (state.kind !== 'failed') return null;
  return {
    executionId: parent.id,
    attempt: parent.attempt,
    expectedStatus: parent.status,
    owner: parent.owner,
    kind: parent.kind,
    parentId: parent.parentId,
    verdict: endedChild.verdict,
    reason: describeChildFailure(state.child),
    evidence: { status: parent.status, attempt: parent.attempt, derivedFrom: state.child.id },
    action: { kind: 'end', status: 'failed', terminate: false, retry: null },
  };
}

export type TerminationOutcome =
  { kind: 'terminated' } | { kind: 'already_finished' } | { kind: 'failed'; cause: string };

export type AfterTermination =
  | { kind: 'end'; note: string }
  | {
      kind: 'leave_running';
      failures: number;
      /** True on the one failure that reaches `escalateAfter`: the escalation goes out once. */
      escalate: boolean;
      /** Worth an audit row: the streak began, or reached `escalateAfter`. Repeats are not. */
      audit: boolean;
      /** How long to wait before asking the owner to stop it again. */
      retryAfterMs: number;
      note: string;
    };

/**
 * The wait before the next stop request after `failures` failed ones in a row: 1 s, doubling, at
 * most 5 min. A first retry soon costs little when the failure was a blip; doubling keeps a broken
 * stop endpoint from being hammered (a tight retry loop floods it, the audit and the alerts, and
 * does not stop the work any sooner); the cap keeps asking often enough that a repaired endpoint
 * stops the work within minutes. Pure.
 */
export function stopRetryDelay(failures: number): number {
  const FIRST_MS = 1_000;
  const CAP_MS = 5 * 60_000;
  return Math.min(CAP_MS, FIRST_MS * 2 ** Math.min(Math.max(0, failures - 1), 20));
}

/**
 * What follows the owner's answer to "terminate": end the record only on confirmed termination or
 * when the owner says the work already finished (labelled as such, never as "terminated"). When
 * termination fails the execution is left running and tried again after `stopRetryDelay`, because
 * ending the record while the work still runs would free its slot for a second copy of it; the
 * failure that reaches `escalateAfter` in a row sends the escalation, once.
 */
export function afterTermination(
  outcome: TerminationOutcome,
  failuresSoFar: number,
  escalateAfter: number,
): AfterTermination {
  switch (outcome.kind) {
    case 'terminated':
      return { kind: 'end', note: withStreak('terminated by its owner', failuresSoFar) };
    case 'already_finished':
      return {
        kind: 'end',
        note: withStreak('owner reports it had already finished (not terminated)', failuresSoFar),
      };
    case 'failed': {
      const failures = failuresSoFar + 1;
      const escalate = failures === escalateAfter;
      const retryAfterMs = stopRetryDelay(failures);
      return {
        kind: 'leave_running',
        failures,
        escalate,
        audit: failures === 1 || escalate,
        retryAfterMs,
        note: `termination failed (${failures} in a row, next try in ${formatDuration(retryAfterMs)}): ${outcome.cause}`,
      };
    }
  }
}

const withStreak = (note: string, failures: number) =>
  failures === 0 ? note : `${note} after ${failures} failed stop requests`;
