import type { Execution, JsonValue, Limits, OpenStatus, Status } from '../core/types.js';
import type { RemediationRecord } from './audit-store.js';
import type { AttemptEnd, Fence } from './records.js';

export interface NewExecution {
  id: string;
  kind: string;
  owner: string | null;
  parentId: string | null;
  status: OpenStatus;
  /** Already resolved through the chain (execution → kind → owner → default). */
  limits: Limits;
  metadata: Record<string, JsonValue>;
}

export interface Beat {
  id: string;
  attempt: number;
  progress?: string | number | undefined;
}

export interface HeartbeatResult {
  ok: { id: string; deadlineAt: number | null }[];
  lost: { id: string; status: Status | null; reason: string }[];
}

/** Which queued executions a claim may take: one kind, and when set, one owner (null: none). */
export interface ClaimScope {
  kind: string;
  owner?: string | null | undefined;
}

/** The answer to a runner's own report (complete / fail). */
export type ReportOutcome =
  | { kind: 'ended'; execution: Execution }
  /** The watchdog ended this attempt first: the report is kept as `lateResult`. */
  | {
      kind: 'late';
      execution: Execution;
      /** false for a repeat of a late report already kept */ kept: boolean;
      /**
       * A different late report of this attempt was kept first: this one was not kept (one late
       * result per attempt; the first wins).
       */
      conflict: boolean;
    }
  /** The attempt had already been ended by its runner or an operator. */
  | { kind: 'already_ended'; execution: Execution }
  /** The report names an attempt that never existed. */
  | { kind: 'no_such_attempt'; execution: Execution }
  | { kind: 'not_found' };

/**
 * The ledger's writes: what runners and operators do to an execution (register, start, beat,
 * report, cancel). Every method takes `now` from the runtime's clock.
 */
export interface LedgerStore {
  create(input: NewExecution, now: number): Promise<Execution>;
  /**
   * Registers many in one transaction. Answers in order: the execution, or null when its id was
   * taken (by an existing row, or by an earlier input with the same id: the first one wins).
   */
  createMany(inputs: NewExecution[], now: number): Promise<(Execution | null)[]>;
  /** queued → running for this attempt; returns the execution, or undefined when the fence fails. */
  start(id: string, attempt: number, now: number): Promise<Execution | undefined>;
  heartbeat(beats: Beat[], now: number): Promise<HeartbeatResult>;
  /**
   * queued → running for the oldest attempt in `scope` whose backoff has ended, fenced like
   * `start`; undefined when none is due. Atomic across connections and replicas.
   */
  claim(scope: ClaimScope, now: number): Promise<Execution | undefined>;
  /** A runner's own completion or failure, fenced by its attempt. */
  report(fence: Omit<Fence, 'status'>, end: AttemptEnd, now: number): Promise<ReportOutcome>;
  /**
   * Ends the attempt only while the row is still `fence` (compare-and-set); returns whether this
   * write won. With `end.retry` the execution is queued again as the next attempt. An operator's
   * cancel, and a sweep's end of one execution.
   */
  endAttempt(
    fence: Fence,
    end: AttemptEnd,
    now: number,
    /** Written in the same transaction when the end wins: the audit of this remediation. */
    audit?: RemediationRecord,
  ): Promise<boolean>;
}
