import type { Kysely } from 'kysely';

export interface SilencesTable {
  id: string;
  /** JSON: `{kind?: string[], owner?: string[], source?: string[], verdict?: string[]}`. */
  matchers: string;
  starts_at: number;
  ends_at: number;
  created_by: string;
  comment: string;
  maintenance: number;
  created_at: number;
  expired_at: number | null;
}

/** One row at most (`id = 'global'`): present while Vigil is paused. */
export interface PauseTable {
  id: string;
  since: number;
  paused_by: string;
  comment: string;
}

/** The tables of 0010_silences: silences and maintenance windows, and the global pause. */
export async function createSilenceTables(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('silences')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('matchers', 'text', (c) => c.notNull())
    .addColumn('starts_at', 'bigint', (c) => c.notNull())
    .addColumn('ends_at', 'bigint', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('comment', 'text', (c) => c.notNull())
    .addColumn('maintenance', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expired_at', 'bigint')
    .execute();
  // Each sweep reads the silences that have not ended: a range on ends_at.
  await db.schema.createIndex('silences_ends').on('silences').columns(['ends_at', 'id']).execute();
  await db.schema
    .createTable('pause')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('since', 'bigint', (c) => c.notNull())
    .addColumn('paused_by', 'text', (c) => c.notNull())
    .addColumn('comment', 'text', (c) => c.notNull())
    .execute();
}
