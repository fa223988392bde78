import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import type { Beat, HeartbeatResult } from '../ports.js';
import type { Database } from './schema.js';
import { SqlStore, lostBeat } from './sql-store.js';

const NEVER = Number.MAX_SAFE_INTEGER;

/**
 * Heartbeats are Vigil's hot path, so on SQLite they skip the query builder: two prepared
 * statements in one IMMEDIATE transaction per batch. The deadline is computed in SQL from the new
 * values (SET sees the old ones), exactly as deadlineOf() does: the earliest of start + run,
 * now + heartbeat, and (now if this beat carries progress, else the last progress) + progress.
 */
function preparedHeartbeat(database: BetterSqlite3.Database) {
  const beat = database.prepare<
    { id: string; attempt: number; now: number; hasProgress: number; progress: string | null },
    { deadline_at: number | null }
  >(`UPDATE executions SET
       heartbeat_at = @now,
       progress_at = CASE WHEN @hasProgress THEN @now ELSE progress_at END,
       progress = CASE WHEN @hasProgress THEN @progress ELSE progress END,
       deadline_at = nullif(min(
         coalesce(started_at + limit_run, ${NEVER}),
         coalesce(@now + limit_heartbeat, ${NEVER}),
         coalesce(CASE WHEN @hasProgress THEN @now ELSE coalesce(progress_at, started_at) END + limit_progress, ${NEVER})
       ), ${NEVER})
     WHERE id = @id AND attempt = @attempt AND status = 'running'
     RETURNING deadline_at`);
  const lookup = database.prepare<
    [string],
    { status: string; reason: string | null; attempt: number }
  >('SELECT status, reason, attempt FROM executions WHERE id = ?');
  const transaction = database.transaction((beats: Beat[], now: number): HeartbeatResult => {
    const result: HeartbeatResult = { ok: [], lost: [] };
    for (const b of beats) {
      const hasProgress = b.progress !== undefined;
      const row = beat.get({
        id: b.id,
        attempt: b.attempt,
        now,
        hasProgress: hasProgress ? 1 : 0,
        progress: hasProgress ? JSON.stringify(b.progress) : null,
      });
      if (row) result.ok.push({ id: b.id, deadlineAt: row.deadline_at });
      else result.lost.push(lostBeat(b, lookup.get(b.id)));
    }
    return result;
  });
  return (beats: Beat[], now: number) => transaction.immediate(beats, now);
}

export interface SqliteOptions {
  /**
   * How long a write waits for another process's write lock before it gives up with "store
   * unavailable". 5 s rides out a concurrent sweep's transaction (milliseconds) with a wide margin.
   */
  busyTimeoutMs?: number | undefined;
  /**
   * Use the query builder for heartbeats instead of the prepared fast path. For tests that hold
   * both paths to the same contract; the generic path is the one other dialects run.
   */
  genericHeartbeats?: boolean | undefined;
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
  // Prepared on first use (after migrations); run through kysely's connection so the batch never
  // lands inside another open transaction.
  let heartbeat: ReturnType<typeof preparedHeartbeat> | undefined;
  const fastHeartbeat = (beats: Beat[], now: number) =>
    db.connection().execute(() => {
      heartbeat ??= preparedHeartbeat(database);
      return Promise.resolve(heartbeat(beats, now));
    });
  return new SqlStore(
    db,
    'sqlite',
    `sqlite:${file}`,
    (fn) =>
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
    options.genericHeartbeats ? undefined : fastHeartbeat,
  );
}
