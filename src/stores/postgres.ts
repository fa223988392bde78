import type { DatabaseIntrospector, DatabaseMetadata, SchemaMetadata, TableMetadata } from 'kysely';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';
import { SqlStore } from './sql-store.js';

// int8 (bigint) columns hold milliseconds since the epoch, well inside Number's exact range.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export interface PostgresOptions {
  /** Put Vigil's tables in this schema (created if missing); default: the connection's default. */
  schema?: string | undefined;
  /** Connections in the pool. */
  poolSize?: number | undefined;
}

/**
 * The store on PostgreSQL: the same SqlStore as SQLite, on a connection pool. Every terminal write
 * is the same compare-and-set; under READ COMMITTED a second writer blocks on the row lock and then
 * re-checks the fence, so two replicas can never both end one attempt.
 */
export function openPostgresStore(url: string, options: PostgresOptions = {}): SqlStore {
  const schema = options.schema;
  if (schema !== undefined && !/^[a-z_][a-z0-9_]*$/.test(schema)) {
    throw new Error(`schema: expected a lower-case SQL identifier, got ${JSON.stringify(schema)}`);
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    // Fail fast when the database is down: the caller reports "store unavailable".
    connectionTimeoutMillis: 5_000,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  // An idle client's error (the server restarted) must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  // Nor may a checked-out client's between two statements of a transaction: its next query fails
  // (and the caller reports "store unavailable"), and the pool discards it when it is released.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const db = new Kysely<Database>({
    dialect: new OwnSchemaDialect({
      pool: async () => {
        if (schema) {
          const client = await pool.connect();
          try {
            await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
          } catch (error) {
            // Two replicas creating it at once: IF NOT EXISTS can still lose the race.
            const code = (error as { code?: string }).code;
            if (code !== '23505' && code !== '42P06') throw error;
          } finally {
            client.release();
          }
        }
        return pool;
      },
    }),
  });
  return new SqlStore(
    {
      dialect: 'postgres',
      db,
      writeTransaction: (fn) => db.transaction().execute((trx) => fn(trx)),
    },
    `postgres:${redactUrl(url)}${schema ? ` (schema ${schema})` : ''}`,
  );
}

/**
 * Kysely's migrator looks for its tables through the dialect's introspector, which lists every
 * schema of the database and calls has_schema_privilege() on each: a schema that another
 * application (or another Vigil, or a test) drops meanwhile fails that listing with "schema … does
 * not exist", and with it Vigil's start. This introspector looks at Vigil's own schema only.
 */
class OwnSchemaDialect extends PostgresDialect {
  override createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new OwnSchemaIntrospector(db);
  }
}

class OwnSchemaIntrospector implements DatabaseIntrospector {
  constructor(private readonly db: Kysely<unknown>) {}

  async getSchemas(): Promise<SchemaMetadata[]> {
    const { rows } = await sql<SchemaMetadata>`select current_schema() as name`.execute(this.db);
    return rows;
  }

  async getTables(): Promise<TableMetadata[]> {
    const { rows } = await sql<{ schema: string; name: string; isView: boolean }>`
      select table_schema as schema, table_name as name, table_type = 'VIEW' as "isView"
      from information_schema.tables where table_schema = current_schema()`.execute(this.db);
    return rows.map((row) => ({ ...row, columns: [] }));
  }

  async getMetadata(): Promise<DatabaseMetadata> {
    return { tables: await this.getTables() };
  }
}

function redactUrl(url: string): string {
  return url.replace(/^postgres(ql)?:/, '').replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@');
}
