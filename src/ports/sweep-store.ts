import type { Execution } from '../core/types.js';
import type { RemediationRecord } from './audit-store.js';
import type { AttemptEnd, Fence } from './records.js';

export interface OverdueCursor {
  deadlineAt: number;
  id: string;
}

/**
 * What a sweep reads and how it ends what it judged: overdue and owned executions, their
 * children, page-wide fenced ends, deferred deadlines. Every method takes `now` from the
 * runtime's clock.
 */
export interface SweepStore {
  /**
   * Open executions whose deadline has passed (`deadline_at < now`), by deadline then id, after
   * `after` when paging.
   */
  listOverdue(now: number, limit: number, after?: OverdueCursor): Promise<Execution[]>;
  /**
   * Running executions of these owners (null: of any owner), by creation then id, after `after`
   * when paging: what reconciliation asks the owners' registries about.
   */
  listRunningOwned(
    owners: readonly string[] | null,
    limit: number,
    after?: { createdAt: number; id: string },
  ): Promise<Execution[]>;
  listChildren(parentId: string): Promise<Execution[]>;
  /** Which of these ids have children. */
  withChildren(ids: string[]): Promise<Set<string>>;
  /**
   * Many `endAttempt`s (see LedgerStore) in one transaction (a sweep's page): one answer per item,
   * in order. If it throws, none of them was applied.
   */
  endAttempts(
    items: { fence: Fence; end: AttemptEnd; audit?: RemediationRecord | undefined }[],
    now: number,
  ): Promise<boolean[]>;
  /**
   * Moves the deadline of an overdue execution the watchdog left alone (in grace, owner unknown,
   * children running) to when it should look again, so the scheduler does not spin on it.
   */
  deferDeadline(fence: Fence, until: number): Promise<void>;
  /** The earliest deadline of any open execution: when the scheduler must wake next. */
  nextDeadline(): Promise<number | null>;
  /** Counts a failed termination of this attempt; returns the failures so far. */
  recordTerminationFailure(fence: Fence): Promise<number>;
}
