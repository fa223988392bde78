/**
 * The per-owner breaker and the unknown-owner count: pure functions of per-owner counts. The
 * runtime keeps their state between sweeps (src/runtime/owner-watch.ts).
 */

export interface BreakerRule {
  /**
   * The largest share of an owner's running executions one sweep may orphan (0–1, default 0.5).
   * More than that at once is likelier a registry that lost its memory (an agent restart, a
   * partition) than that many crashes, and failing running work is the worse mistake: a paused
   * orphan costs a little time, a false orphan kills real work and frees its slot for a copy.
   */
  maxOrphanShare: number;
  /**
   * Both rules apply only to an owner holding at least this many running executions (default 5):
   * below it a mass failure is small, and a single orphan of a small owner must still be ended.
   */
  minRunning: number;
}

export interface OwnerSweepCounts {
  /** The owner's running executions in the store, counted when the sweep first met the owner. */
  running: number;
  /** Executions of the owner this sweep would end as orphaned (so far, this page included). */
  wouldOrphan: number;
  /** How many ids the owner's registry listed as running. */
  listed: number;
}

export type BreakerVerdict = { trips: false } | { trips: true; reason: string };

/** Whether this sweep's answer from an owner should pause destructive actions for it. */
export function breakerVerdict(counts: OwnerSweepCounts, rule: BreakerRule): BreakerVerdict {
  const { running, wouldOrphan, listed } = counts;
  if (running < rule.minRunning) return { trips: false };
  if (listed === 0) {
    return {
      trips: true,
      reason: `its registry lists nothing while it holds ${running} running executions`,
    };
  }
  if (wouldOrphan / running > rule.maxOrphanShare) {
    return {
      trips: true,
      reason: `${wouldOrphan} of its ${running} running executions would be orphaned at once (more than ${percent(rule.maxOrphanShare)})`,
    };
  }
  return { trips: false };
}

const percent = (share: number) => `${Math.round(share * 1000) / 10}%`;

/** What Vigil remembers about an owner it could not ask. */
export interface UnknownCount {
  consecutiveUnknown: number;
  /** `owner:unreachable` went out for the current episode. */
  announced: boolean;
}

/**
 * One sweep's answer (reachable or not) folded into the count. `announce` is true once per
 * episode: on the sweep that reaches `threshold` unknown answers in a row; an answer ends it.
 */
export function countUnknown(
  count: UnknownCount,
  reachable: boolean,
  threshold: number,
): UnknownCount & { announce: boolean } {
  if (reachable) return { consecutiveUnknown: 0, announced: false, announce: false };
  const consecutiveUnknown = count.consecutiveUnknown + 1;
  const announce = !count.announced && consecutiveUnknown >= threshold;
  return { consecutiveUnknown, announced: count.announced || announce, announce };
}
