/** What `vigil probe` prints: one line (or JSON object) per check and per event. */
import { formatDuration } from '../../core/duration.js';
import { iso } from '../../present.js';
import type { ProbeSpec } from '../../probes/probe-config.js';
import type { ProbeStatus } from '../../probes/probe-monitor.js';
import type { VigilEvent } from '../../runtime/events.js';
import type { SourceCheck } from '../../app/http-list-watcher.js';

/**
 * `vigil probe` exit codes (docs/api.md), distinct so a restart policy or an operator can tell
 * them apart: the service is unhealthy (1), its work is stuck (2), or the watchdog itself could not
 * do its job (3: a bad configuration or flag, an internal error) — restarting the watched service
 * for the last would be the wrong remedy.
 */
export const PROBE_EXIT = { healthy: 0, failing: 1, stuck: 2, watchdogFailed: 3 } as const;

export function probeJson(status: ProbeStatus) {
  return {
    type: 'probe',
    at: iso(status.lastCheckAt),
    url: status.url,
    state: status.state,
    ok: status.lastError === null,
    error: status.lastError,
    consecutiveFailures: status.consecutiveFailures,
    consecutiveSuccesses: status.consecutiveSuccesses,
  };
}

export function describeProbe(status: ProbeStatus, spec: ProbeSpec): string {
  const at = iso(status.lastCheckAt) ?? '-';
  if (status.lastError === null) return `${at}  ${status.state}  ${status.url}: ok`;
  return `${at}  ${status.state}  ${status.url}: ${status.lastError} (${status.consecutiveFailures} failed in a row, failing after ${spec.failures})`;
}

export function operationsJson(check: SourceCheck) {
  return {
    type: 'operations',
    at: iso(check.source.lastCheckAt),
    url: check.source.url,
    state: check.source.state,
    reason: check.source.lastError,
    items: check.verdicts.map((v) => ({
      id: v.id,
      status: v.status,
      lastUpdateAt: iso(v.lastUpdateAt),
      stuck: v.stuck,
      stuckForMs: v.stuckForMs,
      reason: v.reason,
    })),
    skipped: check.source.skipped,
  };
}

export function describeOperations(check: SourceCheck): string {
  const at = iso(check.source.lastCheckAt) ?? '-';
  const { source } = check;
  if (source.state === 'unknown') {
    return `${at}  unknown  ${source.url}: ${source.lastError ?? ''} (no action taken)`;
  }
  const stuck = check.verdicts.filter((v) => v.stuck);
  const lines = [
    `${at}  ${stuck.length > 0 ? 'stuck' : 'ok'}  ${source.url}: ${check.verdicts.length} listed, ${stuck.length} stuck`,
    ...stuck.map((v) => `  ${v.id}: ${v.reason}`),
    ...source.skipped.map((s) => `  skipped ${s}`),
  ];
  return lines.join('\n');
}

export function eventJson(event: VigilEvent) {
  return { ...event, type: 'event', event: event.type, at: iso(event.at) };
}

export function describeEvent(event: VigilEvent): string {
  switch (event.type) {
    case 'probe:failing':
      return `! ${event.type}: ${event.url}: ${event.reason}`;
    case 'probe:recovered': {
      const down =
        event.failingForMs !== null ? ` after ${formatDuration(event.failingForMs)}` : '';
      return `! ${event.type}: ${event.url}${down}`;
    }
    case 'execution:stuck':
      if ('operationId' in event) {
        return `! ${event.type}: ${event.source}:${event.operationId}: ${event.reason}`;
      }
      return `! ${event.type}: ${event.executionId}: ${event.reason}`;
    default:
      return `! ${event.type}`;
  }
}
