/** A fresh PostgreSQL schema for one benchmark server, and how to drop it. */
import pg from 'pg';
import { POSTGRES_URL } from './services.js';

export interface BenchSchema {
  schema: string;
  /** A connection of the benchmark's own (not the server's), open until `drop`. */
  admin: pg.Client;
  /** The server's environment: its database URL, with the schema as its search path. */
  env: Record<string, string>;
  drop: () => Promise<void>;
}

/**
 * Creates the schema `vigil_bench_${prefix}_${name}` (characters other than a-z, 0-9 and _ become
 * _). With `tagConnections`, the server's connections carry the schema's name as their
 * application_name, so its backends can be found in pg_stat_activity.
 */
export async function benchSchema(
  prefix: string,
  name: string,
  { tagConnections = false } = {},
): Promise<BenchSchema> {
  const schema = `vigil_bench_${prefix}_${name}`.replace(/[^a-z0-9_]/g, '_');
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const options = `?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  return {
    schema,
    admin,
    env: {
      VIGIL_DATABASE_URL: `${POSTGRES_URL}${options}${tagConnections ? `&application_name=${schema}` : ''}`,
    },
    drop: async () => {
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    },
  };
}
