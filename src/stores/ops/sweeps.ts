import type { SweepReport } from '../../ports/audit-store.js';
import type { SqlContext } from './context.js';

/** Keeps a sweep's report. */
export async function saveSweep(ctx: SqlContext, report: SweepReport): Promise<void> {
  await ctx.db
    .insertInto('sweeps')
    .values({
      id: report.id,
      started_at: report.startedAt,
      finished_at: report.finishedAt,
      dry_run: report.dryRun ? 1 : 0,
      report: JSON.stringify(report),
    })
    .execute();
}

/** The report of the sweep that started last. */
export async function latestSweep(ctx: SqlContext): Promise<SweepReport | undefined> {
  const row = await ctx.db
    .selectFrom('sweeps')
    .select('report')
    .orderBy('started_at', 'desc')
    .orderBy('finished_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row && (JSON.parse(row.report) as SweepReport);
}
