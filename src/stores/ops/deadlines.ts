import type { Fence } from '../../ports/records.js';
import type { SqlContext } from './context.js';
import { toNumber } from './rows.js';

/**
 * Moves the deadline of an overdue execution the watchdog left alone to when it should look again
 * (only later, never earlier, and only while the row is still `fence`).
 */
export async function deferDeadline(ctx: SqlContext, fence: Fence, until: number): Promise<void> {
  await ctx.db
    .updateTable('executions')
    .set({ deadline_at: until })
    .where('id', '=', fence.id)
    .where('attempt', '=', fence.attempt)
    .where('status', '=', fence.status)
    .where('deadline_at', '<', until)
    .execute();
}

/** The earliest deadline of any open execution: the first row of the deadline index. */
export async function nextDeadline(ctx: SqlContext): Promise<number | null> {
  const row = await ctx.db
    .selectFrom('executions')
    .select('deadline_at')
    .where('deadline_at', 'is not', null)
    .orderBy('deadline_at')
    .limit(1)
    .executeTakeFirst();
  return row ? toNumber(row.deadline_at) : null;
}
