/**
 * What a mapped table with `reconcile` or `appSlots` adds to one sweep: the columns its templates
 * and owners need, each row's owner asked what it runs, the breaker before a page's actions, stops
 * through the owner, and the app's own slots released once a row is ended.
 */
import type { Decision } from '../core/decide.js';
import type { MappedRowFacts } from '../core/mapped-row.js';
import type { StepRecord } from '../ports/audit-store.js';
import type { OwnedRow, RowOwnerSweep } from '../ports/row-owners.js';
import type { Announce, Applied, SweepContext } from '../ports/source.js';
import { SourceProblem } from '../ports/source.js';
import type { AppDatabase } from './app-database.js';
import type { AppRedis } from './app-slots.js';
import { quote } from './identifiers.js';
import { applied } from './table-applied.js';
import type { TableSourceConfig } from './table-config.js';
import { columnText, templateColumns } from './table-owner-config.js';
import type { MappedRow } from './table-sql.js';

/** What a row of such a table carries beside its facts. */
export interface OwnedRowItem {
  table: OwnedTable;
  /** The id the owner knows the row by. */
  agentId: string;
  /** The columns `{row.COLUMN}` templates read, as the row holds them. */
  columns: Readonly<Record<string, unknown>>;
}

/** The part of a row item this file reads and fills in. */
interface PageItem {
  row: MappedRow;
  facts: Pick<MappedRowFacts, 'execution' | 'observation' | 'canTerminate'>;
  owned?: OwnedRowItem | undefined;
}

export class OwnedTable {
  /** Columns read beside the mapped ones: the owner's id for the row, then the templates'. */
  private readonly columns: string[];
  private checked = false;

  private constructor(
    readonly table: TableSourceConfig,
    private readonly db: AppDatabase,
    readonly owners: RowOwnerSweep | null,
    private readonly redis: AppRedis | null,
  ) {
    const wanted = new Set(templateColumns(table.appSlots));
    if (table.reconcile && table.reconcile.agentId !== table.id)
      wanted.add(table.reconcile.agentId);
    this.columns = [...wanted];
  }

  /** Null for a table with neither `reconcile` nor `appSlots`. */
  static begin(
    table: TableSourceConfig,
    db: AppDatabase,
    context: SweepContext,
    redisFor: (url: string) => AppRedis,
  ): OwnedTable | null {
    if (!table.reconcile && !table.appSlots) return null;
    const owners =
      table.reconcile && context.rowOwners
        ? context.rowOwners.begin(table.name, context, (names) => countRunning(db, table, names))
        : null;
    const redis = table.appSlots ? redisFor(table.appSlots.redis) : null;
    return new OwnedTable(table, db, owners, redis);
  }

  /** Reads the page's extra columns and asks its rows' owners what they run. */
  async preparePage(items: readonly PageItem[]): Promise<void> {
    if (items.length === 0) return;
    const extra = await this.readColumns(items.map((item) => item.row));
    for (const item of items) {
      const columns = extra.get(item.row.id) ?? {};
      const agentColumn = this.table.reconcile?.agentId;
      const agentId =
        agentColumn && agentColumn !== this.table.id ? columns[agentColumn] : item.row.id;
      item.owned = {
        table: this,
        agentId: columnText(agentId),
        columns,
      };
    }
    if (!this.owners) return;
    const owned = items.map((item) => ({
      execution: item.facts.execution,
      agentId: item.owned?.agentId ?? item.row.id,
    }));
    const answers = await this.owners.observe(owned);
    for (const item of items) {
      const observation = answers.get(item.facts.execution.id);
      if (observation) item.facts.observation = observation;
      item.facts.canTerminate = this.owners.canTerminate(item.facts.execution.owner);
    }
  }

  /** The breaker before a page's actions: why each decision pauses (null: go ahead). */
  async guard(decisions: readonly Decision[]): Promise<(string | null)[]> {
    return this.owners ? this.owners.guard(decisions) : decisions.map(() => null);
  }

  isRetry(decision: Decision): boolean {
    return this.owners?.isRetry(decision) ?? false;
  }

  /**
   * Before a row is ended: asks its owner to stop the work when the decision says so. A stop that
   * failed (or waits out its backoff) leaves the row running; a confirmed one notes it in the reason.
   */
  async stopFirst(
    item: { facts: { execution: OwnedRow['execution'] }; owned?: OwnedRowItem | undefined },
    decision: Decision,
    announce: Announce,
  ): Promise<
    { kind: 'go'; steps: StepRecord[]; reason: string } | { kind: 'left_running'; applied: Applied }
  > {
    const go = { kind: 'go' as const, steps: [] as StepRecord[], reason: decision.reason };
    if (decision.action.kind !== 'end' || !decision.action.terminate) return go;
    if (!this.owners || !item.owned) return go;
    const row = { execution: item.facts.execution, agentId: item.owned.agentId };
    const stopped = await this.owners.stop(row, decision, announce);
    if (stopped.kind === 'left_running') {
      const steps = stopped.step ? [stopped.step] : [];
      return {
        kind: 'left_running',
        applied: applied(decision, 'left_running', steps, stopped.audit),
      };
    }
    return { kind: 'go', steps: [stopped.step], reason: `${decision.reason}; ${stopped.note}` };
  }

