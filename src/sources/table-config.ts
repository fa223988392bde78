import * as z from 'zod';
import type { PartialLimits } from '../core/types.js';
import { limitsSchema } from '../schemas.js';
import { isIdentifier, isTableName } from './identifiers.js';
import type { AppSlots, RowReconcile } from './table-owner-config.js';
import {
  appSlotsSchema,
  checkOwnerKeys,
  normalizeReconcile,
  reconcileSchema,
} from './table-owner-config.js';

/** A status value as the app stores it: text or a number. */
export type StatusValue = string | number;

import type { Join, Requeue, RowLimits, RowWrite } from './table-row-config.js';
import {
  checkRowKeys,
  deadLetterSchema,
  joinsSchema,
  normalizeReason,
  normalizeRequeue,
  normalizeRowLimits,
  normalizeSet,
  reasonSchema,
  requeueSchema,
  rowLimitsSchema,
  setSchema,
} from './table-row-config.js';

export type { SetValue } from './table-row-config.js';

/** One mapped table of another app, as `tables.<name>` in vigil.yaml describes it. */
export interface TableSourceConfig {
  /** The key under `tables`: prefixes row ids in reports and the audit (`interactions:42`). */
  name: string;
  /** `postgres://…` or `sqlite:PATH` (relative paths are taken from the working directory). */
  database: string;
  /** The table, optionally schema-qualified (`app.interactions`). */
  table: string;
  /** The kind its rows are judged as: limits resolve row → kinds[kind] → owners[owner] → defaults. */
  kind: string;
  id: string;
  status: {
    column: string;
    running: StatusValue[];
    /** The first value is the one written when Vigil fails a row (unless `onEnd.status`). */
    failed: [StatusValue, ...StatusValue[]];
    /** The first value is the one written when a workflow run is closed as succeeded. */
    succeeded: [StatusValue, ...StatusValue[]];
    queued: StatusValue[];
    cancelled: StatusValue[];
  };
  startedAt: string;
  heartbeatAt: string | null;
  owner: string | null;
  /** The column naming the row's parent, and the `tables` entry that parent lives in. */
  parent: { column: string; table: string } | null;
  /** How numeric time columns count: milliseconds (default) or seconds since the epoch. */
  timeUnit: 'ms' | 's';
  /**
   * Columns read with each row and kept with its audit, to group `vigil stats` by
   * (`--by label:actor_id`); none by default.
   */
  labels: string[];
  limits: PartialLimits;
  /** Limits read from each row (they come before `limits`, which is their fallback). */
  rowLimits: RowLimits;
  /** Tables joined into the SELECT that reads the rows, for `rowLimits` expressions. */
  joins: Join[];
  /**
   * How Vigil fails a row: the status (default: the first `status.failed` value), the columns it
   * sets, and where the end text goes (a column, or a key of a JSON column).
   */
  onEnd: RowWrite;
  /** Re-queue a stuck row instead of failing it, while attempts remain. */
  requeue: Requeue | null;
  /** The write after the last attempt (default: `onEnd`). */
  deadLetter: RowWrite | null;
  /** Reconciled against the owners' registries (`owners:`); null when not. */
  reconcile: RowReconcile | null;
  /** The app's own slots released when Vigil ends a row; null when none. */
  appSlots: AppSlots | null;
}

const identifier = z.string().superRefine((value, ctx) => {
  if (!isIdentifier(value)) {
    ctx.addIssue({
      code: 'custom',
      message: `expected a column name (letters, digits and _, not starting with a digit), got ${JSON.stringify(value)}`,
    });
  }
});

const tableName = z.string().superRefine((value, ctx) => {
  if (!isTableName(value)) {
    ctx.addIssue({
      code: 'custom',
      message: `expected a table name like "interactions" or "app.interactions", got ${JSON.stringify(value)}`,
    });
  }
});

const databaseUrl = z.string().superRefine((value, ctx) => {
  if (!/^(sqlite:.+|postgres(ql)?:\/\/.+)$/.test(value)) {
    ctx.addIssue({
      code: 'custom',
      message: `expected "sqlite:PATH" or "postgres://…", got ${JSON.stringify(value)}`,
    });
  }
});

