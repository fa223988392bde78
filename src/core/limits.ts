import type { Execution, LimitName, Limits, PartialLimits } from './types.js';
import { LIMIT_NAMES } from './types.js';

/**
 * Built-in global defaults. A run limit of 15 minutes catches the common "stuck forever" row
 * without cutting off ordinary jobs; heartbeat, progress and queue limits are opt-in because a
 * limit the runner does not know about would end healthy work (the worse mistake for a watchdog).
 */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  run: 15 * 60_000,
  heartbeat: null,
  progress: null,
  queue: null,
});

/** Where a resolved limit came from, for the audit trail. */
export type LimitSource = 'execution' | 'kind' | 'owner' | 'default';

/**
 * Resolves each limit through the chain: the execution's own → its kind's → its owner's → the
 * global default. `null` at any level is a decision ("no limit") and stops the chain; `undefined`
 * defers to the next level.
 */
export function resolveLimits(chain: {
  execution?: PartialLimits | undefined;
  kind?: PartialLimits | undefined;
  owner?: PartialLimits | undefined;
  defaults?: PartialLimits | undefined;
}): { limits: Limits; sources: Record<LimitName, LimitSource> } {
  const levels: [LimitSource, PartialLimits | undefined][] = [
    ['execution', chain.execution],
    ['kind', chain.kind],
    ['owner', chain.owner],
    ['default', { ...DEFAULT_LIMITS, ...chain.defaults }],
  ];
  const limits = { ...DEFAULT_LIMITS };
  const sources = {} as Record<LimitName, LimitSource>;
  for (const name of LIMIT_NAMES) {
    for (const [source, level] of levels) {
      const value = level?.[name];
      if (value !== undefined) {
        limits[name] = value;
        sources[name] = source;
        break;
      }
    }
  }
  return { limits, sources };
}

/** The moment each limit of an open execution is crossed, or null where it has none. */
export function limitDeadlines(
  execution: Pick<
    Execution,
    'status' | 'limits' | 'queuedAt' | 'startedAt' | 'heartbeatAt' | 'progressAt'
  >,
): Record<LimitName, number | null> {
  const { limits, status } = execution;
  const after = (from: number | null, limit: number | null) =>
    from === null || limit === null ? null : from + limit;
  if (status === 'queued') {
    return {
      run: null,
      heartbeat: null,
      progress: null,
      queue: after(execution.queuedAt, limits.queue),
    };
  }
  if (status !== 'running') return { run: null, heartbeat: null, progress: null, queue: null };
  // Queue time never counts against the run limit: every running clock starts at startedAt.
  const startedAt = execution.startedAt;
  return {
    run: after(startedAt, limits.run),
    heartbeat: after(execution.heartbeatAt ?? startedAt, limits.heartbeat),
    progress: after(execution.progressAt ?? startedAt, limits.progress),
    queue: null,
  };
}

/**
 * The earliest moment the verdict on an execution can change (the indexed `deadline_at`), or null
 * when no limit applies. An execution is overdue only when `now > deadline`: exactly at the limit it
 * is still healthy.
 */
export function deadlineOf(
  execution: Pick<
    Execution,
    'status' | 'limits' | 'queuedAt' | 'startedAt' | 'heartbeatAt' | 'progressAt'
  >,
): number | null {
  let earliest: number | null = null;
  for (const at of Object.values(limitDeadlines(execution))) {
    if (at !== null && (earliest === null || at < earliest)) earliest = at;
  }
  return earliest;
}
