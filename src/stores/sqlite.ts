import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import type { Database } from './schema.js';
import { SqlStore } from './sql-store.js';

export interface SqliteOptions {
  /**
   * How long a write waits for another process's write lock before it gives up with "store
   * unavailable". 5 s rides out a concurrent sweep's transaction (milliseconds) with a wide margin.
   */
  busyTimeoutMs?: number | undefined;
}

/** Opens (creating if needed) the embedded store: one SQLite file in WAL mode. */
export function openSqliteStore(path: string, options: SqliteOptions = {}): SqlStore {
  const file = path === ':memory:' ? path : resolve(path);
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const database = new BetterSqlite3(file, { timeout: options.busyTimeoutMs ?? 5_000 });
  try {
    // WAL lets readers (the CLI, the dashboard) read while a sweep writes.
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = NORMAL');
  } catch (error) {
    database.close();
    throw error;
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  return new SqlStore(db, 'sqlite', `sqlite:${file}`, (fn) =>
    db.connection().execute(async (conn) => {
      // IMMEDIATE takes the write lock up front: a deferred transaction that reads and then
      // writes can fail with SQLITE_BUSY when another process wrote in between.
      await sql`begin immediate`.execute(conn);
      try {
        const result = await fn(conn);
        await sql`commit`.execute(conn);
        return result;
      } catch (error) {
        await sql`rollback`.execute(conn).catch(() => undefined);
        throw error;
      }
    }),
  );
}
