import type { RemediationFilter, RemediationRecord } from '../../ports/audit-store.js';
import type { SqlContext } from './context.js';
import { remediationRow, toRemediation } from './rows.js';

/** SQLite caps bound parameters per statement: records are inserted this many at a time. */
const CHUNK = 500;

/** Audit rows written outside an end (dry runs, skips, failures). */
export async function recordRemediations(
  ctx: SqlContext,
  records: RemediationRecord[],
): Promise<void> {
  for (let i = 0; i < records.length; i += CHUNK) {
    await ctx.db
      .insertInto('remediations')
      .values(records.slice(i, i + CHUNK).map(remediationRow))
      .execute();
  }
}

/** The audit, newest first. */
export async function listRemediations(
  ctx: SqlContext,
  filter: RemediationFilter,
): Promise<RemediationRecord[]> {
  let query = ctx.db.selectFrom('remediations').selectAll();
  if (filter.since !== undefined) query = query.where('at', '>=', filter.since);
  if (filter.verdict) query = query.where('verdict', '=', filter.verdict);
  if (filter.executionId) query = query.where('execution_id', '=', filter.executionId);
  if (!filter.includeDryRun) query = query.where('dry_run', '=', 0);
  const rows = await query
    .orderBy('at', 'desc')
    .orderBy('id', 'desc')
    .limit(filter.limit)
    .execute();
  return rows.map(toRemediation);
}
