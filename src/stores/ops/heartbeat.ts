import { lostBeat } from '../../core/lost-beat.js';
import type BetterSqlite3 from 'better-sqlite3';
import { CompiledQuery } from 'kysely';
import type { Beat, HeartbeatResult } from '../../ports/ledger-store.js';
import type { PostgresContext, SqlContext } from './context.js';
import { deadlineAfterBeatSql } from './deadline.js';
import { toNumber } from './rows.js';

/**
 * Records a batch of beats: each lands only on its attempt while it runs, moving its deadline
 * (computed in the UPDATE, see deadline.ts); the others come back as lost, with why. One write path
 * per dialect: prepared statements on SQLite, one UPDATE for the whole batch on PostgreSQL.
 */
export async function heartbeat(
  ctx: SqlContext,
  beats: Beat[],
  now: number,
): Promise<HeartbeatResult> {
  if (beats.length === 0) return { ok: [], lost: [] };
  if (ctx.dialect === 'postgres') return heartbeatPostgres(ctx, beats, now);
  return ctx.prepared.run(prepareSqlite, (write) => write(beats, now));
}

/**
 * Heartbeats are Vigil's hot path, so on SQLite they skip the query builder: two prepared
 * statements in one IMMEDIATE transaction per batch.
 */
function prepareSqlite(database: BetterSqlite3.Database) {
  const beat = database.prepare<
    { id: string; attempt: number; now: number; hasProgress: number; progress: string | null },
    { deadline_at: number | null }
  >(`UPDATE executions SET
       heartbeat_at = @now,
       progress_at = CASE WHEN @hasProgress THEN @now ELSE progress_at END,
       progress = CASE WHEN @hasProgress THEN @progress ELSE progress END,
       deadline_at = ${deadlineAfterBeatSql('sqlite', { now: '@now', hasProgress: '@hasProgress' })}
     WHERE id = @id AND attempt = @attempt AND status = 'running'
     RETURNING deadline_at`);
  const lookup = database.prepare<[string], LostRow>(
    'SELECT status, reason, attempt FROM executions WHERE id = ?',
  );
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

/**
 * On PostgreSQL a batch is one statement, run on its own (no transaction around it, so one round
 * trip). It locks the rows of its ids one by one in id order, each found by primary key (a
 * lateral lookup, so the plan cannot turn into a scan of every running row, whatever the table's
 * statistics say), so concurrent batches, from this process or another replica, cannot deadlock:
 * they queue on their first common row. Then it moves the rows that, once locked, still run the
 * beat's attempt. A beat that did not land is answered as lost from the lookup below, which runs
 * after the statement. Parameters: now, ids, attempts, has-progress flags, progress texts (JSON).
 */
export const POSTGRES_BEATS = `
  WITH v AS (
    SELECT * FROM unnest($2::text[], $3::int[], $4::bool[], $5::text[])
      AS v(id, attempt, has_progress, progress)
  ), locked AS (
    SELECT row.id, row.attempt, row.status
    FROM (SELECT DISTINCT id FROM unnest($2::text[]) AS ids(id) ORDER BY id OFFSET 0) AS ids
    CROSS JOIN LATERAL (
      SELECT id, attempt, status FROM executions WHERE id = ids.id FOR UPDATE
    ) AS row
  )
  UPDATE executions AS e SET
    heartbeat_at = $1::bigint,
    progress_at = CASE WHEN v.has_progress THEN $1::bigint ELSE e.progress_at END,
    progress = CASE WHEN v.has_progress THEN v.progress ELSE e.progress END,
    deadline_at = ${deadlineAfterBeatSql('postgres', { now: '$1::bigint', hasProgress: 'v.has_progress', row: 'e' })}
  FROM locked JOIN v ON v.id = locked.id AND v.attempt = locked.attempt
  WHERE e.id = locked.id AND locked.status = 'running'
  RETURNING e.id, e.attempt, e.deadline_at`;

/** PostgreSQL's `integer`, the attempt column's type. */
const MAX_ATTEMPT = 2_147_483_647;

/**
 * Whether PostgreSQL can hold the beat's values at all. One it cannot (an attempt beyond the
 * column's type, an id with a NUL, which text refuses) cannot land: it is answered as lost without
 * being sent, since one refused value fails the whole statement, and with it the beats of other
 * callers written in the same batch.
 */
const storable = (beat: Beat): boolean =>
  beat.attempt <= MAX_ATTEMPT && !beat.id.includes('\u0000');

async function heartbeatPostgres(
  ctx: PostgresContext,
  beats: Beat[],
  now: number,
): Promise<HeartbeatResult> {
  const sent = beats.every(storable) ? beats : beats.filter(storable);
  const { rows: landed } = await ctx.db.executeQuery<{
    id: string;
    attempt: number;
    deadline_at: number | null;
  }>(
    CompiledQuery.raw(POSTGRES_BEATS, [
      now,
      sent.map((b) => b.id),
      sent.map((b) => b.attempt),
      sent.map((b) => b.progress !== undefined),
      sent.map((b) => (b.progress === undefined ? null : JSON.stringify(b.progress))),
    ]),
  );
  const ok = new Map(landed.map((r) => [`${r.id}#${r.attempt}`, toNumber(r.deadline_at)]));
  // Looked up by id: a beat whose attempt could not be sent is answered from its row as any other.
  const missing = beats.filter((b) => !ok.has(`${b.id}#${b.attempt}`) && !b.id.includes('\u0000'));
  const found =
    missing.length === 0
      ? []
      : await ctx.db
          .selectFrom('executions')
          .select(['id', 'status', 'reason', 'attempt'])
          .where(
            'id',
            'in',
            missing.map((b) => b.id),
          )
          .execute();
  const rows = new Map(found.map((r) => [r.id, r]));
  const result: HeartbeatResult = { ok: [], lost: [] };
  for (const beat of beats) {
    const key = `${beat.id}#${beat.attempt}`;
    if (ok.has(key)) result.ok.push({ id: beat.id, deadlineAt: ok.get(key) ?? null });
    else result.lost.push(lostBeat(beat, rows.get(beat.id)));
  }
  return result;
}

type LostRow = { status: string; reason: string | null; attempt: number };
