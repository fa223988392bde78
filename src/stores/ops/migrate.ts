import { Migrator, sql } from 'kysely';
import { migrationNames, migrationProvider } from '../migrations.js';
import type { SqlContext } from './context.js';

/** Brings the schema up to date; returns the names of the migrations applied. */
export async function migrate(ctx: SqlContext): Promise<string[]> {
  // Without a schema kysely takes a migration table in *any* schema as its own, so a second
  // Vigil (or a test) in another schema of the same database would skip creating its own.
  const migrationTableSchema =
    ctx.dialect === 'postgres'
      ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(ctx.db)).rows[0]
          ?.schema
      : undefined;
  // Already up to date (the usual case for a command run from cron): one read instead of kysely's
  // migrator, which takes its lock and reads the metadata of every table. Only when the database
  // has had exactly the migrations this version knows: one it does not know still goes to the
  // migrator, which refuses it.
  if (await isUpToDate(ctx, migrationTableSchema)) return [];
  const migrator = new Migrator({
    db: ctx.db,
    provider: migrationProvider,
    migrationTableSchema,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error('migration failed', { cause: error });
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * The migrations this version knows that the database has not had, read without writing (for the
 * read-only commands): all of them for a database Vigil has never used.
 */
export async function pendingMigrations(ctx: SqlContext): Promise<string[]> {
  const known = await migrationNames();
  let applied: string[];
  try {
    const rows = await sql<{
      name: string;
    }>`select name from ${sql.table('kysely_migration')}`.execute(ctx.db);
    applied = rows.rows.map((row) => row.name);
  } catch (error) {
    // No migration table: a database Vigil has never migrated.
    const code = (error as { code?: unknown }).code;
    const message = error instanceof Error ? error.message : '';
    if (code === '42P01' || /no such table/.test(message)) return known;
    throw error;
  }
  return known.filter((name) => !applied.includes(name));
}

/**
 * Whether the database has had every migration this version knows, and none other; on PostgreSQL
 * by the migration table of Vigil's own schema.
 */
async function isUpToDate(ctx: SqlContext, schema: string | undefined): Promise<boolean> {
  const known = await migrationNames();
  let applied: string[];
  try {
    const rows = await sql<{
      name: string;
    }>`select name from ${sql.table(schema === undefined ? 'kysely_migration' : `${schema}.kysely_migration`)}`.execute(
      ctx.db,
    );
    applied = rows.rows.map((row) => row.name);
  } catch {
    return false; // no migration table yet: the migrator creates it
  }
  return applied.length === known.length && known.every((name) => applied.includes(name));
}