  /** What a dry run reports for a row it would end: the stop, the end, the slots released. */
  async dryRun(
    item: { row: MappedRow; owned?: OwnedRowItem | undefined },
    decision: Decision,
    end: StepRecord,
  ): Promise<StepRecord[]> {
    const steps: StepRecord[] = [];
    if (decision.action.kind === 'end' && decision.action.terminate && this.owners) {
      steps.push({
        step: 'terminate',
        outcome: 'skipped',
        ms: 0,
        detail: 'dry run: would ask its owner to stop it',
      });
    }
    steps.push(end);
    if (item.owned) steps.push(...(await this.release(item.row, item.owned, true)));
    return steps;
  }

  /** Releases the app's slots the row holds (what would be released, in a dry run). */
  async release(row: MappedRow, owned: OwnedRowItem, dryRun: boolean): Promise<StepRecord[]> {
    if (!this.redis || !this.table.appSlots) return [];
    return this.redis.release(
      this.table.appSlots,
      { owner: row.owner, id: row.id, agentId: owned.agentId, columns: owned.columns },
      dryRun,
    );
  }

  finish(): void {
    this.owners?.finish();
  }

  private async readColumns(
    rows: readonly MappedRow[],
  ): Promise<Map<string, Record<string, unknown>>> {
    const found = new Map<string, Record<string, unknown>>();
    if (this.columns.length === 0) return found;
    if (!this.checked) {
      const known = await this.db.columns(this.table.table);
      for (const column of this.columns) {
        if (known && !known.has(column)) {
          const key =
            column === this.table.reconcile?.agentId ? 'reconcile.agentId' : 'appSlots.release';
          throw new SourceProblem(
            `tables.${this.table.name}.${key}`,
            `column ${JSON.stringify(column)} not found in table ${this.table.table} (its columns: ${[...known.keys()].join(', ')})`,
          );
        }
      }
      this.checked = true;
    }
    const params = placeholders(this.db.dialect);
    const select = [`${quote(this.table.id)} AS vigil_id`].concat(
      this.columns.map((column, i) => `${quote(column)} AS vigil_c${i}`),
    );
    const ids = rows.map((row) => params.add(row.rawId)).join(', ');
    const result = await this.db.query<Record<string, unknown>>(
      `SELECT ${select.join(', ')} FROM ${quote(this.table.table)} WHERE ${quote(this.table.id)} IN (${ids})`,
      params.values,
    );
    for (const raw of result) {
      found.set(
        String(raw.vigil_id),
        Object.fromEntries(this.columns.map((column, i) => [column, raw[`vigil_c${i}`]])),
      );
    }
    return found;
  }
}

/** A row left as it is because its owner's breaker is open: audited as skipped, saying why. */
export function pausedByBreaker(
  item: { table: TableSourceConfig; row: MappedRow },
  decision: Decision,
  because: string,
  audit: boolean,
): Applied {
  const where = { source: item.table.name, table: item.table.table, rowId: item.row.id };
  const paused: Decision = {
    ...decision,
    reason: because,
    evidence: { ...decision.evidence, ...where, breaker: because, wouldHave: decision.reason },
    action: { kind: 'ignore', because },
  };
  const step: StepRecord = { step: 'end', outcome: 'skipped', ms: 0, detail: because };
  return applied(paused, 'ignored', [step], audit);
}

/** The table's running rows per owner, for the breaker. */
async function countRunning(
  db: AppDatabase,
  table: TableSourceConfig,
  owners: readonly string[],
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  if (!table.owner || owners.length === 0) return counts;
  const params = placeholders(db.dialect);
  const running = table.status.running.map((value) => params.add(value)).join(', ');
  const named = owners.map((owner) => params.add(owner)).join(', ');
  const owner = quote(table.owner);
  const rows = await db.query<{ vigil_owner: unknown; vigil_count: unknown }>(
    `SELECT ${owner} AS vigil_owner, COUNT(*) AS vigil_count FROM ${quote(table.table)}
      WHERE ${quote(table.status.column)} IN (${running}) AND ${owner} IN (${named})
      GROUP BY ${owner}`,
    params.values,
  );
  for (const row of rows) counts.set(String(row.vigil_owner), Number(row.vigil_count));
  return counts;
}

function placeholders(dialect: AppDatabase['dialect']) {
  const values: unknown[] = [];
  return {
    values,
    add(value: unknown): string {
      values.push(value);
      return dialect === 'postgres' ? `$${values.length}` : '?';
    },
  };
}
