/**
 * What Vigil remembers about owners with a registry between sweeps: whether each answered, how many
 * sweeps in a row it could not be asked, and its breaker. Kept in memory: after a restart every
 * breaker starts closed and every count at zero, which is safe because the breaker rule is applied
 * again before the first destructive action of the first sweep, and an unknown owner is never acted
 * on. Each `vigil sweep` (cron mode) starts afresh, so its unknown counts do not carry over.
 */
import type { ReadStore } from '../ports/read-store.js';
import type { Decision } from '../core/decide.js';
import { breakerVerdict, countUnknown } from '../core/owner-breaker.js';
import type { OwnerAgents } from '../ports/owner-agents.js';
import { agentFor } from '../ports/owner-agents.js';
import type { OwnerClient, RegistryAnswer } from '../ports/owner-client.js';
import type { EventBus } from './events.js';

export interface OwnerStatus {
  name: string;
  /** Null before its registry was first asked. */
  reachable: boolean | null;
  lastCheckedAt: number | null;
  consecutiveUnknown: number;
  breaker: 'closed' | 'open';
  /** Why the breaker is open; null when closed. */
  breakerReason: string | null;
  /** How many ids its registry listed at the last answer; null when it has not answered. */
  listed: number | null;
  /** Why it could not be asked, at the last unknown answer. */
  lastError: string | null;
}

interface OwnerState {
  reachable: boolean | null;
  lastCheckedAt: number | null;
  consecutiveUnknown: number;
  announced: boolean;
  breakerReason: string | null;
  listed: number | null;
  lastError: string | null;
}

/** A decision of a page, with the breaker's pause when it applies. */
export interface GuardedDecision {
  decision: Decision;
  /** Set when the decision would act on an owner whose breaker is open: do nothing, say why. */
  pausedBecause: string | null;
}

/** Whether a decision deserves an audit row as far as its owner's reachability goes, and why. */
export interface OwnerAuditNote {
  audit: boolean;
  /** Appended to the row's reason. */
  note?: string;
}

export class OwnerWatch {
  private readonly states = new Map<string, OwnerState>();
  /**
   * Per owner in an unknown episode, the attempts already audited as unknown in it (`id#attempt`):
   * the audit records the change, not every sweep that finds the owner still unknown. Cleared when
   * the owner answers again.
   */
  private readonly auditedUnknown = new Map<string, Set<string>>();

  constructor(
    private readonly agents: OwnerAgents,
    private readonly owners: OwnerClient,
    private readonly store: Pick<ReadStore, 'countOpenByOwner'>,
    private readonly events: EventBus,
  ) {}

  /** Starts one sweep's view of the owners; a dry run changes no state and emits nothing. */
  begin(dryRun: boolean): OwnerSweep {
    return new OwnerSweep(this, dryRun);
  }

  /** Every owner with a registry that is configured by name or has been asked. */
  status(): OwnerStatus[] {
    const names = new Set(
      Object.entries(this.agents.named)
        .filter(([, spec]) => spec.registry !== null)
        .map(([name]) => name),
    );
    for (const name of this.states.keys()) names.add(name);
    return [...names].sort().map((name) => {
      const s = this.states.get(name) ?? newState();
      return {
        name,
        reachable: s.reachable,
        lastCheckedAt: s.lastCheckedAt,
        consecutiveUnknown: s.consecutiveUnknown,
        breaker: s.breakerReason === null ? 'closed' : 'open',
        breakerReason: s.breakerReason,
        listed: s.listed,
        lastError: s.lastError,
      };
    });
  }

  /** @internal for OwnerSweep */
  state(owner: string): OwnerState {
    let state = this.states.get(owner);
    if (!state) {
      state = newState();
      this.states.set(owner, state);
    }
    return state;
  }

  /** @internal Why the owner's breaker is open; null when closed (or never seen). */
  breakerReason(owner: string): string | null {
    return this.states.get(owner)?.breakerReason ?? null;
  }

  /** @internal The attempts audited as unknown in the owner's current episode. */
  unknownAudited(owner: string): Set<string> {
    let audited = this.auditedUnknown.get(owner);
    if (!audited) {
      audited = new Set();
      this.auditedUnknown.set(owner, audited);
    }
    return audited;
  }

  /** @internal The owner answered: its unknown episode is over. */
  endUnknownEpisode(owner: string): void {
    this.auditedUnknown.delete(owner);
  }

  /** @internal */
  openStates(): [string, OwnerState][] {
    return [...this.states].filter(([, s]) => s.breakerReason !== null);
  }

  /** @internal */
  get deps() {
    return { agents: this.agents, owners: this.owners, store: this.store, events: this.events };
  }
}

const newState = (): OwnerState => ({
  reachable: null,
  lastCheckedAt: null,
  consecutiveUnknown: 0,
  announced: false,
  breakerReason: null,
  listed: null,
  lastError: null,
});

/** One sweep's per-owner counts. */
export class OwnerSweep {
  /** Running executions per owner, counted when the sweep first meets the owner. */
  private readonly running = new Map<string, number>();
  /** Executions per owner this sweep has ended or would end as orphaned, page after page. */
  private readonly orphans = new Map<string, number>();
  /** Owners whose answer tripped the breaker in this sweep, and why. */
  private readonly tripped = new Map<string, string>();
  /** The last answer of each owner asked in this sweep. */
  private readonly answers = new Map<string, RegistryAnswer>();

  constructor(
    private readonly watch: OwnerWatch,
    private readonly dryRun: boolean,
  ) {}

