/** How a mapped table's columns store times and take text, from the types the database reports. */
import type { AppDialect } from './app-database.js';
import { SourceProblem } from '../ports/source.js';

/** How a time column stores its moments. */
export type TimeKind = 'timestamptz' | 'timestamp' | 'date' | 'number' | 'text';
/** How the reason column takes text. */
export type ReasonKind = 'plain' | 'to-json' | 'jsonb-key' | 'json-key' | 'sqlite-json-key';

export function classifyTime(dialect: AppDialect, type: string): TimeKind | undefined {
  if (dialect === 'sqlite') {
    // SQLite stores whatever it is given; the declared type only says how Vigil writes `now`.
    return /int|real|floa|doub/.test(type) ? 'number' : 'text';
  }
  if (/^timestamp(\(\d\))? with time zone$/.test(type)) return 'timestamptz';
  if (/^timestamp(\(\d\))?( without time zone)?$/.test(type)) return 'timestamp';
  if (type === 'date') return 'date';
  if (/^(bigint|integer|smallint|double precision|real|numeric(\(.*\))?)$/.test(type))
    return 'number';
  if (/^(text|character varying(\(\d+\))?|character(\(\d+\))?)$/.test(type)) return 'text';
  return undefined;
}

export function classifyReason(
  dialect: AppDialect,
  type: string,
  hasKey: boolean,
  key: string,
): ReasonKind {
  if (dialect === 'sqlite') return hasKey ? 'sqlite-json-key' : 'plain';
  if (type === 'jsonb' || type === 'json') {
    if (!hasKey) return 'to-json';
    return type === 'jsonb' ? 'jsonb-key' : 'json-key';
  }
  if (hasKey) {
    throw new SourceProblem(key, `expected a json or jsonb column for reason.key, found ${type}`);
  }
  if (/^(text|character varying(\(\d+\))?|character(\(\d+\))?)$/.test(type)) return 'plain';
  throw new SourceProblem(
    key,
    `expected a text, json or jsonb column for the reason, found ${type}`,
  );
}

/** A time column as epoch milliseconds where SQL can say so; as text or a number otherwise. */
export function readTimeSql(dialect: AppDialect, kind: TimeKind, ref: string): string {
  if (dialect === 'sqlite') return ref;
  if (kind === 'number') return `${ref}::float8`;
  if (kind === 'text') return `${ref}::text`;
  // A timestamp without time zone is taken as UTC, as Vigil writes it.
  return `(extract(epoch from ${ref}) * 1000)::float8`;
}

/**
 * A time column's value as read by readTimeSql, in epoch milliseconds: null when empty,
 * undefined when it is not a time.
 */
export function timeToMs(
  dialect: AppDialect,
  kind: TimeKind,
  timeUnit: 'ms' | 's',
  value: unknown,
): number | null | undefined {
  const unit = timeUnit === 's' ? 1_000 : 1;
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') {
    // PostgreSQL timestamps arrive already in milliseconds; numbers count in `timeUnit`.
    return dialect === 'postgres' && kind !== 'number' ? value : value * unit;
  }
  if (typeof value === 'bigint') return Number(value) * unit;
  if (typeof value === 'string') return parseTime(value, unit);
  if (value instanceof Date) return value.getTime();
  return undefined;
}

/**
 * A time as text: a number (in `unit` ms), ISO-8601, or SQLite's `YYYY-MM-DD HH:MM:SS`, which has
 * no zone and, like SQLite's own CURRENT_TIMESTAMP, is UTC. Undefined when it is none of these.
 */
export function parseTime(text: string, unit: number): number | undefined {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * unit;
  const zoneless = /^\d{4}-\d\d-\d\d([ T]\d\d:\d\d(:\d\d(\.\d+)?)?)?$/.test(trimmed);
  const ms = Date.parse(
    zoneless ? `${trimmed.replace(' ', 'T')}${trimmed.length > 10 ? 'Z' : 'T00:00:00Z'}` : trimmed,
  );
  return Number.isNaN(ms) ? undefined : ms;
}

/** An id or owner as text, whatever type its column has. */
export function asText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') {
    return String(value);
  }
  if (value instanceof Date) return value.toISOString();
  return JSON.stringify(value) ?? '';
}
