import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Decision } from '../core/decide.js';
import { actionLabel, afterTermination, decide, decideParentAfterChild } from '../core/decide.js';
import type { ClockJump } from '../core/judge.js';
import { effectiveDeadline } from '../core/judge.js';
import type { Execution, OwnerObservation } from '../core/types.js';
import { isOpen } from '../core/types.js';
import type { Tally } from '../core/types.js';
import { zip } from '../core/zip.js';
import type { EngineConfig } from '../ports/engine-config.js';
import { policyFor } from '../core/policy.js';
import type {
  AttemptEnd,
  Clock,
  DecisionOutcome,
  ExecutionStore,
  Fence,
  OwnerClient,
  RemediationRecord,
  StepRecord,
  SweepReport,
} from '../ports.js';
import { noOwners } from '../ports.js';
import type { OwnerAgents } from '../ports/owner-agents.js';
import { agentFor } from '../ports/owner-agents.js';
import type { EventBus } from './events.js';
import type { GuardedDecision, OwnerSweep } from './owner-watch.js';
import { OwnerWatch } from './owner-watch.js';
import type { SlotReleaseCounts, Slots } from './slots.js';
import { StopRetries } from './stop-retries.js';
import type { Source, SourceSweepContext, SourceSweepResult } from '../ports/source.js';
import { sweepSources } from './sweep-sources.js';

export type SweepResult =
  { kind: 'completed'; report: SweepReport } | { kind: 'skipped'; reason: 'in progress' };

export interface SweeperOptions {
  store: ExecutionStore;
  clock: Clock;
  config: EngineConfig;
  events: EventBus;
  owners?: OwnerClient | undefined;
  /** Releases the slots of ended attempts; without it slots are left to whoever releases them. */
  slots?: Slots | undefined;
  /** This process's name in leases and reports; unique per replica. */
  holder?: string | undefined;
  /** Since when this process has been taking heartbeats without a gap (see `judge`). */
  listeningSince?: (() => number | undefined) | undefined;
  /** Forward steps of this process's wall clock: no one is blamed for the time they skipped. */
  clockJumps?: (() => readonly ClockJump[]) | undefined;
  /** Sources swept after the ledger (mapped tables); each isolates its own failures. */
  sources?: readonly Source[] | undefined;
  /** Told about each problem a source had (a log line); also listed in the sweep report. */
  warn?: ((message: string) => void) | undefined;
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
  /** When this process last reconciled every running execution with its owner's registry. */
  private reconciledAt: number | null = null;
  private running = false;

  constructor(private readonly options: SweeperOptions) {
    this.holder = options.holder ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.owners = options.owners ?? noOwners;
    this.ownerWatch = new OwnerWatch(
      options.config.ownerAgents,
      this.owners,
      options.store,
      options.events,
    );
  }

