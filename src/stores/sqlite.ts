import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from 'kysely';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { VigilError } from '../errors.js';
import type { Prepared } from './ops/context.js';
import type { Database } from './schema.js';
import { SqlStore } from './sql-store.js';
import { openReadonlyDatabase } from './sqlite-readonly.js';

export interface SqliteOptions {
  /**
   * How long a write waits for another process's write lock before it gives up with "store
   * unavailable" (default: DEFAULT_BUSY_TIMEOUT_MS).
   */
  busyTimeoutMs?: number | undefined;
  /**
   * End attempts through the query builder instead of prepared statements: for tests that hold
   * SQLite to the path PostgreSQL runs. (Heartbeats have one path per dialect: prepared here.)
   */
  genericWrites?: boolean | undefined;
  /**
   * Open an existing file for reading only: nothing is created, migrated or written, so the
   * read-only commands work on a file they may not (or must not) change.
   */
  readonly?: boolean | undefined;
}

/**
 * 5 s rides out another process's write transaction (a sweep's page takes milliseconds, a CLI
 * command less) with a wide margin. Shorter would answer "store unavailable" to runners during an
 * ordinary burst of writes (the worse mistake: a runner may stop healthy work over it); longer only
 * makes a truly stuck lock take longer to report.
 */
export const DEFAULT_BUSY_TIMEOUT_MS = 5_000;

/** Opens (creating if needed) the embedded store: one SQLite file in WAL mode. */
export function openSqliteStore(path: string, options: SqliteOptions = {}): SqlStore {
  const file = path === ':memory:' ? path : resolve(path);
  if (options.readonly) return readonlyStore(file, options);
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const database = new BetterSqlite3(file, {
    timeout: options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS,
  });
  try {
    // WAL lets readers (the CLI, the dashboard) read while a sweep writes.
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = NORMAL');
  } catch (error) {
    database.close();
    throw error;
  }
  const intact = file === ':memory:' ? () => undefined : fileGuard(file);
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database }),
    plugins: [new GuardWrites(intact)],
  });
  return new SqlStore(
    {
      dialect: 'sqlite',
      db,
      writeTransaction: (fn) =>
        db.connection().execute(async (conn) => {
          intact();
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
      prepared: preparedOn(db, database, intact),
      genericEnds: options.genericWrites ?? false,
    },
    `sqlite:${file}`,
    intact,
  );
}

/**
 * Each operation's statements, prepared on its first use (after migrations) and kept for the
 * database's life; run through kysely's connection so they never land inside another open
 * transaction.
 */
function preparedOn(
  db: Kysely<Database>,
  database: BetterSqlite3.Database,
  intact: () => void,
): Prepared {
  const cache = new Map<unknown, unknown>();
  return {
    run: (prepare, fn) =>
      db.connection().execute(() => {
        intact();
        let statements = cache.get(prepare) as ReturnType<typeof prepare> | undefined;
        if (statements === undefined) {
          statements = prepare(database);
          cache.set(prepare, statements);
        }
        return Promise.resolve(fn(statements));
      }),
  };
}

/** Runs `guard` before every write the query builder sends (inserts, updates, deletes). */
class GuardWrites implements KyselyPlugin {
  constructor(private readonly guard: () => void) {}

  transformQuery({ node }: PluginTransformQueryArgs): RootOperationNode {
    if (WRITES.has(node.kind)) this.guard();
    return node;
  }

  transformResult({ result }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return Promise.resolve(result);
  }
}

const WRITES = new Set(['InsertQueryNode', 'UpdateQueryNode', 'DeleteQueryNode', 'MergeQueryNode']);

/**
 * The open file's identity (device and inode), checked before each write and on each health check:
 * an SQLite file deleted or replaced under a running Vigil still takes writes (into the unlinked
 * inode) that a restart will not find, so from then on writes are refused instead of acknowledged.
 * One stat per write transaction (a batch of beats is one): microseconds.
 */
function fileGuard(file: string): () => void {
  const opened = statSync(file);
  return () => {
    const now = statSync(file, { throwIfNoEntry: false });
    if (now && now.dev === opened.dev && now.ino === opened.ino) return;
    throw new VigilError(
      'store_unavailable',
      `database file ${file} was ${now ? 'replaced by another file' : 'deleted'} while Vigil had it open: writes are refused, since they would be lost; restart Vigil to open the database at that path again`,
      { store: 'database' },
    );
  };
}

/** The store on a file opened for reading only: every write fails, nothing is prepared. */
function readonlyStore(file: string, options: SqliteOptions): SqlStore {
  const database = openReadonlyDatabase(file, options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  const refuse = (): never => {
    throw new Error(`sqlite:${file} is open for reading only`);
  };
  return new SqlStore(
    {
      dialect: 'sqlite',
      db,
      writeTransaction: () => Promise.reject(new Error(`sqlite:${file} is open for reading only`)),
      prepared: { run: () => Promise.resolve(refuse()) },
      genericEnds: false,
    },
    `sqlite:${file}`,
  );
}
