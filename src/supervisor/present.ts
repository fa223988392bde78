/** JSON shapes of the supervisor in the public API: camelCase, ISO-8601 UTC times. */
import type { JsonValue } from '../core/types.js';
import type { RecoveryRecord } from '../ports/process-store.js';
import { iso } from '../present.js';
import type { ProcessStatus } from './supervisor.js';

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
