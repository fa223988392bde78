/**
 * Operations listed by someone else's HTTP API, judged purely: an operation is stuck when it is
 * running and its state has not changed for longer than the limit. `now` is an argument.
 */
import { formatDuration } from './duration.js';
import type { JsonValue } from './types.js';

/** One operation as the list reported it, already extracted from the JSON. */
export interface OperationObservation {
  id: string;
  status: string;
  /** The operation's own "last state update" time, when the list reports one. */
  lastUpdateAt: number | null;
}

/** What Vigil remembers of one operation between checks. */
export interface OperationMemory {
  status: string;
  lastUpdateAt: number | null;
  /**
   * When Vigil saw the state change (status or last-update moved) — null while it has seen no
   * change. Without a last-update field this is the only clock an operation has, and it starts at
   * first sight: Vigil cannot know how long it was stuck before it looked.
   */
  observedChangeAt: number | null;
  /** People were told about this stuck episode. */
  notified: boolean;
  /** The API accepted a cancel request in this stuck episode. */
  cancelled: boolean;
  /** Cancel requests sent in this stuck episode, to give up instead of hammering an API. */
  cancelAttempts: number;
}

export interface OperationPolicy {
  /** The longest time a running operation may go without a state change. */
  limitMs: number;
  /** Status values that mean "running"; any other status is finished or waiting, never stuck. */
  running: readonly string[];
}

export interface OperationVerdict {
  id: string;
  status: string;
  lastUpdateAt: number | null;
  stuck: boolean;
  /** How long the state has not changed, when stuck; null otherwise. */
  stuckForMs: number | null;
  reason: string;
  evidence: Record<string, JsonValue>;
}

/**
 * Judges one operation against what was remembered of it. The last change is the later of the
 * operation's own last-update time and the moment Vigil saw its state move. A last-update in the
 * future (the API's clock ahead of Vigil's) counts as "just changed": acting on a skewed clock
 * would cancel healthy work, the worse mistake. Exactly at the limit is still healthy.
 */
export function judgeOperation(
  observed: OperationObservation,
  memory: OperationMemory | undefined,
  policy: OperationPolicy,
  now: number,
): { verdict: OperationVerdict; memory: OperationMemory } {
  const changed =
    memory !== undefined &&
    (memory.status !== observed.status || memory.lastUpdateAt !== observed.lastUpdateAt);
  let observedChangeAt: number | null;
  if (memory === undefined) observedChangeAt = observed.lastUpdateAt === null ? now : null;
  else observedChangeAt = changed ? now : memory.observedChangeAt;
  const next: OperationMemory = {
    status: observed.status,
    lastUpdateAt: observed.lastUpdateAt,
    observedChangeAt,
    notified: changed ? false : (memory?.notified ?? false),
    cancelled: changed ? false : (memory?.cancelled ?? false),
    cancelAttempts: changed ? 0 : (memory?.cancelAttempts ?? 0),
  };

  const lastChangeAt = Math.max(
    observed.lastUpdateAt ?? Number.NEGATIVE_INFINITY,
    observedChangeAt ?? Number.NEGATIVE_INFINITY,
  );
  const idleMs = Math.max(0, now - lastChangeAt);
  const evidence: Record<string, JsonValue> = {
    operationId: observed.id,
    status: observed.status,
    lastUpdateAt: observed.lastUpdateAt,
    observedChangeAt,
    lastChangeAt,
    idleMs,
    limitMs: policy.limitMs,
  };
  const base = { id: observed.id, status: observed.status, lastUpdateAt: observed.lastUpdateAt };

  if (!policy.running.includes(observed.status)) {
    return {
      verdict: { ...base, stuck: false, stuckForMs: null, reason: 'not running', evidence },
      memory: next,
    };
  }
  const stuck = idleMs > policy.limitMs;
  const reason = stuck
    ? `${observed.status} with no state change for ${formatDuration(idleMs)}, limit ${formatDuration(policy.limitMs)}`
    : `${observed.status}, last change ${formatDuration(idleMs)} ago`;
  return {
    verdict: { ...base, stuck, stuckForMs: stuck ? idleMs : null, reason, evidence },
    memory: next,
  };
}

export interface OperationActionPolicy {
  notify: boolean;
  cancel: boolean;
  /** Cancel requests per stuck episode before giving up. */
  maxCancelAttempts: number;
}

/**
 * What to do about one judged operation: notify once per stuck episode, and ask the API to cancel
 * it until it accepts or the attempts run out. Nothing for an operation that is not stuck.
 */
export function decideOperationActions(
  verdict: OperationVerdict,
  memory: OperationMemory,
  policy: OperationActionPolicy,
): { notify: boolean; cancel: boolean } {
  if (!verdict.stuck) return { notify: false, cancel: false };
  return {
    notify: policy.notify && !memory.notified,
    cancel: policy.cancel && !memory.cancelled && memory.cancelAttempts < policy.maxCancelAttempts,
  };
}
