import type { Execution, OpenStatus } from '../core/types.js';
import type { RemediationFilter, RemediationRecord, SweepReport } from '../ports/audit-store.js';
import type { ExecutionStore } from '../ports/execution-store.js';
import type {
  Beat,
  ClaimScope,
  HeartbeatResult,
  NewExecution,
  ReportOutcome,
} from '../ports/ledger-store.js';
import type { ListFilter, Stats, StatsQuery, Summary, SummaryQuery } from '../ports/read-store.js';
import type { AttemptEnd, Fence } from '../ports/records.js';
import type {
  SlotHold,
  SlotHoldRecord,
  SlotReleaseOutcome,
  SlotStore,
} from '../ports/slot-store.js';
import type { OverdueCursor } from '../ports/sweep-store.js';
import type { RetentionTable } from '../ports/retention-store.js';
import type { SqlContext } from './ops/context.js';
import { claimQueued } from './ops/claim.js';
import { countOpen } from './ops/counts.js';
import { create, createMany } from './ops/create.js';
import { deferDeadline, nextDeadline } from './ops/deadlines.js';
import type { EndItem } from './ops/end-attempt.js';
import { endAttempt, endAttempts } from './ops/end-attempt.js';
import { databaseTime, ping } from './ops/health.js';
import { heartbeat } from './ops/heartbeat.js';
import { acquireLease, listLeases, releaseLease } from './ops/leases.js';
import { get, list, listChildren, withChildren } from './ops/list.js';
import { listOverdue, overdueQuery } from './ops/list-overdue.js';
import { migrate, pendingMigrations } from './ops/migrate.js';
import { countOpenByOwner, listRunningOwned, ownersOf } from './ops/owners.js';
import { listRemediations, recordRemediations } from './ops/remediations.js';
import { report } from './ops/report.js';
import {
  dropSlotHold,
  dueSlotReleases,
  markSlotsDue,
  recordSlotHold,
  slotHolds,
} from './ops/slot-holds.js';
import { countPrunable, prune } from './ops/prune.js';
import { recordSlotReleases } from './ops/slot-releases.js';
import { start } from './ops/start.js';
import { stats, statsQuery } from './ops/stats.js';
import { summary } from './ops/summary.js';
import { latestSweep, saveSweep } from './ops/sweeps.js';
import { recordTerminationFailure } from './ops/termination-failures.js';
import { SqlOutbox } from './outbox.js';
import { SqlProcessStore } from './process-store.js';
import { SqlSilenceStore } from './silence-store.js';
import { SqlScheduleStore } from './schedule-store.js';
import { SqlSlotStore } from './sql-slot-store.js';

export type { Dialect } from './ops/context.js';

/**
 * The store on a SQL database through kysely, SQLite or PostgreSQL: a facade whose every method is
 * one operation of ops/, each file holding that operation's dialect variants side by side.
 */
export class SqlStore implements ExecutionStore {
  constructor(
    private readonly ctx: SqlContext,
    readonly description: string,
    /** Throws `store_unavailable` when the store can no longer keep its writes (see ports). */
    private readonly intact: () => void = () => undefined,
  ) {}

  assertIntact(): void {
    this.intact();
  }

  /** Slots kept in this database, for deployments without Redis. */
  localSlots(): SlotStore {
    return new SqlSlotStore(this.ctx.db, this.description);
  }

  migrate(): Promise<string[]> {
    return migrate(this.ctx);
  }

  pendingMigrations(): Promise<string[]> {
    return pendingMigrations(this.ctx);
  }

  async close(): Promise<void> {
    await this.ctx.db.destroy();
  }

  create(input: NewExecution, now: number): Promise<Execution> {
    return create(this.ctx, input, now);
  }

  createMany(inputs: NewExecution[], now: number): Promise<(Execution | null)[]> {
    return createMany(this.ctx, inputs, now);
  }

  get(id: string): Promise<Execution | undefined> {
    return get(this.ctx, id);
  }

  list(filter: ListFilter): Promise<{ items: Execution[]; nextCursor: string | null }> {
    return list(this.ctx, filter);
  }

  start(id: string, attempt: number, now: number): Promise<Execution | undefined> {
    return start(this.ctx, id, attempt, now);
  }

  heartbeat(beats: Beat[], now: number): Promise<HeartbeatResult> {
    return heartbeat(this.ctx, beats, now);
  }

  claim(scope: ClaimScope, now: number): Promise<Execution | undefined> {
    return claimQueued(this.ctx, scope, now);
  }

  report(fence: Omit<Fence, 'status'>, end: AttemptEnd, now: number): Promise<ReportOutcome> {
    return report(this.ctx, fence, end, now);
  }

  listOverdue(now: number, limit: number, after?: OverdueCursor): Promise<Execution[]> {
    return listOverdue(this.ctx, now, limit, after);
  }

  /** The sweep's read as a query, so its plan can be checked. */
  overdueQuery(now: number, limit: number, after?: OverdueCursor) {
    return overdueQuery(this.ctx, now, limit, after);
  }

