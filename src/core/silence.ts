/**
 * Silences, maintenance windows and the global pause: what they match and what they hold back.
 * Pure: every function takes `now`.
 *
 * - A **silence** mutes the notifications of what it matches, for a while.
 * - A **maintenance window** is a silence with `maintenance: true`: it also holds back every
 *   destructive action (stop, end, retry, slot release, process recovery) on what it matches;
 *   detection and the audit go on.
 * - The **pause** holds back every destructive action everywhere, until resumed.
 */

/** What a silence matches on; each key given must match (values of one key: any of them). */
export interface Matchers {
  kind?: string[] | undefined;
  owner?: string[] | undefined;
  /** `ledger`, `table:NAME`, `operations:NAME`, `probe:NAME`, `process:NAME`. */
  source?: string[] | undefined;
  verdict?: string[] | undefined;
}

export const MATCHER_KEYS = ['kind', 'owner', 'source', 'verdict'] as const;
export type MatcherKey = (typeof MATCHER_KEYS)[number];

export interface Silence {
  id: string;
  matchers: Matchers;
  /** Milliseconds since the epoch; active while `startsAt <= now < endsAt`. */
  startsAt: number;
  endsAt: number;
  createdBy: string;
  comment: string;
  /** Also holds back destructive actions on what it matches. */
  maintenance: boolean;
  createdAt: number;
  /** Set when it was expired before its end (`endsAt` is then that moment). */
  expiredAt: number | null;
  /** `config` for a window of vigil.yaml (it cannot be expired through the API), else `store`. */
  origin: 'store' | 'config';
}

/** The pause: who paused, when, and why. */
export interface PauseState {
  since: number;
  by: string;
  comment: string;
}

/** The silences and the pause one sweep (or one check, one batch of notifications) sees. */
export interface GateView {
  paused: PauseState | null;
  silences: readonly Silence[];
}

/** What a decision (or an event) is about, as silences match it. */
export interface GateTarget {
  source: string;
  kind?: string | null | undefined;
  owner?: string | null | undefined;
  verdict?: string | null | undefined;
}

/** Why a destructive action is held back. */
export type Hold =
  | { kind: 'paused'; pause: PauseState; until: null }
  | { kind: 'maintenance'; silence: Silence; until: number };

export const isActive = (silence: Silence, now: number): boolean =>
  silence.startsAt <= now && now < silence.endsAt;

/** `active`, `pending` (not started yet) or `expired` (ended). */
export const stateOf = (silence: Silence, now: number): 'active' | 'pending' | 'expired' =>
  isActive(silence, now) ? 'active' : now < silence.startsAt ? 'pending' : 'expired';

/** Whether every matcher of the silence accepts the target; a field the target lacks never does. */
export function matches(matchers: Matchers, target: GateTarget): boolean {
  for (const key of MATCHER_KEYS) {
    const wanted = matchers[key];
    if (wanted === undefined) continue;
    const value = target[key];
    if (value === undefined || value === null || !wanted.includes(value)) return false;
  }
  return true;
}

/**
 * Whether a destructive action on the target must be held back now, and why: the pause first (it
 * holds everything, with no end), then the maintenance window that ends last (the one that holds
 * it longest).
 */
export function holdOf(view: GateView, target: GateTarget, now: number): Hold | null {
  if (view.paused) return { kind: 'paused', pause: view.paused, until: null };
  let longest: Silence | null = null;
  for (const silence of view.silences) {
    if (!silence.maintenance || !isActive(silence, now) || !matches(silence.matchers, target))
      continue;
    if (longest === null || silence.endsAt > longest.endsAt) longest = silence;
  }
  return longest && { kind: 'maintenance', silence: longest, until: longest.endsAt };
}

/** The active silence (or window) that mutes notifications about the target, if any. */
export function muteOf(view: GateView, target: GateTarget, now: number): Silence | null {
  return view.silences.find((s) => isActive(s, now) && matches(s.matchers, target)) ?? null;
}

/** How a hold reads in an audit row's reason and a step's detail. */
export function describeHold(hold: Hold): string {
  return hold.kind === 'paused'
    ? `paused by ${hold.pause.by}${hold.pause.comment ? `: ${hold.pause.comment}` : ''}`
    : `maintenance window ${hold.silence.id}${hold.silence.comment ? ` (${hold.silence.comment})` : ''}`;
}

/** A hold as evidence in the audit: the window's id, or the pause. */
export function holdEvidence(hold: Hold): Record<string, string | number> {
  return hold.kind === 'paused'
    ? { heldBy: 'pause', pausedBy: hold.pause.by, pausedSince: hold.pause.since }
    : { heldBy: 'maintenance', silenceId: hold.silence.id, windowEndsAt: hold.silence.endsAt };
}

/** Parses `key=value` (values separated by `,`) into matchers; errors name what was expected. */
export function parseMatchers(pairs: readonly string[]): Matchers {
  const matchers: Matchers = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    const key = at > 0 ? pair.slice(0, at).trim() : '';
    const value = at > 0 ? pair.slice(at + 1).trim() : '';
    if (!(MATCHER_KEYS as readonly string[]).includes(key) || value === '') {
      throw new Error(
        `expected a matcher like kind=backup (keys: ${MATCHER_KEYS.join(', ')}), got ${JSON.stringify(pair)}`,
      );
    }
    const values = value.split(',').map((v) => v.trim());
    if (values.some((v) => v === ''))
      throw new Error(`expected no empty value, got ${JSON.stringify(pair)}`);
    const k = key as MatcherKey;
    matchers[k] = [...(matchers[k] ?? []), ...values];
  }
  return matchers;
}

/** `kind=backup,owner=a,b` for lists and logs. */
export function formatMatchers(matchers: Matchers): string {
  return MATCHER_KEYS.filter((k) => matchers[k] !== undefined)
    .map((k) => `${k}=${(matchers[k] ?? []).join(',')}`)
    .join(' ');
}
