/**
 * When the rows of a mapped table started, for the schedules that count them (`schedules.X.table`).
 * Read-only: one bounded SELECT per page (a range on the start column, ordered by it, LIMIT), never
 * a write. Identifiers were checked when the configuration was loaded and are quoted; every value
 * is a parameter.
 */
import { SourceProblem } from '../ports/source.js';
import type { AppDatabase, AppDatabaseOptions, AppDialect } from './app-database.js';
import { openAppDatabase } from './app-database.js';
import { quote } from './identifiers.js';
import type { TableSourceConfig } from './table-config.js';
import type { TimeKind } from './table-column-types.js';
import { classifyTime, readTimeSql, timeToMs } from './table-column-types.js';
import { describe } from './table-rows.js';
import type { Statement } from './table-sql.js';

/** Rows read per statement: a busy table's window is read a page at a time, never at once. */
export const STARTS_PAGE = 1_000;

const DAY_MS = 86_400_000;

/** One range of the start column, as SQL bounds (values in the column's own terms). */
interface Range {
  lo: unknown;
  hi: unknown;
  /** Text bounds are whole days: the upper one is exclusive. */
  hiExclusive: boolean;
  /** How a bound is written: a parameter, or an SQL expression around it. */
  bound?: (param: string) => string;
}

/**
 * The ranges of the start column that hold every start in [from, to] (a little more at the
 * edges: rows are filtered exactly once read). A timestamp is compared as one; a number in its
 * time unit; text by its day (ISO-8601 and SQLite's `YYYY-MM-DD HH:MM:SS` both begin with it).
 * SQLite stores whatever it is given whatever the declared type, so there both a number range
 * and a text range are read.
 */
export function startRanges(
  dialect: AppDialect,
  kind: TimeKind,
  timeUnit: 'ms' | 's',
  from: number,
  to: number,
): Range[] {
  const unit = timeUnit === 's' ? 1_000 : 1;
  const numbers: Range = {
    lo: Math.floor(from / unit),
    hi: Math.ceil(to / unit),
    hiExclusive: false,
  };
  // Text is compared by its date prefix, which is local to the text's own offset (up to ±14 h
  // from UTC): a day either side takes in every row of the window; each is then checked exactly.
  const days: Range = { lo: dayOf(from - DAY_MS), hi: dayOf(to + 2 * DAY_MS), hiExclusive: true };
  if (dialect === 'sqlite') return [numbers, days];
  if (kind === 'number') return [numbers];
  if (kind === 'text') return [days];
  const at = (param: string) => `to_timestamp(${param}::float8 / 1000)`;
  const bound =
    kind === 'timestamptz'
      ? at
      : kind === 'timestamp'
        ? (param: string) => `(${at(param)} AT TIME ZONE 'UTC')`
        : (param: string) => `(${at(param)} AT TIME ZONE 'UTC')::date`;
  return [{ lo: from, hi: to, hiExclusive: false, bound }];
}

function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** One page of a range's rows after `after` (the start column's value as last read). */
export function selectStarts(
  table: TableSourceConfig,
  dialect: AppDialect,
  kind: TimeKind,
  range: Range,
  owner: string | null,
  after: unknown,
): Statement {
  const params: unknown[] = [];
  const param = (value: unknown) => {
    params.push(value);
    return dialect === 'postgres' ? `$${params.length}` : '?';
  };
  const column = quote(table.startedAt);
  const bound = range.bound ?? ((p: string) => p);
  const where = [
    `${column} >= ${bound(param(range.lo))}`,
    `${column} ${range.hiExclusive ? '<' : '<='} ${bound(param(range.hi))}`,
  ];
  if (owner !== null && table.owner !== null) {
    const ownerColumn = quote(table.owner);
    where.push(
      `${dialect === 'postgres' ? `${ownerColumn}::text` : ownerColumn} = ${param(owner)}`,
    );
  }
  if (after !== undefined) where.push(`${column} > ${param(after)}`);
  // The key to page on: the value exactly as stored (as text on PostgreSQL: no precision lost).
  const key = dialect === 'postgres' ? `${column}::text` : column;
  return {
    text: `SELECT ${readTimeSql(dialect, kind, column)} AS vigil_started_at, ${key} AS vigil_start_key
             FROM ${quote(table.table)} WHERE ${where.join(' AND ')}
            ORDER BY ${column} LIMIT ${param(STARTS_PAGE)}`,
    params,
  };
}

