import { performance } from 'node:perf_hooks';
import { actionLabel } from '../core/decide.js';
import type { Decision } from '../core/decide.js';
import type { MappedRowDecision, MappedRowFacts } from '../core/mapped-row.js';
import { decideMappedRow, needsChildren } from '../core/mapped-row.js';
import type { Execution, ExecutionVerdict, Status } from '../core/types.js';
import { policyFor } from '../core/policy.js';
import type { DecisionOutcome, SourceError, StepRecord } from '../ports/audit-store.js';
import type {
  Announce,
  Applied,
  Judged,
  Source,
  SweepContext,
  SourcePage,
} from '../ports/source.js';
import type { Subject } from '../ports/audit-store.js';
import { SourceProblem } from '../ports/source.js';
import type { AppDatabase, AppDatabaseOptions } from './app-database.js';
import { isConnectionError, openAppDatabase } from './app-database.js';
import type { TableSourceConfig } from './table-config.js';
import { blankExecution, childrenFirst, describe, statusOf, toExecution } from './table-rows.js';
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
}

/**
 * Other apps' tables, watched by configuration alone: each sweep reads their running rows, judges
 * them with the same core as the ledger, and ends stuck ones with a compare-and-set as configured.
 * Child tables are swept before the tables their parent column points to, so a workflow run is
 * judged after its children. One table's failure (unreachable, missing, a wrong column) is
 * reported with its key and the other tables are still swept.
 */
export class TableSources implements Source<RowItem, MappedRowDecision> {
  readonly name = 'tables';
  private readonly tables: TableSourceConfig[];
  private readonly connections = new Map<string, AppDatabase>();
  /**
   * The last "left alone" decision audited per row. Mapped rows are read again every sweep; a
   * workflow run waiting on its children would otherwise write the same audit row every time.
   */
  private readonly lastIgnored = new Map<string, string>();

  constructor(
    tables: readonly TableSourceConfig[],
    private readonly options: AppDatabaseOptions & {
      /** Opens an app's database (default: openAppDatabase); tests put a write between read and write. */
      open?: ((url: string, options: AppDatabaseOptions) => AppDatabase) | undefined;
    },
  ) {
    this.tables = childrenFirst(tables);
  }

  async *load(context: SweepContext): AsyncIterable<SourcePage<RowItem>> {
    const pass = new TablesPass((table) => this.database(table));
    for (const table of this.tables) yield* this.loadTable(pass, table, context);
  }

  decide(item: RowItem): Judged<RowItem, MappedRowDecision> {
    return { item, decision: decideMappedRow(item.facts) };
  }

  /** An end of a row (a workflow run's too) is destructive; a row left alone is not. */
  destructive(item: RowItem, { unjudged, decision }: MappedRowDecision) {
    if (unjudged || decision.action.kind === 'ignore') return null;
    const where = { source: item.table.name, table: item.table.table, rowId: item.row.id };
    return {
      target: {
        source: `table:${item.table.name}`,
        kind: decision.kind,
        owner: decision.owner,
        verdict: decision.verdict,
      },
      subject: subjectOf({ ...decision, evidence: { ...decision.evidence, ...where } }),
    };
  }

  async apply(
    judged: readonly { item: RowItem; decision: MappedRowDecision }[],
    context: SweepContext,
    announce: Announce,
  ): Promise<Applied[]> {
    const applied: Applied[] = [];
    for (const { item, decision } of judged) {
      applied.push(
        decision.unjudged
          ? unjudged(item, decision.decision)
          : await this.applyRow(item, decision.decision, context, announce),
      );
    }
    return applied;
  }

  async close(): Promise<void> {
    const connections = [...this.connections.values()];
    this.connections.clear();
    await Promise.all(connections.map((db) => db.close().catch(() => undefined)));
  }

  private database(table: TableSourceConfig): AppDatabase {
    let db = this.connections.get(table.database);
    if (!db) {
      db = (this.options.open ?? openAppDatabase)(table.database, this.options);
      this.connections.set(table.database, db);
    }
    return db;
  }

  /** A table's running rows, a page at a time; a table that cannot be read is a problem. */
  private async *loadTable(
    pass: TablesPass,
    table: TableSourceConfig,
    context: SweepContext,
  ): AsyncIterable<SourcePage<RowItem>> {
    const childTables = this.tables.filter((other) => other.parent?.table === table.name);
    // A table that is its own parent is decided row by row: a row's children may be in its page.
    const rowByRow = childTables.includes(table);
    const { batchSize } = context.config.sweep;
    try {
      const mapped = await pass.map(table);
      const db = this.database(table);
      let after: unknown;
      for (;;) {
        const statement = mapped.selectRunning(after, batchSize);
        const rows = await pass.guard(table, () =>
          db.query<Record<string, unknown>>(statement.text, statement.params),
        );
        let items: RowItem[] = [];
        for (const raw of rows) {
          const row = mapped.row(raw);
          after = row.rawId;
          items.push(await pass.item(table, mapped, db, row, childTables, context));
          if (rowByRow) {
            yield { kind: 'page', items };
            items = [];
          }
        }
        if (items.length > 0) yield { kind: 'page', items };
        if (rows.length < batchSize) break;
      }
    } catch (error) {
      yield { kind: 'problem', error: problem(table, error) };
    }
  }

