import type { SlotHold, SlotHoldRecord } from '../../ports/slot-store.js';
import type { SqlContext } from './context.js';
import { toSlotHold } from './rows.js';

/**
 * Records that this attempt holds `slot`, only while the execution is open at this attempt
 * (otherwise false: an ended attempt can never gain a slot).
 */
export async function recordSlotHold(
  ctx: SqlContext,
  hold: SlotHold,
  now: number,
): Promise<boolean> {
  return ctx.writeTransaction(async (trx) => {
    // FOR SHARE on PostgreSQL: an end of this attempt waits for this hold to commit (and then
    // marks it due), or this hold waits for the end and sees the attempt closed.
    let open = trx
      .selectFrom('executions')
      .select('id')
      .where('id', '=', hold.executionId)
      .where('attempt', '=', hold.attempt)
      .where('status', 'in', ['queued', 'running']);
    if (ctx.dialect === 'postgres') open = open.forShare();
    if (!(await open.executeTakeFirst())) return false;
    await trx
      .insertInto('slot_holds')
      .values({
        execution_id: hold.executionId,
        attempt: hold.attempt,
        slot: hold.slot,
        acquired_at: now,
        expires_at: hold.expiresAt,
        release_due_at: null,
        remediation_id: null,
        released_at: null,
        release_outcome: null,
      })
      .onConflict((oc) =>
        oc.columns(['execution_id', 'attempt', 'slot']).doUpdateSet({
          acquired_at: now,
          expires_at: hold.expiresAt,
          release_due_at: null,
          released_at: null,
          release_outcome: null,
        }),
      )
      .execute();
    return true;
  });
}

/** Forgets a hold whose acquisition failed. */
export async function dropSlotHold(
  ctx: SqlContext,
  executionId: string,
  attempt: number,
  slot: string,
): Promise<void> {
  await ctx.db
    .deleteFrom('slot_holds')
    .where('execution_id', '=', executionId)
    .where('attempt', '=', attempt)
    .where('slot', '=', slot)
    .where('released_at', 'is', null)
    .execute();
}

/** Every slot this execution holds or held, newest attempt first. */
export async function slotHolds(ctx: SqlContext, executionId: string): Promise<SlotHoldRecord[]> {
  const rows = await ctx.db
    .selectFrom('slot_holds')
    .selectAll()
    .where('execution_id', '=', executionId)
    .orderBy('attempt', 'desc')
    .orderBy('slot')
    .execute();
  return rows.map(toSlotHold);
}

/** Marks this attempt's slots (or one of them) for release. */
export async function markSlotsDue(
  ctx: SqlContext,
  executionId: string,
  attempt: number,
  now: number,
  slot?: string,
): Promise<void> {
  let update = ctx.db
    .updateTable('slot_holds')
    .set({ release_due_at: now })
    .where('execution_id', '=', executionId)
    .where('attempt', '=', attempt)
    .where('released_at', 'is', null)
    .where('release_due_at', 'is', null);
  if (slot !== undefined) update = update.where('slot', '=', slot);
  await update.execute();
}

/**
 * Holds whose attempt has ended and whose release is not recorded yet: of these attempts, or (for
 * recovery) those due since before `dueBefore`.
 */
export async function dueSlotReleases(
  ctx: SqlContext,
  query: {
    of?: readonly { id: string; attempt: number }[] | undefined;
    dueBefore?: number | undefined;
    limit: number;
  },
): Promise<SlotHoldRecord[]> {
  if (query.of?.length === 0) return [];
  let select = ctx.db
    .selectFrom('slot_holds')
    .selectAll()
    .where('release_due_at', 'is not', null)
    .where('released_at', 'is', null);
  if (query.of) {
    const attempts = new Map(query.of.map((e) => [e.id, e.attempt]));
    select = select.where('execution_id', 'in', [...attempts.keys()]);
    const rows = await select.orderBy('execution_id').orderBy('slot').execute();
    return rows
      .filter((row) => attempts.get(row.execution_id) === row.attempt)
      .slice(0, query.limit)
      .map(toSlotHold);
  }
  if (query.dueBefore !== undefined) select = select.where('release_due_at', '<', query.dueBefore);
  const rows = await select
    .orderBy('release_due_at')
    .orderBy('execution_id')
    .limit(query.limit)
    .execute();
  return rows.map(toSlotHold);
}
