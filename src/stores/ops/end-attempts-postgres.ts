import type { RawBuilder } from 'kysely';
import { sql } from 'kysely';
import type { Db } from './context.js';
import type { EndItem, Win } from './end-writes.js';
import { attemptEndWrites, deadlineHolds } from './end-writes.js';
import type { ExecutionRow } from './rows.js';

/** The PostgreSQL type of each column an end writes (arrays of it go through `unnest`). */
const COLUMN_TYPES: Record<string, string> = {
  status: 'text',
  attempt: 'int',
  queued_at: 'bigint',
  started_at: 'bigint',
  heartbeat_at: 'bigint',
  progress_at: 'bigint',
  progress: 'text',
  ended_at: 'bigint',
  termination_failures: 'int',
  deadline_at: 'bigint',
  reason: 'text',
  verdict: 'text',
  ended_by: 'text',
  result: 'text',
  error: 'text',
};

/** The attempts' columns and their PostgreSQL types. */
export const ATTEMPT_TYPES = {
  execution_id: 'text',
  attempt: 'int',
  status: 'text',
  queued_at: 'bigint',
  started_at: 'bigint',
  ended_at: 'bigint',
  verdict: 'text',
  reason: 'text',
  ended_by: 'text',
  result: 'text',
  error: 'text',
  late_result: 'text',
} as const;

/** The remediations' (audit rows') columns and their PostgreSQL types. */
export const REMEDIATION_TYPES = {
  id: 'text',
  sweep_id: 'text',
  at: 'bigint',
  execution_id: 'text',
  attempt: 'int',
  kind: 'text',
  owner: 'text',
  verdict: 'text',
  action: 'text',
  reason: 'text',
  evidence: 'text',
  steps: 'text',
  outcome: 'text',
  dry_run: 'int',
  labels: 'text',
  ran_ms: 'bigint',
  late_ms: 'bigint',
} as const;

/**
 * Inserts rows as one array per column through `unnest`: a handful of parameters whatever the
 * number of rows (a multi-row VALUES of a page has thousands, each parsed and planned).
 */
export async function insertUnnest<Row extends object>(
  trx: Db,
  table: 'attempts' | 'remediations',
  types: { readonly [K in keyof Row]: string },
  rows: readonly Row[],
): Promise<void> {
  if (rows.length === 0) return;
  const columns = Object.keys(types) as (keyof Row & string)[];
  await sql`
    INSERT INTO ${sql.table(table)} (${sql.join(columns.map((c) => sql.ref(c)))})
    SELECT * FROM unnest(${sql.join(
      columns.map((c) => sql`${rows.map((r) => r[c] ?? null)}::${sql.raw(types[c])}[]`),
    )})`.execute(trx);
}

type Planned = { index: number; item: EndItem; update: Record<string, unknown>; win: Win };

/**
 * A page's ends on PostgreSQL in a few statements, whatever its size: one read of every fenced
 * row, then one `UPDATE … FROM unnest(…)` per set of columns written (an end; an end with a retry).
 * Each row is still its own compare-and-set: the UPDATE applies to a row only while it is still the
 * fence's attempt in the fence's status (and deadline, when the fence names one), re-checked on
 * the row's latest version under its row lock, exactly as the one-row end does. Ids must be
 * distinct. Returns, in order, whether each end won, and the wins for `recordEnds`.
 */
export async function endManyPostgres(
  trx: Db,
  items: readonly EndItem[],
  now: number,
): Promise<{ won: boolean[]; wins: Win[] }> {
  const won = items.map(() => false);
  if (items.length === 0) return { won, wins: [] };
  const { rows } = await sql<ExecutionRow>`
    SELECT e.* FROM executions AS e
    JOIN unnest(
      ${items.map((i) => i.fence.id)}::text[],
      ${items.map((i) => i.fence.attempt)}::int[],
      ${items.map((i) => i.fence.status)}::text[]
    ) AS f(id, attempt, status)
      ON e.id = f.id AND e.attempt = f.attempt AND e.status = f.status`.execute(trx);
  const byId = new Map(rows.map((row) => [row.id, row]));
  // Grouped by the columns they write, so each group is one UPDATE.
  const groups = new Map<string, Planned[]>();
  for (const [index, item] of items.entries()) {
    const row = byId.get(item.fence.id);
    if (!row || !deadlineHolds(row, item.fence)) continue;
    const writes = attemptEndWrites(row, item.fence, item.end, now);
    const update = writes.update as Record<string, unknown>;
    const key = Object.keys(update).join(',');
    const group = groups.get(key) ?? [];
    group.push({ index, item, update, win: { ...item, attempt: writes.attempt } });
    groups.set(key, group);
  }
  const winners: Planned[] = [];
  for (const [key, group] of groups) {
    const ended = await updateGroup(trx, key.split(','), group);
    for (const planned of group) {
      if (!ended.has(planned.item.fence.id)) continue;
      won[planned.index] = true;
      winners.push(planned);
    }
  }
  // In the order of the page, as the one-by-one path records them.
  winners.sort((a, b) => a.index - b.index);
  return { won, wins: winners.map((p) => p.win) };
}

/** One UPDATE for every end of a group; the ids whose compare-and-set won. */
async function updateGroup(trx: Db, columns: string[], group: Planned[]): Promise<Set<string>> {
  const array = (values: unknown[], type: string): RawBuilder<unknown> =>
    sql`${values}::${sql.raw(type)}[]`;
  const fences = group.map((p) => p.item.fence);
  const arrays = [
    array(
      fences.map((f) => f.id),
      'text',
    ),
    array(
      fences.map((f) => f.attempt),
      'int',
    ),
    array(
      fences.map((f) => f.status),
      'text',
    ),
    array(
      fences.map((f) => f.deadlineAt !== undefined),
      'boolean',
    ),
    array(
      fences.map((f) => f.deadlineAt ?? null),
      'bigint',
    ),
    ...columns.map((c) =>
      array(
        group.map((p) => p.update[c] ?? null),
        typeOf(c),
      ),
    ),
  ];
  const names = ['f_id', 'f_attempt', 'f_status', 'f_has_deadline', 'f_deadline', ...columns];
  const { rows } = await sql<{ id: string }>`
    UPDATE executions AS e
    SET ${sql.join(columns.map((c) => sql`${sql.ref(c)} = ${sql.ref(`v.${c}`)}`))}
    FROM unnest(${sql.join(arrays)}) AS v(${sql.join(names.map((n) => sql.ref(n)))})
    WHERE e.id = v.f_id AND e.attempt = v.f_attempt AND e.status = v.f_status
      AND (NOT v.f_has_deadline OR e.deadline_at IS NOT DISTINCT FROM v.f_deadline)
    RETURNING e.id`.execute(trx);
  return new Set(rows.map((r) => r.id));
}

function typeOf(column: string): string {
  const type = COLUMN_TYPES[column];
  if (!type) throw new Error(`no PostgreSQL type for executions.${column}`);
  return type;
}
