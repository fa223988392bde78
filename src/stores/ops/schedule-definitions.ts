import type { ScheduleDefinition } from '../../ports/schedule-store.js';
import type { SqlContext } from './context.js';

export async function listDefinitions(ctx: SqlContext): Promise<ScheduleDefinition[]> {
  const rows = await ctx.db
    .selectFrom('schedule_definitions')
    .selectAll()
    .orderBy('name')
    .execute();
  return rows.map((row) => ({
    name: row.name,
    definition: JSON.parse(row.definition) as Record<string, unknown>,
    since: Number(row.since),
    updatedAt: Number(row.updated_at),
  }));
}

export async function putDefinition(
  ctx: SqlContext,
  name: string,
  definition: Record<string, unknown>,
  timing: string,
  now: number,
): Promise<{ created: boolean; since: number }> {
  return ctx.writeTransaction(async (trx) => {
    const existing = await trx
      .selectFrom('schedule_definitions')
      .select(['timing', 'since'])
      .where('name', '=', name)
      .executeTakeFirst();
    const retimed = existing === undefined || existing.timing !== timing;
    const since = retimed ? now : Number(existing.since);
    // A new or retimed schedule is judged from its next due time on: where judging stood (under
    // the old timing, or a schedule of the same name deleted before) no longer applies.
    if (retimed) await trx.deleteFrom('schedules').where('name', '=', name).execute();
    await trx
      .insertInto('schedule_definitions')
      .values({ name, definition: JSON.stringify(definition), timing, since, updated_at: now })
      .onConflict((oc) =>
        oc.column('name').doUpdateSet({
          definition: JSON.stringify(definition),
          timing,
          since,
          updated_at: now,
        }),
      )
      .execute();
    return { created: existing === undefined, since };
  });
}

export async function deleteDefinition(ctx: SqlContext, name: string): Promise<boolean> {
  return ctx.writeTransaction(async (trx) => {
    const deleted = await trx
      .deleteFrom('schedule_definitions')
      .where('name', '=', name)
      .executeTakeFirst();
    if (Number(deleted.numDeletedRows) === 0) return false;
    // Its verdicts stay until retention prunes them; where its judging stood goes with it.
    await trx.deleteFrom('schedules').where('name', '=', name).execute();
    return true;
  });
}
