/** How a mapped table's rows read as executions: ids, limits, child statuses, sweep order. */
import type { Decision } from '../core/decide.js';
import { actionLabel } from '../core/decide.js';
import { formatDuration } from '../core/duration.js';
import { deadlineOf } from '../core/limits.js';
import type { Execution, Status } from '../core/types.js';
import { limitsFor } from '../core/policy.js';
import type { Placeholder, Template } from './table-template.js';
import { renderTemplate } from './table-template.js';
import { attemptOf, rowLimitsOf } from './table-row-sql.js';
import type { EngineConfig } from '../ports/engine-config.js';
import type { StatusValue, TableSourceConfig } from './table-config.js';
import type { MappedRow } from './table-sql.js';

/** Child tables before their parents (deepest first); a cycle is broken where it is found. */
export function childrenFirst(tables: readonly TableSourceConfig[]): TableSourceConfig[] {
  const depth = new Map<string, number>();
  const depthOf = (table: TableSourceConfig, seen: Set<string>): number => {
    const known = depth.get(table.name);
    if (known !== undefined) return known;
    if (seen.has(table.name)) return 0;
    seen.add(table.name);
    const children = tables.filter((other) => other.parent?.table === table.name);
    const value = Math.max(0, ...children.map((child) => depthOf(child, seen) + 1));
    depth.set(table.name, value);
    return value;
  };
  return [...tables].sort((a, b) => depthOf(a, new Set()) - depthOf(b, new Set()));
}

/** A running row as the execution the core judges (`table:id`). */
export function toExecution(
  table: TableSourceConfig,
  row: MappedRow,
  config: EngineConfig,
  now: number,
): Execution {
  const execution: Execution = {
    ...blankExecution(`${table.name}:${row.id}`, table.kind),
    owner: row.owner,
    parentId: table.parent && row.parent !== null ? `${table.parent.table}:${row.parent}` : null,
    status: 'running',
    startedAt: row.startedAt,
    heartbeatAt: row.heartbeatAt,
    createdAt: row.startedAt ?? now,
    attempt: attemptOf(table, row.extras),
    // Limits resolve like the ledger's: the row's own (rowLimits) → the table's → its kind's →
    // its owner's → defaults.
    limits: limitsFor(config, {
      kind: table.kind,
      owner: row.owner,
      limits: { ...table.limits, ...rowLimitsOf(table, row.extras).limits },
    }),
  };
  return { ...execution, deadlineAt: deadlineOf(execution) };
}

/** The text written into a row Vigil ends: its write's template, filled in. */
export function endText(
  template: Template,
  table: TableSourceConfig,
  row: MappedRow,
  execution: Execution,
  decision: Decision,
  now: number,
): string {
  const { limits } = execution;
  const limit = decision.verdict === 'heartbeat_lost' ? limits.heartbeat : limits.run;
  const fields: Record<Placeholder, string> = {
    verdict: decision.verdict,
    reason: decision.reason,
    elapsed: execution.startedAt === null ? '-' : formatDuration(now - execution.startedAt),
    limit: limit === null ? 'none' : formatDuration(limit),
    id: row.id,
    source: table.name,
    table: table.table,
    attempt: String(execution.attempt),
    action: actionLabel(decision.action),
    now: new Date(now).toISOString(),
  };
  return renderTemplate(template, fields, row.extras.columns);
}

export function blankExecution(id: string, kind: string): Execution {
  return {
    id,
    kind,
    owner: null,
    parentId: null,
    status: 'running',
    attempt: 1,
    queuedAt: null,
    startedAt: null,
    heartbeatAt: null,
    progressAt: null,
    endedAt: null,
    deadlineAt: null,
    limits: { run: null, heartbeat: null, progress: null, queue: null },
    progress: null,
    reason: null,
    verdict: null,
    endedBy: null,
    result: null,
    error: null,
    lateResult: null,
    metadata: {},
    createdAt: 0,
  };
}

/**
 * A child row's status in Vigil's terms. A value the configuration does not list counts as
 * pending: it can never make its workflow run succeed, and cannot fail it by itself either.
 */
export function statusOf(table: TableSourceConfig, value: StatusValue): Status {
  const is = (values: StatusValue[]) => values.some((v) => String(v) === String(value));
  if (is(table.status.running)) return 'running';
  if (is(table.status.failed)) return 'failed';
  if (is(table.status.succeeded)) return 'succeeded';
  if (is(table.status.cancelled)) return 'cancelled';
  return 'queued';
}

/** An error's message, with its driver code when the message does not already name it. */
export function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && !error.message.includes(code)
    ? `${error.message} (${code})`
    : error.message;
}
