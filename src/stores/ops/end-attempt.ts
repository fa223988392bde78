import type BetterSqlite3 from 'better-sqlite3';
import type { Selectable } from 'kysely';
import { sql } from 'kysely';
import type { RemediationRecord } from '../../ports/audit-store.js';
import type { AttemptEnd, Fence } from '../../ports/records.js';
import type { AttemptsTable } from '../schema.js';
import type { Db, Dialect, SqlContext } from './context.js';
import type { ExecutionRow } from './rows.js';
import { remediationRow } from './rows.js';
import {
  ATTEMPT_TYPES,
  REMEDIATION_TYPES,
  endManyPostgres,
  insertUnnest,
} from './end-attempts-postgres.js';
import type { EndItem, Win } from './end-writes.js';
import { attemptEndWrites, deadlineHolds } from './end-writes.js';

export type { EndItem } from './end-writes.js';

/**
 * The compare-and-set at the heart of every terminal write: the update applies only while the row
 * is still this attempt in this status (and deadline, when the fence names one), so a runner's
 * completion and a watchdog's remediation (or two replicas' remediations) can never both win.
 * Returns whether this write won; the audit is written in the same transaction when it does.
 */
export async function endAttempt(
  ctx: SqlContext,
  fence: Fence,
  end: AttemptEnd,
  now: number,
  audit?: RemediationRecord,
): Promise<boolean> {
  if (ctx.dialect === 'sqlite' && !ctx.genericEnds) {
    return ctx.prepared.run(prepareSqlite, (ends) => ends.one(fence, end, now, audit));
  }
  return ctx.writeTransaction((trx) => endFenced(trx, ctx.dialect, fence, end, now, audit));
}

/** Many `endAttempt`s in one transaction (a sweep's page): one answer per item, in order. */
export async function endAttempts(
  ctx: SqlContext,
  items: EndItem[],
  now: number,
): Promise<boolean[]> {
  if (ctx.dialect === 'sqlite' && !ctx.genericEnds) {
    return ctx.prepared.run(prepareSqlite, (ends) => ends.many(items, now));
  }
  if (ctx.dialect === 'postgres' && distinctIds(items)) {
    return ctx.writeTransaction(async (trx) => {
      const { won, wins } = await endManyPostgres(trx, items, now);
      await recordEnds(trx, 'postgres', wins, now);
      return won;
    });
  }
  return ctx.writeTransaction(async (trx) => {
    const wins: Win[] = [];
    const won: boolean[] = [];
    for (const item of items) {
      const attempt = await compareAndEnd(trx, item.fence, item.end, now);
      won.push(attempt !== null);
      if (attempt) wins.push({ fence: item.fence, attempt, audit: item.audit });
    }
    await recordEnds(trx, ctx.dialect, wins, now);
    return won;
  });
}

/** Whether no execution is named twice (the page's one-statement end needs one row per id). */
function distinctIds(items: readonly EndItem[]): boolean {
  return new Set(items.map((i) => i.fence.id)).size === items.length;
}

/** The query-builder path, inside a write transaction (also how a runner's report ends). */
export async function endFenced(
  db: Db,
  dialect: Dialect,
  fence: Fence,
  end: AttemptEnd,
  now: number,
  audit?: RemediationRecord,
): Promise<boolean> {
  const won = await compareAndEnd(db, fence, end, now);
  if (won) await recordEnds(db, dialect, [{ fence, attempt: won, audit }], now);
  return won !== null;
}

/** The compare-and-set itself: the attempt's record when this write won, else null. */
async function compareAndEnd(
  db: Db,
  fence: Fence,
  end: AttemptEnd,
  now: number,
): Promise<Selectable<AttemptsTable> | null> {
  const row = await db
    .selectFrom('executions')
    .selectAll()
    .where('id', '=', fence.id)
    .where('attempt', '=', fence.attempt)
    .where('status', '=', fence.status)
    .executeTakeFirst();
  if (!row || !deadlineHolds(row, fence)) return null;
  const writes = attemptEndWrites(row, fence, end, now);
  let update = db
    .updateTable('executions')
    .set(writes.update)
    .where('id', '=', fence.id)
    .where('attempt', '=', fence.attempt)
    .where('status', '=', fence.status);
  if (fence.deadlineAt !== undefined) {
    update =
      fence.deadlineAt === null
        ? update.where('deadline_at', 'is', null)
        : update.where('deadline_at', '=', fence.deadlineAt);
  }
  const result = await update.executeTakeFirst();
  return Number(result.numUpdatedRows) === 0 ? null : writes.attempt;
}

/**
 * What follows the ends that won, in the same transaction, a few statements for all of them: the
 * attempts' records, the remediations' audit rows, and their slots marked due for release.
 */
