import type { Execution } from '../../core/types.js';
import type { OverdueCursor } from '../../ports/sweep-store.js';
import type { SqlContext } from './context.js';
import { toExecution } from './rows.js';

/** Open executions whose deadline has passed, by deadline then id, after `after` when paging. */
export async function listOverdue(
  ctx: SqlContext,
  now: number,
  limit: number,
  after?: OverdueCursor,
): Promise<Execution[]> {
  const rows = await overdueQuery(ctx, now, limit, after).execute();
  return rows.map(toExecution);
}

/**
 * The sweep's read: a range scan of the partial `executions_deadline` index, so its cost is the
 * number of overdue rows, not the number of running ones.
 */
export function overdueQuery(ctx: SqlContext, now: number, limit: number, after?: OverdueCursor) {
  let query = ctx.db
    .selectFrom('executions')
    .selectAll()
    .where('deadline_at', 'is not', null)
    .where('deadline_at', '<', now);
  if (after) {
    // A row-value comparison, so each page starts its index range at the cursor.
    query = query.where((eb) =>
      eb(eb.refTuple('deadline_at', 'id'), '>', eb.tuple(after.deadlineAt, after.id)),
    );
  }
  return query.orderBy('deadline_at').orderBy('id').limit(limit);
}
