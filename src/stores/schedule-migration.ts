import type { Kysely } from 'kysely';

/** The tables of `schedules:` (0009_schedules) and the indexes their reads use. */
export async function createScheduleTables(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('schedules')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('last_judged_due_at', 'bigint')
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('last_start_at', 'bigint')
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('schedule_verdicts')
    .addColumn('schedule', 'text', (c) => c.notNull())
    .addColumn('due_at', 'bigint', (c) => c.notNull())
    .addColumn('verdict', 'text', (c) => c.notNull())
    .addColumn('evidence', 'text', (c) => c.notNull())
    .addColumn('judged_at', 'bigint', (c) => c.notNull())
    .addColumn('late_start_at', 'bigint')
    .addPrimaryKeyConstraint('schedule_verdicts_pk', ['schedule', 'due_at'])
    .execute();
  await db.schema
    .createTable('schedule_pings')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('schedule', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('schedule_pings_at')
    .on('schedule_pings')
    .columns(['schedule', 'at'])
    .execute();
  // A schedule counted by kind or owner looks for starts in a window of time: a range scan.
  await db.schema
    .createIndex('executions_kind_started')
    .on('executions')
    .columns(['kind', 'started_at'])
    .execute();
  await db.schema
    .createIndex('executions_owner_started')
    .on('executions')
    .columns(['owner', 'started_at'])
    .execute();
}

/**
 * Schedules defined through the API (0013_schedule_definitions): each as the JSON it was given,
 * with the key of its timing and when that timing was set (due times before are never judged).
 */
export async function createScheduleDefinitions(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('schedule_definitions')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('definition', 'text', (c) => c.notNull())
    .addColumn('timing', 'text', (c) => c.notNull())
    .addColumn('since', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
}
