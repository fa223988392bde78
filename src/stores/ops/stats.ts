import type { RawBuilder } from 'kysely';
import { sql } from 'kysely';
import type { StatsKey } from '../../core/stats-query.js';
import type { ExecutionVerdict } from '../../core/types.js';
import { EXECUTION_VERDICTS, isStuck } from '../../core/types.js';
import type { Stats, StatsDurations, StatsGroup, StatsQuery } from '../../ports/read-store.js';
import type { Dialect, SqlContext } from './context.js';

const STUCK = EXECUTION_VERDICTS.filter(isStuck);

type Row = Record<string, string | number | null>;

/**
 * Who gets stuck most often, in one statement on both dialects: a range scan of the audit's `at`
 * index over the window (stuck verdicts, no dry runs), grouped by the keys, counted, and the
 * groups with the most detections returned. Nothing but those groups reaches Node.
 *
 * Percentiles are exact, by nearest rank: each detection is ranked within its group by a window
 * function (in SQL, so the database sorts, spilling to disk if it must) and the rank
 * ⌈n·p/100⌉ is picked. Rows written before the audit kept durations count, without a duration.
 *
 * Labels (`label:team`) are read from the audit row's own labels (a mapped table's `labels:`
 * columns), and for the ledger's executions from `metadata.team`, through the executions'
 * primary key.
 */
export async function stats(ctx: SqlContext, query: StatsQuery): Promise<Stats> {
  const { rows } = await statsQuery(ctx.dialect, query).execute(ctx.db);
  const first = rows[0];
  return {
    groups: rows.map((row) => toGroup(row, query.by.length)),
    totalGroups: first ? Number(first.total_groups) : 0,
    totalStuck: first ? Number(first.total_stuck) : 0,
  };
}

/** The statement `stats` runs, so its plan can be checked. */
export function statsQuery(dialect: Dialect, query: StatsQuery): RawBuilder<Row> {
  const groups = query.by.map((_, i) => sql.raw(`g${i}`));
  const keys = sql.join(groups);
  // SQLite sorts nulls first, PostgreSQL last: said explicitly, both give one order.
  const nullsLast = sql.join(
    groups.map((g) => sql`CASE WHEN ${g} IS NULL THEN 1 ELSE 0 END, ${g}`),
  );
  const hasLabel = query.by.some((key) => typeof key !== 'string');
  const selected = sql.join(
    query.by.map((key, i) => sql`${keyExpr(dialect, key)} AS g${sql.raw(String(i))}`),
  );
  const join = hasLabel
    ? sql`LEFT JOIN executions e ON e.id = r.execution_id AND ${sourceExpr(dialect)} IS NULL`
    : sql``;
  const owner = query.owner === undefined ? sql`` : sql`AND r.owner = ${query.owner}`;
  const stuck = sql.join(STUCK.map((v) => sql.lit(v)));
  const count = (condition: RawBuilder<unknown>) =>
    sql`sum(CASE WHEN ${condition} THEN 1 ELSE 0 END)`;
  const verdicts = STUCK.map(
    (v) => sql`${count(sql`verdict = ${sql.lit(v)}`)} AS ${sql.ref(`v_${v}`)}`,
  );
  const remediated = (action: RawBuilder<unknown>) =>
    count(sql`outcome = 'remediated' AND ${action}`);
  const rank = (column: string, p: number) =>
    sql`max(CASE WHEN ${sql.ref(`${column}_rank`)} = (${sql.ref(`${column}_n`)} * ${sql.lit(p)} + 99) / 100 THEN ${sql.ref(column)} END)`;
  const ranked = (column: string) => sql`
    row_number() OVER (PARTITION BY ${keys} ORDER BY CASE WHEN ${sql.ref(column)} IS NULL THEN 1 ELSE 0 END, ${sql.ref(column)}) AS ${sql.ref(`${column}_rank`)},
    count(${sql.ref(column)}) OVER (PARTITION BY ${keys}) AS ${sql.ref(`${column}_n`)}`;
  return sql<Row>`
    WITH base AS (
      SELECT ${selected}, r.verdict AS verdict, r.outcome AS outcome, r.action AS action,
        r.ran_ms AS ran_ms, r.late_ms AS late_ms
      FROM remediations r ${join}
      WHERE r.at >= ${query.from} AND r.at < ${query.to} AND r.dry_run = 0
        AND r.verdict IN (${stuck}) ${owner}
    ), ranked AS (
      SELECT base.*, ${ranked('ran_ms')}, ${ranked('late_ms')} FROM base
    )
    SELECT ${keys}, count(*) AS stuck, ${sql.join(verdicts)},
      ${remediated(sql`action NOT IN ('retry', 'dead_letter')`)} AS ended,
      ${remediated(sql`action = 'retry'`)} AS retried,
      ${remediated(sql`action = 'dead_letter'`)} AS dead_lettered,
      ${count(sql`outcome IN ('ignored', 'left_running')`)} AS left_alone,
      ${count(sql`outcome = 'failed'`)} AS failed,
      ${rank('ran_ms', 50)} AS ran_p50, ${rank('ran_ms', 95)} AS ran_p95, max(ran_ms) AS ran_max,
      ${rank('late_ms', 50)} AS late_p50, ${rank('late_ms', 95)} AS late_p95,
      max(late_ms) AS late_max,
      count(*) OVER () AS total_groups, sum(count(*)) OVER () AS total_stuck
    FROM ranked
    GROUP BY ${keys}
    ORDER BY stuck DESC, ${nullsLast}
    LIMIT ${query.limit}`;
}

