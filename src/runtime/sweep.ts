import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Execution } from '../core/types.js';
import type { SweepReport } from '../ports/audit-store.js';
import type { OwnerClient } from '../ports/owner-client.js';
import { noOwners } from '../ports/owner-client.js';
import type { Source, SweepContext } from '../ports/source.js';
import type { EventBus } from './events.js';
import type { LedgerItem, LedgerOptions } from './ledger-pass.js';
import { LedgerPass } from './ledger-pass.js';
import { OwnerWatch } from './owner-watch.js';
import { Pipeline, yieldToEventLoop } from './pipeline.js';
import type { LedgerPhase } from './reconcile.js';
import { deriveTouchedParents, judgeParents, reconcile } from './reconcile.js';
import { SlotReleases } from './slot-releases.js';
import type { Slots } from './slots.js';
import { StopRetries } from './stop-retries.js';
import { TableOwners } from './table-owners.js';
import type { GateReader } from './gate.js';
import { gateReader } from './gate.js';
import { holdOf } from '../core/silence.js';

export type SweepResult =
  { kind: 'completed'; report: SweepReport } | { kind: 'skipped'; reason: 'in progress' };

export interface SweeperOptions extends LedgerOptions {
  events: EventBus;
  owners?: OwnerClient | undefined;
  /** Releases the slots of ended attempts; without it slots are left to whoever releases them. */
  slots?: Slots | undefined;
  /** This process's name in leases and reports; unique per replica. */
  holder?: string | undefined;
  /** Sources swept after the ledger (mapped tables); each isolates its own failures. */
  sources?: readonly Source[] | undefined;
  /** Told about each problem a source had (a log line); also listed in the sweep report. */
  warn?: ((message: string) => void) | undefined;
  /** The pause and the maintenance windows. Default: those kept in the store. */
  gate?: GateReader | undefined;
}

const SWEEP_LEASE = 'sweep';

/**
 * One sweep: load → decide → apply → record → emit. Single-flight within the process and, through
 * a lease row in the store, across processes and replicas.
 */
export class Sweeper {
  private readonly holder: string;
  private readonly owners: OwnerClient;
  /** Owners' reachability and breakers, between sweeps (in memory). */
  readonly ownerWatch: OwnerWatch;
  /** Executions left running after a failed stop, and when to ask again. */
  private readonly stopRetries = new StopRetries();
  /** The owners of mapped tables' rows (tables with `reconcile`): breakers, stops, reconciling. */
  private readonly tableOwners: TableOwners;
  /** When this process last reconciled every running execution with its owner's registry. */
  private reconciledAt: number | null = null;
  private running = false;
  /** When this sweep last acquired or renewed the sweep lease (this process's clock). */
  private leaseAt = 0;
  private readonly gate: GateReader;
  /** Decisions held back and audited already, so each hold is audited once (see Pipeline). */
  private readonly heldAudited = new Map<string, string>();

  constructor(private readonly options: SweeperOptions) {
    this.holder = options.holder ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.owners = options.owners ?? noOwners;
    this.gate = options.gate ?? gateReader(options.store, options.config.silences);
    this.ownerWatch = new OwnerWatch(
      options.config.ownerAgents,
      this.owners,
      options.store,
      options.events,
    );
    this.tableOwners = new TableOwners({
      agents: options.config.ownerAgents,
      owners: this.owners,
      events: options.events,
      sweep: options.config.sweep,
    });
  }

  async sweep(options: { dryRun?: boolean } = {}): Promise<SweepResult> {
    if (this.running) return { kind: 'skipped', reason: 'in progress' };
    this.running = true;
    try {
      const { store, clock, config } = this.options;
      this.leaseAt = clock.now();
      if (
        !(await store.acquireLease(SWEEP_LEASE, this.holder, this.leaseAt, config.sweep.leaseMs))
      ) {
        return { kind: 'skipped', reason: 'in progress' };
      }
      try {
        return { kind: 'completed', report: await this.run(options.dryRun ?? false) };
      } finally {
        await store.releaseLease(SWEEP_LEASE, this.holder);
      }
    } finally {
      this.running = false;
    }
  }

