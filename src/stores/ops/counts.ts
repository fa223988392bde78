import type { OpenStatus } from '../../core/types.js';
import type { SqlContext } from './context.js';

/** Open executions by status and kind, for metrics. */
export async function countOpen(
  ctx: SqlContext,
): Promise<{ status: OpenStatus; kind: string; count: number }[]> {
  const rows = await ctx.db
    .selectFrom('executions')
    .select(['status', 'kind', (eb) => eb.fn.countAll<number | string>().as('count')])
    .where('status', 'in', ['queued', 'running'])
    .groupBy(['status', 'kind'])
    .execute();
  return rows.map((r) => ({
    status: r.status as OpenStatus,
    kind: r.kind,
    count: Number(r.count),
  }));
}
