/** JSON shapes of the public contract: camelCase fields, ISO-8601 UTC times. */
import type { Execution, JsonValue } from './core/types.js';
import type { RemediationRecord, SweepReport } from './ports/audit-store.js';
import type { RecoveryRecord } from './ports/process-store.js';
import type { SlotHoldRecord } from './ports/slot-store.js';
import type { ProcessStatus } from './ports/process-status.js';

export const iso = (ms: number | null): string | null =>
  ms === null ? null : new Date(ms).toISOString();

export function executionJson(e: Execution): Record<string, JsonValue> {
  return {
    id: e.id,
    kind: e.kind,
    owner: e.owner,
    parentId: e.parentId,
    status: e.status,
    attempt: e.attempt,
    queuedAt: iso(e.queuedAt),
    startedAt: iso(e.startedAt),
    heartbeatAt: iso(e.heartbeatAt),
    progressAt: iso(e.progressAt),
    endedAt: iso(e.endedAt),
    deadlineAt: iso(e.deadlineAt),
    limits: { ...e.limits },
    progress: e.progress,
    reason: e.reason,
    verdict: e.verdict,
    endedBy: e.endedBy,
    result: e.result,
    error: e.error,
    lateResult: e.lateResult && {
      ...(e.lateResult as unknown as Record<string, JsonValue>),
      at: iso(e.lateResult.at),
    },
    metadata: e.metadata,
  };
}

export function sweepReportJson(report: SweepReport): Record<string, JsonValue> {
  return {
    id: report.id,
    startedAt: iso(report.startedAt),
    finishedAt: iso(report.finishedAt),
    dryRun: report.dryRun,
    examined: report.examined,
    decisions: report.decisions.map((d) => ({ ...d })),
    counts: { ...report.counts },
    ...(report.sourceErrors ? { sourceErrors: report.sourceErrors.map((e) => ({ ...e })) } : {}),
  };
}

export function remediationJson(r: RemediationRecord): Record<string, JsonValue> {
  return {
    id: r.id,
    sweepId: r.sweepId,
    at: iso(r.at),
    executionId: r.executionId,
    attempt: r.attempt,
    kind: r.kind,
    owner: r.owner,
    verdict: r.verdict,
    action: r.action,
    reason: r.reason,
    evidence: r.evidence,
    steps: r.steps.map((s) => ({ ...s, detail: s.detail ?? null })),
    outcome: r.outcome,
    dryRun: r.dryRun,
  };
}

export function slotHoldJson(h: SlotHoldRecord): Record<string, JsonValue> {
  return {
    slot: h.slot,
    attempt: h.attempt,
    acquiredAt: iso(h.acquiredAt),
    expiresAt: iso(h.expiresAt),
    releaseDueAt: iso(h.releaseDueAt),
    releasedAt: iso(h.releasedAt),
    releaseOutcome: h.releaseOutcome,
  };
}

/** One item of `GET /v1/processes` (and `vigil proc status --json`). */
export function processStatusJson(s: ProcessStatus): Record<string, JsonValue> {
  return {
    name: s.name,
    enabled: s.enabled,
    verdict: s.verdict,
    evidence: s.evidence,
    pid: s.pid,
    consecutiveUnhealthy: s.consecutiveUnhealthy,
    restarts: s.restarts,
    lastCheckAt: iso(s.lastCheckAt),
    nextRestartAt: iso(s.nextRestartAt),
    gaveUp: s.gaveUp,
  };
}

export function recoveryJson(r: RecoveryRecord): Record<string, JsonValue> {
  return {
    id: r.id,
    name: r.name,
    at: iso(r.at),
    finishedAt: iso(r.finishedAt),
    trigger: r.trigger,
    reason: r.reason,
    outcome: r.outcome,
    evidence: r.evidence,
    steps: r.steps.map((s) => ({ ...s, startedAt: iso(s.startedAt) })),
  };
}
