import { isAbsolute, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { redact } from '../shared/redact.js';
import { quote } from './identifiers.js';

export type AppDialect = 'postgres' | 'sqlite';

/**
 * A connection to another app's database: the one seam through which mapped tables are read and
 * written. SQL arrives with its parameters; nothing here builds SQL from configuration.
 */
export interface AppDatabase {
  readonly dialect: AppDialect;
  /** The URL with any password hidden, for messages. */
  readonly description: string;
  /**
   * Runs a query. With `readOnly` (a SELECT holding operator-written SQL) it runs where it cannot
   * write: a READ ONLY transaction on PostgreSQL; on SQLite a statement that would write is refused.
   */
  query<R>(
    text: string,
    params: readonly unknown[],
    options?: { readOnly?: boolean },
  ): Promise<R[]>;
  /** Runs a write; returns how many rows it changed. */
  execute(text: string, params: readonly unknown[]): Promise<number>;
  /** The table's columns (name → declared type, lower-case), or undefined when it does not exist. */
  columns(table: string): Promise<Map<string, string> | undefined>;
  close(): Promise<void>;
}

export interface AppDatabaseOptions {
  /** Relative SQLite paths are taken from here. */
  cwd: string;
  sqliteBusyTimeoutMs: number;
}

/**
 * Statements against another app's database give up after this long. The app may hold a lock on a
 * row for a while; waiting longer would hold up every other source in the sweep, while giving up
 * only defers that row to the next sweep.
 */
const STATEMENT_TIMEOUT_MS = 30_000;

/** Opens (lazily, for PostgreSQL) the database a mapped table names. */
export function openAppDatabase(url: string, options: AppDatabaseOptions): AppDatabase {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    return openSqlite(isAbsolute(path) ? path : resolve(options.cwd, path), options);
  }
  return openPostgres(url);
}

function openPostgres(url: string): AppDatabase {
  const pool = new pg.Pool({
    connectionString: url,
    // Vigil reads and writes a few rows per sweep: two connections are plenty, and an app's
    // database should not lose many of its connections to its watchdog.
    max: 2,
    connectionTimeoutMillis: 5_000,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
  });
  // An idle client's error (the server restarted) must not crash Vigil; the pool replaces it.
  pool.on('error', () => undefined);
  const query = async <R>(
    text: string,
    params: readonly unknown[],
    options?: { readOnly?: boolean },
  ): Promise<R[]> => {
    if (!options?.readOnly) return (await pool.query(text, params as unknown[])).rows as R[];
    const client = await pool.connect();
    try {
      await client.query('BEGIN TRANSACTION READ ONLY');
      const { rows } = await client.query(text, params as unknown[]);
      await client.query('COMMIT');
      return rows as R[];
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  };
  return {
    dialect: 'postgres',
    description: redact(url),
    query,
    execute: async (text, params) => (await pool.query(text, params as unknown[])).rowCount ?? 0,
    columns: async (table) => {
      // to_regclass resolves the name as the app's own queries would (search_path included).
      const [found] = await query<{ oid: number | null }>('SELECT to_regclass($1)::oid AS oid', [
        quote(table),
      ]);
      if (!found?.oid) return undefined;
      const rows = await query<{ name: string; type: string }>(
        `SELECT attname AS name, format_type(atttypid, atttypmod) AS type
           FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped`,
        [found.oid],
      );
      return new Map(rows.map((row) => [row.name, row.type.toLowerCase()]));
    },
    close: () => pool.end(),
  };
}

function openSqlite(path: string, options: AppDatabaseOptions): AppDatabase {
  let database: BetterSqlite3.Database | null = null;
  // Opened on first use, and again after a failure: a file that appears later is picked up. The
  // file must exist: a mistyped path must be reported, not answered with a new empty database.
  const open = () => {
    if (database === null) {
      database = new BetterSqlite3(path, { fileMustExist: true });
      database.pragma(`busy_timeout = ${Math.round(options.sqliteBusyTimeoutMs)}`);
    }
    return database;
  };
  const bind = (params: readonly unknown[]) =>
    params.map((value) => (typeof value === 'boolean' ? Number(value) : value));
  return {
    dialect: 'sqlite',
    description: `sqlite:${path}`,
    query: async <R>(
      text: string,
      params: readonly unknown[],
      options?: { readOnly?: boolean },
    ) => {
      const statement = open().prepare(text);
      if (options?.readOnly && !statement.readonly) {
        throw new Error('the statement would write: a rowLimits expression must only read');
      }
      return statement.all(...bind(params)) as R[];
    },
    execute: async (text, params) =>
      open()
        .prepare(text)
        .run(...bind(params)).changes,
    columns: async (table) => {
      const [schema, name] = table.includes('.') ? table.split('.') : ['main', table];
      const rows = open()
        .prepare('SELECT name, type FROM pragma_table_info(?, ?)')
        .all(name, schema) as { name: string; type: string }[];
      if (rows.length === 0) return undefined;
      return new Map(rows.map((row) => [row.name, row.type.toLowerCase()]));
    },
    close: async () => {
      database?.close();
      database = null;
    },
  };
}

const CONNECTION_CODES = ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH'];

/**
 * Whether a driver error means the database itself cannot be used (unreachable, refused, no such
 * database or file), as opposed to a problem with the table or a statement.
 */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    // PostgreSQL: connection exceptions (08), auth (28), no such database (3D000), shutting down.
    if (/^08\d{3}$|^28\w{3}$|^3D000$|^57P0[123]$/.test(code)) return true;
    if (CONNECTION_CODES.includes(code) || code.startsWith('SQLITE_CANTOPEN')) return true;
    if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') return true;
  }
  const message = error instanceof Error ? error.message : '';
  return /timeout exceeded when trying to connect|Connection terminated/i.test(message);
}
