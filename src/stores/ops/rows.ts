import type { Selectable } from 'kysely';
import type {
  Execution,
  ExecutionVerdict,
  JsonValue,
  LateResult,
  Status,
} from '../../core/types.js';
import { detectionTimes } from '../../core/detection.js';
import type { Labels, RemediationRecord } from '../../ports/audit-store.js';
import type { SlotHoldRecord, SlotReleaseOutcome } from '../../ports/slot-store.js';
import type { ExecutionsTable, RemediationsTable, SlotHoldsTable } from '../schema.js';

/** Rows as the database gives them, and the records they become (shared by every operation). */
export type ExecutionRow = Selectable<ExecutionsTable>;

/** A bigint column read back: PostgreSQL drivers may hand over a string. */
export const toNumber = (value: number | string | null): number | null =>
  value === null ? null : Number(value);

export function parseJson<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

export function toExecution(row: ExecutionRow): Execution {
  return {
    id: row.id,
    kind: row.kind,
    owner: row.owner,
    parentId: row.parent_id,
    status: row.status as Status,
    attempt: row.attempt,
    queuedAt: toNumber(row.queued_at),
    startedAt: toNumber(row.started_at),
    heartbeatAt: toNumber(row.heartbeat_at),
    progressAt: toNumber(row.progress_at),
    endedAt: toNumber(row.ended_at),
    deadlineAt: toNumber(row.deadline_at),
    limits: {
      run: toNumber(row.limit_run),
      heartbeat: toNumber(row.limit_heartbeat),
      progress: toNumber(row.limit_progress),
      queue: toNumber(row.limit_queue),
    },
    progress: parseJson<string | number>(row.progress),
    reason: row.reason,
    verdict: row.verdict as ExecutionVerdict | null,
    endedBy: row.ended_by as Execution['endedBy'],
    result: parseJson<JsonValue>(row.result),
    error: parseJson<JsonValue>(row.error),
    lateResult: parseJson<LateResult>(row.late_result),
    metadata: JSON.parse(row.metadata) as Record<string, JsonValue>,
    createdAt: Number(row.created_at),
  };
}

/** A remediation record as its row. */
export function remediationRow(r: RemediationRecord): Selectable<RemediationsTable> {
  const times = detectionTimes(r.evidence, r.at);
  return {
    id: r.id,
    sweep_id: r.sweepId,
    at: r.at,
    execution_id: r.executionId,
    attempt: r.attempt,
    kind: r.kind,
    owner: r.owner,
    verdict: r.verdict,
    action: r.action,
    reason: r.reason,
    evidence: JSON.stringify(r.evidence),
    steps: JSON.stringify(r.steps),
    outcome: r.outcome,
    dry_run: r.dryRun ? 1 : 0,
    labels: r.labels ? JSON.stringify(r.labels) : null,
    ran_ms: times.ranMs,
    late_ms: times.lateMs,
  };
}

/** A remediation row as its record. */
export function toRemediation(r: Selectable<RemediationsTable>): RemediationRecord {
  return {
    id: r.id,
    sweepId: r.sweep_id,
    at: Number(r.at),
    executionId: r.execution_id,
    attempt: r.attempt,
    kind: r.kind,
    owner: r.owner,
    verdict: r.verdict as ExecutionVerdict,
    action: r.action as RemediationRecord['action'],
    reason: r.reason,
    evidence: JSON.parse(r.evidence) as Record<string, JsonValue>,
    steps: JSON.parse(r.steps) as RemediationRecord['steps'],
    outcome: r.outcome as RemediationRecord['outcome'],
    dryRun: r.dry_run === 1,
    ...(r.labels === null ? {} : { labels: JSON.parse(r.labels) as Labels }),
  };
}

export function toSlotHold(row: Selectable<SlotHoldsTable>): SlotHoldRecord {
  return {
    executionId: row.execution_id,
    attempt: row.attempt,
    slot: row.slot,
    acquiredAt: Number(row.acquired_at),
    expiresAt: toNumber(row.expires_at),
    releaseDueAt: toNumber(row.release_due_at),
    remediationId: row.remediation_id,
    releasedAt: toNumber(row.released_at),
    releaseOutcome: row.release_outcome as SlotReleaseOutcome | null,
  };
}
