import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Decision } from '../core/decide.js';
import { actionLabel, decide, decideParentAfterChild } from '../core/decide.js';
import { judge } from '../core/judge.js';
import { deadlineOf } from '../core/limits.js';
import type { Execution, ExecutionVerdict, Policy, Status, Tally } from '../core/types.js';
import { isStuck } from '../core/types.js';
import { deriveFromChildren } from '../core/workflow.js';
import { limitsFor, policyFor } from '../core/policy.js';
import type { DecisionOutcome, RemediationRecord, SourceError, StepRecord } from '../ports.js';
import type { AppDatabase, AppDatabaseOptions } from './app-database.js';
import { isConnectionError, openAppDatabase } from './app-database.js';
import type { Source, SourceSweepContext, SourceSweepResult } from './source.js';
import { SourceProblem } from './source.js';
import type { StatusValue, TableSourceConfig } from './table-config.js';
import type { MappedRow, MappedTable } from './table-sql.js';
import { mappedTable } from './table-sql.js';

/**
 * Vigil cannot queue another app's row again, so a stuck row is failed, never retried: whatever
 * retry policy its kind has in vigil.yaml is for executions in Vigil's own ledger.
 */
const NO_RETRY: Policy['retry'] = { maxAttempts: 1, backoffMs: 0, maxBackoffMs: 0 };

/**
 * Other apps' tables, watched by configuration alone: each sweep reads their running rows, judges
 * them with the same core as the ledger, and ends stuck ones with a compare-and-set as configured.
 * Child tables are swept before the tables their parent column points to, so a workflow run is
 * judged after its children. One table's failure (unreachable, missing, a wrong column) is
 * reported with its key and the other tables are still swept.
 */
export class TableSources implements Source {
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

  async sweep(context: SourceSweepContext): Promise<SourceSweepResult> {
    const pass = new TablesPass(context, this.lastIgnored, (table) => this.database(table));
    for (const table of this.tables) await pass.sweepTable(table, this.childTablesOf(table));
    return pass.result();
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

  private childTablesOf(table: TableSourceConfig): TableSourceConfig[] {
    return this.tables.filter((other) => other.parent?.table === table.name);
  }
}

/** Child tables before their parents (deepest first); a cycle is broken where it is found. */
function childrenFirst(tables: readonly TableSourceConfig[]): TableSourceConfig[] {
  const depth = new Map<string, number>();
  const depthOf = (table: TableSourceConfig, seen: Set<string>): number => {
    const known = depth.get(table.name);
    if (known !== undefined) return known;
    if (seen.has(table.name)) return 0;
    seen.add(table.name);
    const children = tables.filter((other) => other.parent?.table === table.name);
    const value = Math.max(0, ...children.map((child) => depthOf(child, seen) + 1));
    depth.set(table.name, value);
    return value;
  };
  return [...tables].sort((a, b) => depthOf(a, new Set()) - depthOf(b, new Set()));
}

/** The state of one sweep over the mapped tables. */
class TablesPass {
  private examined = 0;
  private readonly decisions: SourceSweepResult['decisions'] = [];
  private readonly counts: Tally = { remediated: 0, skipped: 0, failed: 0 };
  private readonly errors: SourceError[] = [];
  private records: RemediationRecord[] = [];
  /** Rows this sweep ended (or, dry, would end): parents see their children's fate through it. */
  private readonly ended = new Map<string, { status: Status; verdict: ExecutionVerdict }>();
  /** Parent rows whose child this sweep ended: table name → parent id → the child's verdict. */
  private readonly touched = new Map<string, Map<string, ExecutionVerdict>>();
  /** Statements per table for this sweep (columns are checked again each sweep). */
  private readonly mapped = new Map<string, MappedTable>();

  constructor(
    private readonly context: SourceSweepContext,
    private readonly lastIgnored: Map<string, string>,
    private readonly database: (table: TableSourceConfig) => AppDatabase,
  ) {}

  async sweepTable(table: TableSourceConfig, childTables: TableSourceConfig[]): Promise<void> {
    try {
      const mapped = await this.map(table);
      const db = this.database(table);
      const { batchSize } = this.context.config.sweep;
      let after: unknown;
      for (;;) {
        const statement = mapped.selectRunning(after, batchSize);
        const rows = await this.guard(table, () =>
          db.query<Record<string, unknown>>(statement.text, statement.params),
        );
        for (const raw of rows) {
          const row = mapped.row(raw);
          after = row.rawId;
          await this.judgeRow(table, mapped, db, row, childTables);
        }
        if (rows.length < batchSize) break;
      }
    } catch (error) {
      this.problem(table, error);
    } finally {
      await this.flushAudit();
    }
  }

  result(): SourceSweepResult {
    return {
      examined: this.examined,
      decisions: this.decisions,
      counts: this.counts,
      errors: this.errors,
    };
  }

