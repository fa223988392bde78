import { formatDuration } from '../core/duration.js';
import type { Execution } from '../core/types.js';
import { iso } from '../present.js';

/** Left-aligned columns, two spaces apart. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) =>
      row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '),
    )
    .join('\n');
}

export function relative(at: number | null, now: number): string {
  if (at === null) return '-';
  const delta = at - now;
  return delta >= 0 ? `in ${formatDuration(delta)}` : `${formatDuration(-delta)} ago`;
}

export function describeExecution(e: Execution, now: number): string {
  const limits = Object.entries(e.limits)
    .map(([name, ms]) => `${name} ${ms === null ? 'none' : formatDuration(ms)}`)
    .join(', ');
  const at = (ms: number | null, text: (ms: number) => string) => (ms === null ? null : text(ms));
  const lines: [string, string | null][] = [
    ['id', e.id],
    ['kind', e.kind],
    ['owner', e.owner],
    ['parent', e.parentId],
    ['status', `${e.status} (attempt ${e.attempt})`],
    ['limits', limits],
    ['queued', at(e.queuedAt, (ms) => `${iso(ms)} (${relative(ms, now)})`)],
    ['started', at(e.startedAt, (ms) => `${iso(ms)} (${relative(ms, now)})`)],
    ['heartbeat', at(e.heartbeatAt, (ms) => `${iso(ms)} (${relative(ms, now)})`)],
    ['progress', at(e.progressAt, (ms) => `${JSON.stringify(e.progress)} at ${iso(ms)}`)],
    ['deadline', at(e.deadlineAt, (ms) => `${iso(ms)} (${relative(ms, now)})`)],
    ['ended', at(e.endedAt, (ms) => `${iso(ms)} by ${e.endedBy ?? '?'}`)],
    ['verdict', e.verdict],
    ['reason', e.reason],
    ['result', e.result === null ? null : JSON.stringify(e.result)],
    ['error', e.error === null ? null : JSON.stringify(e.error)],
    [
      'late result',
      e.lateResult &&
        `${e.lateResult.status} at ${iso(e.lateResult.at)} (attempt ${e.lateResult.attempt}): ${JSON.stringify(e.lateResult.result ?? e.lateResult.error ?? null)}`,
    ],
    ['metadata', Object.keys(e.metadata).length > 0 ? JSON.stringify(e.metadata) : null],
  ];
  return table(
    lines
      .filter((line): line is [string, string] => line[1] !== null)
      .map(([k, v]) => [`${k}:`, v]),
  );
}
