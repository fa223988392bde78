/**
 * The SQL Vigil runs against a mapped table, built by pure functions from the table's
 * configuration and the column types the database reported. Identifiers are validated at load and
 * quoted here; every value, `now` included, is a parameter.
 */
import type { AppDialect } from './app-database.js';
import { quote } from './identifiers.js';
import { SourceProblem } from '../ports/source.js';
import type { Labels } from '../ports/audit-store.js';
import type { StatusValue, TableSourceConfig } from './table-config.js';
import type { ReasonTarget, RowWrite } from './table-row-config.js';
import type { RowExtras } from './table-row-sql.js';
import { readExtras, rowColumns, selectExtras } from './table-row-sql.js';
import type { ReasonKind, TimeKind } from './table-column-types.js';
import {
  asText,
  classifyReason,
  classifyTime,
  readTimeSql,
  timeToMs,
} from './table-column-types.js';

export interface Statement {
  text: string;
  params: unknown[];
  /** Holds operator-written SQL: run it where it cannot write (see AppDatabase.query). */
  readOnly?: boolean;
}

/** One running row as read. `rawId` is the id as the driver returned it, for writing it back. */
export interface MappedRow {
  rawId: unknown;
  id: string;
  status: StatusValue;
  startedAt: number | null;
  heartbeatAt: number | null;
  /** The heartbeat column as read, for the compare-and-set (exact, whatever its type). */
  heartbeatRaw: unknown;
  owner: string | null;
  parent: string | null;
  /** The `labels:` columns' values (text on PostgreSQL), kept with the row's audit. */
  labels: Labels;
  /** Columns whose value could not be read as a time. */
  unreadable: string[];
  /** What the per-row keys read: limit values, the attempt count, columns end texts name. */
  extras: RowExtras;
}

export interface ChildRow {
  id: string;
  status: StatusValue;
}

export interface EndRow {
  row: MappedRow;
  /** The write: `onEnd` (the default), `requeue.write` or `deadLetter`. */
  write?: RowWrite | undefined;
  /** The status value to write (default: the write's own). */
  status?: StatusValue | undefined;
  /** Vigil's clock when the write is made: what `now` means in `set`. */
  now: number;
  /** Written to the write's `reason` when it has one (failures only). */
  reason: string | null;
  /** A re-queue: counts the attempt (when Vigil counts them) and sets `availableAt`. */
  requeue?: { availableAt: number } | undefined;
}

const ALIAS = {
  id: 'vigil_id',
  status: 'vigil_status',
  startedAt: 'vigil_started_at',
  heartbeatAt: 'vigil_heartbeat_at',
  heartbeatRaw: 'vigil_heartbeat_raw',
  owner: 'vigil_owner',
  parent: 'vigil_parent',
} as const;

/** Numbered (`$1`) or positional (`?`) parameters, as the dialect wants them. */
class Params {
  readonly values: unknown[] = [];
  constructor(private readonly dialect: AppDialect) {}
  add(value: unknown): string {
    this.values.push(value);
    return this.dialect === 'postgres' ? `$${this.values.length}` : '?';
  }
  list(values: readonly unknown[]): string {
    return values.map((value) => this.add(value)).join(', ');
  }
}

/**
 * The statements for one table, after checking that every mapped column exists and has a type
 * Vigil can read and write. Throws a SourceProblem naming the configuration key otherwise.
 */
