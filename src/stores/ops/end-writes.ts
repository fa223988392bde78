import type { Selectable } from 'kysely';
import { deadlineOf } from '../../core/limits.js';
import type { JsonValue } from '../../core/types.js';
import type { RemediationRecord } from '../../ports/audit-store.js';
import type { AttemptEnd, Fence } from '../../ports/records.js';
import type { AttemptsTable } from '../schema.js';
import type { ExecutionRow } from './rows.js';
import { toNumber } from './rows.js';

/** One end of a sweep's page: the fence it is taken on, how it ends, its audit. */
export type EndItem = { fence: Fence; end: AttemptEnd; audit?: RemediationRecord | undefined };

/** An end whose compare-and-set won: its attempt's record and its audit, still to be written. */
export type Win = {
  fence: Fence;
  attempt: Selectable<AttemptsTable>;
  audit?: RemediationRecord | undefined;
};

/** Whether the row still has the deadline the fence was taken on (when the fence names one). */
export function deadlineHolds(row: Pick<ExecutionRow, 'deadline_at'>, fence: Fence): boolean {
  if (fence.deadlineAt === undefined) return true;
  const current = row.deadline_at === null ? null : Number(row.deadline_at);
  return current === fence.deadlineAt;
}

/**
 * The writes that end an attempt, computed once for every path that applies them: the row update
 * (with a retry, the execution goes back to `queued` as the next attempt) and the attempt's record.
 */
export function attemptEndWrites(
  row: ExecutionRow,
  fence: Fence,
  end: AttemptEnd,
  now: number,
): { update: Partial<ExecutionRow>; attempt: Selectable<AttemptsTable> } {
  const json = (value: JsonValue | undefined) =>
    value === undefined ? null : JSON.stringify(value);
  const ended = {
    reason: end.reason,
    verdict: end.verdict,
    ended_by: end.endedBy,
    result: json(end.result),
    error: json(end.error),
  };
  const update: Partial<ExecutionRow> = end.retry
    ? {
        ...ended,
        status: 'queued',
        attempt: end.retry.attempt,
        queued_at: end.retry.queuedAt,
        started_at: null,
        heartbeat_at: null,
        progress_at: null,
        progress: null,
        ended_at: null,
        termination_failures: 0,
        deadline_at: deadlineOf({
          status: 'queued',
          queuedAt: end.retry.queuedAt,
          startedAt: null,
          heartbeatAt: null,
          progressAt: null,
          limits: {
            run: toNumber(row.limit_run),
            heartbeat: toNumber(row.limit_heartbeat),
            progress: toNumber(row.limit_progress),
            queue: toNumber(row.limit_queue),
          },
        }),
      }
    : { ...ended, status: end.status, ended_at: now, deadline_at: null };
  return {
    update,
    attempt: {
      execution_id: fence.id,
      attempt: fence.attempt,
      status: end.status,
      queued_at: row.queued_at,
      started_at: row.started_at,
      ended_at: now,
      ...ended,
      late_result: null,
    },
  };
}
