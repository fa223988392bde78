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
import type { RemediationRecord } from '../ports/audit-store.js';
import type { Beat, HeartbeatResult } from '../ports/ledger-store.js';
import type { AttemptEnd, Fence } from '../ports/records.js';
import type { Database } from './schema.js';
import { openReadonlyDatabase } from './sqlite-readonly.js';
import type { ExecutionRow } from './sql-store.js';
import {
  SqlStore,
  attemptEndWrites,
  deadlineHolds,
  lostBeat,
  remediationRow,
  slotsDueSql,
} from './sql-store.js';

const NEVER = Number.MAX_SAFE_INTEGER;

/**
 * Heartbeats are Vigil's hot path, so on SQLite they skip the query builder: two prepared
 * statements in one IMMEDIATE transaction per batch. The deadline is computed in SQL from the new
 * values (SET sees the old ones), exactly as deadlineOf() does: the earliest of start + run,
 * now + heartbeat, and (now if this beat carries progress, else the last progress) + progress.
 */
function preparedWrites(database: BetterSqlite3.Database) {
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
  return {
    heartbeat: (beats: Beat[], now: number) => transaction.immediate(beats, now),
    ends: preparedEndAttempt(database),
  };
}

/**
 * Ending an attempt (the compare-and-set) with prepared statements: the same writes as the
 * generic path (attemptEndWrites), in one IMMEDIATE transaction.
 */
function preparedEndAttempt(database: BetterSqlite3.Database) {
  const select = database.prepare<[string, number, string], ExecutionRow>(
    'SELECT * FROM executions WHERE id = ? AND attempt = ? AND status = ?',
  );
  const updates = new Map<string, BetterSqlite3.Statement>();
  const attemptColumns = [
    'execution_id',
    'attempt',
    'status',
    'queued_at',
    'started_at',
    'ended_at',
    'verdict',
    'reason',
    'ended_by',
    'result',
    'error',
    'late_result',
  ] as const;
  const insert = database.prepare(
    `INSERT INTO attempts (${attemptColumns.join(', ')}) VALUES (${attemptColumns.map((c) => `@${c}`).join(', ')})`,
  );
  const remediationColumns = [
    'id',
    'sweep_id',
    'at',
    'execution_id',
    'attempt',
    'kind',
    'owner',
    'verdict',
    'action',
    'reason',
    'evidence',
    'steps',
    'outcome',
    'dry_run',
  ] as const;
  const audit = database.prepare(
    `INSERT INTO remediations (${remediationColumns.join(', ')}) VALUES (${remediationColumns.map((c) => `@${c}`).join(', ')})`,
  );
  const slotsDue = database.prepare(slotsDueSql);
  const transaction = database.transaction(
    (fence: Fence, end: AttemptEnd, now: number, record?: RemediationRecord) => {
      const row = select.get(fence.id, fence.attempt, fence.status);
      // Inside this IMMEDIATE transaction nothing else writes: the row read is the row updated.
      if (!row || !deadlineHolds(row, fence)) return false;
      const writes = attemptEndWrites(row, fence, end, now);
      const columns = Object.keys(writes.update);
      const key = columns.join(',');
      let update = updates.get(key);
      if (!update) {
        update = database.prepare(
          `UPDATE executions SET ${columns.map((c) => `${c} = @${c}`).join(', ')}
         WHERE id = @fence_id AND attempt = @fence_attempt AND status = @fence_status`,
        );
        updates.set(key, update);
      }
      const changed = update.run({
        ...writes.update,
        fence_id: fence.id,
        fence_attempt: fence.attempt,
        fence_status: fence.status,
      }).changes;
      if (changed === 0) return false;
      insert.run(writes.attempt);
      if (record) audit.run(remediationRow(record));
      slotsDue.run(now, record?.id ?? null, fence.id, fence.attempt);
      return true;
    },
  );
  const many = database.transaction(
    (
      items: { fence: Fence; end: AttemptEnd; audit?: RemediationRecord | undefined }[],
      now: number,
    ) => items.map((item) => transaction(item.fence, item.end, now, item.audit)),
  );
  return {
    one: (fence: Fence, end: AttemptEnd, now: number, record?: RemediationRecord): boolean =>
      transaction.immediate(fence, end, now, record),
    many: (
      items: { fence: Fence; end: AttemptEnd; audit?: RemediationRecord | undefined }[],
      now: number,
    ): boolean[] => many.immediate(items, now),
  };
}

export interface SqliteOptions {
  /**
   * How long a write waits for another process's write lock before it gives up with "store
   * unavailable". 5 s rides out a concurrent sweep's transaction (milliseconds) with a wide margin.
   */
  busyTimeoutMs?: number | undefined;
  /**
   * Use the query builder for the hot writes (heartbeats, ending attempts) instead of the prepared
   * fast paths. For tests that hold both paths to the same contract; the generic paths are the
   * ones other dialects run.
   */
  genericWrites?: boolean | undefined;
  /**
   * Open an existing file for reading only: nothing is created, migrated or written, so the
   * read-only commands work on a file they may not (or must not) change.
   */
  readonly?: boolean | undefined;
}

/** Opens (creating if needed) the embedded store: one SQLite file in WAL mode. */
export function openSqliteStore(path: string, options: SqliteOptions = {}): SqlStore {
  const file = path === ':memory:' ? path : resolve(path);
  if (options.readonly) return readonlyStore(file, options);
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
  const intact = file === ':memory:' ? () => undefined : fileGuard(file);
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database }),
    plugins: [new GuardWrites(intact)],
  });
  // Prepared on first use (after migrations); run through kysely's connection so they never land
  // inside another open transaction.
  let prepared: ReturnType<typeof preparedWrites> | undefined;
  const withPrepared = <T>(fn: (writes: ReturnType<typeof preparedWrites>) => T) =>
    db.connection().execute(() => {
      intact();
      prepared ??= preparedWrites(database);
      return Promise.resolve(fn(prepared));
    });
  const fast = {
    heartbeat: (beats: Beat[], now: number) => withPrepared((w) => w.heartbeat(beats, now)),
    endAttempt: (fence: Fence, end: AttemptEnd, now: number, record?: RemediationRecord) =>
      withPrepared((w) => w.ends.one(fence, end, now, record)),
    endAttempts: (
      items: { fence: Fence; end: AttemptEnd; audit?: RemediationRecord | undefined }[],
      now: number,
    ) => withPrepared((w) => w.ends.many(items, now)),
  };
  return new SqlStore(
    db,
    'sqlite',
    `sqlite:${file}`,
    (fn) =>
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
    options.genericWrites ? {} : fast,
    intact,
  );
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

function readonlyStore(file: string, options: SqliteOptions): SqlStore {
  const database = openReadonlyDatabase(file, options.busyTimeoutMs ?? 5_000);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  return new SqlStore(db, 'sqlite', `sqlite:${file}`, () =>
    Promise.reject(new Error(`sqlite:${file} is open for reading only`)),
  );
}
