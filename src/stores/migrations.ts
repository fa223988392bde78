import type { Kysely, Migration, MigrationProvider } from 'kysely';
import { sql } from 'kysely';
import { createProcessTables } from './process-migration.js';
import { createSilenceTables } from './silence-schema.js';
import { createScheduleDefinitions, createScheduleTables } from './schedule-migration.js';

/**
 * Versioned migrations, shipped in code so a packaged `vigil` needs no migration files on disk.
 * Never edit one that has been released: add the next.
 */
const migrations: Record<string, Migration> = {
  '0001_ledger': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('executions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('owner', 'text')
        .addColumn('parent_id', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('queued_at', 'bigint')
        .addColumn('started_at', 'bigint')
        .addColumn('heartbeat_at', 'bigint')
        .addColumn('progress_at', 'bigint')
        .addColumn('ended_at', 'bigint')
        .addColumn('deadline_at', 'bigint')
        .addColumn('limit_run', 'bigint')
        .addColumn('limit_heartbeat', 'bigint')
        .addColumn('limit_progress', 'bigint')
        .addColumn('limit_queue', 'bigint')
        .addColumn('progress', 'text')
        .addColumn('reason', 'text')
        .addColumn('verdict', 'text')
        .addColumn('ended_by', 'text')
        .addColumn('result', 'text')
        .addColumn('error', 'text')
        .addColumn('late_result', 'text')
        .addColumn('metadata', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('termination_failures', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      // Only open executions have a deadline, so the sweep's range scan touches overdue rows only:
      // detection costs O(overdue), not O(running).
      await db.schema
        .createIndex('executions_deadline')
        .on('executions')
        .columns(['deadline_at', 'id'])
        .where(sql.ref('deadline_at'), 'is not', null)
        .execute();
      await db.schema
        .createIndex('executions_parent')
        .on('executions')
        .column('parent_id')
        .where(sql.ref('parent_id'), 'is not', null)
        .execute();
      await db.schema
        .createIndex('executions_created')
        .on('executions')
        .columns(['created_at', 'id'])
        .execute();
      await db.schema
        .createIndex('executions_status_created')
        .on('executions')
        .columns(['status', 'created_at'])
        .execute();

      await db.schema
        .createTable('attempts')
        .addColumn('execution_id', 'text', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('queued_at', 'bigint')
        .addColumn('started_at', 'bigint')
        .addColumn('ended_at', 'bigint', (c) => c.notNull())
        .addColumn('verdict', 'text')
        .addColumn('reason', 'text')
        .addColumn('ended_by', 'text', (c) => c.notNull())
        .addColumn('result', 'text')
        .addColumn('error', 'text')
        .addColumn('late_result', 'text')
        .addPrimaryKeyConstraint('attempts_pk', ['execution_id', 'attempt'])
        .execute();

      await db.schema
        .createTable('remediations')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('sweep_id', 'text')
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('execution_id', 'text', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('owner', 'text')
        .addColumn('verdict', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('evidence', 'text', (c) => c.notNull())
        .addColumn('steps', 'text', (c) => c.notNull())
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('dry_run', 'integer', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('remediations_at').on('remediations').column('at').execute();
      await db.schema
        .createIndex('remediations_execution')
        .on('remediations')
        .columns(['execution_id', 'at'])
        .execute();

      await db.schema
        .createTable('sweeps')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('started_at', 'bigint', (c) => c.notNull())
        .addColumn('finished_at', 'bigint', (c) => c.notNull())
        .addColumn('dry_run', 'integer', (c) => c.notNull())
        .addColumn('report', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('sweeps_started').on('sweeps').column('started_at').execute();

      await db.schema
        .createTable('leases')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('holder', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
  '0002_slots': {
    async up(db: Kysely<unknown>) {
      // What each attempt holds. `release_due_at` is set in the same transaction that ends the
      // attempt, so "ended" and "its slots must go" can never be separated by a crash; whoever
      // sweeps next finishes a release that was cut short.
      await db.schema
        .createTable('slot_holds')
        .addColumn('execution_id', 'text', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('slot', 'text', (c) => c.notNull())
        .addColumn('acquired_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint')
        .addColumn('release_due_at', 'bigint')
        .addColumn('remediation_id', 'text')
        .addColumn('released_at', 'bigint')
        .addColumn('release_outcome', 'text')
        .addPrimaryKeyConstraint('slot_holds_pk', ['execution_id', 'attempt', 'slot'])
        .execute();
      await db.schema
        .createIndex('slot_holds_due')
        .on('slot_holds')
        .columns(['release_due_at', 'execution_id'])
        .where(sql.ref('released_at'), 'is', null)
        .execute();
      // The slots themselves when no Redis is configured: one holder per name.
      await db.schema
        .createTable('slots')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('holder', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'bigint')
        .execute();
    },
  },
  '0004_processes': {
    async up(db: Kysely<unknown>) {
      await createProcessTables(db);
    },
  },
  '0003_outbox': {
    async up(db: Kysely<unknown>) {
      // One row per (event, channel): written before anything is sent, so a restart or a
      // receiver outage loses nothing; the delivery worker claims due rows with a lease.
      await db.schema
        .createTable('notifications')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('channel', 'text', (c) => c.notNull())
        .addColumn('event_type', 'text', (c) => c.notNull())
        .addColumn('subject_key', 'text', (c) => c.notNull())
        .addColumn('event', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('due_at', 'bigint', (c) => c.notNull())
        .addColumn('claimed_by', 'text')
        .addColumn('claim_until', 'bigint')
        .addColumn('delivered_at', 'bigint')
        .execute();
      await db.schema
        .createIndex('notifications_pending')
        .on('notifications')
        .columns(['due_at', 'id'])
        .where(sql.ref('status'), '=', 'pending')
        .execute();
      await db.schema
        .createIndex('notifications_created')
        .on('notifications')
        .columns(['created_at', 'id'])
        .execute();
      // De-duplication across restarts and replicas: a key is "cooling" until `cooling_until`.
      await db.schema
        .createTable('notify_cooldowns')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('cooling_until', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
  '0007_audit_labels': {
    async up(db: Kysely<unknown>) {
      // What `stats` groups and measures by, kept with each audit row when it is written: the
      // labels read with a mapped row (its `labels:` columns), how long the execution had run when
      // it was detected, and how long after its deadline that was. Rows written before this stay
      // null and count without durations.
      await db.schema.alterTable('remediations').addColumn('labels', 'text').execute();
      await db.schema.alterTable('remediations').addColumn('ran_ms', 'bigint').execute();
      await db.schema.alterTable('remediations').addColumn('late_ms', 'bigint').execute();
    },
  },
  '0008_dispatch': {
    async up(db: Kysely<unknown>) {
      // A runner's claim reads the oldest due attempt of one kind: only queued rows are indexed,
      // so a claim costs O(log queued) however many executions have ended.
      await db.schema
        .createIndex('executions_queued')
        .on('executions')
        .columns(['kind', 'queued_at', 'id'])
        .where(sql.ref('status'), '=', 'queued')
        .execute();
    },
  },
  '0012_retention': {
    async up(db: Kysely<unknown>) {
      // Retention deletes the oldest records first, a batch at a time: each needs its time indexed.
      await db.schema
        .createIndex('executions_ended')
        .on('executions')
        .columns(['ended_at', 'id'])
        .where(sql.ref('ended_at'), 'is not', null)
        .execute();
      await db.schema
        .createIndex('process_recoveries_at')
        .on('process_recoveries')
        .column('at')
        .execute();
      await db.schema
        .createIndex('schedule_pings_at_only')
        .on('schedule_pings')
        .column('at')
        .execute();
      await db.schema
        .createIndex('schedule_verdicts_judged')
        .on('schedule_verdicts')
        .column('judged_at')
        .execute();
    },
  },
  '0010_silences': {
    async up(db: Kysely<unknown>) {
      await createSilenceTables(db);
    },
  },
  '0009_schedules': {
    async up(db: Kysely<unknown>) {
      await createScheduleTables(db);
    },
  },
  '0013_schedule_definitions': {
    async up(db: Kysely<unknown>) {
      await createScheduleDefinitions(db);
    },
  },
};

export const migrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve(migrations),
};

/** The names of every migration this version knows, in the order they apply. */
export async function migrationNames(): Promise<string[]> {
  return Object.keys(await migrationProvider.getMigrations()).sort();
}
