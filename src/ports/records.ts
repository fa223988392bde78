/**
 * Records shared by several store roles: the compare-and-set key of a terminal write, how an
 * attempt ends, and a store's reachability.
 */
import type { EndStatus, EndedBy, ExecutionVerdict, JsonValue, OpenStatus } from '../core/types.js';

/** The compare-and-set key of every terminal write. */
export interface Fence {
  id: string;
  attempt: number;
  status: OpenStatus;
  /**
   * When set, the write also requires the deadline to be the one the decision was taken on: a
   * heartbeat that lands between a sweep's read and its write moves the deadline, and then the
   * runner's proof of life wins over the sweep's stale judgement.
   */
  deadlineAt?: number | null | undefined;
}

/** How an attempt ends, and whether a new attempt follows. */
export interface AttemptEnd {
  status: EndStatus;
  verdict: ExecutionVerdict | null;
  reason: string | null;
  endedBy: EndedBy;
  result?: JsonValue | undefined;
  error?: JsonValue | undefined;
  /** When set, the execution goes back to `queued` as this attempt, eligible at `queuedAt`. */
  retry: { attempt: number; queuedAt: number } | null;
}

/** One store's reachability, as `/healthz` and `/metrics` report it. */
export interface StoreStatus {
  up: boolean;
  /** Why it is down (null while up). */
  error: string | null;
}
