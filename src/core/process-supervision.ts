/**
 * What the supervisor does after judging a process: count unhealthy checks, recover after N in a
 * row, back off between restarts and give up after too many. Pure: state in, state out, `now` given.
 */
import { formatDuration } from './duration.js';
import type { ProcessVerdict } from './process-health.js';

export interface SupervisionPolicy {
  /** Unhealthy checks in a row before recovery runs (default 2): one bad read is not an outage. */
  unhealthyAfter: number;
  backoff: {
    /** Delay after the first restart; doubles after each further one. */
    initialMs: number;
    maxMs: number;
    /** A process healthy this long after its last restart is stable: the backoff starts over. */
    resetAfterMs: number;
  };
  /** Restarts without a stable period before the supervisor gives up. */
  giveUpAfter: number;
}

/** The counters the supervisor keeps per process (persisted between checks and restarts). */
export interface SupervisionState {
  /** false once an operator turned it off: never resurrected until turned on. */
  enabled: boolean;
  consecutiveUnhealthy: number;
  /** When the current unhealthy episode was declared (N checks reached); null when healthy. */
  unhealthySince: number | null;
  /** Restarts since the process was last stable: drives the backoff and the give-up. */
  streak: number;
  lastRestartAt: number | null;
  /** No automatic restart before this time. */
  nextRestartAt: number | null;
  gaveUp: boolean;
}

export const initialSupervision = (): SupervisionState => ({
  enabled: true,
  consecutiveUnhealthy: 0,
  unhealthySince: null,
  streak: 0,
  lastRestartAt: null,
  nextRestartAt: null,
  gaveUp: false,
});

export type SupervisionEvent = 'unhealthy' | 'recovered' | 'gave_up';

export type SupervisionAction =
  | { kind: 'none'; why: string }
  | { kind: 'recover'; why: string }
  | { kind: 'give_up'; why: string };

export interface SupervisionDecision {
  state: SupervisionState;
  action: SupervisionAction;
  events: SupervisionEvent[];
}

/** The delay after the `streak`-th restart in a row: initial × 2^(streak−1), capped. */
export function restartDelay(policy: SupervisionPolicy, streak: number): number {
  const exponential = policy.backoff.initialMs * 2 ** Math.max(0, streak - 1);
  return Math.min(policy.backoff.maxMs, exponential);
}

/** Decides what follows one check of a process. */
export function decideCheck(
  previous: SupervisionState,
  judgement: { verdict: ProcessVerdict; inGrace: boolean },
  policy: SupervisionPolicy,
  now: number,
): SupervisionDecision {
  const state = { ...previous };
  const events: SupervisionEvent[] = [];
  const none = (why: string): SupervisionDecision => ({
    state,
    action: { kind: 'none', why },
    events,
  });
  if (!state.enabled) {
    state.consecutiveUnhealthy = 0;
    return none('off: not supervised until turned on');
  }

  if (judgement.verdict === 'healthy') {
    state.consecutiveUnhealthy = 0;
    if (state.unhealthySince !== null) events.push('recovered');
    state.unhealthySince = null;
    const isStable =
      state.lastRestartAt === null || now - state.lastRestartAt >= policy.backoff.resetAfterMs;
    if (isStable && (state.streak > 0 || state.gaveUp || state.nextRestartAt !== null)) {
      state.streak = 0;
      state.nextRestartAt = null;
      state.gaveUp = false;
    }
    return none('healthy');
  }
  if (judgement.inGrace) return none('within the startup grace');

  state.consecutiveUnhealthy += 1;
  if (state.consecutiveUnhealthy < policy.unhealthyAfter) {
    return none(`unhealthy ${state.consecutiveUnhealthy} of ${policy.unhealthyAfter} checks`);
  }
  if (state.unhealthySince === null) {
    state.unhealthySince = now;
    events.push('unhealthy');
  }
  if (state.gaveUp) return none('gave up: restart it by hand (vigil proc restart / on)');
  if (state.nextRestartAt !== null && now < state.nextRestartAt) {
    return none(`backing off: next restart in ${formatDuration(state.nextRestartAt - now)}`);
  }
  if (state.streak >= policy.giveUpAfter) {
    state.gaveUp = true;
    events.push('gave_up');
    return {
      state,
      action: { kind: 'give_up', why: `${state.streak} restarts without a stable period` },
      events,
    };
  }
  return {
    state,
    action: {
      kind: 'recover',
      why: `unhealthy ${state.consecutiveUnhealthy} checks in a row (limit ${policy.unhealthyAfter})`,
    },
    events,
  };
}

/**
 * The counters after an automatic recovery ran. A successful one gives the new process fresh
 * checks; a failed one leaves the count at its limit, so only the backoff stands between it and
 * the next attempt. Either way the next restart waits out the backoff: no restart storm.
 */
export function afterRecovery(
  previous: SupervisionState,
  outcome: { succeeded: boolean },
  policy: SupervisionPolicy,
  now: number,
): SupervisionDecision {
  const state = { ...previous };
  const events: SupervisionEvent[] = [];
  state.streak += 1;
  state.lastRestartAt = now;
  state.nextRestartAt = now + restartDelay(policy, state.streak);
  if (outcome.succeeded) state.consecutiveUnhealthy = 0;
  // A failed restart at the limit gives up at once; a successful one gets its chance to be stable.
  if (!outcome.succeeded && state.streak >= policy.giveUpAfter) {
    state.gaveUp = true;
    events.push('gave_up');
  }
  return {
    state,
    action: { kind: 'none', why: outcome.succeeded ? 'restarted' : 'recovery failed' },
    events,
  };
}

/** An operator's restart or `on`: a fresh start, no backoff, no give-up carried over. */
export function afterOperatorStart(previous: SupervisionState, now: number): SupervisionState {
  return {
    ...previous,
    enabled: true,
    consecutiveUnhealthy: 0,
    unhealthySince: null,
    streak: 0,
    lastRestartAt: now,
    nextRestartAt: null,
    gaveUp: false,
  };
}
