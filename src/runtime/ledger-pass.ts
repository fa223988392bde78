/**
 * The ledger's part of one sweep: how Vigil's own executions are decided and ended. The pipeline
 * (`Pipeline.page`) calls `decide` and `apply`; `apply` returns what it did, and the pipeline
 * records, counts and announces it like any source's.
 */
import { zip } from '../core/zip.js';
import { performance } from 'node:perf_hooks';
import type { Decision } from '../core/decide.js';
import { decide } from '../core/decide.js';
import type { ClockJump } from '../core/judge.js';
import { effectiveDeadline } from '../core/judge.js';
import type { Execution, OwnerObservation } from '../core/types.js';
import type { EngineConfig } from '../ports/engine-config.js';
import { policyFor } from '../core/policy.js';
import type { Clock } from '../ports.js';
import type { DecisionOutcome, StepRecord } from '../ports/audit-store.js';
import type { ExecutionStore } from '../ports/execution-store.js';
import type { OwnerClient } from '../ports/owner-client.js';
import type { Applied, Judged } from '../ports/source.js';
import type { VigilEvent } from './events.js';
import { endWrite, settleEnd, terminate } from './ledger-end.js';
import type { PendingEnd, StopContext } from './ledger-end.js';
import type { OwnerSweep } from './owner-watch.js';
import { auditId, errorMessage, subjectOf, yieldToEventLoop } from './pipeline.js';
import type { StopRetries } from './stop-retries.js';
import { destructive } from './ledger-gate.js';

/** One execution of the ledger, ready to be decided. */
export interface LedgerItem {
  execution: Execution;
  observation?: OwnerObservation | undefined;
  /** A workflow run's children, as this sweep leaves them. */
  children?: Execution[] | undefined;
  /** Decided already: a workflow run ended from a child this sweep ended. */
  decided?: Decision | undefined;
}

/** What deciding and ending the ledger's executions needs. */
export interface LedgerOptions {
  store: ExecutionStore;
  clock: Clock;
  config: EngineConfig;
  /** Since when this process has been taking heartbeats without a gap (see `judge`). */
  listeningSince?: (() => number | undefined) | undefined;
  /** Forward steps of this process's wall clock: no one is blamed for the time they skipped. */
  clockJumps?: (() => readonly ClockJump[]) | undefined;
}

/** How a page's decisions are applied (see `LedgerPass.apply`). */
export type LedgerMode = 'guarded' | 'reconciled' | 'derived';

/** A page's decisions, each with the execution it is about. */
type Page = readonly { item: LedgerItem; decision: Decision }[];

/** The ledger's state during one sweep. */
export class LedgerPass {
  /** What this sweep has ended (or would end, in a dry run), so parents see their children's fate. */
  readonly projected = new Map<string, Execution>();
  /** Parents of executions this sweep ended for good, to be derived at the end of the sweep. */
  readonly touchedParents = new Set<string>();

  readonly now: number;
  readonly dryRun: boolean;

  constructor(
    readonly options: LedgerOptions,
    readonly owners: OwnerClient,
    /** What this sweep's audit rows are stamped with. */
    readonly stamp: { now: number; sweepId: string; dryRun: boolean },
    readonly stopRetries: StopRetries,
    readonly ownerSweep: OwnerSweep,
  ) {
    this.now = stamp.now;
    this.dryRun = stamp.dryRun;
  }

  /** The stages for one kind of page. */
  stage(mode: LedgerMode) {
    return {
      decide: (item: LedgerItem) => this.decide(item),
      apply: (judged: Page, _context: unknown, announce: (event: VigilEvent) => void) =>
        this.apply(judged, mode, announce),
      destructive: (item: LedgerItem, decision: Decision) => destructive(item, decision, mode),
      hold: (held: readonly { item: LedgerItem; decision: Decision; until: number | null }[]) =>
        this.hold(held),
    };
  }

  /**
   * Held back by a maintenance window or the pause: looked at again when the window ends, or at
   * the next safety-net sweep (a window expired early, a resume), whichever comes first.
   */
  private async hold(
    held: readonly { item: LedgerItem; decision: Decision; until: number | null }[],
  ): Promise<void> {
    const next = this.now + this.options.config.sweep.intervalMs;
    for (const { item, decision, until } of held) {
      await this.defer(item.execution, decision, until === null ? next : Math.min(until, next));
    }
  }

