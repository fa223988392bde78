import { formatDuration } from './duration.js';
import { limitDeadlines } from './limits.js';
import type {
  Execution,
  ExecutionVerdict,
  Judgement,
  JsonValue,
  LimitName,
  OwnerObservation,
  Policy,
} from './types.js';

/** The verdict each limit gives when it is crossed. */
const LIMIT_VERDICT = {
  heartbeat: 'heartbeat_lost',
  progress: 'no_progress',
  run: 'run_timeout',
  queue: 'queue_timeout',
} as const satisfies Record<LimitName, ExecutionVerdict>;

/**
 * When two limits are crossed at the same moment, the one that explains the others wins: a dead
 * runner (silent heartbeat) explains missing progress, which explains an overrun.
 */
const TIE_ORDER: LimitName[] = ['heartbeat', 'progress', 'run', 'queue'];

export interface JudgeContext {
  now: number;
  /**
   * Since when the watchdog has been able to take heartbeats without a gap. A heartbeat or
   * progress deadline that fell before this moment is moved to one full limit after it: a runner
   * is blamed for silence only while Vigil was listening. Run and queue limits are absolute.
   */
  listeningSince?: number | undefined;
  /** Forward steps of the wall clock this watchdog saw (see `effectiveDeadlines`). */
  clockJumps?: readonly ClockJump[] | undefined;
}

/** An interval the wall clock skipped (it stepped from `from` to `to`): no time passed in it. */
export interface ClockJump {
  from: number;
  to: number;
}

/**
 * Judges one open execution at `now`, given what its owner says about it. Pure: the same input
 * gives the same verdict. Boundaries are strict: exactly at a limit is still healthy.
 */
export function judge(
  execution: Execution,
  observation: OwnerObservation,
  policy: Pick<Policy, 'dispatchGraceMs'>,
  context: JudgeContext,
): Judgement {
  const { now } = context;
  const base: Record<string, JsonValue> = {
    status: execution.status,
    attempt: execution.attempt,
    observation: observation.kind,
    // When its run began: the audit measures how long stuck work had run when it was found.
    startedAt: execution.status === 'queued' ? null : (execution.startedAt ?? execution.createdAt),
  };
  if (execution.status !== 'queued' && execution.status !== 'running') {
    return { verdict: 'healthy', reason: `already ended (${execution.status})`, evidence: base };
  }

  // 1. An owner we cannot ask is unknown, never dead: nothing destructive on unknown.
  if (observation.kind === 'unknown') {
    return {
      verdict: 'unknown',
      reason: `owner ${execution.owner ?? '(none)'} could not be asked: ${observation.cause}`,
      evidence: { ...base, cause: observation.cause },
    };
  }

  const crossed = crossedLimit(execution, context);

  if (execution.status === 'queued') {
    if (crossed) return limitJudgement(execution, crossed, base, now);
    return { verdict: 'in_grace', reason: 'queued, waiting to start', evidence: base };
  }

  const startedAt = execution.startedAt ?? execution.createdAt;
  const age = now - startedAt;

  // 3. Absent from the registry, but the owner finished it moments ago: its report is in flight.
  if (observation.kind === 'recently_completed') {
    return {
      verdict: 'healthy',
      reason: `owner ${execution.owner ?? ''} completed it recently; waiting for its report`,
      evidence: { ...base, completedAt: observation.at ?? null },
    };
  }

  if (observation.kind === 'absent') {
    // 2. Dispatch takes time: absence within the grace is not evidence of anything yet, not even
    // with a limit crossed. A limit shorter than the grace cannot end an execution its owner does
    // not list: there is nothing on the owner to stop, and after the grace it is an orphan.
    if (age <= policy.dispatchGraceMs) {
      return {
        verdict: 'in_grace',
        reason: `not yet on owner ${execution.owner ?? ''} (started ${formatDuration(age)} ago, grace ${formatDuration(policy.dispatchGraceMs)})`,
        evidence: { ...base, ageMs: age, graceMs: policy.dispatchGraceMs },
      };
    }
    // 4. Absent past the grace: nobody is running it.
    return {
      verdict: 'orphaned',
      reason: `not running on owner ${execution.owner ?? ''} (started ${formatDuration(age)} ago, grace ${formatDuration(policy.dispatchGraceMs)})`,
      evidence: { ...base, ageMs: age, graceMs: policy.dispatchGraceMs },
    };
  }

  // 5./6. Present (or untracked): judged by its limits.
  if (crossed) return limitJudgement(execution, crossed, base, now);
  return { verdict: 'healthy', reason: 'within every limit', evidence: base };
}