/** Where a decision came from: a mapped table's or an operation list's name, or the ledger. */
function sourceExpr(dialect: Dialect): RawBuilder<unknown> {
  return dialect === 'sqlite'
    ? sql`json_extract(r.evidence, '$.source')`
    : sql`(r.evidence::jsonb ->> 'source')`;
}

function keyExpr(dialect: Dialect, key: StatsKey): RawBuilder<unknown> {
  if (key === 'kind') return sql`r.kind`;
  if (key === 'owner') return sql`r.owner`;
  if (key === 'verdict') return sql`r.verdict`;
  if (key === 'source') return sql`coalesce(${sourceExpr(dialect)}, 'ledger')`;
  // The name is checked (letters, digits, `_`, `-`) and bound as a parameter all the same.
  if (dialect === 'sqlite') {
    const path = `$."${key.label}"`;
    return sql`cast(coalesce(json_extract(r.labels, ${path}), json_extract(e.metadata, ${path})) AS text)`;
  }
  return sql`coalesce(r.labels::jsonb ->> ${key.label}::text, e.metadata::jsonb ->> ${key.label}::text)`;
}

function toGroup(row: Row, keys: number): StatsGroup {
  const n = (value: string | number | null | undefined) => Number(value ?? 0);
  const verdicts: Partial<Record<ExecutionVerdict, number>> = {};
  for (const v of STUCK) if (n(row[`v_${v}`]) > 0) verdicts[v] = n(row[`v_${v}`]);
  const durations = (prefix: string): StatsDurations => ({
    p50: ms(row[`${prefix}_p50`]),
    p95: ms(row[`${prefix}_p95`]),
    max: ms(row[`${prefix}_max`]),
  });
  return {
    key: Array.from({ length: keys }, (_, i) => {
      const value = row[`g${i}`];
      return value === null || value === undefined ? null : String(value);
    }),
    stuck: n(row.stuck),
    verdicts,
    ended: n(row.ended),
    retried: n(row.retried),
    deadLettered: n(row.dead_lettered),
    leftAlone: n(row.left_alone),
    failed: n(row.failed),
    ran: durations('ran'),
    late: durations('late'),
  };
}

const ms = (value: string | number | null | undefined): number | null =>
  value === null || value === undefined ? null : Number(value);
