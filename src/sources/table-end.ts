/**
 * Which of a table's writes ends a stuck row, and with what: `onEnd` (fail, or close a workflow
 * run as succeeded), `requeue.write` (queue it again while attempts remain) or `deadLetter` (after
 * the last attempt; `onEnd` unless configured).
 */
import type { Decision } from '../core/decide.js';
import { actionLabel } from '../core/decide.js';
import type { Execution, JsonValue, Status } from '../core/types.js';
import type { VigilEvent } from '../ports/events.js';
import type { StatusValue, TableSourceConfig } from './table-config.js';
import type { RowWrite } from './table-row-config.js';
import { endText } from './table-rows.js';
import type { MappedRow } from './table-sql.js';

export interface EndPlan {
  write: RowWrite;
  /** The status value written to the row. */
  status: StatusValue;
  /** The end text, when the write has a reason column (never for a success). */
  reason: string | null;
  /** A re-queue: when the row may run again (written to `requeue.availableAt` when mapped). */
  requeue?: { availableAt: number } | undefined;
  /** What the row is in Vigil's terms once written. */
  becomes: Status;
  /** For reports: what the write does, in a few words. */
  summary: string;
}

export function planEnd(
  table: TableSourceConfig,
  row: MappedRow,
  execution: Execution,
  decision: Decision,
  now: number,
): EndPlan {
  const { action } = decision;
  if (action.kind !== 'end') throw new Error(`planEnd: ${decision.executionId} is not ended`);
  const set = (status: StatusValue) => `set ${table.status.column} = ${JSON.stringify(status)}`;
  const text = (write: RowWrite) =>
    write.reason ? endText(write.reason.text, table, row, execution, decision, now) : null;
  if (action.status === 'succeeded') {
    const status = table.status.succeeded[0];
    return { write: table.onEnd, status, reason: null, becomes: 'succeeded', summary: set(status) };
  }
  if (action.retry && table.requeue) {
    const { write } = table.requeue;
    return {
      write,
      status: write.status,
      reason: text(write),
      requeue: { availableAt: now + action.retry.delayMs },
      becomes: 'queued',
      summary: `re-queue as attempt ${action.retry.attempt}: ${set(write.status)}`,
    };
  }
  if (action.status === 'dead') {
    const write = table.deadLetter ?? table.onEnd;
    return {
      write,
      status: write.status,
      reason: text(write),
      becomes: 'dead',
      summary: `dead-letter after attempt ${execution.attempt}: ${set(write.status)}`,
    };
  }
  const write = table.onEnd;
  return {
    write,
    status: write.status,
    reason: text(write),
    becomes: 'failed',
    summary: set(write.status),
  };
}

/** Where a row lives, for events and the evidence. */
export interface RowWhere {
  source: string;
  table: string;
  rowId: string;
}

/** The evidence with where the row lives and, when limits came from the row, where from. */
export function withWhere(
  evidence: Record<string, JsonValue>,
  where: RowWhere,
  limitFrom: Record<string, string>,
): Record<string, JsonValue> {
  const merged: Record<string, JsonValue> = { ...evidence, ...where };
  if (Object.keys(limitFrom).length > 0) merged.limitFrom = limitFrom;
  return merged;
}

/** The events of a row written as planned: remediated (and dead, after the last attempt). */
export function endEvents(
  plan: EndPlan,
  decision: Decision,
  where: RowWhere,
  at: number,
): VigilEvent[] {
  const base = {
    at,
    executionId: decision.executionId,
    attempt: decision.attempt,
    verdict: decision.verdict,
    reason: decision.reason,
    ...where,
  };
  const events: VigilEvent[] = [
    {
      type: 'execution:remediated',
      ...base,
      status: plan.becomes,
      rowStatus: plan.status,
      action: actionLabel(decision.action),
    },
  ];
  if (plan.becomes === 'dead') events.push({ type: 'execution:dead', ...base });
  return events;
}