interface Crossed {
  limit: LimitName;
  deadlineAt: number;
  since: number;
}

/**
 * Each limit's deadline as the watchdog applies it. A deadline counted from before a clock jump
 * and not yet passed when it came is moved by the jump's length, whatever the limit: the skipped
 * interval was lived by nobody. Then a heartbeat or progress deadline that fell before
 * `listeningSince` is moved to one full limit after it.
 */
export function effectiveDeadlines(
  execution: Execution,
  listeningSince?: number,
  clockJumps: readonly ClockJump[] = [],
): Partial<Record<LimitName, number>> {
  const deadlines = limitDeadlines(execution);
  const effective: Partial<Record<LimitName, number>> = {};
  for (const limit of TIE_ORDER) {
    const limitMs = execution.limits[limit];
    const counted = deadlines[limit];
    if (counted === null || limitMs === null) continue;
    const deadlineAt = afterJumps(counted, counted - limitMs, clockJumps);
    const silent = limit === 'heartbeat' || limit === 'progress';
    effective[limit] =
      silent && listeningSince !== undefined && deadlineAt < listeningSince
        ? listeningSince + limitMs
        : deadlineAt;
  }
  return effective;
}

/** A deadline counted from `since`, moved by each jump that came between the two. */
function afterJumps(deadlineAt: number, since: number, jumps: readonly ClockJump[]): number {
  let moved = deadlineAt;
  for (const jump of jumps) {
    if (since <= jump.from && moved > jump.from) moved += jump.to - jump.from;
  }
  return moved;
}

/** The earliest effective deadline, or null when no limit applies. */
export function effectiveDeadline(
  execution: Execution,
  listeningSince?: number,
  clockJumps?: readonly ClockJump[],
): number | null {
  const all = Object.values(effectiveDeadlines(execution, listeningSince, clockJumps));
  return all.length === 0 ? null : Math.min(...all);
}

function crossedLimit(execution: Execution, context: JudgeContext): Crossed | null {
  let found: Crossed | null = null;
  const effective = effectiveDeadlines(execution, context.listeningSince, context.clockJumps);
  for (const limit of TIE_ORDER) {
    const deadlineAt = effective[limit];
    if (deadlineAt === undefined) continue;
    const limitMs = execution.limits[limit] ?? 0;
    if (context.now > deadlineAt && (found === null || deadlineAt < found.deadlineAt)) {
      found = { limit, deadlineAt, since: deadlineAt - limitMs };
    }
  }
  return found;
}

function limitJudgement(
  execution: Execution,
  crossed: Crossed,
  base: Record<string, JsonValue>,
  now: number,
): Judgement {
  const limitMs = execution.limits[crossed.limit] ?? 0;
  const elapsed = now - crossed.since;
  const phrase = {
    run: `ran ${formatDuration(elapsed)}`,
    heartbeat: `no heartbeat for ${formatDuration(elapsed)}`,
    progress: `no progress for ${formatDuration(elapsed)}`,
    queue: `queued for ${formatDuration(elapsed)}`,
  }[crossed.limit];
  return {
    verdict: LIMIT_VERDICT[crossed.limit],
    reason: `${phrase}, limit ${formatDuration(limitMs)}`,
    evidence: {
      ...base,
      limit: crossed.limit,
      limitMs,
      elapsedMs: elapsed,
      since: crossed.since,
      deadlineAt: crossed.deadlineAt,
      now,
    },
  };
}
