import type { Clock, Timers } from '../ports/clock.js';
import { realTimers } from '../shared/timers.js';
import type { RetentionSettings } from '../ports/engine-config.js';
import type { LeaseStore } from '../ports/lease-store.js';
import type { RetentionStore, RetentionTable } from '../ports/retention-store.js';
import { RETENTION_TABLES } from '../ports/retention-store.js';

const PRUNE_LEASE = 'retention';
/**
 * After each batch a pass waits this many times as long as the batch took (at least
 * `MIN_PAUSE_MS`): pruning holds the store at most a fifth of the time, so heartbeats, ends and
 * sweeps are never starved behind it. Measured (bench/prune.ts): back to back, batches delayed
 * heartbeats on SQLite into false positives and held detection back by seconds on PostgreSQL.
 */
const PAUSE_FACTOR = 4;
const MIN_PAUSE_MS = 5;

/** What one pass did (or, dry, would do): rows per table, and the cut-off each was pruned at. */
export interface PruneReport {
  dryRun: boolean;
  /** Null when another replica holds the pass. */
  tables: { table: RetentionTable; before: number; rows: number }[] | null;
}

export interface PrunerOptions {
  store: RetentionStore & LeaseStore;
  settings: RetentionSettings;
  clock: Clock;
  /** This process's name in the lease; unique per replica. */
  holder: string;
  /** Told each batch deleted (the metric of rows pruned). */
  onPruned?: ((table: RetentionTable, rows: number) => void) | undefined;
  /** For the pause between batches; default: Node's own. */
  timers?: Timers | undefined;
}

/**
 * Deletes what has outlived its retention, a batch at a time, oldest first. Between batches it
 * pauses four times as long as the batch took, so heartbeats and sweeps run beside a large prune
 * instead of behind it; one replica prunes at a time (a lease), the others skip the pass.
 */
export class Pruner {
  /** Rows deleted since start, per table (`vigil_pruned_rows_total`). */
  readonly totals: Record<RetentionTable, number> = Object.fromEntries(
    RETENTION_TABLES.map((table) => [table, 0]),
  ) as Record<RetentionTable, number>;
  /** The last pass that ran here (not dry), and when it started. */
  lastPass: { at: number; report: PruneReport } | null = null;
  private stopped = false;

  constructor(private readonly options: PrunerOptions) {}

  get settings(): RetentionSettings {
    return this.options.settings;
  }

  /** Stops a pass under way after its current batch. */
  stop(): void {
    this.stopped = true;
  }

  async pass(dryRun = false): Promise<PruneReport> {
    const { store, settings, clock, holder } = this.options;
    const now = clock.now();
    const due = RETENTION_TABLES.flatMap((table) => {
      const keep = settings.keepMs[table];
      return keep === null ? [] : [{ table, before: now - keep }];
    });
    if (dryRun) {
      const tables = [];
      for (const { table, before } of due) {
        tables.push({ table, before, rows: await store.countPrunable(table, before) });
      }
      return { dryRun, tables };
    }
    const leaseMs = Math.max(settings.intervalMs, 60_000);
    if (!(await store.acquireLease(PRUNE_LEASE, holder, now, leaseMs))) {
      return { dryRun, tables: null };
    }
    try {
      const tables = [];
      for (const { table, before } of due) {
        tables.push({ table, before, rows: await this.pruneTable(table, before) });
      }
      const report = { dryRun, tables };
      this.lastPass = { at: now, report };
      return report;
    } finally {
      await store.releaseLease(PRUNE_LEASE, holder);
    }
  }

  private async pruneTable(table: RetentionTable, before: number): Promise<number> {
    const { store, settings, onPruned } = this.options;
    let rows = 0;
    while (!this.stopped) {
      const started = performance.now();
      const deleted = await store.prune(table, before, settings.batchSize);
      rows += deleted;
      this.totals[table] += deleted;
      if (deleted > 0) onPruned?.(table, deleted);
      if (deleted < settings.batchSize) break;
      await this.pause(Math.max(MIN_PAUSE_MS, (performance.now() - started) * PAUSE_FACTOR));
    }
    return rows;
  }

  private pause(ms: number): Promise<void> {
    const timers = this.options.timers ?? realTimers;
    return new Promise((resolve) => timers.setTimeout(resolve, ms));
  }
}
