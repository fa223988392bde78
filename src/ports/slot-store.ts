import type { StoreStatus } from './records.js';

/** A named capacity slot or queue entry held by one attempt of one execution. */
export interface SlotHold {
  executionId: string;
  attempt: number;
  slot: string;
  expiresAt: number | null;
}

/**
 * How a compare-and-release went: `released` (it was ours), `not_held` (another holder has it:
 * ours expired and it was taken), `already_free` (nobody holds it: ours expired, or an earlier try
 * released it and did not live to record it).
 */
export type SlotReleaseOutcome = 'released' | 'not_held' | 'already_free';

export interface SlotHoldRecord extends SlotHold {
  acquiredAt: number;
  releaseDueAt: number | null;
  remediationId: string | null;
  releasedAt: number | null;
  releaseOutcome: SlotReleaseOutcome | null;
}

/**
 * Where slots live (Redis, or Vigil's own database): one holder per slot name, taken only when
 * free (or expired) and released only by the holder that took it — a compare-and-release, so a
 * slot re-acquired by a newer execution is never released by an older one's remediation.
 */
export interface SlotStore {
  readonly description: string;
  acquire(
    slot: string,
    holder: string,
    ttlMs: number | null,
    now: number,
  ): Promise<
    { acquired: true; expiresAt: number | null } | { acquired: false; holder: string | null }
  >;
  /** Releases the slot only if `holder` holds it; otherwise says whether it is free or whose. */
  release(slot: string, holder: string, now: number): Promise<SlotReleaseOutcome>;
  /**
   * Many compare-and-releases in one round trip (optional): each exactly as `release` would do it,
   * in order; one answer per release. Fails as a whole (then none is known to have happened).
   * Callers keep each call to a bounded number of releases (see `Slots`).
   */
  releaseMany?(
    releases: readonly { slot: string; holder: string }[],
    now: number,
  ): Promise<SlotReleaseOutcome[]>;
  holderOf(slot: string, now: number): Promise<string | null>;
  /**
   * Whether the slot store answers, from its last command's outcome (or its recovery probe); absent
   * when the slots live in the database itself.
   */
  status?(): StoreStatus;
  close(): Promise<void>;
}

/** The holder token of one attempt in a slot store. */
export const slotHolder = (executionId: string, attempt: number): string =>
  `${attempt}:${executionId}`;

/**
 * Which attempt holds which slot, kept beside the executions so that a slot is released when its
 * attempt ends, even by another replica or after a crash.
 */
export interface SlotHoldStore {
  /**
   * Records that this attempt holds `slot`, only while the execution is open at this attempt
   * (otherwise false: an ended attempt can never gain a slot).
   */
  recordSlotHold(hold: SlotHold, now: number): Promise<boolean>;
  /** Forgets a hold whose acquisition failed. */
  dropSlotHold(executionId: string, attempt: number, slot: string): Promise<void>;
  /** Every slot this execution holds or held, newest attempt first. */
  slotHolds(executionId: string): Promise<SlotHoldRecord[]>;
  /** Marks this attempt's slots for release (a runner released it, or the hold ended). */
  markSlotsDue(executionId: string, attempt: number, now: number, slot?: string): Promise<void>;
  /**
   * Holds whose attempt has ended and whose release is not recorded yet: of these attempts, or
   * (for recovery) those due since before `dueBefore`.
   */
  dueSlotReleases(query: {
    of?: readonly { id: string; attempt: number }[] | undefined;
    dueBefore?: number | undefined;
    limit: number;
  }): Promise<SlotHoldRecord[]>;
  /**
   * Records releases' outcomes in one transaction, each only once (false where another releaser
   * recorded it first), and appends each to the remediation that caused it.
   */
  recordSlotReleases(
    releases: readonly { hold: SlotHoldRecord; outcome: SlotReleaseOutcome }[],
    now: number,
  ): Promise<boolean[]>;
  /** Slots kept in this store itself, used when no Redis is configured. */
  localSlots(): SlotStore;
}
