import type BetterSqlite3 from 'better-sqlite3';
import { CompiledQuery } from 'kysely';
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
    ctx.dialect === 'postgres'
      ? await insertPostgres(ctx, rows, now)
      : ctx.genericEnds
        ? await insertGeneric(ctx, rows)
        : await ctx.prepared.run(prepareSqlite, (insert) => insert(rows, now));
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
 * The columns that differ between the rows of one registration: the others are the same for every
 * new execution (attempt 1, queued and created at `now`, nothing reported yet), so the fast paths
 * write them as constants instead of binding them once per row.
 */
const VARYING = [
  'id',
  'kind',
  'owner',
  'parent_id',
  'status',
  'started_at',
  'deadline_at',
  'limit_run',
  'limit_heartbeat',
  'limit_progress',
  'limit_queue',
  'metadata',
] as const satisfies readonly (keyof ExecutionRow)[];

/** What the fast paths write for the columns not in VARYING, `now` being bound once. */
function constantColumns(now: string): string[] {
  return COLUMNS.filter((c) => !(VARYING as readonly string[]).includes(c)).map((c) => {
    switch (c) {
      case 'attempt':
        return '1';
      case 'termination_failures':
        return '0';
      case 'queued_at':
      case 'created_at':
        return now;
      default:
        return 'NULL';
    }
  });
}

/** The columns an INSERT of the fast paths names: the varying ones, then the constant ones. */
const INSERTED = [
  ...VARYING,
  ...COLUMNS.filter((c) => !(VARYING as readonly string[]).includes(c)),
].join(', ');

/**
 * Bound parameters per statement, under SQLite's limit (32,766) and PostgreSQL's (65,535): a
 * batch of up to 1,000 executions is one statement on either.
 */
const MAX_PARAMETERS = 30_000;

/** The query builder's multi-row INSERT … ON CONFLICT DO NOTHING RETURNING id (tests' SQLite). */
async function insertGeneric(ctx: SqlContext, rows: ExecutionRow[]): Promise<Set<string>> {
  const perStatement = Math.floor(MAX_PARAMETERS / COLUMNS.length);
  return ctx.writeTransaction(async (trx) => {
    const ids = new Set<string>();
    for (let i = 0; i < rows.length; i += perStatement) {
      const landed = await trx
        .insertInto('executions')
        .values(rows.slice(i, i + perStatement))
        .onConflict((oc) => oc.column('id').doNothing())
        .returning('id')
        .execute();
      for (const { id } of landed) ids.add(id);
    }
    return ids;
  });
}

/** Each varying column's PostgreSQL type, for its array in `unnest`. */
const POSTGRES_TYPES: Record<(typeof VARYING)[number], string> = {
  id: 'text',
  kind: 'text',
  owner: 'text',
  parent_id: 'text',
  status: 'text',
  started_at: 'bigint',
  deadline_at: 'bigint',
  limit_run: 'bigint',
  limit_heartbeat: 'bigint',
  limit_progress: 'bigint',
  limit_queue: 'bigint',
  metadata: 'text',
};

/**
 * On PostgreSQL a batch is one INSERT … SELECT FROM unnest(…) with one array per varying column:
 * thirteen parameters whatever the batch's size, so nothing is built or sent per row but the
 * values themselves; and one statement, so one round trip (it needs no transaction around it).
 */
const POSTGRES_INSERT = `
  INSERT INTO executions (${INSERTED})
  SELECT v.*, ${constantColumns('$1::bigint').join(', ')}
  FROM unnest(${VARYING.map((c, i) => `$${i + 2}::${POSTGRES_TYPES[c]}[]`).join(', ')})
    AS v(${VARYING.join(', ')})
  ON CONFLICT (id) DO NOTHING RETURNING id`;

async function insertPostgres(
  ctx: SqlContext,
  rows: ExecutionRow[],
  now: number,
): Promise<Set<string>> {
  // Rows in id order: concurrent batches then take their index entries in one order, so they
  // cannot deadlock.
  const sorted = [...rows].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const parameters: unknown[] = [now, ...VARYING.map((c) => sorted.map((row) => row[c]))];
  // One statement is atomic on its own: no BEGIN and COMMIT around it, one round trip.
  const { rows: landed } = await ctx.db.executeQuery<{ id: string }>(
    CompiledQuery.raw(POSTGRES_INSERT, parameters),
  );
  return new Set(landed.map((r) => r.id));
}

/**
 * Registration is a hot path too, so on SQLite a batch skips the query builder: prepared multi-row
 * INSERTs of 512, 256, … 1 rows (made on first use, kept), as few as cover the batch — a batch of
 * 1,000 is five statements. Only the varying columns are bound (12 a row, and `now` once); the
 * others are constants of the statement. (Measured: binding values costs half the CPU of handing
 * the rows over as one JSON array for `json_each`; binding 12 columns instead of all 26 takes
 * another fifth off the insert.)
 */
function prepareSqlite(database: BetterSqlite3.Database) {
  const statements = new Map<number, BetterSqlite3.Statement<unknown[], { id: string }>>();
  const selected = [...VARYING.map((_, i) => `column${i + 1}`), ...constantColumns('@now')].join(
    ', ',
  );
  const insertOf = (size: number) => {
    let statement = statements.get(size);
    if (!statement) {
      const row = `(${VARYING.map(() => '?').join(', ')})`;
      // WHERE true: without it SQLite would read ON CONFLICT as part of the SELECT's join.
      statement = database.prepare<unknown[], { id: string }>(
        `INSERT INTO executions (${INSERTED})
         SELECT ${selected} FROM (VALUES ${Array.from({ length: size }, () => row).join(', ')})
         WHERE true
         ON CONFLICT (id) DO NOTHING RETURNING id`,
      );
      statements.set(size, statement);
    }
    return statement;
  };
  const transaction = database.transaction((rows: ExecutionRow[], now: number) => {
    const ids = new Set<string>();
    for (let at = 0; at < rows.length;) {
      const left = rows.length - at;
      const size = left >= LARGEST ? LARGEST : 2 ** Math.floor(Math.log2(left));
      const values: unknown[] = [];
      for (let r = at; r < at + size; r++) {
        const row = rows[r] as ExecutionRow;
        for (const c of VARYING) values.push(row[c]);
      }
      for (const { id } of insertOf(size).all(values, { now })) ids.add(id);
      at += size;
    }
    return ids;
  });
  return (rows: ExecutionRow[], now: number) => transaction.immediate(rows, now);
}

/** The largest prepared INSERT: 512 rows × 12 columns, well under SQLite's 32,766 parameters. */
const LARGEST = 512;