/** Reads the start times of mapped tables' rows, one connection per database URL. */
export class TableStarts {
  private readonly connections = new Map<string, AppDatabase>();

  constructor(
    private readonly tables: Readonly<Record<string, TableSourceConfig>>,
    private readonly options: AppDatabaseOptions,
  ) {}

  /**
   * When the rows of table `name` (of `owner`, when given) started within [from, to], in epoch
   * milliseconds. Throws, naming the key, when the table cannot be read: a schedule is then judged
   * at a later pass, never missed for want of an answer.
   */
  async startsBetween(
    name: string,
    owner: string | null,
    from: number,
    to: number,
  ): Promise<number[]> {
    const table = this.tables[name];
    if (table === undefined) throw problem(`tables.${name}`, 'no such mapped table');
    const db = this.database(table);
    try {
      const kind = await this.startKind(table, db, owner);
      const starts: number[] = [];
      for (const range of startRanges(db.dialect, kind, table.timeUnit, from, to)) {
        let after: unknown;
        for (;;) {
          const statement = selectStarts(table, db.dialect, kind, range, owner, after);
          const rows = await db.query<{ vigil_started_at: unknown; vigil_start_key: unknown }>(
            statement.text,
            statement.params,
            { readOnly: true },
          );
          for (const row of rows) {
            const at = timeToMs(db.dialect, kind, table.timeUnit, row.vigil_started_at);
            if (typeof at === 'number' && at >= from && at <= to) starts.push(at);
          }
          const last = rows.at(-1);
          if (last === undefined || rows.length < STARTS_PAGE) break;
          after = last.vigil_start_key;
        }
      }
      return starts;
    } catch (error) {
      if (error instanceof SourceProblem) throw error;
      throw problem(
        `tables.${name}`,
        `cannot read the rows of ${table.table} in ${db.description}: ${describe(error)}`,
      );
    }
  }

  async close(): Promise<void> {
    const connections = [...this.connections.values()];
    this.connections.clear();
    await Promise.all(connections.map((db) => db.close().catch(() => undefined)));
  }

  /** The start column's type, checked again at each read: an app's schema changes. */
  private async startKind(
    table: TableSourceConfig,
    db: AppDatabase,
    owner: string | null,
  ): Promise<TimeKind> {
    const columns = await db.columns(table.table);
    if (columns === undefined) {
      throw problem(
        `tables.${table.name}.table`,
        `table ${table.table} not found in ${db.description}`,
      );
    }
    const known = [...columns.keys()].join(', ');
    const missing = (path: string, column: string) =>
      problem(
        `tables.${table.name}.${path}`,
        `column ${JSON.stringify(column)} not found in table ${table.table} (its columns: ${known})`,
      );
    const type = columns.get(table.startedAt);
    if (type === undefined) throw missing('startedAt', table.startedAt);
    if (owner !== null && table.owner !== null && !columns.has(table.owner)) {
      throw missing('owner', table.owner);
    }
    const kind = classifyTime(db.dialect, type);
    if (kind === undefined) {
      throw problem(
        `tables.${table.name}.startedAt`,
        `expected a timestamp, a number or a text column, found ${table.startedAt} of type ${type}`,
      );
    }
    return kind;
  }

  private database(table: TableSourceConfig): AppDatabase {
    let db = this.connections.get(table.database);
    if (!db) {
      db = openAppDatabase(table.database, this.options);
      this.connections.set(table.database, db);
    }
    return db;
  }
}

/** A problem whose message names its key too: it is logged as it is, outside any sweep report. */
function problem(key: string, message: string): SourceProblem {
  return new SourceProblem(key, `${key}: ${message}`);
}