async function recordEnds(db: Db, dialect: Dialect, wins: Win[], now: number): Promise<void> {
  if (wins.length === 0) return;
  const audits = wins.flatMap((w) => (w.audit ? [remediationRow(w.audit)] : []));
  if (dialect === 'postgres') {
    // Arrays through unnest: a few parameters whatever the page's size, one plan.
    await insertUnnest(
      db,
      'attempts',
      ATTEMPT_TYPES,
      wins.map((w) => w.attempt),
    );
    await insertUnnest(db, 'remediations', REMEDIATION_TYPES, audits);
    await sql`
      UPDATE slot_holds AS h SET release_due_at = ${now}::bigint, remediation_id = v.rid
      FROM unnest(
        ${wins.map((w) => w.fence.id)}::text[],
        ${wins.map((w) => w.fence.attempt)}::int[],
        ${wins.map((w) => w.audit?.id ?? null)}::text[]
      ) AS v(id, attempt, rid)
      WHERE h.execution_id = v.id AND h.attempt = v.attempt
        AND h.released_at IS NULL AND h.release_due_at IS NULL`.execute(db);
    return;
  }
  await db
    .insertInto('attempts')
    .values(wins.map((w) => w.attempt))
    .execute();
  if (audits.length > 0) await db.insertInto('remediations').values(audits).execute();
  for (const w of wins) {
    await db
      .updateTable('slot_holds')
      .set({ release_due_at: now, remediation_id: w.audit?.id ?? null })
      .where('execution_id', '=', w.fence.id)
      .where('attempt', '=', w.fence.attempt)
      .where('released_at', 'is', null)
      .where('release_due_at', 'is', null)
      .execute();
  }
}

const ATTEMPT_COLUMNS = [
  'execution_id',
  'attempt',
  'status',
  'queued_at',
  'started_at',
  'ended_at',
  'verdict',
  'reason',
  'ended_by',
  'result',
  'error',
  'late_result',
] as const;

const REMEDIATION_COLUMNS = [
  'id',
  'sweep_id',
  'at',
  'execution_id',
  'attempt',
  'kind',
  'owner',
  'verdict',
  'action',
  'reason',
  'evidence',
  'steps',
  'outcome',
  'dry_run',
  'labels',
  'ran_ms',
  'late_ms',
] as const;

const insertSql = (table: string, columns: readonly string[]) =>
  `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`;

/**
 * On SQLite, the same writes (attemptEndWrites) with prepared statements, in one IMMEDIATE
 * transaction per call: a sweep's page is one transaction.
 */
function prepareSqlite(database: BetterSqlite3.Database) {
  const select = database.prepare<[string, number, string], ExecutionRow>(
    'SELECT * FROM executions WHERE id = ? AND attempt = ? AND status = ?',
  );
  // One UPDATE per set of columns written (an end, or an end with a retry), prepared once each.
  const updates = new Map<string, BetterSqlite3.Statement>();
  const insert = database.prepare(insertSql('attempts', ATTEMPT_COLUMNS));
  const audit = database.prepare(insertSql('remediations', REMEDIATION_COLUMNS));
  const slotsDue = database.prepare(
    'UPDATE slot_holds SET release_due_at = ?, remediation_id = ? WHERE execution_id = ? AND attempt = ? AND released_at IS NULL AND release_due_at IS NULL',
  );
  const updateOf = (columns: string[]) => {
    const key = columns.join(',');
    let update = updates.get(key);
    if (!update) {
      update = database.prepare(
        `UPDATE executions SET ${columns.map((c) => `${c} = @${c}`).join(', ')}
         WHERE id = @fence_id AND attempt = @fence_attempt AND status = @fence_status`,
      );
      updates.set(key, update);
    }
    return update;
  };
  const transaction = database.transaction(
    (fence: Fence, end: AttemptEnd, now: number, record?: RemediationRecord) => {
      const row = select.get(fence.id, fence.attempt, fence.status);
      // Inside this IMMEDIATE transaction nothing else writes: the row read is the row updated.
      if (!row || !deadlineHolds(row, fence)) return false;
      const writes = attemptEndWrites(row, fence, end, now);
      const changed = updateOf(Object.keys(writes.update)).run({
        ...writes.update,
        fence_id: fence.id,
        fence_attempt: fence.attempt,
        fence_status: fence.status,
      }).changes;
      if (changed === 0) return false;
      insert.run(writes.attempt);
      if (record) audit.run(remediationRow(record));
      slotsDue.run(now, record?.id ?? null, fence.id, fence.attempt);
      return true;
    },
  );
  const many = database.transaction((items: EndItem[], now: number) =>
    items.map((item) => transaction(item.fence, item.end, now, item.audit)),
  );
  return {
    one: (fence: Fence, end: AttemptEnd, now: number, record?: RemediationRecord): boolean =>
      transaction.immediate(fence, end, now, record),
    many: (items: EndItem[], now: number): boolean[] => many.immediate(items, now),
  };
}
