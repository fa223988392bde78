/**
 * The parts of a `tables:` entry that read or write per row: limits taken from the row itself
 * (`rowLimits`, with `joins`), the end text as a template (`reason.text`), and re-queueing a stuck
 * row instead of failing it (`requeue`, `deadLetter`).
 */
import * as z from 'zod';
import { durationSchema, limitSchema } from '../schemas.js';
import { isIdentifier } from './identifiers.js';
import type { Template } from './table-template.js';
import { DEFAULT_TEMPLATE, parseTemplate } from './table-template.js';

/** What Vigil writes into a column: its own clock's `now`, or a fixed value. */
export type SetValue = { kind: 'now' } | { kind: 'value'; value: string | number | boolean | null };

/** Where the end text goes, and the text (a template). */
export interface ReasonTarget {
  column: string;
  key: string | null;
  text: Template;
}

/** One write Vigil makes to a row it ends: the status, columns set, and the end text. */
export interface RowWrite {
  status: string | number;
  set: Record<string, SetValue>;
  reason: ReasonTarget | null;
}

/** How a number read from a row counts. */
export type LimitUnit = 'ms' | 's' | 'm';
export const UNIT_MS: Record<LimitUnit, number> = { ms: 1, s: 1_000, m: 60_000 };

/** A limit taken from the row: by a column's value, from a column, or from a SQL expression. */
export type RowLimit =
  | { kind: 'byValue'; column: string; values: Record<string, number | null> }
  | { kind: 'column'; column: string; unit: LimitUnit }
  | { kind: 'sql'; sql: string; unit: LimitUnit };

export type RowLimitName = 'run' | 'heartbeat';
export type RowLimits = Partial<Record<RowLimitName, RowLimit>>;

/** A table joined into the SELECT that reads the rows (never into a write). */
export interface Join {
  table: string;
  as: string;
  /** The joined table's column → the mapped table's column, or `alias.column` of an earlier join. */
  on: Record<string, string>;
}

export interface Requeue {
  write: RowWrite;
  attempts: { column: string; max: number; increment: boolean };
  backoff: { initialMs: number; maxMs: number };
  /** A column the app's runner reads as "not before": written now + backoff, re-queued at once. */
  availableAt: string | null;
}

const identifier = z.string().superRefine((value, ctx) => {
  if (!isIdentifier(value)) {
    ctx.addIssue({
      code: 'custom',
      message: `expected a column name (letters, digits and _, not starting with a digit), got ${JSON.stringify(value)}`,
    });
  }
});

const template = z.string().transform((value, ctx): Template => {
  const parsed = parseTemplate(value);
  if ('error' in parsed) {
    ctx.addIssue({ code: 'custom', message: parsed.error });
    return z.NEVER;
  }
  return parsed;
});

/** A JSON key the reason is written under: kept simple so it is safe in every JSON path syntax. */
const jsonKey = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,100}$/, 'expected a key of letters, digits, _ or -');

export const reasonSchema = z.strictObject({
  column: identifier,
  key: jsonKey.optional(),
  text: template.optional(),
});

export const setSchema = z.record(
  z.string(),
  z.union([z.string(), z.number(), z.boolean(), z.null()]),
);
const statusValue = z.union([z.string().min(1), z.number()]);
const unit = z.enum(['ms', 's', 'm']);

/** Checks a SQL expression from the configuration enough that it stays one read-only expression. */
export function checkExpression(sql: string): string | null {
  if (/;|--|\/\*/.test(sql)) {
    return `expected one SQL expression without ";" or comments, got ${JSON.stringify(sql)}`;
  }
  let depth = 0;
  let quote: string | null = null;
  let outside = '';
  for (const char of sql) {
    if (quote) {
      if (char === quote) quote = null;
      continue;
    }
    if (char === "'" || char === '"') quote = char;
    else if (char === '(') depth += 1;
    else if (char === ')' && --depth < 0) break;
    outside += char;
  }
  if (quote || depth !== 0) {
    return `expected balanced parentheses and quotes, got ${JSON.stringify(sql)}`;
  }
  const write =
    /\b(insert|update|delete|merge|drop|alter|create|truncate|grant|revoke|copy|attach|detach|pragma|vacuum|call|do|set|lock|into)\b/i.exec(
      outside,
    );
  if (write) {
    return `expected a read-only expression (it goes into the SELECT that reads the rows), found ${JSON.stringify(write[1])} in ${JSON.stringify(sql)}`;
  }
  return null;
}

const rowLimitSchema = z.union([
  z.strictObject({ column: identifier, values: z.record(z.string(), limitSchema) }),
  z.strictObject({ column: identifier, unit: unit.optional() }),
  z.strictObject({
    sql: z
      .string()
      .min(1)
      .max(2000)
      .superRefine((value, ctx) => {
        const problem = checkExpression(value);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }),
    unit: unit.optional(),
  }),
]);

export const rowLimitsSchema = z.strictObject({
  run: rowLimitSchema.optional(),
  heartbeat: rowLimitSchema.optional(),
});