  /** Checks the table and its columns (again each sweep: an app's schema can change under us). */
  private async map(table: TableSourceConfig): Promise<MappedTable> {
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
  private async guard<T>(table: TableSourceConfig, fn: () => Promise<T>): Promise<T> {
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

  private async judgeRow(
    table: TableSourceConfig,
    mapped: MappedTable,
    db: AppDatabase,
    row: MappedRow,
    childTables: TableSourceConfig[],
  ): Promise<void> {
    this.examined++;
    const execution = toExecution(table, row, this.context);
    if (row.startedAt === null || row.unreadable.length > 0) {
      const column = row.unreadable[0] ?? table.startedAt;
      const because = `${column} is ${row.unreadable.length > 0 ? 'not a time' : 'empty'}: the row cannot be judged`;
      return this.apply(table, mapped, db, row, {
        ...decisionBase(execution),
        verdict: 'unknown',
        reason: because,
        evidence: { source: table.name, rowId: row.id, column },
        action: { kind: 'ignore', because },
      });
    }
    const policy = { ...policyFor(this.context.config, execution), retry: NO_RETRY };
    const { now } = this.context;
    const touchedBy = this.touched.get(table.name)?.get(row.id);
    const alone = judge(execution, { kind: 'untracked' }, policy, { now });
    let decision: Decision;
    if (childTables.length === 0 || (!isStuck(alone.verdict) && touchedBy === undefined)) {
      decision = decide({
        execution,
        observation: { kind: 'untracked' },
        policy,
        now,
        canTerminate: false,
      });
    } else {
      let children: Execution[];
      try {
        children = await this.childrenOf(table, row, childTables);
      } catch (error) {
        // Without its children a workflow run's state cannot be derived: leave it, say why.
        const because = `its children could not be read: ${describe(error)}`;
        const unjudged: Decision = {
          ...decisionBase(execution),
          verdict: alone.verdict,
          reason: because,
          evidence: { ...alone.evidence },
          action: { kind: 'ignore', because },
        };
        this.count(
          { ...unjudged, evidence: { ...unjudged.evidence, source: table.name, rowId: row.id } },
          'failed',
          [],
        );
        return;
      }
      const state = deriveFromChildren(children);
      if (state.kind === 'running') {
        // A workflow run with a running child stays open, even past its own limits: the child is
        // judged on its own limits, and the run is closed from the children once they have ended.
        const because = `${state.running} of its children still running; ${alone.reason}`;
        decision = {
          ...decisionBase(execution),
          verdict: alone.verdict,
          reason: because,
          evidence: { ...alone.evidence, running: state.running },
          action: { kind: 'ignore', because },
        };
      } else if (isStuck(alone.verdict) || touchedBy === undefined) {
        decision = decide({
          execution,
          observation: { kind: 'untracked' },
          policy,
          now,
          canTerminate: false,
          children,
        });
      } else {
        decision =
          decideParentAfterChild(execution, children, { verdict: touchedBy }) ??
          decide({
            execution,
            observation: { kind: 'untracked' },
            policy,
            now,
            canTerminate: false,
          });
      }
    }
    await this.apply(table, mapped, db, row, decision);
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

  private async apply(
    table: TableSourceConfig,
    mapped: MappedTable,
    db: AppDatabase,
    row: MappedRow,
    decision: Decision,
  ): Promise<void> {
    const { action } = decision;
    const { context } = this;
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
      this.count(decision, 'ignored', [], audit);
      return;
    }
    this.lastIgnored.delete(decision.executionId);
    const succeeded = action.status === 'succeeded';
    const status = succeeded ? table.status.succeeded[0] : table.onEnd.status;
    if (context.dryRun) {
      this.project(table, row, decision, succeeded);
      this.count(decision, 'dry_run', [
        {
          step: 'end',
          outcome: 'skipped',
          ms: 0,
          detail: `dry run: would set ${table.status.column} = ${JSON.stringify(status)}`,
        },
      ]);
      return;
    }
    context.events.emit({
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
      const changed = await this.guard(table, () => db.execute(statement.text, statement.params));
      const ms = elapsed(started);
      if (changed === 0) {
        // The app finished (or touched) the row between our read and our write: it wins.
        this.count(decision, 'lost_race', [{ step: 'end', outcome: 'lost_race', ms }]);
        return;
      }
      this.project(table, row, decision, succeeded);
      this.count(decision, 'remediated', [
        {
          step: 'end',
          outcome: 'ok',
          ms,
          detail: `${table.status.column} = ${JSON.stringify(status)}: ${decision.reason}`,
        },
      ]);
      context.events.emit({
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
    } catch (error) {
      this.count(decision, 'failed', [
        { step: 'end', outcome: 'failed', ms: elapsed(started), detail: describe(error) },
      ]);
    }
  }

  /** Notes what a row is (or, dry, would be) once ended, and which parent now needs a look. */
  private project(
    table: TableSourceConfig,
    row: MappedRow,
    decision: Decision,
    succeeded: boolean,
  ): void {
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

  private count(
    decision: Decision,
    outcome: DecisionOutcome,
    steps: StepRecord[],
    // Like the ledger: a lost race changed nothing, so it is reported but not audited.
    audit = decision.verdict !== 'healthy' && outcome !== 'lost_race',
  ): void {
    const { verdict } = decision;
    this.counts[verdict] = (this.counts[verdict] ?? 0) + 1;
    if (outcome === 'remediated' || outcome === 'dry_run') this.counts.remediated++;
    else if (outcome === 'failed') this.counts.failed++;
    else this.counts.skipped++;
    if (verdict === 'healthy') return;
    this.decisions.push({
      executionId: decision.executionId,
      attempt: 1,
      verdict,
      action: actionLabel(decision.action),
      reason: decision.reason,
      outcome,
    });
    if (audit) {
      this.records.push({
        id: auditId(this.context.now),
        sweepId: this.context.sweepId,
        at: this.context.now,
        executionId: decision.executionId,
        attempt: 1,
        kind: decision.kind,
        owner: decision.owner,
        verdict,
        action: actionLabel(decision.action),
        reason: decision.reason,
        evidence: decision.evidence,
        steps,
        outcome,
        dryRun: this.context.dryRun,
      });
    }
  }

  /**
   * The audit lives in Vigil's store, written after each table: a different database from the
   * app's, so it cannot share the end's transaction. A crash in between loses the audit of that
   * table's ends, never an end itself.
   */
  private async flushAudit(): Promise<void> {
    const records = this.records;
    this.records = [];
    if (records.length > 0) await this.context.store.recordRemediations(records);
  }

  private problem(table: TableSourceConfig, error: unknown): void {
    const key = error instanceof SourceProblem ? error.key : `tables.${table.name}`;
    this.errors.push({ source: table.name, key, message: describe(error) });
    this.counts.failed++;
  }
}

function toExecution(
  table: TableSourceConfig,
  row: MappedRow,
  context: SourceSweepContext,
): Execution {
  const execution: Execution = {
    ...blankExecution(`${table.name}:${row.id}`, table.kind),
    owner: row.owner,
    parentId: table.parent && row.parent !== null ? `${table.parent.table}:${row.parent}` : null,
    status: 'running',
    startedAt: row.startedAt,
    heartbeatAt: row.heartbeatAt,
    createdAt: row.startedAt ?? context.now,
    // Limits resolve like the ledger's: the table's own → its kind's → its owner's → defaults.
    limits: limitsFor(context.config, { kind: table.kind, owner: row.owner, limits: table.limits }),
  };
  return { ...execution, deadlineAt: deadlineOf(execution) };
}

function blankExecution(id: string, kind: string): Execution {
  return {
    id,
    kind,
    owner: null,
    parentId: null,
    status: 'running',
    attempt: 1,
    queuedAt: null,
    startedAt: null,
    heartbeatAt: null,
    progressAt: null,
    endedAt: null,
    deadlineAt: null,
    limits: { run: null, heartbeat: null, progress: null, queue: null },
    progress: null,
    reason: null,
    verdict: null,
    endedBy: null,
    result: null,
    error: null,
    lateResult: null,
    metadata: {},
    createdAt: 0,
  };
}

function decisionBase(execution: Execution) {
  return {
    executionId: execution.id,
    attempt: 1,
    expectedStatus: 'running' as const,
    owner: execution.owner,
    kind: execution.kind,
    parentId: execution.parentId,
  };
}

/**
 * A child row's status in Vigil's terms. A value the configuration does not list counts as
 * pending: it can never make its workflow run succeed, and cannot fail it by itself either.
 */
function statusOf(table: TableSourceConfig, value: StatusValue): Status {
  const is = (values: StatusValue[]) => values.some((v) => String(v) === String(value));
  if (is(table.status.running)) return 'running';
  if (is(table.status.failed)) return 'failed';
  if (is(table.status.succeeded)) return 'succeeded';
  if (is(table.status.cancelled)) return 'cancelled';
  return 'queued';
}

let auditSequence = 0;
/** Audit ids sort by time, then by order within this process (the ledger's format). */
function auditId(now: number): string {
  auditSequence = (auditSequence + 1) % 36 ** 6;
  return `${now.toString(36).padStart(9, '0')}-${auditSequence.toString(36).padStart(6, '0')}-${randomUUID().slice(0, 8)}`;
}

const elapsed = (started: number) => Math.round((performance.now() - started) * 1000) / 1000;

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && !error.message.includes(code)
    ? `${error.message} (${code})`
    : error.message;
}
