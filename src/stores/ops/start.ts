import { deadlineOf } from '../../core/limits.js';
import type { Execution } from '../../core/types.js';
import type { SqlContext } from './context.js';
import { toExecution } from './rows.js';

/** queued → running for this attempt; the execution, or undefined when the fence fails. */
export async function start(
  ctx: SqlContext,
  id: string,
  attempt: number,
  now: number,
): Promise<Execution | undefined> {
  return ctx.writeTransaction(async (trx) => {
    const row = await trx
      .selectFrom('executions')
      .selectAll()
      .where('id', '=', id)
      .where('attempt', '=', attempt)
      .where('status', '=', 'queued')
      .executeTakeFirst();
    if (!row) return undefined;
    const started = { ...toExecution(row), status: 'running' as const, startedAt: now };
    const deadlineAt = deadlineOf(started);
    const update = await trx
      .updateTable('executions')
      .set({ status: 'running', started_at: now, deadline_at: deadlineAt })
      .where('id', '=', id)
      .where('attempt', '=', attempt)
      .where('status', '=', 'queued')
      .executeTakeFirst();
    // Under READ COMMITTED a concurrent start (or end) may have won after our read.
    if (Number(update.numUpdatedRows) === 0) return undefined;
    return { ...started, deadlineAt };
  });
}