export const joinsSchema = z.array(
  z.strictObject({
    table: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/, {
      message: 'expected a table name like "agents" or "app.agents"',
    }),
    as: identifier,
    on: z
      .record(
        identifier,
        z.string().regex(/^([A-Za-z_][A-Za-z0-9_]{0,62}\.)?[A-Za-z_][A-Za-z0-9_]{0,62}$/, {
          message: 'expected a column of the mapped table, or alias.column of an earlier join',
        }),
      )
      .refine((on) => Object.keys(on).length > 0, 'expected at least one column pair'),
  }),
);

const writeShape = {
  status: statusValue,
  set: setSchema.optional(),
  reason: reasonSchema.optional(),
};

export const requeueSchema = z.strictObject({
  ...writeShape,
  attempts: z.strictObject({
    column: identifier,
    max: z
      .number()
      .int()
      .min(2, 'expected at least 2 attempts in all (1 means never re-queue: use onEnd)')
      .max(1000),
    increment: z.boolean().optional(),
  }),
  backoff: z.strictObject({ initial: durationSchema, max: durationSchema.optional() }).optional(),
  availableAt: identifier.optional(),
});

export const deadLetterSchema = z.strictObject({
  status: statusValue.optional(),
  set: setSchema.optional(),
  reason: reasonSchema.optional(),
});

type ReasonFile = z.infer<typeof reasonSchema>;
type SetFile = z.infer<typeof setSchema>;

export function normalizeSet(set: SetFile | undefined): Record<string, SetValue> {
  return Object.fromEntries(
    Object.entries(set ?? {}).map(([column, value]) => [
      column,
      value === 'now' ? { kind: 'now' } : { kind: 'value', value },
    ]),
  );
}

export function normalizeReason(reason: ReasonFile | undefined): ReasonTarget | null {
  if (!reason) return null;
  const text = reason.text ?? (parseTemplate(DEFAULT_TEMPLATE) as Template);
  return { column: reason.column, key: reason.key ?? null, text };
}

export function normalizeRowLimits(file: z.infer<typeof rowLimitsSchema> | undefined): RowLimits {
  const limits: RowLimits = {};
  for (const name of ['run', 'heartbeat'] as const) {
    const limit = file?.[name];
    if (!limit) continue;
    if ('sql' in limit) limits[name] = { kind: 'sql', sql: limit.sql, unit: limit.unit ?? 's' };
    else if ('values' in limit) {
      limits[name] = { kind: 'byValue', column: limit.column, values: limit.values };
    } else limits[name] = { kind: 'column', column: limit.column, unit: limit.unit ?? 's' };
  }
  return limits;
}

export function normalizeRequeue(file: z.infer<typeof requeueSchema> | undefined): Requeue | null {
  if (!file) return null;
  const initialMs = file.backoff?.initial ?? 0;
  return {
    write: {
      status: file.status,
      set: normalizeSet(file.set),
      reason: normalizeReason(file.reason),
    },
    attempts: {
      column: file.attempts.column,
      max: file.attempts.max,
      increment: file.attempts.increment ?? true,
    },
    // An upper bound below the first delay would shrink it: the bound is at least the first delay.
    backoff: { initialMs, maxMs: Math.max(initialMs, file.backoff?.max ?? 10 * initialMs) },
    availableAt: file.availableAt ?? null,
  };
}

/**
 * Checks across the per-row keys of one entry (raw input: reads defensively). Adds issues to ctx
 * with paths relative to the entry.
 */
export function checkRowKeys(raw: Record<string, unknown>, ctx: z.RefinementCtx): void {
  const joins = Array.isArray(raw.joins) ? (raw.joins as { as?: unknown; on?: unknown }[]) : [];
  const aliases: string[] = [];
  joins.forEach((join, index) => {
    const alias = typeof join?.as === 'string' ? join.as : null;
    if (alias !== null && aliases.includes(alias)) {
      ctx.addIssue({
        code: 'custom',
        path: ['joins', index, 'as'],
        message: `alias ${JSON.stringify(alias)} is used by an earlier join: each join needs its own`,
      });
    }
    const on = join?.on && typeof join.on === 'object' ? (join.on as Record<string, unknown>) : {};
    for (const [column, other] of Object.entries(on)) {
      const [prefix] = typeof other === 'string' && other.includes('.') ? other.split('.') : [];
      if (prefix !== undefined && !aliases.includes(prefix)) {
        ctx.addIssue({
          code: 'custom',
          path: ['joins', index, 'on', column],
          message: `expected a column of the mapped table or alias.column of an earlier join (${aliases.join(', ') || 'there is none'}), got ${JSON.stringify(other)}`,
        });
      }
    }
    if (alias !== null) aliases.push(alias);
  });
  if (raw.deadLetter !== undefined && raw.requeue === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['deadLetter'],
      message: 'deadLetter is the write after the last re-queue: it needs requeue',
    });
  }
}