const statusValue = z.union([z.string().min(1), z.number()]);
/** One status value or a list of them, as a list whose first value is the default to write. */
const statusValues = z
  .union([statusValue, z.array(statusValue).min(1)])
  .transform((value, ctx): [StatusValue, ...StatusValue[]] => {
    const [first, ...rest] = Array.isArray(value) ? value : [value];
    if (first === undefined) {
      ctx.addIssue({ code: 'custom', message: 'expected at least one status value' });
      return z.NEVER;
    }
    return [first, ...rest];
  });

const tableSchema = z
  .strictObject({
    database: databaseUrl,
    table: tableName,
    kind: z.string().min(1).optional(),
    id: identifier,
    status: z.strictObject({
      column: identifier,
      running: statusValues,
      failed: statusValues,
      succeeded: statusValues,
      queued: statusValues.optional(),
      cancelled: statusValues.optional(),
    }),
    startedAt: identifier,
    heartbeatAt: identifier.optional(),
    owner: identifier.optional(),
    parent: z.strictObject({ column: identifier, table: z.string().min(1) }).optional(),
    timeUnit: z.enum(['ms', 's']).optional(),
    labels: z.array(identifier).max(20).optional(),
    limits: limitsSchema.optional(),
    rowLimits: rowLimitsSchema.optional(),
    joins: joinsSchema.optional(),
    onEnd: z
      .strictObject({
        status: statusValue.optional(),
        set: setSchema.optional(),
        reason: reasonSchema.optional(),
      })
      .optional(),
    reconcile: reconcileSchema.optional(),
    appSlots: appSlotsSchema.optional(),
    requeue: requeueSchema.optional(),
    deadLetter: deadLetterSchema.optional(),
  })
  .superRefine(checkTable, {
    // Checked even when the entry has other problems, so one pass lists them all.
    when: (payload) => typeof payload.value === 'object' && payload.value !== null,
  });

/** Checks across one entry's keys. Runs on raw input too (see `when`): reads defensively. */
function checkTable(raw: unknown, ctx: z.RefinementCtx): void {
  checkOwnerKeys(raw, ctx);
  const table = raw as {
    id?: unknown;
    status?: Partial<Record<string, unknown>> | null;
  };
  checkRowKeys(raw as Record<string, unknown>, ctx);
  for (const write of ['onEnd', 'requeue', 'deadLetter'] as const) {
    checkWrite(table, write, (raw as Record<string, unknown>)[write], ctx);
  }
  const status = table.status && typeof table.status === 'object' ? table.status : {};
  const lists = ['running', 'failed', 'succeeded', 'queued', 'cancelled'] as const;
  const seen = new Map<string, string>();
  for (const list of lists) {
    const values = status[list];
    for (const value of Array.isArray(values) ? (values as unknown[]) : [values]) {
      if (typeof value !== 'string' && typeof value !== 'number') continue;
      const other = seen.get(String(value));
      if (other !== undefined && other !== list) {
        ctx.addIssue({
          code: 'custom',
          path: ['status', list],
          message: `value ${JSON.stringify(value)} is also listed under status.${other}: each value must mean one thing`,
        });
      }
      seen.set(String(value), list);
    }
  }
  const requeueStatus = (raw as { requeue?: { status?: unknown } | null }).requeue?.status;
  if (
    (typeof requeueStatus === 'string' || typeof requeueStatus === 'number') &&
    seen.get(String(requeueStatus)) === 'running'
  ) {
    ctx.addIssue({
      code: 'custom',
      path: ['requeue', 'status'],
      message: `expected a status the app's runner picks up again, got ${JSON.stringify(requeueStatus)}, which is listed under status.running`,
    });
  }
}

