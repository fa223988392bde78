import type { MappedRowFacts } from '../core/mapped-row.js';
import { needsChildren } from '../core/mapped-row.js';
import { policyFor } from '../core/policy.js';
import type { Decision } from '../core/decide.js';
import type { Execution, ExecutionVerdict, Status } from '../core/types.js';
import type { SweepContext } from '../ports/source.js';
import { SourceProblem } from '../ports/source.js';
import type { AppDatabase } from './app-database.js';
import { isConnectionError } from './app-database.js';
import type { OwnedRowItem } from './table-owned.js';
import { requeueFacts } from './table-requeue.js';
import { rowLimitsOf } from './table-row-sql.js';
import { blankExecution, describe, statusOf, toExecution } from './table-rows.js';
import type { TableSourceConfig } from './table-config.js';
import type { MappedRow, MappedTable } from './table-sql.js';
import { mappedTable } from './table-sql.js';

/** One running row, read and ready to be decided. */
export interface RowItem {
  pass: TablesPass;
  table: TableSourceConfig;
  mapped: MappedTable;
  db: AppDatabase;
  row: MappedRow;
  facts: MappedRowFacts;
  /** A table with `reconcile` or `appSlots`: the row's owner id and template columns. */
  owned?: OwnedRowItem | undefined;
  /** Where each limit read from the row came from (`rowLimits`), for the evidence. */
  limitFrom: Record<string, string>;
}

/** The state of one sweep over the mapped tables. */
export class TablesPass {
  /** Rows this sweep ended (or, dry, would end): parents see their children's fate through it. */
  private readonly ended = new Map<string, { status: Status; verdict: ExecutionVerdict }>();
  /** Parent rows whose child this sweep ended: table name → parent id → the child's verdict. */
  private readonly touched = new Map<string, Map<string, ExecutionVerdict>>();
  /** Statements per table for this sweep (columns are checked again each sweep). */
  private readonly mapped = new Map<string, MappedTable>();

  constructor(readonly database: (table: TableSourceConfig) => AppDatabase) {}

  /** Checks the table and its columns (again each sweep: an app's schema can change under us). */
  async map(table: TableSourceConfig): Promise<MappedTable> {
    const known = this.mapped.get(table.name);
    if (known) return known;
    const db = this.database(table);
    const columns = await this.guard(table, () => db.columns(table.table));
    if (!columns) {
      throw new SourceProblem(
        `tables.${table.name}.table`,
        `table ${JSON.stringify(table.table)} not found in ${db.description}`,
      );
    }
    const mapped = mappedTable(table, db.dialect, columns);
    this.mapped.set(table.name, mapped);
    return mapped;
  }

  /** Runs a statement; a database that cannot be reached is reported under `database`. */
  async guard<T>(table: TableSourceConfig, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (isConnectionError(error)) {
        throw new SourceProblem(
          `tables.${table.name}.database`,
          `cannot use ${this.database(table).description}: ${describe(error)}`,
        );
      }
      throw error;
    }
  }

  /** What deciding about a row needs: the row as an execution, and its children when it has some. */
  async item(
    table: TableSourceConfig,
    mapped: MappedTable,
    db: AppDatabase,
    row: MappedRow,
    childTables: TableSourceConfig[],
    context: SweepContext,
  ): Promise<RowItem> {
    const execution = toExecution(table, row, context.config, context.now);
    const facts: MappedRowFacts = {
      execution,
      policy: policyFor(context.config, execution),
      now: context.now,
      requeue: requeueFacts(table),
    };
    if (row.startedAt === null || row.unreadable.length > 0) {
      const column = row.unreadable[0] ?? table.startedAt;
      facts.unreadable = { column, empty: row.unreadable.length === 0 };
    } else if (childTables.length > 0) {
      facts.touchedBy = this.touched.get(table.name)?.get(row.id);
      if (needsChildren(facts)) {
        try {
          facts.children = {
            kind: 'read',
            children: await this.childrenOf(table, row, childTables),
          };
        } catch (error) {
          facts.children = { kind: 'error', message: describe(error) };
        }
      }
    }
    const limitFrom = rowLimitsOf(table, row.extras).from;
    return { pass: this, table, mapped, db, row, facts, limitFrom };
  }

  /** The children of one parent row across every table that points at it, with this sweep's ends. */
  private async childrenOf(
    table: TableSourceConfig,
    row: MappedRow,
    childTables: TableSourceConfig[],
  ): Promise<Execution[]> {
    const children: Execution[] = [];
    for (const childTable of childTables) {
      let mapped: MappedTable;
      try {
        mapped = await this.map(childTable);
      } catch (error) {
        throw new Error(
          `its children in tables.${childTable.name} could not be read: ${describe(error)}`,
        );
      }
      const statement = mapped.selectChildren(row.rawId);
      const rows = await this.guard(childTable, () =>
        this.database(childTable).query<Record<string, unknown>>(statement.text, statement.params),
      );
      for (const raw of rows) {
        const child = mapped.child(raw);
        const id = `${childTable.name}:${child.id}`;
        const ended = this.ended.get(id);
        children.push({
          ...blankExecution(id, childTable.kind),
          status: ended?.status ?? statusOf(childTable, child.status),
          reason: ended ? `ended by Vigil: ${ended.verdict}` : null,
          parentId: `${table.name}:${row.id}`,
        });
      }
    }
    return children;
  }

  /** Notes what a row is (or, dry, would be) once ended, and which parent now needs a look. */
  project(table: TableSourceConfig, row: MappedRow, decision: Decision, becomes: Status): void {
    this.ended.set(decision.executionId, { status: becomes, verdict: decision.verdict });
    // A re-queued row runs again: its workflow run goes on.
    const failed = becomes === 'failed' || becomes === 'dead';
    if (failed && table.parent && row.parent !== null) {
      const parents = this.touched.get(table.parent.table) ?? new Map<string, ExecutionVerdict>();
      if (!parents.has(row.parent)) parents.set(row.parent, decision.verdict);
      this.touched.set(table.parent.table, parents);
    }
  }
}

/** A workflow run left alone because its children could not be read: failed, audited as such. */