export function mappedTable(
  table: TableSourceConfig,
  dialect: AppDialect,
  columns: Map<string, string>,
) {
  const key = (path: string) => `tables.${table.name}.${path}`;
  const known = [...columns.keys()].join(', ');
  const typeOf = (path: string, column: string): string => {
    const type = columns.get(column);
    if (type === undefined) {
      throw new SourceProblem(
        key(path),
        `column ${JSON.stringify(column)} not found in table ${table.table} (its columns: ${known})`,
      );
    }
    return type;
  };
  const timeKind = (path: string, column: string): TimeKind => {
    const type = typeOf(path, column);
    const kind = classifyTime(dialect, type);
    if (kind === undefined) {
      throw new SourceProblem(
        key(path),
        `expected a timestamp, a number or a text column, found ${column} of type ${type}`,
      );
    }
    return kind;
  };

  typeOf('id', table.id);
  typeOf('status.column', table.status.column);
  const startedKind = timeKind('startedAt', table.startedAt);
  const heartbeatKind = table.heartbeatAt ? timeKind('heartbeatAt', table.heartbeatAt) : null;
  if (table.owner) typeOf('owner', table.owner);
  if (table.parent) typeOf('parent.column', table.parent.column);
  for (const [path, column] of rowColumns(table)) typeOf(path, column);
  table.labels.forEach((column, i) => typeOf(`labels.${i}`, column));
  const setKinds = new Map<string, TimeKind | null>();
  const reasonKinds = new Map<ReasonTarget, ReasonKind>();
  const writes = [
    ['onEnd', table.onEnd],
    ['requeue', table.requeue?.write],
    ['deadLetter', table.deadLetter],
  ] as const;
  for (const [name, write] of writes) {
    if (!write) continue;
    for (const [column, value] of Object.entries(write.set)) {
      const path = `${name}.set.${column}`;
      const kind = value.kind === 'now' ? timeKind(path, column) : (typeOf(path, column), null);
      if (!setKinds.has(column) || kind) setKinds.set(column, kind);
    }
    if (write.reason) {
      const path = `${name}.reason.column`;
      const type = typeOf(path, write.reason.column);
      reasonKinds.set(
        write.reason,
        classifyReason(dialect, type, write.reason.key !== null, key(path)),
      );
    }
  }
  const availableKind = table.requeue?.availableAt
    ? timeKind('requeue.availableAt', table.requeue.availableAt)
    : null;

  const from = quote(table.table);
  const col = (name: string) => quote(name);
  // With joins, the table's own columns are named with their table: a joined one may share a name.
  const qualified = (name: string) =>
    table.joins.length > 0 ? `${from}.${quote(name)}` : col(name);
  const extras = selectExtras(table, qualified);

  const readTime = (column: string, kind: TimeKind): string =>
    readTimeSql(dialect, kind, qualified(column));
  /** Vigil's `now` in the column's own type. */
  const writeTime = (params: Params, kind: TimeKind, now: number): string => {
    if (kind === 'number') return params.add(table.timeUnit === 's' ? Math.floor(now / 1000) : now);
    if (kind === 'text') return params.add(new Date(now).toISOString());
    const at = `to_timestamp(${params.add(now)}::float8 / 1000)`;
    if (kind === 'timestamptz') return at;
    if (kind === 'timestamp') return `(${at} AT TIME ZONE 'UTC')`;
    return `(${at} AT TIME ZONE 'UTC')::date`;
  };
  /** The exact heartbeat value as read, for the fence: text on PostgreSQL, as stored on SQLite. */
  const rawHeartbeat = (column: string) =>
    dialect === 'postgres' ? `${qualified(column)}::text` : qualified(column);

  const toMs = (value: unknown, kind: TimeKind) => timeToMs(dialect, kind, table.timeUnit, value);

  return {
    table,

    /** Running rows after `after` (by id), at most `limit`. */
    selectRunning(after: unknown, limit: number): Statement {
      const params = new Params(dialect);
      const select = [
        `${qualified(table.id)} AS ${ALIAS.id}`,
        `${qualified(table.status.column)} AS ${ALIAS.status}`,
        `${readTime(table.startedAt, startedKind)} AS ${ALIAS.startedAt}`,
      ];
      if (table.heartbeatAt && heartbeatKind) {
        select.push(`${readTime(table.heartbeatAt, heartbeatKind)} AS ${ALIAS.heartbeatAt}`);
        select.push(`${rawHeartbeat(table.heartbeatAt)} AS ${ALIAS.heartbeatRaw}`);
      }
      if (table.owner) select.push(`${qualified(table.owner)} AS ${ALIAS.owner}`);
      if (table.parent) select.push(`${qualified(table.parent.column)} AS ${ALIAS.parent}`);
      const where = [`${qualified(table.status.column)} IN (${params.list(table.status.running)})`];
      if (after !== undefined) where.push(`${qualified(table.id)} > ${params.add(after)}`);
      select.push(...extras.select);
      // Text on PostgreSQL, whatever the type: a label is a name to group by, not a number.
      const label = (column: string) =>
        dialect === 'postgres' ? `${qualified(column)}::text` : qualified(column);
      table.labels.forEach((column, i) => select.push(`${label(column)} AS vigil_label_${i}`));
      return {
        text: `SELECT ${select.join(', ')} FROM ${from} ${extras.joins} WHERE ${where.join(' AND ')}
               ORDER BY ${qualified(table.id)} LIMIT ${params.add(limit)}`,
        params: params.values,
        readOnly: extras.readOnly,
      };
    },

    row(raw: Record<string, unknown>): MappedRow {
      const unreadable: string[] = [];
      const time = (column: string, kind: TimeKind, value: unknown): number | null => {
        const ms = toMs(value, kind);
        if (ms === undefined || (ms !== null && !Number.isFinite(ms))) {
          unreadable.push(column);
          return null;
        }
        return ms;
      };
      const text = (value: unknown) =>
        value === null || value === undefined ? null : asText(value);
      return {
        rawId: raw[ALIAS.id],
        id: asText(raw[ALIAS.id]),
        status: raw[ALIAS.status] as StatusValue,
        startedAt: time(table.startedAt, startedKind, raw[ALIAS.startedAt]),
        heartbeatAt:
          table.heartbeatAt && heartbeatKind
            ? time(table.heartbeatAt, heartbeatKind, raw[ALIAS.heartbeatAt])
            : null,
        heartbeatRaw: raw[ALIAS.heartbeatRaw] ?? null,
        owner: text(raw[ALIAS.owner]),
        parent: text(raw[ALIAS.parent]),
        labels: labelsOf(table.labels, (i) => raw[`vigil_label_${i}`]),
        unreadable,
        extras: readExtras(table, raw),
      };
    },

    /** This table's rows whose parent column names `parentId`. */
    selectChildren(parentId: unknown): Statement {
      if (!table.parent) throw new Error(`tables.${table.name} has no parent column`);
      const params = new Params(dialect);
      return {
        text: `SELECT ${col(table.id)} AS ${ALIAS.id}, ${col(table.status.column)} AS ${ALIAS.status}
               FROM ${from} WHERE ${col(table.parent.column)} = ${params.add(parentId)}`,
        params: params.values,
      };
    },

    child(raw: Record<string, unknown>): ChildRow {
      return { id: asText(raw[ALIAS.id]), status: raw[ALIAS.status] as StatusValue };
    },

    /**
     * Ends one row as configured, only while it is still the row that was judged: same id, still
     * the running status it was read with, and (when mapped) the heartbeat not moved since. A row
     * that finished, or beat, between the read and this write is left alone.
     */
    endRow(end: EndRow): Statement {
      const params = new Params(dialect);
      const write = end.write ?? table.onEnd;
      const set = [`${col(table.status.column)} = ${params.add(end.status ?? write.status)}`];
      const requeue = end.requeue && table.requeue;
      if (requeue && requeue.attempts.increment) {
        const count = col(requeue.attempts.column);
        set.push(`${count} = coalesce(${count}, 0) + 1`);
      }
      if (requeue && requeue.availableAt && availableKind && end.requeue) {
        set.push(
          `${col(requeue.availableAt)} = ${writeTime(params, availableKind, end.requeue.availableAt)}`,
        );
      }
      for (const [column, value] of Object.entries(write.set)) {
        const kind = setKinds.get(column);
        set.push(
          `${col(column)} = ${value.kind === 'now' && kind ? writeTime(params, kind, end.now) : params.add(value.kind === 'value' ? value.value : null)}`,
        );
      }
      const reasonKind = write.reason ? reasonKinds.get(write.reason) : undefined;
      if (write.reason && reasonKind && end.reason !== null) {
        set.push(
          `${col(write.reason.column)} = ${writeReason(params, reasonKind, write.reason, end.reason)}`,
        );
      }
      const where = [
        `${col(table.id)} = ${params.add(end.row.rawId)}`,
        `${col(table.status.column)} = ${params.add(end.row.status)}`,
      ];
      if (table.heartbeatAt) {
        const same = dialect === 'postgres' ? 'IS NOT DISTINCT FROM' : 'IS';
        where.push(
          `${rawHeartbeat(table.heartbeatAt)} ${same} ${params.add(end.row.heartbeatRaw)}`,
        );
      }
      if (table.requeue) {
        // The attempt count is part of the fence: a row claimed again since the read is left alone.
        const same = dialect === 'postgres' ? 'IS NOT DISTINCT FROM' : 'IS';
        const count = col(table.requeue.attempts.column);
        const attempts = end.row.extras.attempts;
        where.push(
          `${dialect === 'postgres' ? `${count}::text` : count} ${same} ${params.add(dialect === 'postgres' && attempts !== null ? asText(attempts) : attempts)}`,
        );
      }
      return {
        text: `UPDATE ${from} SET ${set.join(', ')} WHERE ${where.join(' AND ')}`,
        params: params.values,
      };
    },
  };

  function writeReason(
    params: Params,
    kind: ReasonKind,
    reason: { column: string; key: string | null },
    text: string,
  ): string {
    const column = col(reason.column);
    switch (kind) {
      case 'plain':
        return params.add(text);
      case 'to-json':
        return `to_jsonb(${params.add(text)}::text)::${columns.get(reason.column) === 'json' ? 'json' : 'jsonb'}`;
      case 'jsonb-key':
      case 'json-key': {
        // Keeps the object's other keys; a value that is not an object is replaced by one.
        const current = kind === 'jsonb-key' ? column : `${column}::jsonb`;
        const typeOf = kind === 'jsonb-key' ? 'jsonb_typeof' : 'json_typeof';
        const merged = `coalesce(CASE WHEN ${typeOf}(${column}) = 'object' THEN ${current} END, '{}'::jsonb) || jsonb_build_object(${params.add(reason.key)}::text, ${params.add(text)}::text)`;
        return kind === 'jsonb-key' ? merged : `(${merged})::json`;
      }
      case 'sqlite-json-key':
        // Nested CASE: json_type() is only evaluated on valid JSON.
        return `json_set(coalesce(CASE WHEN json_valid(${column}) THEN CASE WHEN json_type(${column}) = 'object' THEN ${column} END END, '{}'), ${params.add(`$."${reason.key}"`)}, ${params.add(text)})`;
    }
  }
}

export type MappedTable = ReturnType<typeof mappedTable>;

/**
 * A row's `labels:` columns by name. Text, numbers and booleans are kept as they are; anything
 * else a driver returns is kept as text (a date as ISO, other values as JSON).
 */
export function labelsOf(columns: readonly string[], valueAt: (i: number) => unknown): Labels {
  const labels: Labels = {};
  columns.forEach((column, i) => {
    const value = valueAt(i);
    if (value === null || value === undefined) labels[column] = null;
    else if (typeof value === 'string' || typeof value === 'boolean') labels[column] = value;
    else if (typeof value === 'number') labels[column] = value;
    else if (typeof value === 'bigint') labels[column] = value.toString();
    else if (value instanceof Date) labels[column] = value.toISOString();
    else labels[column] = JSON.stringify(value) ?? null;
  });
  return labels;
}