/** The columns one write sets: each once, never the id or status column (Vigil writes those). */
function checkWrite(
  table: { id?: unknown; status?: Partial<Record<string, unknown>> | null },
  name: 'onEnd' | 'requeue' | 'deadLetter',
  raw: unknown,
  ctx: z.RefinementCtx,
): void {
  const write = (raw && typeof raw === 'object' ? raw : {}) as {
    set?: unknown;
    reason?: { column?: unknown } | null;
    attempts?: { column?: unknown } | null;
    availableAt?: unknown;
  };
  const status = table.status && typeof table.status === 'object' ? table.status : {};
  const set =
    write.set && typeof write.set === 'object' ? (write.set as Record<string, unknown>) : {};
  const written = new Map<string, string>();
  for (const [column, path] of [
    [write.reason?.column, 'reason.column'],
    [write.attempts?.column, 'attempts.column'],
    [write.availableAt, 'availableAt'],
  ] as const) {
    if (typeof column !== 'string') continue;
    if (column in set || written.has(column)) {
      ctx.addIssue({
        code: 'custom',
        path: [name, ...path.split('.')],
        message: `${column} is also written by ${name}.${written.get(column) ?? 'set'}: a column can be written once`,
      });
    }
    written.set(column, path);
  }
  for (const column of Object.keys(set)) {
    if (!isIdentifier(column)) {
      ctx.addIssue({
        code: 'custom',
        path: [name, 'set', column],
        message: `expected a column name (letters, digits and _), got ${JSON.stringify(column)}`,
      });
    } else if (column === status.column || column === table.id) {
      ctx.addIssue({
        code: 'custom',
        path: [name, 'set', column],
        message: `Vigil writes the ${column === table.id ? 'id' : 'status'} column itself; use ${name}.status for the status`,
      });
    }
  }
}

/**
 * `tables:` in vigil.yaml: name → mapped table. The names and parent references are checked even
 * when an entry has problems of its own (`when`), so one pass lists every problem.
 */
export const tablesSchema = z.record(z.string(), tableSchema).superRefine(
  (tables, ctx) => {
    for (const [name, table] of Object.entries(tables)) {
      if (!/^[A-Za-z0-9_-]{1,63}$/.test(name)) {
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: `expected a name of letters, digits, _ or - (it prefixes row ids, "${name}:42"), got ${JSON.stringify(name)}`,
        });
      }
      const parent = (table as { parent?: { table?: unknown } } | null)?.parent?.table;
      if (typeof parent === 'string' && (parent === name || !(parent in tables))) {
        const others = Object.keys(tables).filter((other) => other !== name);
        ctx.addIssue({
          code: 'custom',
          path: [name, 'parent', 'table'],
          message: `expected the name of another entry under tables (${others.join(', ') || 'there is none'}), got ${JSON.stringify(parent)}`,
        });
      }
    }
  },
  { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
);

export type TablesFile = z.infer<typeof tablesSchema>;

/** The validated file section as the runtime uses it: defaults filled in, values normalised. */
export function normalizeTables(file: TablesFile | undefined): Record<string, TableSourceConfig> {
  const tables: Record<string, TableSourceConfig> = {};
  for (const [name, table] of Object.entries(file ?? {})) {
    tables[name] = {
      name,
      database: table.database,
      table: table.table,
      kind: table.kind ?? name,
      id: table.id,
      status: {
        column: table.status.column,
        running: table.status.running,
        failed: table.status.failed,
        succeeded: table.status.succeeded,
        queued: table.status.queued ?? [],
        cancelled: table.status.cancelled ?? [],
      },
      startedAt: table.startedAt,
      heartbeatAt: table.heartbeatAt ?? null,
      owner: table.owner ?? null,
      parent: table.parent ?? null,
      timeUnit: table.timeUnit ?? 'ms',
      labels: table.labels ?? [],
      limits: table.limits ?? {},
      rowLimits: normalizeRowLimits(table.rowLimits),
      joins: table.joins ?? [],
      onEnd: {
        status: table.onEnd?.status ?? table.status.failed[0],
        set: normalizeSet(table.onEnd?.set),
        reason: normalizeReason(table.onEnd?.reason),
      },
      reconcile: normalizeReconcile(table.reconcile, table.id),
      appSlots: table.appSlots ?? null,
      requeue: normalizeRequeue(table.requeue),
      deadLetter: table.deadLetter
        ? {
            status: table.deadLetter.status ?? table.onEnd?.status ?? table.status.failed[0],
            set: normalizeSet(table.deadLetter.set),
            reason: normalizeReason(table.deadLetter.reason),
          }
        : null,
    };
  }
  return tables;
}