  listRunningOwned(
    owners: readonly string[] | null,
    limit: number,
    after?: { createdAt: number; id: string },
  ): Promise<Execution[]> {
    return listRunningOwned(this.ctx, owners, limit, after);
  }

  listChildren(parentId: string): Promise<Execution[]> {
    return listChildren(this.ctx, parentId);
  }

  withChildren(ids: string[]): Promise<Set<string>> {
    return withChildren(this.ctx, ids);
  }

  endAttempt(
    fence: Fence,
    end: AttemptEnd,
    now: number,
    audit?: RemediationRecord,
  ): Promise<boolean> {
    return endAttempt(this.ctx, fence, end, now, audit);
  }

  endAttempts(items: EndItem[], now: number): Promise<boolean[]> {
    return endAttempts(this.ctx, items, now);
  }

  deferDeadline(fence: Fence, until: number): Promise<void> {
    return deferDeadline(this.ctx, fence, until);
  }

  nextDeadline(): Promise<number | null> {
    return nextDeadline(this.ctx);
  }

  stats(query: StatsQuery): Promise<Stats> {
    return stats(this.ctx, query);
  }

  /** The statement `stats` runs, so its plan can be checked. */
  statsQuery(query: StatsQuery) {
    return statsQuery(this.ctx.dialect, query).compile(this.ctx.db);
  }

  countOpen(): Promise<{ status: OpenStatus; kind: string; count: number }[]> {
    return countOpen(this.ctx);
  }

  countOpenByOwner(owners: readonly string[]): Promise<Map<string, number>> {
    return countOpenByOwner(this.ctx, owners);
  }

  ownersOf(ids: string[]): Promise<Map<string, string | null>> {
    return ownersOf(this.ctx, ids);
  }

  ping(): Promise<void> {
    return ping(this.ctx);
  }

  databaseTime(): Promise<number | null> {
    return databaseTime(this.ctx);
  }

  recordTerminationFailure(fence: Fence): Promise<number> {
    return recordTerminationFailure(this.ctx, fence);
  }

  recordRemediations(records: RemediationRecord[]): Promise<void> {
    return recordRemediations(this.ctx, records);
  }

  listRemediations(filter: RemediationFilter): Promise<RemediationRecord[]> {
    return listRemediations(this.ctx, filter);
  }

  saveSweep(report: SweepReport): Promise<void> {
    return saveSweep(this.ctx, report);
  }

  latestSweep(): Promise<SweepReport | undefined> {
    return latestSweep(this.ctx);
  }

  prune(table: RetentionTable, before: number, limit: number): Promise<number> {
    return prune(this.ctx, table, before, limit);
  }

  countPrunable(table: RetentionTable, before: number): Promise<number> {
    return countPrunable(this.ctx, table, before);
  }

  summary(query: SummaryQuery): Promise<Summary> {
    return summary(this.ctx, query);
  }

  acquireLease(name: string, holder: string, now: number, ttlMs: number): Promise<boolean> {
    return acquireLease(this.ctx, name, holder, now, ttlMs);
  }

  releaseLease(name: string, holder: string): Promise<void> {
    return releaseLease(this.ctx, name, holder);
  }

  listLeases(prefix: string, now: number): Promise<{ name: string; holder: string }[]> {
    return listLeases(this.ctx, prefix, now);
  }

  recordSlotHold(hold: SlotHold, now: number): Promise<boolean> {
    return recordSlotHold(this.ctx, hold, now);
  }

  dropSlotHold(executionId: string, attempt: number, slot: string): Promise<void> {
    return dropSlotHold(this.ctx, executionId, attempt, slot);
  }

  slotHolds(executionId: string): Promise<SlotHoldRecord[]> {
    return slotHolds(this.ctx, executionId);
  }

  markSlotsDue(executionId: string, attempt: number, now: number, slot?: string): Promise<void> {
    return markSlotsDue(this.ctx, executionId, attempt, now, slot);
  }

  dueSlotReleases(query: {
    of?: readonly { id: string; attempt: number }[] | undefined;
    dueBefore?: number | undefined;
    limit: number;
  }): Promise<SlotHoldRecord[]> {
    return dueSlotReleases(this.ctx, query);
  }

  recordSlotReleases(
    releases: readonly { hold: SlotHoldRecord; outcome: SlotReleaseOutcome }[],
    now: number,
  ): Promise<boolean[]> {
    return recordSlotReleases(this.ctx, releases, now);
  }

  processes(): SqlProcessStore {
    return new SqlProcessStore(this.ctx.db);
  }

  outbox(): SqlOutbox {
    return new SqlOutbox(this.ctx.db, this.ctx.dialect);
  }

  silences(): SqlSilenceStore {
    return new SqlSilenceStore(this.ctx.db);
  }

  schedules(): SqlScheduleStore {
    return new SqlScheduleStore(this.ctx);
  }
}
