import type BetterSqlite3 from 'better-sqlite3';
import { deadlineOf } from '../../core/limits.js';
import type { Execution } from '../../core/types.js';
import { VigilError } from '../../errors.js';
import type { NewExecution } from '../../ports/ledger-store.js';
import type { SqlContext } from './context.js';
import type { ExecutionRow } from './rows.js';
import { toExecution } from './rows.js';

/** The row a new execution starts as: queued, or running from `now`. */
function newRow(input: NewExecution, now: number): ExecutionRow {
  const running = input.status === 'running';
  const startedAt = running ? now : null;
  return {
    id: input.id,
    kind: input.kind,
    owner: input.owner,
    parent_id: input.parentId,
    status: input.status,
    attempt: 1,
    queued_at: now,
    started_at: startedAt,
    heartbeat_at: null,
    progress_at: null,
    ended_at: null,
    deadline_at: deadlineOf({
      status: input.status,
      limits: input.limits,
      queuedAt: now,
      startedAt,
      heartbeatAt: null,
      progressAt: null,
    }),
    limit_run: input.limits.run,
    limit_heartbeat: input.limits.heartbeat,
    limit_progress: input.limits.progress,
    limit_queue: input.limits.queue,
    progress: null,
    reason: null,
    verdict: null,
    ended_by: null,
    result: null,
    error: null,
    late_result: null,
    metadata: JSON.stringify(input.metadata),
    termination_failures: 0,
    created_at: now,
  };
}

/** Registers an execution (queued, or running from `now`); `already_exists` if its id is taken. */
export async function create(
  ctx: SqlContext,
  input: NewExecution,
  now: number,
): Promise<Execution> {
  const row = newRow(input, now);
  const inserted = await ctx.db
    .insertInto('executions')
    .values(row)
    .onConflict((oc) => oc.column('id').doNothing())
    .executeTakeFirst();
  if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) {
    throw new VigilError('already_exists', `execution ${input.id} already exists`);
  }
  return toExecution(row);
}

/**
 * Registers many executions in one transaction: each answer, in order, is the execution, or null
 * when its id was taken — by a row already there, or by an earlier item of the same batch (the
 * first of several items with one id wins; the others are not sent to the database, so which one
 * won never depends on the database's choice).
 */
export async function createMany(
  ctx: SqlContext,
  inputs: NewExecution[],
  now: number,
): Promise<(Execution | null)[]> {
  const seen = new Set<string>();
  const rows: ExecutionRow[] = [];
  for (const input of inputs) {
    if (seen.has(input.id)) continue;
    seen.add(input.id);
    rows.push(newRow(input, now));
  }
  if (rows.length === 0) return [];
  const inserted =
    ctx.dialect === 'sqlite' && !ctx.genericEnds
      ? await ctx.prepared.run(prepareSqlite, (insert) => insert(rows))
      : await insertGeneric(ctx, rows);
  const won = new Map(rows.filter((r) => inserted.has(r.id)).map((r) => [r.id, r]));
  return inputs.map((input) => {
    const row = won.get(input.id);
    if (!row) return null;
    // Only the first item with this id gets the row; a later one with the same id lost.
    won.delete(input.id);
    return toExecution(row);
  });
}

const COLUMNS = Object.keys(
  newRow(
    {
      id: '',
      kind: '',
      owner: null,
      parentId: null,
      status: 'queued',
      limits: { run: null, heartbeat: null, progress: null, queue: null },
      metadata: {},
    },
    0,
  ),
) as (keyof ExecutionRow)[];

/**
 * Bound parameters per statement, under SQLite's limit (32,766) and PostgreSQL's (65,535): a
 * batch of up to 1,000 executions is one statement on either.
 */
const MAX_PARAMETERS = 30_000;

/** The query builder's multi-row INSERT … ON CONFLICT DO NOTHING RETURNING id: PostgreSQL's path. */
async function insertGeneric(ctx: SqlContext, rows: ExecutionRow[]): Promise<Set<string>> {
  // Rows in id order: concurrent batches then take their index entries in one order, so they
  // cannot deadlock on PostgreSQL.
  const sorted = [...rows].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const perStatement = Math.floor(MAX_PARAMETERS / COLUMNS.length);
  return ctx.writeTransaction(async (trx) => {
    const ids = new Set<string>();
    for (let i = 0; i < sorted.length; i += perStatement) {
      const landed = await trx
        .insertInto('executions')
        .values(sorted.slice(i, i + perStatement))
        .onConflict((oc) => oc.column('id').doNothing())
        .returning('id')
        .execute();
      for (const { id } of landed) ids.add(id);
    }
    return ids;
  });
}

/**
 * Registration is a hot path too, so on SQLite a batch skips the query builder: prepared multi-row
 * INSERTs of 512, 256, … 1 rows (made on first use, kept), as few as cover the batch — a batch of
 * 1,000 is five statements, each under SQLite's limit on bound parameters. (Measured: binding
 * values costs half the CPU of handing the rows over as one JSON array for `json_each`.)
 */
function prepareSqlite(database: BetterSqlite3.Database) {
  const statements = new Map<number, BetterSqlite3.Statement<unknown[], { id: string }>>();
  const insertOf = (size: number) => {
    let statement = statements.get(size);
    if (!statement) {
      const row = `(${COLUMNS.map(() => '?').join(', ')})`;
      statement = database.prepare<unknown[], { id: string }>(
        `INSERT INTO executions (${COLUMNS.join(', ')})
         VALUES ${Array.from({ length: size }, () => row).join(', ')}
         ON CONFLICT (id) DO NOTHING RETURNING id`,
      );
      statements.set(size, statement);
    }
    return statement;
  };
  const transaction = database.transaction((rows: ExecutionRow[]) => {
    const ids = new Set<string>();
    for (let at = 0; at < rows.length;) {
      const left = rows.length - at;
      const size = left >= LARGEST ? LARGEST : 2 ** Math.floor(Math.log2(left));
      const values: unknown[] = [];
      for (const row of rows.slice(at, at + size)) for (const c of COLUMNS) values.push(row[c]);
      for (const { id } of insertOf(size).all(values)) ids.add(id);
      at += size;
    }
    return ids;
  });
  return (rows: ExecutionRow[]) => transaction.immediate(rows);
}

/** The largest prepared INSERT: 512 rows × 26 columns stay under SQLite's 32,766 parameters. */
const LARGEST = 512;
