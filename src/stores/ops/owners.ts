import type { Execution } from '../../core/types.js';
import type { SqlContext } from './context.js';
import { toExecution } from './rows.js';

/** SQLite caps bound parameters per statement; owners and ids are matched in chunks of this. */
const CHUNK = 500;

/** Running executions of these owners (null: of any owner), by creation then id. */
export async function listRunningOwned(
  ctx: SqlContext,
  owners: readonly string[] | null,
  limit: number,
  after?: { createdAt: number; id: string },
): Promise<Execution[]> {
  if (owners !== null && owners.length === 0) return [];
  let query = ctx.db
    .selectFrom('executions')
    .selectAll()
    .where('status', '=', 'running')
    .where('owner', 'is not', null);
  if (owners !== null) query = query.where('owner', 'in', [...owners]);
  if (after) {
    query = query.where((eb) =>
      eb(eb.refTuple('created_at', 'id'), '>', eb.tuple(after.createdAt, after.id)),
    );
  }
  const rows = await query.orderBy('created_at').orderBy('id').limit(limit).execute();
  return rows.map(toExecution);
}

/** Running executions per owner, for these owners (owners with none are absent). */
export async function countOpenByOwner(
  ctx: SqlContext,
  owners: readonly string[],
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < owners.length; i += CHUNK) {
    const rows = await ctx.db
      .selectFrom('executions')
      .select(['owner', (eb) => eb.fn.countAll<number | string>().as('count')])
      .where('status', '=', 'running')
      .where('owner', 'in', owners.slice(i, i + CHUNK))
      .groupBy('owner')
      .execute();
    for (const row of rows) if (row.owner !== null) counts.set(row.owner, Number(row.count));
  }
  return counts;
}

/** The owner of each of these executions that exists. */
export async function ownersOf(
  ctx: SqlContext,
  ids: string[],
): Promise<Map<string, string | null>> {
  const owners = new Map<string, string | null>();
  for (let i = 0; i < ids.length; i += CHUNK) {
    const rows = await ctx.db
      .selectFrom('executions')
      .select(['id', 'owner'])
      .where('id', 'in', ids.slice(i, i + CHUNK))
      .execute();
    for (const row of rows) owners.set(row.id, row.owner);
  }
  return owners;
}