  /**
   * Applies the breaker to one page's decisions, before any of them is acted on: per owner, the
   * orphans this sweep would make so far against the running executions it holds, and whether its
   * registry answered empty.
   */
  async guard(decisions: readonly Decision[], now: number): Promise<GuardedDecision[]> {
    const { agents, owners, store, events } = this.watch.deps;
    const asked = new Map<string, RegistryAnswer>();
    for (const { owner } of decisions) {
      if (owner === null || asked.has(owner) || !agentFor(agents, owner)?.registry) continue;
      const answer = owners.answered?.(owner);
      if (answer) asked.set(owner, answer);
    }
    const uncounted = [...asked.keys()].filter((owner) => !this.running.has(owner));
    if (uncounted.length > 0) {
      const counts = await store.countOpenByOwner(uncounted);
      for (const owner of uncounted) this.running.set(owner, counts.get(owner) ?? 0);
    }
    for (const [owner, answer] of asked) {
      this.answers.set(owner, answer);
      if (answer.kind !== 'listed') continue;
      const pageOrphans = decisions.filter(
        (d) => d.owner === owner && d.verdict === 'orphaned' && d.action.kind === 'end',
      ).length;
      const wouldOrphan = (this.orphans.get(owner) ?? 0) + pageOrphans;
      this.orphans.set(owner, wouldOrphan);
      const running = this.running.get(owner) ?? 0;
      const agent = agentFor(agents, owner);
      if (agent === null) continue;
      const verdict = breakerVerdict(
        { running, wouldOrphan, listed: answer.listed },
        agent.breaker,
      );
      if (!verdict.trips || this.tripped.has(owner)) continue;
      this.tripped.set(owner, verdict.reason);
      if (!this.dryRun && this.watch.breakerReason(owner) === null) {
        this.watch.state(owner).breakerReason = verdict.reason;
        events.emit({
          type: 'breaker:opened',
          at: now,
          owner,
          reason: `breaker open for owner ${owner}: ${verdict.reason}`,
          running,
          wouldOrphan,
          listed: answer.listed,
        });
      }
    }
    return decisions.map((decision) => {
      const why = decision.owner === null ? undefined : this.pauseReason(decision.owner);
      const paused = why !== undefined && decision.action.kind === 'end';
      return {
        decision,
        pausedBecause: paused ? `breaker open for owner ${decision.owner}: ${why}` : null,
      };
    });
  }

  /**
   * Destructive actions pause for an owner that tripped the breaker in this sweep, and for one
   * whose breaker is open while it cannot be asked (nothing says the danger has passed).
   */
  private pauseReason(owner: string): string | undefined {
    const tripped = this.tripped.get(owner);
    if (tripped !== undefined) return tripped;
    const open = this.watch.breakerReason(owner);
    return open !== null && this.answers.get(owner)?.kind !== 'listed' ? open : undefined;
  }

  /**
   * Whether a decision about an execution of an owner with a registry is worth an audit row:
   * unknown is recorded when it begins for the execution and on the sweep that announces the owner
   * unreachable; the first known verdict after it is recorded as a recovery. Undefined when the
   * owner's reachability has nothing to add (the usual rule applies). A dry run changes nothing.
   */
  auditOf(decision: Decision): OwnerAuditNote | undefined {
    const { owner } = decision;
    if (this.dryRun || owner === null) return undefined;
    const answer = this.answers.get(owner);
    if (!answer) return undefined;
    const audited = this.watch.unknownAudited(owner);
    const key = `${decision.executionId}#${decision.attempt}`;
    if (decision.verdict === 'unknown') {
      if (!audited.has(key)) {
        audited.add(key);
        return { audit: true };
      }
      const state = this.watch.state(owner);
      const unknownFor = state.consecutiveUnknown + 1;
      const agent = agentFor(this.watch.deps.agents, owner);
      const announcing = agent !== null && !state.announced && unknownFor >= agent.unreachableAfter;
      return announcing
        ? { audit: true, note: `owner unreachable for ${unknownFor} sweeps in a row` }
        : { audit: false };
    }
    if (answer.kind === 'listed' && audited.delete(key)) {
      return { audit: true, note: `owner ${owner} answers again` };
    }
    return undefined;
  }

  /**
   * Folds this sweep into each owner's memory: unknown counts (one per sweep, however many pages
   * asked), `owner:unreachable` once per episode, and the breakers this sweep no longer trips.
   */
  finish(now: number): void {
    if (this.dryRun) return;
    const { agents, events } = this.watch.deps;
    for (const [owner, answer] of this.answers) {
      const agent = agentFor(agents, owner);
      if (agent === null) continue;
      const state = this.watch.state(owner);
      const reachable = answer.kind === 'listed';
      const counted = countUnknown(state, reachable, agent.unreachableAfter);
      state.consecutiveUnknown = counted.consecutiveUnknown;
      state.announced = counted.announced;
      state.reachable = reachable;
      state.lastCheckedAt = answer.at;
      if (answer.kind === 'listed') {
        state.listed = answer.listed;
        this.watch.endUnknownEpisode(owner);
      } else {
        state.lastError = answer.cause;
      }
      if (counted.announce && answer.kind === 'unknown') {
        events.emit({
          type: 'owner:unreachable',
          at: now,
          owner,
          consecutiveUnknown: counted.consecutiveUnknown,
          reason: `owner ${owner} could not be asked in ${counted.consecutiveUnknown} sweeps in a row: ${answer.cause}`,
        });
      }
    }
    // Only an answer can close a breaker: an owner this sweep did not ask (none of its executions
    // was due) or could not ask tells nothing about whether the danger has passed.
    for (const [owner, state] of this.watch.openStates()) {
      if (this.tripped.has(owner) || this.answers.get(owner)?.kind !== 'listed') continue;
      state.breakerReason = null;
      events.emit({
        type: 'breaker:closed',
        at: now,
        owner,
        reason: `breaker closed for owner ${owner}: this sweep would not orphan too many of its executions`,
      });
    }
  }
}
