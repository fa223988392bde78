import type { Execution } from '../../core/types.js';
import { VigilError } from '../../errors.js';
import type { ListFilter } from '../../ports/read-store.js';
import type { SqlContext } from './context.js';
import { toExecution } from './rows.js';

/** One execution by id. */
export async function get(ctx: SqlContext, id: string): Promise<Execution | undefined> {
  const row = await ctx.db
    .selectFrom('executions')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirst();
  return row && toExecution(row);
}

/** A page of executions, newest first, and the cursor of the next page (null on the last). */
export async function list(
  ctx: SqlContext,
  filter: ListFilter,
): Promise<{ items: Execution[]; nextCursor: string | null }> {
  let query = ctx.db.selectFrom('executions').selectAll();
  if (filter.status) query = query.where('status', '=', filter.status);
  if (filter.kind) query = query.where('kind', '=', filter.kind);
  if (filter.owner) query = query.where('owner', '=', filter.owner);
  if (filter.parentId) query = query.where('parent_id', '=', filter.parentId);
  if (filter.cursor) {
    const { createdAt, id } = decodeCursor(filter.cursor);
    query = query.where((eb) =>
      eb.or([
        eb('created_at', '<', createdAt),
        eb.and([eb('created_at', '=', createdAt), eb('id', '<', id)]),
      ]),
    );
  }
  const rows = await query
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(filter.limit + 1)
    .execute();
  const items = rows.slice(0, filter.limit).map(toExecution);
  const last = items.at(-1);
  return {
    items,
    nextCursor: rows.length > filter.limit && last ? encodeCursor(last.createdAt, last.id) : null,
  };
}

/** The children of an execution, oldest first. */
export async function listChildren(ctx: SqlContext, parentId: string): Promise<Execution[]> {
  const rows = await ctx.db
    .selectFrom('executions')
    .selectAll()
    .where('parent_id', '=', parentId)
    .orderBy('created_at')
    .execute();
  return rows.map(toExecution);
}

/** Which of these ids have children. */
export async function withChildren(ctx: SqlContext, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await ctx.db
    .selectFrom('executions')
    .select('parent_id')
    .distinct()
    .where('parent_id', 'in', ids)
    .execute();
  return new Set(rows.map((r) => r.parent_id).filter((id): id is string => id !== null));
}

function encodeCursor(createdAt: number, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: number; id: string } {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as unknown[];
    if (typeof createdAt === 'number' && typeof id === 'string') return { createdAt, id };
  } catch {
    // fall through to the error below
  }
  throw new VigilError(
    'bad_input',
    `cursor: expected a cursor from a previous page, got ${JSON.stringify(cursor)}`,
  );
}
