import { performance } from 'node:perf_hooks';
import type { Decision } from '../core/decide.js';
import type { MappedRowDecision } from '../core/mapped-row.js';
import { decideMappedRow } from '../core/mapped-row.js';
import type { SourceError, StepRecord } from '../ports/audit-store.js';
import type {
  Announce,
  Applied,
  Judged,
  Source,
  SweepContext,
  SourcePage,
} from '../ports/source.js';
import { SourceProblem } from '../ports/source.js';
import type { AppDatabase, AppDatabaseOptions } from './app-database.js';
import { openAppDatabase } from './app-database.js';
import { AppRedisPool } from './app-slots.js';
import { applied, elapsed, subjectOf } from './table-applied.js';
import { OwnedTable, pausedByBreaker } from './table-owned.js';
import type { TableSourceConfig } from './table-config.js';
import { childrenFirst, describe } from './table-rows.js';
import { endEvents, planEnd, withWhere } from './table-end.js';
import type { RowItem } from './tables-pass.js';
import { TablesPass } from './tables-pass.js';

export type { RowItem } from './tables-pass.js';

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
  /** The apps' own Redis servers (`appSlots`). */
  private readonly redis = new AppRedisPool();
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
    // A page is one table's: its owners' breakers see the whole page before anything is done.
    const owned = judged[0]?.item.owned?.table;
    const pauses = owned ? await owned.guard(judged.map((j) => j.decision.decision)) : [];
    for (const [i, { item, decision }] of judged.entries()) {
      const paused = pauses[i];
      const one = decision.unjudged
        ? unjudged(item, decision.decision)
        : paused
          ? this.pause(item, decision.decision, paused, context.dryRun)
          : await this.applyRow(item, decision.decision, context, announce);
      if (item.table.labels.length > 0) one.subject.labels = item.row.labels;
      applied.push(one);
    }
    return applied;
  }

  async close(): Promise<void> {
    const connections = [...this.connections.values()];
    this.connections.clear();
    await Promise.all(connections.map((db) => db.close().catch(() => undefined)));
    this.redis.close();
  }

  /** Leaves the row as it is because its owner's breaker is open; audited once per row. */
  private pause(item: RowItem, decision: Decision, because: string, dryRun: boolean): Applied {
    const audit = this.lastIgnored.get(decision.executionId) !== 'paused';
    if (!dryRun) this.lastIgnored.set(decision.executionId, 'paused');
    return pausedByBreaker(item, decision, because, audit);
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
    let owned: OwnedTable | null = null;
    try {
      const mapped = await pass.map(table);
      const db = this.database(table);
      owned = OwnedTable.begin(table, db, context, (url) => this.redis.get(url));
      let after: unknown;
      let lastId: string | undefined;
      for (;;) {
        const statement = mapped.selectRunning(after, batchSize);
        const rows = await pass.guard(table, () =>
          db.query<Record<string, unknown>>(statement.text, statement.params, {
            readOnly: statement.readOnly,
          }),
        );
        let items: RowItem[] = [];
        for (const raw of rows) {
          const row = mapped.row(raw);
          // A join that matches several rows repeats a row: the first one read is judged.
          if (row.id === lastId) continue;
          lastId = row.id;
          after = row.rawId;
          items.push(await pass.item(table, mapped, db, row, childTables, context));
          if (rowByRow) {
            await pass.guard(table, async () => owned?.preparePage(items));
            yield { kind: 'page', items };
            items = [];
          }
        }
        if (items.length > 0) {
          await pass.guard(table, async () => owned?.preparePage(items));
          yield { kind: 'page', items };
        }
        if (rows.length < batchSize) break;
      }
    } catch (error) {
      yield { kind: 'problem', error: problem(table, error) };
    } finally {
      owned?.finish();
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
    decision = { ...decision, evidence: withWhere(decision.evidence, where, item.limitFrom) };
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
    if (context.dryRun) {
      const plan = planEnd(table, row, item.facts.execution, decision, context.clock.now());
      pass.project(table, row, decision, plan.becomes);
      const end: StepRecord = {
        step: 'end',
        outcome: 'skipped',
        ms: 0,
        detail: `dry run: would ${plan.summary}`,
      };
      const steps = item.owned ? await item.owned.table.dryRun(item, decision, end) : [end];
      return applied(decision, 'dry_run', steps);
    }
    // A retry of a failed stop is not news: the row was announced when first found.
    if (!item.owned?.table.isRetry(decision))
      announce({
        type: 'execution:stuck',
        at: context.now,
        executionId: decision.executionId,
        attempt: decision.attempt,
        verdict: decision.verdict,
        reason: decision.reason,
        ...where,
      });
    // A reconciled row's owner stops the work first; the row is ended once it confirms.
    const first = item.owned
      ? await item.owned.table.stopFirst(item, decision, announce)
      : { kind: 'go' as const, steps: [], reason: decision.reason };
    if (first.kind === 'left_running') return first.applied;
    const { steps } = first;
    // The stop's outcome is part of the reason the row is ended with.
    decision = { ...decision, reason: first.reason };
    const ending = planEnd(table, row, item.facts.execution, decision, context.clock.now());
    const started = performance.now();
    try {
      const statement = mapped.endRow({
        row,
        write: ending.write,
        status: ending.status,
        now: context.clock.now(),
        reason: ending.reason,
        requeue: ending.requeue,
      });
      const changed = await pass.guard(table, () => db.execute(statement.text, statement.params));
      const ms = elapsed(started);
      if (changed === 0) {
        // The app finished (or touched) the row between our read and our write: it wins.
        steps.push({ step: 'end', outcome: 'lost_race', ms });
        return applied(decision, 'lost_race', steps);
      }
      pass.project(table, row, decision, ending.becomes);
      const detail = `${ending.summary}: ${decision.reason}`;
      steps.push({ step: 'end', outcome: 'ok', ms, detail });
      if (item.owned) steps.push(...(await item.owned.table.release(row, item.owned, false)));
      const done = applied(decision, 'remediated', steps);
      done.events.push(...endEvents(ending, decision, where, context.now));
      return done;
    } catch (error) {
      steps.push({ step: 'end', outcome: 'failed', ms: elapsed(started), detail: describe(error) });
      return applied(decision, 'failed', steps);
    }
  }
}

function unjudged(item: RowItem, decision: Decision): Applied {
  const evidence = { ...decision.evidence, source: item.table.name, rowId: item.row.id };
  return applied({ ...decision, evidence }, 'failed', []);
}

function problem(table: TableSourceConfig, error: unknown): SourceError {
  const key = error instanceof SourceProblem ? error.key : `tables.${table.name}`;
  return { source: table.name, key, message: describe(error) };
}