  private async applyRow(
    item: RowItem,
    decision: Decision,
    context: SweepContext,
    announce: Announce,
  ): Promise<Applied> {
    const { table, mapped, db, row, pass } = item;
    const { action } = decision;
    const where = { source: table.name, table: table.table, rowId: row.id };
    decision = { ...decision, evidence: { ...decision.evidence, ...where } };
    if (action.kind === 'ignore') {
      // Audited once per verdict, not at every sweep that reads the row again (its reason text
      // changes with every sweep: "ran 2h 1m", "ran 2h 2m", …).
      const audit =
        decision.verdict !== 'healthy' &&
        this.lastIgnored.get(decision.executionId) !== decision.verdict;
      if (decision.verdict === 'healthy') this.lastIgnored.delete(decision.executionId);
      else if (!context.dryRun) this.lastIgnored.set(decision.executionId, decision.verdict);
      return applied(decision, 'ignored', [], audit);
    }
    this.lastIgnored.delete(decision.executionId);
    const succeeded = action.status === 'succeeded';
    const status = succeeded ? table.status.succeeded[0] : table.onEnd.status;
    if (context.dryRun) {
      pass.project(table, row, decision, succeeded);
      return applied(decision, 'dry_run', [
        {
          step: 'end',
          outcome: 'skipped',
          ms: 0,
          detail: `dry run: would set ${table.status.column} = ${JSON.stringify(status)}`,
        },
      ]);
    }
    announce({
      type: 'execution:stuck',
      at: context.now,
      executionId: decision.executionId,
      attempt: 1,
      verdict: decision.verdict,
      reason: decision.reason,
      ...where,
    });
    const started = performance.now();
    try {
      const statement = mapped.endRow({
        row,
        status,
        now: context.clock.now(),
        reason: succeeded ? null : `vigil: ${decision.verdict}: ${decision.reason}`,
      });
      const changed = await pass.guard(table, () => db.execute(statement.text, statement.params));
      const ms = elapsed(started);
      if (changed === 0) {
        // The app finished (or touched) the row between our read and our write: it wins.
        return applied(decision, 'lost_race', [{ step: 'end', outcome: 'lost_race', ms }]);
      }
      pass.project(table, row, decision, succeeded);
      const detail = `${table.status.column} = ${JSON.stringify(status)}: ${decision.reason}`;
      const done = applied(decision, 'remediated', [{ step: 'end', outcome: 'ok', ms, detail }]);
      done.events.push({
        type: 'execution:remediated',
        at: context.now,
        executionId: decision.executionId,
        attempt: 1,
        verdict: decision.verdict,
        reason: decision.reason,
        status: action.status,
        rowStatus: status,
        action: actionLabel(action),
        ...where,
      });
      return done;
    } catch (error) {
      return applied(decision, 'failed', [
        { step: 'end', outcome: 'failed', ms: elapsed(started), detail: describe(error) },
      ]);
    }
  }
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
    return { pass: this, table, mapped, db, row, facts };
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
  project(table: TableSourceConfig, row: MappedRow, decision: Decision, succeeded: boolean): void {
    this.ended.set(decision.executionId, {
      status: succeeded ? 'succeeded' : 'failed',
      verdict: decision.verdict,
    });
    if (!succeeded && table.parent && row.parent !== null) {
      const parents = this.touched.get(table.parent.table) ?? new Map<string, ExecutionVerdict>();
      if (!parents.has(row.parent)) parents.set(row.parent, decision.verdict);
      this.touched.set(table.parent.table, parents);
    }
  }
}

/** A workflow run left alone because its children could not be read: failed, audited as such. */
function unjudged(item: RowItem, decision: Decision): Applied {
  const evidence = { ...decision.evidence, source: item.table.name, rowId: item.row.id };
  return applied({ ...decision, evidence }, 'failed', []);
}

function applied(
  decision: Decision,
  outcome: DecisionOutcome,
  steps: StepRecord[],
  // Like the ledger: a lost race changed nothing, so it is reported but not audited.
  audit = decision.verdict !== 'healthy' && outcome !== 'lost_race',
): Applied {
  return { subject: subjectOf(decision), outcome, steps, audit, events: [] };
}

function subjectOf(decision: Decision): Subject {
  return {
    executionId: decision.executionId,
    attempt: 1,
    kind: decision.kind,
    owner: decision.owner,
    verdict: decision.verdict,
    action: actionLabel(decision.action),
    reason: decision.reason,
    evidence: decision.evidence,
  };
}

function problem(table: TableSourceConfig, error: unknown): SourceError {
  const key = error instanceof SourceProblem ? error.key : `tables.${table.name}`;
  return { source: table.name, key, message: describe(error) };
}

const elapsed = (started: number) => Math.round((performance.now() - started) * 1000) / 1000;
