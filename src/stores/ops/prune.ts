import { DISPATCH_EVENT } from '../../ports/outbox-store.js';
import type { RetentionTable } from '../../ports/retention-store.js';
import type { SelectQueryBuilder } from 'kysely';
import { sql } from 'kysely';
import type { Database } from '../schema.js';
import type { Db, SqlContext } from './context.js';

/** A query for the ids of prunable rows, whichever table they are in. */
type IdQuery = SelectQueryBuilder<Database, keyof Database, { id: string }>;

/**
 * The rows of `table` that retention may delete, oldest first. Each filter is a range scan on an
 * index over the record's time (migration 0012_retention), so a batch costs O(batch), not
 * O(table).
 */
function prunable(db: Db, table: RetentionTable, before: number): IdQuery {
  switch (table) {
    case 'executions':
      return db
        .selectFrom('executions')
        .select('executions.id as id')
        .where('executions.ended_at', 'is not', null)
        .where('executions.ended_at', '<', before)
        .where((eb) =>
          eb.not(
            eb.exists(
              eb
                .selectFrom('executions as c')
                .select('c.id')
                .whereRef('c.parent_id', '=', 'executions.id')
                .where('c.ended_at', 'is', null),
            ),
          ),
        )
        .where((eb) =>
          eb.not(
            eb.exists(
              eb
                .selectFrom('slot_holds as h')
                .select('h.execution_id')
                .whereRef('h.execution_id', '=', 'executions.id')
                .where('h.released_at', 'is', null),
            ),
          ),
        )
        .orderBy('executions.ended_at');
    case 'remediations':
      return db.selectFrom('remediations').select('id').where('at', '<', before).orderBy('at');
    case 'sweeps':
      return db
        .selectFrom('sweeps')
        .select('id')
        .where('started_at', '<', before)
        .orderBy('started_at');
    case 'notifications':
      return (
        db
          .selectFrom('notifications')
          .select('id')
          .where('status', '!=', 'pending')
          .where('created_at', '<', before)
          // A dispatch is what says its attempt was sent: kept while that attempt is still queued,
          // or the attempt would be dispatched again.
          .where((eb) =>
            eb.not(
              eb.and([
                eb('notifications.event_type', '=', DISPATCH_EVENT),
                eb.exists(
                  eb
                    .selectFrom('executions')
                    .select('executions.id')
                    .whereRef('executions.id', '=', 'notifications.subject_key')
                    .where('executions.status', '=', 'queued'),
                ),
              ]),
            ),
          )
          .orderBy('created_at')
      );
    case 'processRecoveries':
      return db
        .selectFrom('process_recoveries')
        .select('id')
        .where('at', '<', before)
        .orderBy('at');
    case 'schedulePings':
      return db.selectFrom('schedule_pings').select('id').where('at', '<', before).orderBy('at');
    case 'silences':
      // Ended (or expired) before the cut-off: what is still on or yet to come is kept.
      return db
        .selectFrom('silences')
        .select('id')
        .where((eb) => eb.or([eb('ends_at', '<', before), eb('expired_at', '<', before)]))
        .orderBy('ends_at');
    case 'scheduleVerdicts':
      // Keyed by (schedule, due time): `id` names both, for counting; `pruneVerdicts` deletes.
      return db
        .selectFrom('schedule_verdicts')
        .select(sql<string>`schedule`.as('id'))
        .where('judged_at', '<', before)
        .orderBy('judged_at');
  }
}

/** A batch of schedule verdicts, deleted by their key (schedule, due time). */
async function pruneVerdicts(trx: Db, before: number, limit: number): Promise<number> {
  const rows = await trx
    .selectFrom('schedule_verdicts')
    .select(['schedule', 'due_at'])
    .where('judged_at', '<', before)
    .orderBy('judged_at')
    .limit(limit)
    .execute();
  const bySchedule = new Map<string, number[]>();
  for (const row of rows) {
    const dues = bySchedule.get(row.schedule) ?? [];
    dues.push(Number(row.due_at));
    bySchedule.set(row.schedule, dues);
  }
  for (const [schedule, dues] of bySchedule) {
    await trx
      .deleteFrom('schedule_verdicts')
      .where('schedule', '=', schedule)
      .where('due_at', 'in', dues)
      .execute();
  }
  return rows.length;
}

const TABLE_NAME = {
  executions: 'executions',
  remediations: 'remediations',
  sweeps: 'sweeps',
  notifications: 'notifications',
  processRecoveries: 'process_recoveries',
  schedulePings: 'schedule_pings',
  silences: 'silences',
} as const;

/** Deletes one batch; an execution goes with its attempts and slot holds, in one transaction. */
export async function prune(
  ctx: SqlContext,
  table: RetentionTable,
  before: number,
  limit: number,
): Promise<number> {
  return ctx.writeTransaction(async (trx) => {
    if (table === 'scheduleVerdicts') return pruneVerdicts(trx, before, limit);
    const ids = (await prunable(trx, table, before).limit(limit).execute()).map((r) => r.id);
    if (ids.length === 0) return 0;
    if (table === 'executions') {
      await trx.deleteFrom('attempts').where('execution_id', 'in', ids).execute();
      await trx.deleteFrom('slot_holds').where('execution_id', 'in', ids).execute();
    }
    await trx.deleteFrom(TABLE_NAME[table]).where('id', 'in', ids).execute();
    // A cooldown is only worth keeping until it ends; those gone cold before `before` go too.
    if (table === 'notifications')
      await trx.deleteFrom('notify_cooldowns').where('cooling_until', '<', before).execute();
    return ids.length;
  });
}

/** How many rows `prune` would delete in all. */
export async function countPrunable(
  ctx: SqlContext,
  table: RetentionTable,
  before: number,
): Promise<number> {
  const row = await ctx.db
    .selectFrom(prunable(ctx.db, table, before).as('p'))
    .select(({ fn }) => fn.countAll<number | string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
