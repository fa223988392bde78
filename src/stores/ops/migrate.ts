import { Migrator, sql } from 'kysely';
import { migrationProvider } from '../migrations.js';
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
  const migrator = new Migrator({
    db: ctx.db,
    provider: migrationProvider,
    migrationTableSchema,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error('migration failed', { cause: error });
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