  async childrenOf(parentId: string): Promise<Execution[]> {
    const children = await this.options.store.listChildren(parentId);
    return children.map((child) => this.projected.get(child.id) ?? child);
  }

  /** Decides about one execution; a failure to judge is counted as failed. */
  decide(item: LedgerItem): Judged<LedgerItem, Decision> {
    const { execution } = item;
    if (item.decided) return { item, decision: item.decided };
    const { config } = this.options;
    try {
      const decision = decide({
        execution,
        observation: item.observation ?? { kind: 'untracked' },
        policy: policyFor(config, execution),
        now: this.now,
        listeningSince: this.options.listeningSince?.(),
        clockJumps: this.options.clockJumps?.(),
        canTerminate: this.owners.canTerminate(execution),
        children: item.children,
      });
      return { item, decision };
    } catch (error) {
      const reason = `could not be judged: ${errorMessage(error)}`;
      return { item, failed: { executionId: execution.id, attempt: execution.attempt, reason } };
    }
  }

  /**
   * Applies a page's decisions, then writes its ends in one transaction. `guarded`: once the
   * owners' breakers have seen all of them (a decision on an owner whose breaker is open is audited
   * as skipped, its execution left running). `reconciled`: every one goes past the breaker (so each
   * owner asked is judged on all it holds), and only orphans are ended; a pause is counted, not
   * audited, as the reconcile interval would repeat the same row for every paused execution.
   * `derived`: workflow runs ended from their children, past no breaker.
   */
  async apply(
    judged: Page,
    mode: LedgerMode,
    announce: (event: VigilEvent) => void,
  ): Promise<Applied[]> {
    const done: Applied[] = [];
    const pending: PendingEnd[] = [];
    const guarded =
      mode === 'derived'
        ? judged.map(({ decision }) => ({ decision, pausedBecause: null }))
        : await this.ownerSweep.guard(
            judged.map((j) => j.decision),
            this.now,
          );
    for (const [i, [{ item }, { decision, pausedBecause }]] of zip(judged, guarded).entries()) {
      const { execution } = item;
      if (mode === 'reconciled') {
        if (decision.verdict !== 'orphaned' || decision.action.kind !== 'end') continue;
        if (pausedBecause !== null) {
          const paused: Decision = {
            ...decision,
            action: { kind: 'ignore', because: pausedBecause },
          };
          done.push(this.tallied(paused, 'ignored'));
        } else await this.applyOne(execution, decision, done, pending, announce);
      } else if (pausedBecause === null) {
        await this.applyOne(execution, decision, done, pending, announce);
      } else await this.pause(execution, decision, pausedBecause, done);
      // Give the event loop a turn every 250 rows: heartbeats and event streams keep flowing
      // while a large sweep runs.
      if (i % 250 === 249) await yieldToEventLoop();
    }
    if (pending.length > 0) done.push(...(await this.flush(pending)));
    return done;
  }

  /** Leaves the execution as it is because its owner's breaker is open; audited as skipped. */
  private async pause(
    execution: Execution,
    decision: Decision,
    because: string,
    done: Applied[],
  ): Promise<void> {
    const paused: Decision = {
      ...decision,
      reason: because,
      evidence: { ...decision.evidence, breaker: because, wouldHave: decision.reason },
      action: { kind: 'ignore', because },
    };
    done.push(
      this.counted(paused, 'ignored', [
        { step: 'end', outcome: 'skipped', ms: 0, detail: because },
      ]),
    );
    if (!this.dryRun) await this.defer(execution, paused);
  }

