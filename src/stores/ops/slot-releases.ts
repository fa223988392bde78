import type BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import type { StepRecord } from '../../ports/audit-store.js';
import type { SlotHoldRecord, SlotReleaseOutcome } from '../../ports/slot-store.js';
import type { Db, SqlContext } from './context.js';

type Release = { hold: SlotHoldRecord; outcome: SlotReleaseOutcome };

/**
 * Records releases' outcomes in one transaction, each only once (false where another releaser
 * recorded it first), and appends each to the remediation that caused it.
 */
export async function recordSlotReleases(
  ctx: SqlContext,
  releases: readonly Release[],
  now: number,
): Promise<boolean[]> {
  if (releases.length === 0) return [];
  if (ctx.dialect === 'sqlite' && !ctx.genericEnds) {
    return ctx.prepared.run(prepareSqlite, (record) => record(releases, now));
  }
  return ctx.dialect === 'postgres'
    ? ctx.writeTransaction((trx) => recordPostgres(trx, releases, now))
    : ctx.writeTransaction((trx) => recordSqlite(trx, releases, now));
}

/** On SQLite, two statements per release, each step appended to its audit row in place. */
async function recordSqlite(trx: Db, releases: readonly Release[], now: number) {
  const recorded: boolean[] = [];
  for (const { hold, outcome } of releases) {
    const marked = await trx
      .updateTable('slot_holds')
      .set({ released_at: now, release_outcome: outcome })
      .where('execution_id', '=', hold.executionId)
      .where('attempt', '=', hold.attempt)
      .where('slot', '=', hold.slot)
      .where('released_at', 'is', null)
      .executeTakeFirst();
    const won = Number(marked.numUpdatedRows) === 1;
    recorded.push(won);
    if (!won || hold.remediationId === null) continue;
    // Appended to the remediation's JSON array in place (no read-modify-write).
    const step = JSON.stringify(releaseStep(hold, outcome, now));
    await trx
      .updateTable('remediations')
      .set({ steps: sql<string>`json_insert(steps, '$[#]', json(${step}))` })
      .where('id', '=', hold.remediationId)
      .execute();
  }
  return recorded;
}

/** On SQLite, the same two statements per release, prepared once, in one IMMEDIATE transaction. */
function prepareSqlite(database: BetterSqlite3.Database) {
  const mark = database.prepare<[number, string, string, number, string]>(
    'UPDATE slot_holds SET released_at = ?, release_outcome = ? WHERE execution_id = ? AND attempt = ? AND slot = ? AND released_at IS NULL',
  );
  const append = database.prepare<[string, string]>(
    `UPDATE remediations SET steps = json_insert(steps, '$[#]', json(?)) WHERE id = ?`,
  );
  const many = database.transaction((releases: readonly Release[], now: number) =>
    releases.map(({ hold, outcome }) => {
      const { changes } = mark.run(now, outcome, hold.executionId, hold.attempt, hold.slot);
      if (changes !== 1) return false;
      if (hold.remediationId !== null)
        append.run(JSON.stringify(releaseStep(hold, outcome, now)), hold.remediationId);
      return true;
    }),
  );
  return (releases: readonly Release[], now: number): boolean[] => many.immediate(releases, now);
}

/** On PostgreSQL, two statements for the whole batch: mark the holds, append to the audit rows. */
async function recordPostgres(trx: Db, releases: readonly Release[], now: number) {
  const { rows } = await sql<{ execution_id: string; attempt: number; slot: string }>`
    UPDATE slot_holds AS h SET released_at = ${now}::bigint, release_outcome = v.outcome
    FROM unnest(
      ${releases.map((r) => r.hold.executionId)}::text[],
      ${releases.map((r) => r.hold.attempt)}::int[],
      ${releases.map((r) => r.hold.slot)}::text[],
      ${releases.map((r) => r.outcome)}::text[]
    ) AS v(id, attempt, slot, outcome)
    WHERE h.execution_id = v.id AND h.attempt = v.attempt AND h.slot = v.slot
      AND h.released_at IS NULL
    RETURNING h.execution_id, h.attempt, h.slot`.execute(trx);
  const key = (id: string, attempt: number, slot: string) => `${attempt}:${slot}:${id}`;
  const marked = new Set(rows.map((r) => key(r.execution_id, r.attempt, r.slot)));
  const recorded = releases.map(({ hold }) =>
    marked.has(key(hold.executionId, hold.attempt, hold.slot)),
  );
  // Each remediation's new steps, in release order.
  const steps = new Map<string, StepRecord[]>();
  for (const [i, { hold, outcome }] of releases.entries()) {
    if (!recorded[i] || hold.remediationId === null) continue;
    const list = steps.get(hold.remediationId) ?? [];
    list.push(releaseStep(hold, outcome, now));
    steps.set(hold.remediationId, list);
  }
  if (steps.size > 0) {
    await sql`
      UPDATE remediations AS r SET steps = (r.steps::jsonb || v.steps::jsonb)::text
      FROM unnest(
        ${[...steps.keys()]}::text[],
        ${[...steps.values()].map((list) => JSON.stringify(list))}::text[]
      ) AS v(id, steps)
      WHERE r.id = v.id`.execute(trx);
  }
  return recorded;
}

/** A release as a step of the remediation that caused it. */
function releaseStep(hold: SlotHoldRecord, outcome: SlotReleaseOutcome, now: number): StepRecord {
  return {
    step: 'release',
    outcome: outcome === 'released' ? 'ok' : 'skipped',
    ms: Math.max(0, now - (hold.releaseDueAt ?? now)),
    detail: {
      released: `released ${hold.slot}`,
      not_held: `${hold.slot} is held by another holder (attempt ${hold.attempt}'s hold expired and it was taken): left alone`,
      already_free: `${hold.slot} was already free (attempt ${hold.attempt}'s hold expired, or an earlier try released it and did not live to record it)`,
    }[outcome],
  };
}