  async sweep(options: { dryRun?: boolean } = {}): Promise<SweepResult> {
    if (this.running) return { kind: 'skipped', reason: 'in progress' };
    this.running = true;
    try {
      const { store, clock, config } = this.options;
      if (
        !(await store.acquireLease(SWEEP_LEASE, this.holder, clock.now(), config.sweep.leaseMs))
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
    this.stopRetries.prune(now);
    const ownerSweep = this.ownerWatch.begin(dryRun);
    const pass = new SweepPass(
      this.options,
      this.owners,
      now,
      dryRun,
      randomUUID(),
      this.stopRetries,
      ownerSweep,
    );
    const overdueParents: Execution[] = [];
    const seen = new Set<string>();
    // Finish releases a previous sweep (perhaps on a replica that died) left half-done, beside
    // detection rather than before it: a slot store that does not answer never delays an end.
    if (!dryRun) pass.releaseStaleSlots();

    let after: { deadlineAt: number; id: string } | undefined;
    let leaseLost = false;
    for (;;) {
      const batch = await store.listOverdue(now, config.sweep.batchSize, after);
      const last = batch.at(-1);
      // An overdue execution has a deadline; the page ends where the store stopped.
      if (last?.deadlineAt == null) break;
      after = { deadlineAt: last.deadlineAt, id: last.id };
      for (const e of batch) seen.add(e.id);
      const parents = await store.withChildren(batch.map((e) => e.id));
      const observe = await this.owners.observe(batch, now);
      // Children first: a workflow run's state is derived after its children are judged.
      const judged: { execution: Execution; decision: Decision }[] = [];
      for (const execution of batch) {
        if (parents.has(execution.id)) overdueParents.push(execution);
        else {
          const decision = pass.judge(execution, observe(execution));
          if (decision) judged.push({ execution, decision });
        }
      }
      await pass.applyGuarded(judged, ownerSweep);
      await pass.flush();
      await yieldToEventLoop();
      await store.recordRemediations(pass.takeRecords());
      if (!dryRun) pass.releaseSlots();
      // Renew the lease between pages. Lost (this sweep outlived it and another replica took
      // over): stop here; every write so far was a compare-and-set, so nothing is half-done.
      if (
        !(await store.acquireLease(SWEEP_LEASE, this.holder, clock.now(), config.sweep.leaseMs))
      ) {
        pass.noteLeaseLost();
        leaseLost = true;
        overdueParents.length = 0;
        break;
      }
      if (batch.length < config.sweep.batchSize) break;
    }

    for (const parent of overdueParents) {
      const observe = await this.owners.observe([parent], now);
      const decision = pass.judge(parent, observe(parent), await pass.childrenOf(parent.id));
      if (decision) await pass.applyGuarded([{ execution: parent, decision }], ownerSweep);
      await pass.flush();
    }
    if (!leaseLost && this.reconcileDue(now)) {
      await this.reconcile(pass, ownerSweep, seen, now);
      if (!dryRun) this.reconciledAt = now;
    }
    await pass.deriveTouchedParents();
    if (!dryRun) pass.releaseSlots();
    await pass.releasesDone();
    ownerSweep.finish(now);

    const { sources = [] } = this.options;
    const fromSources =
      sources.length > 0 && !leaseLost
        ? await sweepSources(sources, { ...pass.sourceContext(), warn: this.options.warn })
        : undefined;
    const report = pass.report(clock.now(), fromSources);
    await store.recordRemediations(pass.takeRecords());
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

  private reconcileDue(now: number): boolean {
    const every = this.options.config.sweep.reconcileIntervalMs;
    return this.reconciledAt === null || now - this.reconciledAt >= every;
  }

  /**
   * Asks each owner with a registry about every execution Vigil has running on it, not only the
   * overdue ones: an execution without a heartbeat limit would otherwise stay `running` long after
   * its owner lost it, until its run limit (or forever). Only orphans are acted on here; limits
   * stay the deadline index's business. Costs one registry request per owner per page of running
   * executions, once per reconcile interval.
   */
  private async reconcile(
    pass: SweepPass,
    ownerSweep: OwnerSweep,
    seen: ReadonlySet<string>,
    now: number,
  ): Promise<void> {
    const { store, config } = this.options;
    const owners = registryOwners(config.ownerAgents);
    let after: { createdAt: number; id: string } | undefined;
    for (;;) {
      const page = await store.listRunningOwned(owners, config.sweep.batchSize, after);
      const last = page.at(-1);
      if (last === undefined) return;
      after = { createdAt: last.createdAt, id: last.id };
      const parents = await store.withChildren(page.map((e) => e.id));
      const fresh = page.filter(
        (e) =>
          !seen.has(e.id) &&
          !parents.has(e.id) &&
          agentFor(config.ownerAgents, e.owner)?.registry != null,
      );
      if (fresh.length > 0) {
        const observe = await this.owners.observe(fresh, now);
        const judged: { execution: Execution; decision: Decision }[] = [];
        for (const execution of fresh) {
          const decision = pass.judge(execution, observe(execution));
          if (decision) judged.push({ execution, decision });
        }
        await pass.applyReconciled(judged, ownerSweep);
        await pass.flush();
        await store.recordRemediations(pass.takeRecords());
      }
      if (page.length < config.sweep.batchSize) return;
    }
  }
}

/** The owners to reconcile: null for every owner (a `*` registry), else those named with one. */
function registryOwners(agents: OwnerAgents): string[] | null {
  if (agents.any?.registry) return null;
  return Object.entries(agents.named)
    .filter(([, spec]) => spec.registry !== null)
    .map(([name]) => name);
}

/** An end the sweep decided, waiting for its page's write. */
interface PendingEnd {
  execution: Execution;
  decision: Decision;
  reason: string;
  steps: StepRecord[];
  write: { fence: Fence; end: AttemptEnd; audit: RemediationRecord };
}

/** The state of one sweep while it runs. */
class SweepPass {
  private readonly records: RemediationRecord[] = [];
  private readonly decisions: SweepReport['decisions'] = [];
  private readonly counts: Tally = { remediated: 0, skipped: 0, failed: 0 };
  private examined = 0;
  /** What this sweep has ended (or would end, in a dry run), so parents see their children's fate. */
  private readonly projected = new Map<string, Execution>();
  private readonly touchedParents = new Set<string>();
  /** Attempts this sweep ended whose slots it has not released yet. */
  private readonly endedSinceRelease: { id: string; attempt: number }[] = [];
  /** Ends decided and not yet written (see `flush`). */
  private readonly pendingEnds: PendingEnd[] = [];

  constructor(
    private readonly options: SweeperOptions,
    private readonly owners: OwnerClient,
    private readonly now: number,
    private readonly dryRun: boolean,
    private readonly sweepId: string,
    private readonly stopRetries: StopRetries,
    private readonly ownerSweep: OwnerSweep,
  ) {}

  /** Slot releases started and not yet awaited (see `releasesDone`). */
  private readonly releases: Promise<void>[] = [];
  private releaseError: Error | null = null;

  /** Starts releasing the slots of the attempts this sweep ended since the last call. */
  releaseSlots(): void {
    const ended = this.endedSinceRelease.splice(0, this.endedSinceRelease.length);
    const slots = this.options.slots;
    if (slots && ended.length > 0) this.track(slots.releaseFor(ended));
  }

  releaseStaleSlots(): void {
    if (this.options.slots) this.track(this.options.slots.releaseStale());
  }

  private track(releasing: Promise<SlotReleaseCounts>): void {
    this.releases.push(
      releasing.then(
        (counts) => this.countReleases(counts),
        (error: unknown) => {
          this.releaseError ??= error instanceof Error ? error : new Error(String(error));
        },
      ),
    );
  }

  /** Waits for the releases started (each slot command has a timeout); a failed one stays due. */
  async releasesDone(): Promise<void> {
    await Promise.all(this.releases.splice(0, this.releases.length));
    if (this.releaseError !== null) throw this.releaseError;
  }

  private countReleases(counts: SlotReleaseCounts): void {
    if (counts.released > 0)
      this.counts.slots_released = (this.counts.slots_released ?? 0) + counts.released;
    if (counts.notHeld > 0)
      this.counts.slots_not_held = (this.counts.slots_not_held ?? 0) + counts.notHeld;
    if (counts.alreadyFree > 0)
      this.counts.slots_already_free = (this.counts.slots_already_free ?? 0) + counts.alreadyFree;
    if (counts.failed > 0)
      this.counts.slot_release_failed = (this.counts.slot_release_failed ?? 0) + counts.failed;
  }

  /** The sweep stopped early because another process took over its lease. */
  noteLeaseLost(): void {
    this.counts.lease_lost = 1;
  }

  async childrenOf(parentId: string): Promise<Execution[]> {
    const children = await this.options.store.listChildren(parentId);
    return children.map((child) => this.projected.get(child.id) ?? child);
  }

  /** Decides about one execution; undefined (counted as failed) when it cannot be judged. */
  judge(
    execution: Execution,
    observation: OwnerObservation,
    children?: Execution[],
  ): Decision | undefined {
    this.examined++;
    const { config } = this.options;
    try {
      return decide({
        execution,
        observation,
        policy: policyFor(config, execution),
        now: this.now,
        listeningSince: this.options.listeningSince?.(),
        clockJumps: this.options.clockJumps?.(),
        canTerminate: this.owners.canTerminate(execution),
        children,
      });
    } catch (error) {
      this.fail(execution, error);
      return undefined;
    }
  }

  /**
   * Applies a page's decisions once the owners' breakers have seen all of them: a decision on an
   * owner whose breaker is open is audited as skipped, its execution left running.
   */
  async applyGuarded(
    judged: readonly { execution: Execution; decision: Decision }[],
    owners: OwnerSweep,
  ): Promise<void> {
    const guarded: GuardedDecision[] = await owners.guard(
      judged.map((j) => j.decision),
      this.now,
    );
    for (const [i, [{ execution }, { decision, pausedBecause }]] of zip(
      judged,
      guarded,
    ).entries()) {
      if (pausedBecause === null) await this.apply(execution, decision);
      else await this.pause(execution, decision, pausedBecause);
      // Give the event loop a turn every 250 rows: heartbeats and event streams keep flowing
      // while a large sweep runs.
      if (i % 250 === 249) await yieldToEventLoop();
    }
  }

  /**
   * Applies reconciliation's decisions: every one goes past the breaker (so each owner asked is
   * judged on all it holds), and only orphans are ended. A pause is counted, not audited: the
   * reconcile interval would repeat the same row for every paused execution.
   */
  async applyReconciled(
    judged: readonly { execution: Execution; decision: Decision }[],
    owners: OwnerSweep,
  ): Promise<void> {
    const guarded = await owners.guard(
      judged.map((j) => j.decision),
      this.now,
    );
    for (const [i, [{ execution }, { decision, pausedBecause }]] of zip(
      judged,
      guarded,
    ).entries()) {
      if (decision.verdict !== 'orphaned' || decision.action.kind !== 'end') continue;
      if (pausedBecause === null) await this.apply(execution, decision);
      else
        this.tally({ ...decision, action: { kind: 'ignore', because: pausedBecause } }, 'ignored');
      if (i % 250 === 249) await yieldToEventLoop();
    }
  }

  /** Leaves the execution as it is because its owner's breaker is open; audited as skipped. */
  private async pause(execution: Execution, decision: Decision, because: string): Promise<void> {
    const paused: Decision = {
      ...decision,
      reason: because,
      evidence: { ...decision.evidence, breaker: because, wouldHave: decision.reason },
      action: { kind: 'ignore', because },
    };
    this.count(paused, 'ignored', [{ step: 'end', outcome: 'skipped', ms: 0, detail: because }]);
    if (!this.dryRun) await this.defer(execution, paused);
  }

  /** Ends the workflow runs whose children this sweep ended for good, when a child failed. */
  async deriveTouchedParents(): Promise<void> {
    const seen = new Set<string>();
    while (this.touchedParents.size > 0) {
      const [parentId] = this.touchedParents;
      if (parentId === undefined) break;
      this.touchedParents.delete(parentId);
      if (seen.has(parentId)) continue;
      seen.add(parentId);
      const parent = this.projected.get(parentId) ?? (await this.options.store.get(parentId));
      if (!parent || !isOpen(parent.status)) continue;
      const children = await this.childrenOf(parent.id);
      const endedChild = children.find(
        (child) =>
          this.projected.has(child.id) && !isOpen(child.status) && child.status !== 'succeeded',
      );
      const verdict = endedChild?.verdict;
      if (!verdict) continue;
      const decision = decideParentAfterChild(parent, children, { verdict });
      if (decision) {
        this.examined++;
        await this.apply(parent, decision);
        await this.flush();
      }
    }
  }

  private async apply(execution: Execution, decision: Decision): Promise<void> {
    const { action } = decision;
    if (action.kind === 'ignore') {
      this.count(decision, 'ignored', []);
      if (!this.dryRun) await this.defer(execution, decision);
      return;
    }
    if (this.dryRun) {
      this.project(execution, decision);
      this.count(decision, 'dry_run', []);
      return;
    }
    const { store, events } = this.options;
    const steps: StepRecord[] = [];
    const fence = {
      id: decision.executionId,
      attempt: decision.attempt,
      status: decision.expectedStatus,
    };
    if (action.terminate) {
      // A stop failed moments ago: wait out its backoff (a heartbeat may have brought it back).
      const waitUntil = this.stopRetries.waitingUntil(fence, this.now);
      if (waitUntil !== null) {
        this.tally(decision, 'left_running');
        await this.defer(execution, decision, waitUntil);
        return;
      }
    }
    const streak = action.terminate ? this.stopRetries.failuresOf(fence) : 0;
    // Announced once, when first found; each retry of a failing stop is not news.
    if (streak === 0)
      events.emit({
        type: 'execution:stuck',
        at: this.now,
        executionId: decision.executionId,
        attempt: decision.attempt,
        kind: execution.kind,
        verdict: decision.verdict,
        reason: decision.reason,
      });
    try {
      let reason = decision.reason;
      if (action.terminate) {
        const started = performance.now();
        const outcome = await this.owners.terminate(execution);
        const failures =
          outcome.kind === 'failed' ? await store.recordTerminationFailure(fence) : 0;
        const next = afterTermination(
          outcome,
          outcome.kind === 'failed' ? Math.max(0, failures - 1) : streak,
          this.options.config.sweep.escalateAfter,
        );
        steps.push({
          step: 'terminate',
          outcome: next.kind === 'end' ? 'ok' : 'failed',
          ms: elapsed(started),
          detail: next.note,
        });
        if (next.kind === 'leave_running') {
          if (next.escalate) {
            events.emit({
              type: 'execution:escalated',
              at: this.now,
              executionId: decision.executionId,
              attempt: decision.attempt,
              kind: execution.kind,
              verdict: decision.verdict,
              reason: next.note,
              failures: next.failures,
            });
          }
          // The audit keeps the streak's start and its escalation, not a row per retry.
          if (next.audit) this.count(decision, 'left_running', steps);
          else this.tally(decision, 'left_running');
          const retryAt = this.now + next.retryAfterMs;
          this.stopRetries.failed(fence, next.failures, retryAt);
          await this.defer(execution, decision, retryAt);
          return;
        }
        this.stopRetries.forget(fence);
        reason = `${reason}; ${next.note}`;
      }

      const end: AttemptEnd = {
        status: action.status,
        verdict: decision.verdict,
        reason,
        endedBy: 'watchdog',
        retry: action.retry && { attempt: action.retry.attempt, queuedAt: action.retry.queuedAt },
      };
      // The audit row of a remediation is written in the same transaction as the end itself, so
      // a crash can never leave one without the other.
      const doneSteps: StepRecord[] = [
        ...steps,
        { step: 'end', outcome: 'ok', ms: 0, detail: `${action.status}: ${reason}` },
      ];
      if (action.retry) {
        doneSteps.push({
          step: 'retry',
          outcome: 'ok',
          ms: 0,
          detail: `attempt ${action.retry.attempt} queued after ${action.retry.delayMs}ms backoff`,
        });
      } else if (action.status === 'dead') {
        doneSteps.push({ step: 'dead_letter', outcome: 'ok', ms: 0 });
      }
      // Judged at the sweep's `now`; ended when the write lands. Unless the owner confirmed the
      // termination, a heartbeat that landed since our read (it moved the deadline) wins.
      this.pendingEnds.push({
        execution,
        decision,
        reason,
        steps,
        write: {
          fence: action.terminate ? fence : { ...fence, deadlineAt: execution.deadlineAt },
          end,
          audit: this.auditRecord(decision, 'remediated', doneSteps),
        },
      });
    } catch (error) {
      steps.push({ step: 'end', outcome: 'failed', ms: 0, detail: errorMessage(error) });
      this.count(decision, 'failed', steps);
    }
  }

  /**
   * Writes the ends decided since the last flush in one transaction (a page of them costs one
   * commit, not one each), then counts and announces each by whether its compare-and-set won. If
   * the batch fails as a whole, each end is tried alone, so one bad row fails only itself.
   */
  async flush(): Promise<void> {
    const pending = this.pendingEnds.splice(0, this.pendingEnds.length);
    if (pending.length === 0) return;
    const { store, clock } = this.options;
    const started = performance.now();
    let won: (boolean | Error)[];
    try {
      won = await store.endAttempts(
        pending.map((p) => p.write),
        clock.now(),
      );
    } catch {
      won = [];
      for (const p of pending) {
        won.push(
          await store
            .endAttempt(p.write.fence, p.write.end, clock.now(), p.write.audit)
            .catch((error: unknown) => (error instanceof Error ? error : new Error(String(error)))),
        );
      }
    }
    const ms = elapsed(started);
    for (const [p, wrote] of zip(pending, won)) this.settle(p, wrote, ms);
  }

  private settle(p: PendingEnd, won: boolean | Error, ms: number): void {
    const { execution, decision, reason, steps } = p;
    const { action } = decision;
    const { events } = this.options;
    if (action.kind !== 'end') return;
    if (won instanceof Error) {
      steps.push({ step: 'end', outcome: 'failed', ms, detail: errorMessage(won) });
      this.count(decision, 'failed', steps);
      return;
    }
    if (!won) {
      // The work finished (or was ended) between our read and our write: it wins, we do nothing.
      steps.push({ step: 'end', outcome: 'lost_race', ms });
      this.count(decision, 'lost_race', steps);
      return;
    }
    this.project(execution, decision, reason);
    this.tally(decision, 'remediated');
    this.endedSinceRelease.push({ id: decision.executionId, attempt: decision.attempt });
    events.emit({
      type: 'execution:remediated',
      at: this.now,
      executionId: decision.executionId,
      attempt: decision.attempt,
      kind: execution.kind,
      verdict: decision.verdict,
      reason,
      status: action.retry ? 'queued' : action.status,
      action: actionLabel(action),
    });
    if (action.status === 'dead') {
      events.emit({
        type: 'execution:dead',
        at: this.now,
        executionId: decision.executionId,
        attempt: decision.attempt,
        kind: execution.kind,
        verdict: decision.verdict,
        reason,
      });
    }
  }

  /**
   * An overdue execution left alone keeps its place in the deadline index until the moment it
   * should be looked at again: its effective deadline (after a listening grace), or the next
   * safety-net sweep when only new evidence (an owner answering, a child ending) can change it.
   */
  private async defer(execution: Execution, decision: Decision, at?: number): Promise<void> {
    if (execution.deadlineAt === null || execution.deadlineAt >= this.now) return;
    const effective = effectiveDeadline(
      execution,
      this.options.listeningSince?.(),
      this.options.clockJumps?.(),
    );
    const until =
      at ??
      (effective !== null && effective >= this.now
        ? effective
        : this.now + this.options.config.sweep.intervalMs);
    try {
      await this.options.store.deferDeadline(
        { id: execution.id, attempt: decision.attempt, status: decision.expectedStatus },
        until,
      );
    } catch {
      // Not deferring only costs an extra look next sweep.
    }
  }

  /** Records what this execution is (or, in a dry run, would be) once the decision applies. */
  private project(execution: Execution, decision: Decision, reason = decision.reason): void {
    const { action } = decision;
    if (action.kind !== 'end') return;
    const projected: Execution = action.retry
      ? {
          ...execution,
          status: 'queued',
          attempt: action.retry.attempt,
          verdict: decision.verdict,
          reason,
        }
      : {
          ...execution,
          status: action.status,
          verdict: decision.verdict,
          reason,
          endedAt: this.now,
        };
    this.projected.set(execution.id, projected);
    if (!action.retry && execution.parentId !== null) this.touchedParents.add(execution.parentId);
  }

  private count(decision: Decision, outcome: DecisionOutcome, steps: StepRecord[]): void {
    this.tally(decision, outcome);
    // Healthy rows are examined but not audited: nothing was wrong and nothing was done. Nor is a
    // lost race: the runner (or another replica) got there first and its write is the record; the
    // sweep report still lists the decision. An unknown owner is audited when that changes, not
    // at every sweep that finds it still unknown.
    const owner = outcome === 'lost_race' ? undefined : this.ownerSweep.auditOf(decision);
    const audited = owner?.audit ?? (decision.verdict !== 'healthy' && outcome !== 'lost_race');
    if (!audited) return;
    const noted = owner?.note
      ? { ...decision, reason: `${decision.reason} (${owner.note})` }
      : decision;
    this.records.push(this.auditRecord(noted, outcome, steps));
  }

  /** Counts a decision and lists it in the report. */
  private tally(decision: Decision, outcome: DecisionOutcome): void {
    const { verdict } = decision;
    this.counts[verdict] = (this.counts[verdict] ?? 0) + 1;
    if (outcome === 'remediated' || outcome === 'dry_run') this.counts.remediated++;
    else if (outcome === 'failed' || outcome === 'left_running') this.counts.failed++;
    else this.counts.skipped++;
    if (verdict === 'healthy') return;
    this.decisions.push({
      executionId: decision.executionId,
      attempt: decision.attempt,
      verdict,
      action: actionLabel(decision.action),
      reason: decision.reason,
      outcome,
    });
  }

  private auditRecord(
    decision: Decision,
    outcome: DecisionOutcome,
    steps: StepRecord[],
  ): RemediationRecord {
    return {
      id: auditId(this.now),
      sweepId: this.sweepId,
      at: this.now,
      executionId: decision.executionId,
      attempt: decision.attempt,
      kind: decision.kind,
      owner: decision.owner,
      verdict: decision.verdict,
      action: actionLabel(decision.action),
      reason: decision.reason,
      evidence: decision.evidence,
      steps,
      outcome,
      dryRun: this.dryRun,
    };
  }

  /** The audit rows not yet written (written after each page, so a crash loses at most a page). */
  takeRecords(): RemediationRecord[] {
    return this.records.splice(0, this.records.length);
  }

  private fail(execution: Execution, error: unknown): void {
    this.counts.failed++;
    this.decisions.push({
      executionId: execution.id,
      attempt: execution.attempt,
      verdict: 'unknown',
      action: 'ignore',
      reason: `could not be judged: ${errorMessage(error)}`,
      outcome: 'failed',
    });
  }

  /** What a source needs to sweep within this sweep. */
  sourceContext(): SourceSweepContext {
    const { clock, config, events, store } = this.options;
    return {
      now: this.now,
      clock,
      dryRun: this.dryRun,
      sweepId: this.sweepId,
      config,
      events,
      store,
    };
  }

  report(finishedAt: number, fromSources?: SourceSweepResult): SweepReport {
    const counts = { ...this.counts };
    if (fromSources) {
      for (const [name, n] of Object.entries(fromSources.counts))
        counts[name] = (counts[name] ?? 0) + n;
    }
    return {
      id: this.sweepId,
      startedAt: this.now,
      finishedAt,
      dryRun: this.dryRun,
      examined: this.examined + (fromSources?.examined ?? 0),
      decisions: fromSources ? [...this.decisions, ...fromSources.decisions] : this.decisions,
      counts,
      ...(fromSources ? { sourceErrors: fromSources.errors } : {}),
    };
  }
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

let auditSequence = 0;
/** Audit ids sort by time, then by the order decisions were taken in this process. */
function auditId(now: number): string {
  auditSequence = (auditSequence + 1) % 36 ** 6;
  return `${now.toString(36).padStart(9, '0')}-${auditSequence.toString(36).padStart(6, '0')}-${randomUUID().slice(0, 8)}`;
}

const elapsed = (started: number) => Math.round((performance.now() - started) * 1000) / 1000;

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
