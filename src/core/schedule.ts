/**
 * Judging scheduled work that should have started: for each due time whose grace has passed,
 * whether a counted execution (or a ping) started in its window. Pure: times come in as
 * arguments, decisions go out; the runtime stores and announces them.
 */

/** What a schedule's latest judged due time came to; `waiting` before the first is judged. */
export type ScheduleState = 'waiting' | 'ok' | 'missed' | 'late';

/**
 * How early a start may come and still count for a due time: a cron job whose host clock runs a
 * little ahead starts before Vigil's due time. A minute covers ordinary clock skew; more would let
 * a run meant for the previous due time also cover this one when the grace is long.
 */
export const EARLY_START_MS = 60_000;

/**
 * Misses recorded one by one per batch of judged due times; older ones fold into one summarising
 * miss. After a long downtime (a week of a job due every minute is 10,080 due times) a person
 * needs to know the job has not run for a week, not to receive ten thousand alerts — flooding the
 * channel would bury every other alert, the worse mistake. Ten keep the recent pattern visible.
 */
export const MISS_CAP = 10;

/** Evidence of a missed due time (or of several, folded into one). */
export interface MissedEvidence {
  dueAt: number;
  graceMs: number;
  /** The last start seen before the due time's window closed; null when none was ever seen. */
  lastStartAt: number | null;
  /** Due times this verdict covers: 1, or more for a summarising miss. */
  count: number;
  /** The oldest due time covered (equal to `dueAt` unless it summarises). */
  firstDueAt: number;
}

/** What judging a run of due times decided. */
export interface DueJudgement {
  /** The latest due time judged; the next pass starts after it. */
  lastJudgedDueAt: number;
  /** Missed due times to record and announce, oldest first; at most MISS_CAP + 1. */
  missed: MissedEvidence[];
  /** Due times that had a start in their window. */
  onTime: number;
  /** What the latest judged due time came to. */
  state: 'ok' | 'missed';
  /** The latest start seen among those given, or the previous one. */
  lastStartAt: number | null;
}

/** The window in which a start counts for a due time: [dueAt − early, dueAt + grace]. */
export function windowOf(dueAt: number, graceMs: number): { from: number; to: number } {
  return { from: dueAt - Math.min(graceMs, EARLY_START_MS), to: dueAt + graceMs };
}

/**
 * Judges due times (oldest first, each with its grace already past) against the starts seen
 * (any order). A due time with a start in its window is on time; one without is missed. When
 * more than MISS_CAP are missed, all but the last MISS_CAP fold into one summarising miss.
 */
export function judgeDueTimes(
  due: readonly number[],
  starts: readonly number[],
  graceMs: number,
  previousStartAt: number | null,
): DueJudgement | null {
  const last = due.at(-1);
  if (last === undefined) return null;
  const sorted = [...starts].sort((a, b) => a - b);
  const misses: MissedEvidence[] = [];
  let onTime = 0;
  let state: 'ok' | 'missed' = 'ok';
  for (const dueAt of due) {
    const { from, to } = windowOf(dueAt, graceMs);
    const started = sorted.some((at) => at >= from && at <= to);
    state = started ? 'ok' : 'missed';
    if (started) {
      onTime += 1;
      continue;
    }
    misses.push({
      dueAt,
      graceMs,
      lastStartAt: latestAtOrBefore(sorted, to) ?? previousStartAt,
      count: 1,
      firstDueAt: dueAt,
    });
  }
  return {
    lastJudgedDueAt: last,
    missed: foldMisses(misses),
    onTime,
    state,
    lastStartAt: sorted.at(-1) ?? previousStartAt,
  };
}

function foldMisses(misses: MissedEvidence[]): MissedEvidence[] {
  if (misses.length <= MISS_CAP) return misses;
  const older = misses.slice(0, misses.length - MISS_CAP);
  const first = older[0];
  const newest = older.at(-1);
  if (first === undefined || newest === undefined) return misses;
  const summary: MissedEvidence = {
    ...newest,
    count: older.length,
    firstDueAt: first.firstDueAt,
  };
  return [summary, ...misses.slice(misses.length - MISS_CAP)];
}

function latestAtOrBefore(sorted: readonly number[], at: number): number | null {
  let found: number | null = null;
  for (const start of sorted) if (start <= at) found = start;
  return found;
}

/**
 * Whether a missed due time's run came late: the first start after its window closed and before
 * the next due time's window opens (a start after that belongs to the next due time). Null when
 * none came (yet).
 */
export function lateStart(
  missedDueAt: number,
  nextDueAt: number | null,
  graceMs: number,
  starts: readonly number[],
): number | null {
  const after = windowOf(missedDueAt, graceMs).to;
  const before = nextDueAt === null ? Infinity : windowOf(nextDueAt, graceMs).from;
  const late = starts.filter((at) => at > after && at < before).sort((a, b) => a - b);
  return late[0] ?? null;
}
