import type { Kysely } from 'kysely';

/** The tables of 0004_processes: supervised processes' state, and the audit of their recoveries. */
export async function createProcessTables(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('processes')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('pid', 'integer')
    .addColumn('pid_started_at', 'bigint')
    .addColumn('started_at', 'bigint')
    .addColumn('verdict', 'text')
    .addColumn('reason', 'text')
    .addColumn('evidence', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('consecutive_unhealthy', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('unhealthy_since', 'bigint')
    .addColumn('restarts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('streak', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_restart_at', 'bigint')
    .addColumn('next_restart_at', 'bigint')
    .addColumn('gave_up', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_check_at', 'bigint')
    .execute();
  await db.schema
    .createTable('process_recoveries')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('finished_at', 'bigint', (c) => c.notNull())
    .addColumn('trigger', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('evidence', 'text', (c) => c.notNull())
    .addColumn('steps', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('process_recoveries_name_at')
    .on('process_recoveries')
    .columns(['name', 'at'])
    .execute();
}
