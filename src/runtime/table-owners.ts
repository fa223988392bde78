/**
 * Reconciling another app's rows with their owners' registries, with the machinery Vigil's own
 * executions use: the owner client (one request per owner per page), the dispatch grace and
 * "recently completed" (the core's `judge`), unknown owners (never destructive), the breaker and
 * `owner:unreachable` (OwnerWatch), and stops confirmed by the owner with a growing backoff after
 * failures (StopRetries, `afterTermination`). Each mapped table keeps its own breakers and counts:
 * the breaker weighs a table's orphans against the rows that table holds on the owner.
 */
import { performance } from 'node:perf_hooks';
import type { Decision } from '../core/decide.js';
import { afterTermination } from '../core/decide.js';
import type { Execution, OwnerObservation } from '../core/types.js';
import type { OwnerAgents } from '../ports/owner-agents.js';
import { agentFor } from '../ports/owner-agents.js';
import type { OwnerClient } from '../ports/owner-client.js';
import type { OwnedRow, RowOwnerSweep, RowOwners, RowStop } from '../ports/row-owners.js';
import type { Announce } from '../ports/source.js';
import type { EventBus } from './events.js';
import type { OwnerSweep } from './owner-watch.js';
import { OwnerWatch } from './owner-watch.js';
import { elapsed } from './pipeline.js';
import { StopRetries } from './stop-retries.js';

/** One table's memory between sweeps. */
interface TableOwnerState {
  watch: OwnerWatch;
  retries: StopRetries;
  /** The breaker's count of running rows per owner, for the sweep under way. */
  countRunning: (owners: readonly string[]) => Promise<Map<string, number>>;
  /** When this process last asked about every row of the table, not only those past a limit. */
  reconciledAt: number | null;
}

export interface TableOwnersOptions {
  agents: OwnerAgents;
  owners: OwnerClient;
  events: EventBus;
  sweep: { reconcileIntervalMs: number; escalateAfter: number };
}

export class TableOwners implements RowOwners {
  private readonly tables = new Map<string, TableOwnerState>();

  constructor(private readonly options: TableOwnersOptions) {}

  begin(
    table: string,
    sweep: { now: number; dryRun: boolean },
    countRunning: (owners: readonly string[]) => Promise<Map<string, number>>,
  ): RowOwnerSweep {
    let state = this.tables.get(table);
    if (!state) {
      const created: TableOwnerState = {
        retries: new StopRetries(),
        countRunning,
        reconciledAt: null,
        watch: new OwnerWatch(
          this.options.agents,
          this.options.owners,
          { countOpenByOwner: (owners) => created.countRunning(owners) },
          this.options.events,
        ),
      };
      state = created;
      this.tables.set(table, state);
    }
    state.countRunning = countRunning;
    state.retries.prune(sweep.now);
    const { reconcileIntervalMs } = this.options.sweep;
    const reconcileDue =
      state.reconciledAt === null || sweep.now - state.reconciledAt >= reconcileIntervalMs;
    return new TableOwnerSweep(this.options, state, sweep, reconcileDue);
  }
}

class TableOwnerSweep implements RowOwnerSweep {
  private readonly ownerSweep: OwnerSweep;
  /** The owners this sweep asked: only their answers can move a breaker. */
  private readonly asked = new Set<string>();

  constructor(
    private readonly options: TableOwnersOptions,
    private readonly state: TableOwnerState,
    private readonly sweep: { now: number; dryRun: boolean },
    private readonly reconcileDue: boolean,
  ) {
    this.ownerSweep = state.watch.begin(sweep.dryRun);
  }

  async observe(rows: readonly OwnedRow[]): Promise<Map<string, OwnerObservation>> {
    const { now } = this.sweep;
    // Past a limit: the owner's answer decides between stopping it and ending it as an orphan.
    // Within every limit: only an orphan can come of asking, so once per reconcile interval.
    const asked = rows.filter(
      ({ execution }) =>
        agentFor(this.options.agents, execution.owner)?.registry != null &&
        (this.reconcileDue || (execution.deadlineAt !== null && execution.deadlineAt < now)),
    );
    const answers = new Map<string, OwnerObservation>();
    if (asked.length === 0) return answers;
    for (const { execution } of asked)
      if (execution.owner !== null) this.asked.add(execution.owner);
    const observe = await this.options.owners.observe(asked.map(asOwnerSees), now);
    for (const row of asked) answers.set(row.execution.id, observe(asOwnerSees(row)));
    return answers;
  }

  canTerminate(owner: string | null): boolean {
    return agentFor(this.options.agents, owner)?.terminate != null;
  }

  async guard(decisions: readonly Decision[]): Promise<(string | null)[]> {
    // An owner not asked in this sweep (none of its rows was due) keeps its last answer in the
    // client, which is no evidence about now: its decisions go past the breaker untouched (they
    // come from rows within their limits, so none ends a row).
    const fresh = decisions.filter((d) => d.owner !== null && this.asked.has(d.owner));
    const guarded = new Map(
      (await this.ownerSweep.guard(fresh, this.sweep.now)).map((g) => [g.decision, g]),
    );
    return decisions.map((d) => guarded.get(d)?.pausedBecause ?? null);
  }

  isRetry(decision: Decision): boolean {
    return this.state.retries.failuresOf(fenceOf(decision)) > 0;
  }

  async stop(row: OwnedRow, decision: Decision, announce: Announce): Promise<RowStop> {
    const { now } = this.sweep;
    const { retries } = this.state;
    const fence = fenceOf(decision);
    if (retries.waitingUntil(fence, now) !== null) {
      // A stop failed moments ago: wait out its backoff before asking again.
      return { kind: 'left_running', audit: false, step: null };
    }
    const streak = retries.failuresOf(fence);
    const started = performance.now();
    const outcome = await this.options.owners.terminate(asOwnerSees(row));
    const next = afterTermination(outcome, streak, this.options.sweep.escalateAfter);
    const step = {
      step: 'terminate' as const,
      outcome: next.kind === 'end' ? ('ok' as const) : ('failed' as const),
      ms: elapsed(started),
      detail: next.note,
    };
    if (next.kind === 'end') {
      retries.forget(fence);
      return { kind: 'stopped', note: next.note, step };
    }
    if (next.escalate) {
      announce({
        type: 'execution:escalated',
        at: now,
        executionId: decision.executionId,
        attempt: decision.attempt,
        verdict: decision.verdict,
        reason: next.note,
        failures: next.failures,
        ...where(decision),
      });
    }
    retries.failed(fence, next.failures, now + next.retryAfterMs);
    return { kind: 'left_running', audit: next.audit, step };
  }

  finish(): void {
    this.ownerSweep.finish(this.sweep.now);
    if (!this.sweep.dryRun && this.reconcileDue) this.state.reconciledAt = this.sweep.now;
  }
}

/** The row as its owner knows it: its registry lists, and its stop endpoint takes, `agentId`. */
function asOwnerSees(row: OwnedRow): Execution {
  return { ...row.execution, id: row.agentId };
}

const fenceOf = (decision: Decision) => ({ id: decision.executionId, attempt: decision.attempt });

/** The row's source, table and id, as a mapped row's events carry them. */
function where(decision: Decision): { source?: string; table?: string; rowId?: string } {
  const { source, table, rowId } = decision.evidence;
  return {
    ...(typeof source === 'string' ? { source } : {}),
    ...(typeof table === 'string' ? { table } : {}),
    ...(typeof rowId === 'string' ? { rowId } : {}),
  };
}
