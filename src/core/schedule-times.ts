/** When a schedule is due: its timing, its due times, and what counts as one of its runs. */

/** How a schedule's due times are found. */
export type Timing =
  | { kind: 'cron'; cron: string; tz: string }
  | {
      kind: 'every';
      everyMs: number;
    };

/** A schedule's due times, answered from a given instant on. */
export interface DueTimes {
  /** The first due time strictly after `after` (ms since the epoch); null when there is none. */
  next(after: number): number | null;
  /** The last due time at or before `at`; null when there is none. */
  previous(at: number): number | null;
}

/**
 * The due times of an `every` period, anchored at the Unix epoch (due at every multiple of the
 * period), so each replica and each restart computes the same due times without remembering when
 * it started. (Cron times are built in src/schedules/cron.ts.)
 */
export function everyTimes(periodMs: number): DueTimes {
  return {
    next: (after) => (Math.floor(after / periodMs) + 1) * periodMs,
    previous: (at) => Math.floor(at / periodMs) * periodMs,
  };
}

/**
 * The due times in (after, until], oldest first: at most `limit` of them, the ones after are left
 * for the next call (`complete` false).
 */
export function dueBetween(
  times: DueTimes,
  after: number,
  until: number,
  limit: number,
): { due: number[]; complete: boolean } {
  const due: number[] = [];
  for (let at = times.next(after); at !== null && at <= until; at = times.next(at)) {
    if (due.length === limit) return { due, complete: false };
    due.push(at);
  }
  return { due, complete: true };
}

/** Which executions count as a run of a schedule; pings to the schedule always count. */
export interface ScheduleCounts {
  /** Ledger executions of this kind. */
  kind: string | null;
  /** Ledger executions of this owner (with `kind`: of both). */
  owner: string | null;
  /**
   * The rows of this mapped table (`tables:`), by their start column; with `owner`, only the rows
   * whose owner column holds it.
   */
  table: string | null;
}

/** One schedule of `schedules:`, resolved with its defaults. */
export interface ScheduleSpec {
  name: string;
  timing: Timing;
  /** How long after a due time a run may start and still be on time. */
  graceMs: number;
  counts: ScheduleCounts;
  times: DueTimes;
  /** Where it is defined: vigil.yaml, or the API (stored in the database). */
  source: 'config' | 'api';
  /**
   * When an API schedule got its current timing: due times whose grace had passed by then are
   * never judged (a new or retimed schedule is judged from its next due time on). Null for config.
   */
  since: number | null;
}
