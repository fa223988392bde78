import { isDeepStrictEqual } from 'node:util';
import type { LateResult } from '../../core/types.js';
import type { ReportOutcome } from '../../ports/ledger-store.js';
import type { AttemptEnd, Fence } from '../../ports/records.js';
import type { Db, SqlContext } from './context.js';
import { endFenced } from './end-attempt.js';
import type { ExecutionRow } from './rows.js';
import { parseJson, toExecution } from './rows.js';

/**
 * A runner's own completion or failure, fenced by its attempt: it ends the attempt while it is
 * open; after the watchdog ended it, it is kept as the attempt's late result (once per attempt).
 */
export async function report(
  ctx: SqlContext,
  fence: Omit<Fence, 'status'>,
  end: AttemptEnd,
  now: number,
): Promise<ReportOutcome> {
  return ctx.writeTransaction(async (trx) => {
    for (const status of ['running', 'queued'] as const) {
      if (await endFenced(trx, ctx.dialect, { ...fence, status }, end, now)) {
        const row = await selectById(trx, fence.id);
        if (row) return { kind: 'ended', execution: toExecution(row) };
      }
    }
    const row = await selectById(trx, fence.id);
    if (!row) return { kind: 'not_found' };
    if (fence.attempt > row.attempt)
      return { kind: 'no_such_attempt', execution: toExecution(row) };
    return reportLate(trx, row, fence, end, now);
  });
}

/** A report of an attempt that has already ended: kept when the watchdog ended it. */
async function reportLate(
  trx: Db,
  row: ExecutionRow,
  fence: Omit<Fence, 'status'>,
  end: AttemptEnd,
  now: number,
): Promise<ReportOutcome> {
  // Every ended attempt has its row in `attempts`, the current one included.
  const attemptRow = await trx
    .selectFrom('attempts')
    .selectAll()
    .where('execution_id', '=', fence.id)
    .where('attempt', '=', fence.attempt)
    .executeTakeFirst();
  if (!attemptRow || attemptRow.ended_by !== 'watchdog') {
    return { kind: 'already_ended', execution: toExecution(row) };
  }
  const late: LateResult = {
    at: now,
    attempt: fence.attempt,
    status: end.status === 'succeeded' ? 'succeeded' : 'failed',
    ...(end.status === 'succeeded' ? { result: end.result ?? null } : { error: end.error ?? null }),
  };
  // One late report per attempt is kept; a repeat of it is not counted twice, and a different
  // one is answered as not kept.
  const notKept = (keptJson: string | null): ReportOutcome => ({
    kind: 'late',
    execution: toExecution(row),
    kept: false,
    conflict: !sameLateReport(parseJson<LateResult>(keptJson), late),
  });
  if (attemptRow.late_result !== null) return notKept(attemptRow.late_result);
  const lateJson = JSON.stringify(late);
  const kept = await trx
    .updateTable('attempts')
    .set({ late_result: lateJson })
    .where('execution_id', '=', fence.id)
    .where('attempt', '=', fence.attempt)
    .where('late_result', 'is', null)
    .executeTakeFirst();
  // A concurrent late report of the same attempt was kept first.
  if (Number(kept.numUpdatedRows) === 0) {
    const first = await trx
      .selectFrom('attempts')
      .select('late_result')
      .where('execution_id', '=', fence.id)
      .where('attempt', '=', fence.attempt)
      .executeTakeFirst();
    return notKept(first?.late_result ?? null);
  }
  // The execution shows its newest late report, even when it has moved on to a retry.
  await trx
    .updateTable('executions')
    .set({ late_result: lateJson })
    .where('id', '=', fence.id)
    .execute();
  return {
    kind: 'late',
    execution: { ...toExecution(row), lateResult: late },
    kept: true,
    conflict: false,
  };
}

/** Whether two late reports of one attempt say the same (their arrival time aside). */
function sameLateReport(kept: LateResult | null, report: LateResult): boolean {
  if (kept === null) return false;
  // Through JSON, as the kept one was: an absent key and an undefined one are the same report.
  const said = (late: LateResult) => JSON.parse(JSON.stringify({ ...late, at: 0 })) as unknown;
  return isDeepStrictEqual(said(kept), said(report));
}

async function selectById(db: Db, id: string): Promise<ExecutionRow | undefined> {
  return db.selectFrom('executions').selectAll().where('id', '=', id).executeTakeFirst();
}