  private async applyOne(
    execution: Execution,
    decision: Decision,
    done: Applied[],
    pending: PendingEnd[],
    announce: (event: VigilEvent) => void,
  ): Promise<void> {
    const { action } = decision;
    if (action.kind === 'ignore') {
      done.push(this.counted(decision, 'ignored', []));
      if (!this.dryRun) await this.defer(execution, decision, graceEnd(decision, this.now));
      return;
    }
    if (this.dryRun) {
      this.project(execution, decision);
      done.push(this.counted(decision, 'dry_run', []));
      return;
    }
    const fence = {
      id: decision.executionId,
      attempt: decision.attempt,
      status: decision.expectedStatus,
    };
    if (action.terminate) {
      // A stop failed moments ago: wait out its backoff (a heartbeat may have brought it back).
      const waitUntil = this.stopRetries.waitingUntil(fence, this.now);
      if (waitUntil !== null) {
        done.push(this.tallied(decision, 'left_running'));
        await this.defer(execution, decision, waitUntil);
        return;
      }
    }
    const streak = action.terminate ? this.stopRetries.failuresOf(fence) : 0;
    // Announced once, when first found; each retry of a failing stop is not news.
    if (streak === 0)
      announce({
        type: 'execution:stuck',
        at: this.now,
        executionId: decision.executionId,
        attempt: decision.attempt,
        kind: execution.kind,
        verdict: decision.verdict,
        reason: decision.reason,
      });
    const steps: StepRecord[] = [];
    try {
      let reason = decision.reason;
      if (action.terminate) {
        const stopped = await terminate(
          this.stopContext(announce),
          execution,
          decision,
          streak,
          steps,
        );
        if (stopped.kind === 'left_running') {
          // The audit keeps the streak's start and its escalation, not a row per retry.
          done.push(
            stopped.audit
              ? this.counted(decision, 'left_running', steps)
              : this.tallied(decision, 'left_running'),
          );
          await this.defer(execution, decision, stopped.retryAt);
          return;
        }
        reason = `${reason}; ${stopped.note}`;
      }
      pending.push(endWrite(execution, decision, reason, steps, fence, this.stamp));
    } catch (error) {
      steps.push({ step: 'end', outcome: 'failed', ms: 0, detail: errorMessage(error) });
      done.push(this.counted(decision, 'failed', steps));
    }
  }

  /**
   * Writes a page's ends in one transaction (a page of them costs one commit, not one each), then
   * settles each by whether its compare-and-set won. If the batch fails as a whole, each end is
   * tried alone, so one bad row fails only itself.
   */
  private async flush(pending: readonly PendingEnd[]): Promise<Applied[]> {
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
    const ms = Math.round((performance.now() - started) * 1000) / 1000;
    return zip(pending, won).map(([p, winner]) => {
      const settled = settleEnd(p, winner, ms, this.now);
      if (settled.outcome === 'remediated') this.project(p.execution, p.decision, p.reason);
      return settled.outcome === 'remediated'
        ? { ...this.tallied(p.decision, 'remediated'), audit: 'written', events: settled.events }
        : this.counted(p.decision, settled.outcome, p.steps);
    });
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

  /** What asking an owner to stop an execution needs. */
  private stopContext(announce: (event: VigilEvent) => void): StopContext {
    const { store, config } = this.options;
    const { owners, stopRetries, now } = this;
    return { store, owners, stopRetries, now, escalateAfter: config.sweep.escalateAfter, announce };
  }

  /** Counted and listed, audited when the decision is worth a row (see below). */
  private counted(decision: Decision, outcome: DecisionOutcome, steps: StepRecord[]): Applied {
    // Healthy rows are examined but not audited: nothing was wrong and nothing was done. Nor is a
    // lost race: the runner (or another replica) got there first and its write is the record; the
    // sweep report still lists the decision. An unknown owner is audited when that changes, not
    // at every sweep that finds it still unknown.
    const owner = outcome === 'lost_race' ? undefined : this.ownerSweep.auditOf(decision);
    const audit = owner?.audit ?? (decision.verdict !== 'healthy' && outcome !== 'lost_race');
    return {
      ...this.tallied(decision, outcome),
      steps,
      audit,
      // Taken now, so audit rows keep the order decisions were taken in.
      id: audit ? auditId(this.now) : undefined,
      note: owner?.note,
    };
  }

  /** Counted and listed in the report, not audited. */
  private tallied(decision: Decision, outcome: DecisionOutcome): Applied {
    return { subject: subjectOf(decision), outcome, steps: [], audit: false, events: [] };
  }
}

/**
 * When an execution its owner does not list yet leaves its dispatch grace: nothing can change its
 * verdict before then, so it is not looked at (nor audited) again until that moment.
 */
function graceEnd(decision: Decision, now: number): number | undefined {
  const { ageMs, graceMs } = decision.evidence;
  if (decision.verdict !== 'in_grace' || typeof ageMs !== 'number' || typeof graceMs !== 'number')
    return undefined;
  return now + graceMs - ageMs + 1;
}
