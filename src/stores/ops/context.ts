import type BetterSqlite3 from 'better-sqlite3';
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../schema.js';

/** The database, or a transaction on it: what an operation's statements run on. */
export type Db = Kysely<Database> | Transaction<Database>;

/**
 * Statements prepared once per database on first use, then reused: `run` hands `fn` the
 * statements `prepare` made (cached by `prepare` itself, so each operation keeps its own), on the
 * query builder's connection, so they never land inside another open transaction.
 */
export interface Prepared {
  run<S, T>(prepare: (database: BetterSqlite3.Database) => S, fn: (statements: S) => T): Promise<T>;
}

interface Common {
  readonly db: Kysely<Database>;
  /** Runs `fn` in a transaction that holds the write lock from its first statement. */
  readonly writeTransaction: <T>(fn: (trx: Db) => Promise<T>) => Promise<T>;
}

/** What every operation of the SQL store is given on SQLite: the database and its statements. */
export interface SqliteContext extends Common {
  readonly dialect: 'sqlite';
  /** For the hot paths (heartbeats, ending attempts). */
  readonly prepared: Prepared;
  /**
   * End attempts through the query builder instead of prepared statements: tests hold SQLite to
   * the path PostgreSQL runs.
   */
  readonly genericEnds: boolean;
}

/** What every operation of the SQL store is given on PostgreSQL. */
export interface PostgresContext extends Common {
  readonly dialect: 'postgres';
}

/** The database an operation runs on; `dialect` tells which variant of it to take. */
export type SqlContext = SqliteContext | PostgresContext;

export type Dialect = SqlContext['dialect'];
