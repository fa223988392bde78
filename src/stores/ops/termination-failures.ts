import type { Fence } from '../../ports/records.js';
import type { SqlContext } from './context.js';

/** Counts a failed termination of this attempt (while it is still `fence`); the failures so far. */
export async function recordTerminationFailure(ctx: SqlContext, fence: Fence): Promise<number> {
  const row = await ctx.db
    .updateTable('executions')
    .set((eb) => ({ termination_failures: eb('termination_failures', '+', 1) }))
    .where('id', '=', fence.id)
    .where('attempt', '=', fence.attempt)
    .where('status', '=', fence.status)
    .returning('termination_failures')
    .executeTakeFirst();
  return row?.termination_failures ?? 0;
}
