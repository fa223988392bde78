import { deadlineOf } from '../../core/limits.js';
import type { Execution } from '../../core/types.js';
import type { ClaimScope } from '../../ports/ledger-store.js';
import type { Db, SqlContext } from './context.js';
import { toExecution } from './rows.js';

/**
 * Candidates read per try. A candidate another replica starts between the read and the write is
 * skipped (its compare-and-set fails), so a few spares keep one claim from coming back empty
 * while other work is still queued.
 */
const CANDIDATES = 8;

/**
 * Moves the oldest queued attempt of a kind whose backoff has ended (`queued_at <= now`) to
 * running, and returns it; undefined when none is due. The write is a compare-and-set on
 * `(id, attempt, status = 'queued')`, the same fence as a runner's own start: two claimers (in one
 * process or in two replicas) can never both win one attempt. On PostgreSQL the read skips rows
 * another claim has locked, so concurrent claimers take different rows instead of queueing on one.
 */
export async function claimQueued(
  ctx: SqlContext,
  scope: ClaimScope,
  now: number,
): Promise<Execution | undefined> {
  const due = (db: Db) => {
    let query = db
      .selectFrom('executions')
      .selectAll()
      .where('status', '=', 'queued')
      .where('kind', '=', scope.kind)
      .where('queued_at', '<=', now);
    if (scope.owner !== undefined) {
      query =
        scope.owner === null
          ? query.where('owner', 'is', null)
          : query.where('owner', '=', scope.owner);
    }
    return query.orderBy('queued_at').orderBy('id');
  };
  // Runners waiting for work look often: a look that finds nothing takes no write lock (on SQLite
  // a write transaction would hold back every heartbeat meanwhile).
  if (!(await due(ctx.db).limit(1).executeTakeFirst())) return undefined;
  return ctx.writeTransaction(async (trx) => {
    let query = due(trx).limit(CANDIDATES);
    if (ctx.dialect === 'postgres') query = query.forUpdate().skipLocked();
    const rows = await query.execute();
    for (const row of rows) {
      const started = { ...toExecution(row), status: 'running' as const, startedAt: now };
      const deadlineAt = deadlineOf(started);
      const update = await trx
        .updateTable('executions')
        .set({ status: 'running', started_at: now, deadline_at: deadlineAt })
        .where('id', '=', row.id)
        .where('attempt', '=', row.attempt)
        .where('status', '=', 'queued')
        .executeTakeFirst();
      // Under READ COMMITTED a start or an end may have won after our read: try the next one.
      if (Number(update.numUpdatedRows) === 1) return { ...started, deadlineAt };
    }
    return undefined;
  });
}
