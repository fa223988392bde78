import { randomUUID } from 'node:crypto';
import type { MissedEvidence, ScheduleState } from '../../core/schedule.js';
import type { ScheduleCounts } from '../../core/schedule-times.js';
import type {
  PingKind,
  ScheduleJudgement,
  ScheduleRecord,
  ScheduleVerdictRecord,
} from '../../ports/schedule-store.js';
import type { SchedulesTable, ScheduleVerdictsTable } from '../schedule-schema.js';
import type { Db, SqlContext } from './context.js';

export async function listSchedules(ctx: SqlContext): Promise<ScheduleRecord[]> {
  const rows = await ctx.db.selectFrom('schedules').selectAll().orderBy('name').execute();
  return rows.map(toRecord);
}

export async function ensureSchedule(
  ctx: SqlContext,
  name: string,
  lastJudgedDueAt: number | null,
  now: number,
  definedSince?: number,
): Promise<ScheduleRecord | null> {
  return ctx.writeTransaction(async (trx) => {
    if (definedSince !== undefined) {
      // Holds the definition (PostgreSQL: FOR SHARE) so a retiming or a delete waits for this
      // record, and then removes it, rather than the other way round.
      const current = trx
        .selectFrom('schedule_definitions')
        .select('name')
        .where('name', '=', name)
        .where('since', '=', definedSince);
      const held = ctx.dialect === 'postgres' ? current.forShare() : current;
      if ((await held.executeTakeFirst()) === undefined) return null;
    }
    await trx
      .insertInto('schedules')
      .values({
        name,
        last_judged_due_at: lastJudgedDueAt,
        state: 'waiting',
        last_start_at: null,
        updated_at: now,
      })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    const row = await trx
      .selectFrom('schedules')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirstOrThrow();
    return toRecord(row);
  });
}

export async function startsBetween(
  ctx: SqlContext,
  name: string,
  counts: ScheduleCounts,
  from: number,
  to: number,
): Promise<number[]> {
  const pings = await ctx.db
    .selectFrom('schedule_pings')
    .select('at')
    .where('schedule', '=', name)
    .where('at', '>=', from)
    .where('at', '<=', to)
    .execute();
  const starts = pings.map((p) => Number(p.at));
  if (counts.kind === null && counts.owner === null) return starts;
  let query = ctx.db
    .selectFrom('executions')
    .select('started_at')
    .where('started_at', '>=', from)
    .where('started_at', '<=', to);
  if (counts.kind !== null) query = query.where('kind', '=', counts.kind);
  if (counts.owner !== null) query = query.where('owner', '=', counts.owner);
  for (const row of await query.execute()) {
    if (row.started_at !== null) starts.push(Number(row.started_at));
  }
  return starts;
}

export async function recordJudgement(
  ctx: SqlContext,
  name: string,
  expected: number | null,
  judgement: ScheduleJudgement,
  now: number,
  definedSince?: number,
): Promise<boolean> {
  return ctx.writeTransaction(async (trx) => {
    let update = trx
      .updateTable('schedules')
      .set({
        last_judged_due_at: judgement.lastJudgedDueAt,
        state: judgement.state,
        last_start_at: judgement.lastStartAt,
        updated_at: now,
      })
      .where('name', '=', name)
      .where((eb) =>
        expected === null
          ? eb('last_judged_due_at', 'is', null)
          : eb('last_judged_due_at', '=', expected),
      );
    if (definedSince !== undefined) {
      update = update.where((eb) =>
        eb.exists(
          eb
            .selectFrom('schedule_definitions as d')
            .select('d.name')
            .whereRef('d.name', '=', 'schedules.name')
            .where('d.since', '=', definedSince),
        ),
      );
    }
    const moved = await update.executeTakeFirst();
    if (Number(moved.numUpdatedRows) !== 1) return false;
    await insertMisses(trx, name, judgement.missed, now);
    return true;
  });
}

async function insertMisses(
  trx: Db,
  name: string,
  missed: readonly MissedEvidence[],
  now: number,
): Promise<void> {
  if (missed.length === 0) return;
  await trx
    .insertInto('schedule_verdicts')
    .values(
      missed.map((evidence) => ({
        schedule: name,
        due_at: evidence.dueAt,
        verdict: 'missed',
        evidence: JSON.stringify(evidence),
        judged_at: now,
        late_start_at: null,
      })),
    )
    .execute();
}

export async function recordLate(
  ctx: SqlContext,
  name: string,
  dueAt: number,
  startAt: number,
  now: number,
): Promise<boolean> {
  return ctx.writeTransaction(async (trx) => {
    const turned = await trx
      .updateTable('schedule_verdicts')
      .set({ verdict: 'late', late_start_at: startAt })
      .where('schedule', '=', name)
      .where('due_at', '=', dueAt)
      .where('verdict', '=', 'missed')
      .executeTakeFirst();
    if (Number(turned.numUpdatedRows) !== 1) return false;
    await trx
      .updateTable('schedules')
      .set({ state: 'late', updated_at: now })
      .where('name', '=', name)
      .where('last_judged_due_at', '=', dueAt)
      .execute();
    return true;
  });
}

export async function recordPing(
  ctx: SqlContext,
  name: string,
  kind: PingKind,
  at: number,
): Promise<void> {
  await ctx.db
    .insertInto('schedule_pings')
    .values({ id: randomUUID(), schedule: name, kind, at })
    .execute();
}

export async function listVerdicts(
  ctx: SqlContext,
  name: string | null,
  limit: number,
): Promise<ScheduleVerdictRecord[]> {
  let query = ctx.db.selectFrom('schedule_verdicts').selectAll();
  if (name !== null) query = query.where('schedule', '=', name);
  const rows = await query.orderBy('due_at', 'desc').orderBy('schedule').limit(limit).execute();
  return rows.map(toVerdict);
}

function toRecord(row: SchedulesTable): ScheduleRecord {
  return {
    name: row.name,
    lastJudgedDueAt: row.last_judged_due_at === null ? null : Number(row.last_judged_due_at),
    state: row.state as ScheduleState,
    lastStartAt: row.last_start_at === null ? null : Number(row.last_start_at),
    updatedAt: Number(row.updated_at),
  };
}

function toVerdict(row: ScheduleVerdictsTable): ScheduleVerdictRecord {
  return {
    schedule: row.schedule,
    dueAt: Number(row.due_at),
    verdict: row.verdict as 'missed' | 'late',
    evidence: JSON.parse(row.evidence) as MissedEvidence,
    judgedAt: Number(row.judged_at),
    lateStartAt: row.late_start_at === null ? null : Number(row.late_start_at),
  };
}