  private async run(dryRun: boolean): Promise<SweepReport> {
    const { store, clock, config, events } = this.options;
    const now = clock.now();
    const started = performance.now();
    const sweepId = randomUUID();
    this.stopRetries.prune(now);
    // The first page of overdue executions is read beside the gate: one round trip less before
    // the first end (both are read at `now`, as they would be one after the other).
    const [gate, firstPage] = await Promise.all([
      this.gate(now),
      store.listOverdue(now, config.sweep.batchSize),
    ]);
    const ownerSweep = this.ownerWatch.begin(dryRun);
    const pipeline = new Pipeline({
      now,
      sweepId,
      dryRun,
      emit: (event) => events.emit(event),
      record: (records) => store.recordRemediations(records),
      gate,
      heldAudited: this.heldAudited,
    });
    const pass = new LedgerPass(
      this.options,
      this.owners,
      { now, sweepId, dryRun },
      this.stopRetries,
      ownerSweep,
    );
    const slots = new SlotReleases(this.options.slots, pipeline.tally);
    const context: SweepContext = {
      now,
      clock,
      dryRun,
      sweepId,
      config,
      rowOwners: this.tableOwners,
    };
    const phase = { pipeline, pass, slots, context };
    // Finish releases a previous sweep (perhaps on a replica that died) left half-done, beside
    // detection rather than before it: a slot store that does not answer never delays an end.
    // Under the pause they wait: a release is an action like any other.
    if (!dryRun && holdOf(gate, { source: 'slots' }, now) === null) slots.releaseStale();

    const overdue = await this.sweepOverdue(phase, firstPage);
    if (!overdue.leaseLost) await judgeParents(phase, overdue.parents);
    if (!overdue.leaseLost && this.reconcileDue(now)) {
      await reconcile(phase, overdue.seen);
      if (!dryRun) this.reconciledAt = now;
    }
    await deriveTouchedParents(phase);
    if (!dryRun) slots.releaseEnded();
    await slots.done();
    ownerSweep.finish(now);

    const { sources = [] } = this.options;
    if (sources.length > 0 && !overdue.leaseLost) await this.sweepSources(pipeline, context);
    const report = pipeline.tally.report({
      id: sweepId,
      startedAt: now,
      finishedAt: clock.now(),
      dryRun,
    });
    await store.saveSweep(report);
    events.emit({
      type: 'sweep:completed',
      at: report.finishedAt,
      sweepId: report.id,
      dryRun,
      examined: report.examined,
      counts: report.counts,
      durationMs: performance.now() - started,
    });
    return report;
  }

  /**
   * The overdue executions, a page at a time in deadline order, with the lease renewed between
   * pages. Workflow runs are left for after their children (see `judgeParents`).
   */
  private async sweepOverdue(
    phase: LedgerPhase,
    firstPage: Execution[],
  ): Promise<{
    parents: Execution[];
    seen: Set<string>;
    leaseLost: boolean;
  }> {
    const { store, config } = this.options;
    const { pipeline, pass, slots, context } = phase;
    const parents: Execution[] = [];
    const seen = new Set<string>();
    let after: { deadlineAt: number; id: string } | undefined;
    for (;;) {
      const batch =
        after === undefined
          ? firstPage
          : await store.listOverdue(context.now, config.sweep.batchSize, after);
      const last = batch.at(-1);
      if (last === undefined) break;
      after = { deadlineAt: last.deadlineAt ?? context.now, id: last.id };
      for (const e of batch) seen.add(e.id);
      const withChildren = await store.withChildren(batch.map((e) => e.id));
      const observe = await this.owners.observe(batch, context.now);
      // Children first: a workflow run's state is derived after its children are judged.
      const items: LedgerItem[] = [];
      for (const execution of batch) {
        if (withChildren.has(execution.id)) parents.push(execution);
        else items.push({ execution, observation: observe(execution) });
      }
      slots.noteEnded(await pipeline.page(pass.stage('guarded'), items, context));
      const lastPage = batch.length < config.sweep.batchSize;
      // Between pages, heartbeats and event streams get a turn; after the last one the sweep
      // finishes at once (a short sweep that waited behind queued requests would delay the next).
      if (!lastPage) await yieldToEventLoop();
      if (!context.dryRun) slots.releaseEnded();
      if (!(await this.renewLease())) {
        pipeline.tally.bump('lease_lost');
        return { parents: [], seen, leaseLost: true };
      }
      if (lastPage) break;
    }
    return { parents, seen, leaseLost: false };
  }

  /**
   * Renews the sweep lease between pages. Lost (this sweep outlived it and another replica took
   * over): false, and the sweep stops there; every write so far was a compare-and-set, so nothing
   * is half-done. A lease acquired or renewed less than a quarter of its length ago cannot have
   * been taken over yet, so a short sweep does not write it again. A clock that stepped back since
   * (now before the lease's start) proves nothing: the lease is written.
   */
  private async renewLease(): Promise<boolean> {
    const { store, clock, config } = this.options;
    const now = clock.now();
    if (now >= this.leaseAt && now - this.leaseAt < config.sweep.leaseMs / 4) return true;
    if (!(await store.acquireLease(SWEEP_LEASE, this.holder, now, config.sweep.leaseMs))) {
      return false;
    }
    this.leaseAt = now;
    return true;
  }

  /** The other sources (mapped tables), after the ledger; each isolates its own failures. */
  private async sweepSources(pipeline: Pipeline, context: SweepContext): Promise<void> {
    pipeline.tally.errors ??= [];
    for (const source of this.options.sources ?? []) await pipeline.run(source, context);
    for (const error of pipeline.tally.errors)
      this.options.warn?.(`${error.key}: ${error.message}`);
  }

  private reconcileDue(now: number): boolean {
    const every = this.options.config.sweep.reconcileIntervalMs;
    return this.reconciledAt === null || now - this.reconciledAt >= every;
  }
}
