/**
 * What the SELECT that reads a mapped table's running rows adds for the per-row keys: the joins
 * and the columns or expressions limits are read from, the attempt count, the columns end texts
 * name. Only ever part of that SELECT (read-only), never of a write. Identifiers are checked at
 * load and quoted here; the expressions are the operator's own configuration.
 */
import type { PartialLimits } from '../core/types.js';
import { formatDuration } from '../core/duration.js';
import { quote } from './identifiers.js';
import type { RowLimit, RowLimitName } from './table-row-config.js';
import { UNIT_MS } from './table-row-config.js';
import type { TableSourceConfig } from './table-config.js';

/** The per-row values read with a running row. */
export interface RowExtras {
  /** The value each `rowLimits` entry read (a column's value or the expression's result). */
  limitValues: Partial<Record<RowLimitName, unknown>>;
  /** The attempt-count column as read (`requeue.attempts.column`), for the count and the fence. */
  attempts: unknown;
  /** The columns end texts name (`{row.NAME}`), by name. */
  columns: Record<string, unknown>;
}

const LIMIT_ALIAS: Record<RowLimitName, string> = {
  run: 'vigil_limit_run',
  heartbeat: 'vigil_limit_heartbeat',
};
const ATTEMPTS_ALIAS = 'vigil_attempts';
const columnAlias = (index: number) => `vigil_col_${index}`;

/** Every column of the mapped table that the per-row keys read, with the key that names it. */
export function rowColumns(table: TableSourceConfig): [path: string, column: string][] {
  const found: [string, string][] = [];
  for (const [name, limit] of Object.entries(table.rowLimits)) {
    if (limit.kind !== 'sql') found.push([`rowLimits.${name}.column`, limit.column]);
  }
  if (table.requeue) found.push(['requeue.attempts.column', table.requeue.attempts.column]);
  for (const column of templateColumns(table)) found.push([column.path, column.column]);
  for (const [index, join] of table.joins.entries()) {
    for (const [their, ours] of Object.entries(join.on)) {
      if (!ours.includes('.')) found.push([`joins.${index}.on.${their}`, ours]);
    }
  }
  return found;
}

/** The `{row.NAME}` columns of every end text, in the order they are selected. */
function templateColumns(table: TableSourceConfig): { path: string; column: string }[] {
  const seen = new Map<string, string>();
  for (const [name, write] of [
    ['onEnd', table.onEnd],
    ['requeue', table.requeue?.write],
    ['deadLetter', table.deadLetter],
  ] as const) {
    for (const column of write?.reason?.text.columns ?? []) {
      if (!seen.has(column)) seen.set(column, `${name}.reason.text`);
    }
  }
  return [...seen].map(([column, path]) => ({ path, column }));
}

/** The JOIN clauses and select items the per-row keys add; `col` qualifies the table's columns. */
export function selectExtras(
  table: TableSourceConfig,
  col: (column: string) => string,
): { joins: string; select: string[]; readOnly: boolean } {
  const joins = table.joins.map((join) => {
    const on = Object.entries(join.on).map(([their, ours]) => {
      const [alias, column] = ours.includes('.') ? ours.split('.') : [null, ours];
      const right = alias ? `${quote(alias)}.${quote(column ?? '')}` : col(ours);
      return `${quote(join.as)}.${quote(their)} = ${right}`;
    });
    return `LEFT JOIN ${quote(join.table)} AS ${quote(join.as)} ON ${on.join(' AND ')}`;
  });
  const select: string[] = [];
  for (const [name, limit] of Object.entries(table.rowLimits) as [RowLimitName, RowLimit][]) {
    const value = limit.kind === 'sql' ? `(${limit.sql})` : col(limit.column);
    select.push(`${value} AS ${LIMIT_ALIAS[name]}`);
  }
  if (table.requeue) select.push(`${col(table.requeue.attempts.column)} AS ${ATTEMPTS_ALIAS}`);
  templateColumns(table).forEach(({ column }, index) => {
    select.push(`${col(column)} AS ${columnAlias(index)}`);
  });
  const readOnly = Object.values(table.rowLimits).some((limit) => limit.kind === 'sql');
  return { joins: joins.join(' '), select, readOnly };
}

export function readExtras(table: TableSourceConfig, raw: Record<string, unknown>): RowExtras {
  const limitValues: Partial<Record<RowLimitName, unknown>> = {};
  for (const name of Object.keys(table.rowLimits) as RowLimitName[]) {
    limitValues[name] = raw[LIMIT_ALIAS[name]] ?? null;
  }
  const columns: Record<string, unknown> = {};
  templateColumns(table).forEach(({ column }, index) => {
    columns[column] = raw[columnAlias(index)] ?? null;
  });
  return { limitValues, attempts: raw[ATTEMPTS_ALIAS] ?? null, columns };
}

/**
 * The limits a row sets for itself, and where each came from (for the evidence). A value that is
 * missing, not a number, or not above zero leaves the limit to the entry's `limits` and the chain
 * after it; a `values` entry of null means "no limit" for that value.
 */
export function rowLimitsOf(
  table: TableSourceConfig,
  extras: RowExtras,
): { limits: PartialLimits; from: Record<string, string> } {
  const limits: PartialLimits = {};
  const from: Record<string, string> = {};
  for (const [name, limit] of Object.entries(table.rowLimits) as [RowLimitName, RowLimit][]) {
    const value = extras.limitValues[name];
    const what = limit.kind === 'sql' ? limit.sql : limit.column;
    const fallback = (why: string) => {
      const own = table.limits[name];
      const then = own === undefined ? 'kinds, owners, defaults' : `limits.${name}`;
      from[name] = `rowLimits.${name}: ${why}; from ${then}`;
    };
    if (limit.kind === 'byValue') {
      const key = value === null || value === undefined ? null : asKey(value);
      if (key !== null && Object.hasOwn(limit.values, key)) {
        const ms = limit.values[key] ?? null;
        limits[name] = ms;
        from[name] =
          `rowLimits.${name}: ${what} = ${JSON.stringify(key)} → ${ms === null ? 'no limit' : formatDuration(ms)}`;
      } else {
        fallback(`${what} = ${key === null ? 'NULL' : JSON.stringify(key)} is not listed`);
      }
      continue;
    }
    const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
    if (typeof number === 'number' && Number.isFinite(number) && number > 0) {
      const ms = Math.round(number * UNIT_MS[limit.unit]);
      limits[name] = ms;
      from[name] = `rowLimits.${name}: ${what} = ${number} ${limit.unit} → ${formatDuration(ms)}`;
    } else {
      fallback(`${what} = ${value === null ? 'NULL' : JSON.stringify(value)} is not a limit`);
    }
  }
  return { limits, from };
}

/** The row's attempt number: the count as read, plus one when Vigil counts the re-queues. */
export function attemptOf(table: TableSourceConfig, extras: RowExtras): number {
  if (!table.requeue) return 1;
  const raw = extras.attempts;
  const count = typeof raw === 'string' ? Number(raw) : typeof raw === 'bigint' ? Number(raw) : raw;
  const value = typeof count === 'number' && Number.isFinite(count) ? Math.floor(count) : 0;
  return Math.max(1, table.requeue.attempts.increment ? value + 1 : value);
}

function asKey(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') {
    return String(value);
  }
  return JSON.stringify(value) ?? '';
}
