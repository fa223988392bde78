import type { Dialect } from './context.js';

/** Larger than any deadline: stands in for "no limit" inside SQLite's min(). */
const NEVER = Number.MAX_SAFE_INTEGER;

/**
 * The deadline of a running row after a heartbeat at `now`, in SQL: deadlineOf() (core/limits.ts),
 * written once for every dialect's heartbeat write, since the beat's UPDATE computes it in place.
 * The earliest of start + run, now + heartbeat, and (now if the beat carries progress, else the
 * last progress or the start) + progress; null when no limit applies. SET sees a row's old values,
 * so the beat's new ones are spelled out rather than read back.
 *
 * `now` and `hasProgress` are SQL expressions (parameters); `row`, when given, qualifies columns.
 */
export function deadlineAfterBeatSql(
  dialect: Dialect,
  at: { now: string; hasProgress: string; row?: string },
): string {
  const col = (name: string) => (at.row === undefined ? name : `${at.row}.${name}`);
  const progressFrom = `CASE WHEN ${at.hasProgress} THEN ${at.now} ELSE coalesce(${col('progress_at')}, ${col('started_at')}) END`;
  return earliest(dialect, [
    `${col('started_at')} + ${col('limit_run')}`,
    `${at.now} + ${col('limit_heartbeat')}`,
    `${progressFrom} + ${col('limit_progress')}`,
  ]);
}

/** The smallest of these non-null values, or null when all are null. */
function earliest(dialect: Dialect, terms: string[]): string {
  // least() skips nulls; SQLite's min() of several arguments is null as soon as one is.
  if (dialect === 'postgres') return `least(${terms.join(', ')})`;
  const guarded = terms.map((term) => `coalesce(${term}, ${NEVER})`);
  return `nullif(min(${guarded.join(', ')}), ${NEVER})`;
}
