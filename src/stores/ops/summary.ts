import { sql } from 'kysely';
import type { ExecutionVerdict, Status } from '../../core/types.js';
import type { Summary, SummaryQuery } from '../../ports/read-store.js';
import type { SqlContext } from './context.js';
import { toExecution } from './rows.js';

/**
 * The dashboard's overview in four queries, the same SQL on SQLite and PostgreSQL:
 *
 * - executions by status: one GROUP BY over the table (served by the `(status, created_at)`
 *   index; it grows with the table, a few ms per 100,000 rows on SQLite);
 * - remediations by verdict and by time bucket since `since`: a range scan of the `at` index;
 * - the open executions nearest their deadline: the first rows of the `deadline_at` index.
 *
 * Buckets are aligned to multiples of `bucketMs` since the epoch, so two refreshes draw the
 * same bars. Only remediations that took effect count (outcome `remediated`, not dry runs): the
 * chart shows what Vigil did, not what it considered.
 */
export async function summary(ctx: SqlContext, query: SummaryQuery): Promise<Summary> {
  const { db } = ctx;
  const { since, now, bucketMs } = query;
  const byStatus = await db
    .selectFrom('executions')
    .select(['status', (eb) => eb.fn.countAll<number | string>().as('count')])
    .groupBy('status')
    .execute();

  // Integer division on both dialects: `at` is an integer column and the divisor a bigint. Grouped
  // by the output name: PostgreSQL would not see two parameterised copies as one expression.
  const bucket = sql<
    number | string
  >`(at / cast(${bucketMs} as bigint)) * cast(${bucketMs} as bigint)`;
  const rows = await db
    .selectFrom('remediations')
    .select((eb) => [bucket.as('bucket'), 'verdict', eb.fn.countAll<number | string>().as('count')])
    .where('at', '>=', since)
    .where('at', '<=', now)
    .where('outcome', '=', 'remediated')
    .where('dry_run', '=', 0)
    .groupBy([sql.ref('bucket'), 'verdict'])
    .execute();

  const dueSoon = await db
    .selectFrom('executions')
    .selectAll()
    .where('deadline_at', 'is not', null)
    .orderBy('deadline_at')
    .orderBy('id')
    .limit(query.dueSoonLimit)
    .execute();

  const first = Math.floor(since / bucketMs) * bucketMs;
  const last = Math.floor(now / bucketMs) * bucketMs;
  const timeline = new Map<number, Partial<Record<ExecutionVerdict, number>>>();
  for (let start = first; start <= last; start += bucketMs) timeline.set(start, {});
  const verdicts: Partial<Record<ExecutionVerdict, number>> = {};
  for (const row of rows) {
    const verdict = row.verdict as ExecutionVerdict;
    const count = Number(row.count);
    verdicts[verdict] = (verdicts[verdict] ?? 0) + count;
    const counts = timeline.get(Number(row.bucket));
    if (counts) counts[verdict] = (counts[verdict] ?? 0) + count;
  }

  return {
    statuses: Object.fromEntries(byStatus.map((r) => [r.status as Status, Number(r.count)])),
    verdicts,
    timeline: [...timeline].map(([start, counts]) => ({ start, counts })),
    dueSoon: dueSoon.map(toExecution),
  };
}
