/**
 * The interfaces the runtime needs. Adapters (stores, owner clients) implement them; entry points
 * (CLI, HTTP) wire them.
 */
import type { ActionLabel, TerminationOutcome } from './core/decide.js';
import type {
  EndStatus,
  EndedBy,
  Execution,
  ExecutionVerdict,
  JsonValue,
  Limits,
  OpenStatus,
  OwnerObservation,
  Status,
} from './core/types.js';

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

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

export interface ListFilter {
  status?: Status | undefined;
  kind?: string | undefined;
  owner?: string | undefined;
  parentId?: string | undefined;
  limit: number;
  cursor?: string | undefined;
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

export interface OverdueCursor {
  deadlineAt: number;
  id: string;
}

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

/** The answer to a runner's own report (complete / fail). */
export type ReportOutcome =
  | { kind: 'ended'; execution: Execution }
  /** The watchdog ended this attempt first: the report is kept as `lateResult`. */
  | {
      kind: 'late';
      execution: Execution;
      /** false for a repeat of a late report already kept */ kept: boolean;
    }
  /** The attempt had already been ended by its runner or an operator. */
  | { kind: 'already_ended'; execution: Execution }
  /** The report names an attempt that never existed. */
  | { kind: 'no_such_attempt'; execution: Execution }
  | { kind: 'not_found' };

export interface StepRecord {
  step: 'terminate' | 'end' | 'retry' | 'dead_letter' | 'derive_parent' | 'notify';
  outcome: 'ok' | 'failed' | 'lost_race' | 'skipped';
  ms: number;
  detail?: string | undefined;
}

export type DecisionOutcome =
  'ignored' | 'remediated' | 'lost_race' | 'left_running' | 'failed' | 'dry_run';

/** One audited decision: what was decided, on what evidence, and how each step went. */
export interface RemediationRecord {
  id: string;
  sweepId: string | null;
  at: number;
  executionId: string;
  attempt: number;
  kind: string;
  owner: string | null;
  verdict: ExecutionVerdict;
  action: ActionLabel;
  reason: string;
  evidence: Record<string, JsonValue>;
  steps: StepRecord[];
  outcome: DecisionOutcome;
  dryRun: boolean;
}

export interface RemediationFilter {
  since?: number | undefined;
  verdict?: ExecutionVerdict | undefined;
  executionId?: string | undefined;
  includeDryRun?: boolean | undefined;
  limit: number;
}

export interface SweepDecision {
  executionId: string;
  attempt: number;
  verdict: ExecutionVerdict;
  action: ActionLabel;
  reason: string;
  outcome: DecisionOutcome;
}

export interface SweepReport {
  id: string;
  startedAt: number;
  finishedAt: number;
  dryRun: boolean;
  examined: number;
  decisions: SweepDecision[];
  counts: Record<string, number>;
}

/** What the dashboard's overview covers. */
export interface SummaryQuery {
  /** Remediations from this moment on (ms since the epoch). */
  since: number;
  now: number;
  /** The width of one timeline bucket. */
  bucketMs: number;
  /** How many open executions nearest their deadline to list. */
  dueSoonLimit: number;
}

export interface Summary {
  /** Every execution by status (statuses with none are absent). */
  statuses: Partial<Record<Status, number>>;
  /** Remediations that took effect in the window, by verdict. */
  verdicts: Partial<Record<ExecutionVerdict, number>>;
  /** The same remediations by bucket, oldest first, every bucket present (empty ones too). */
  timeline: { start: number; counts: Partial<Record<ExecutionVerdict, number>> }[];
  /** Open executions with a deadline, the nearest first: who is about to be judged. */
  dueSoon: Execution[];
}

/**
 * Where executions, attempts, the audit trail and sweep reports live. Every method takes `now`
 * from the runtime's clock; no implementation reads the system time.
 */
export interface ExecutionStore {
  readonly description: string;
  /** Brings the schema up to date; returns the names of the migrations applied. */
  migrate(): Promise<string[]>;
  close(): Promise<void>;

  create(input: NewExecution, now: number): Promise<Execution>;
  get(id: string): Promise<Execution | undefined>;
  list(filter: ListFilter): Promise<{ items: Execution[]; nextCursor: string | null }>;
  /** queued → running for this attempt; returns the execution, or undefined when the fence fails. */
  start(id: string, attempt: number, now: number): Promise<Execution | undefined>;
  heartbeat(beats: Beat[], now: number): Promise<HeartbeatResult>;
  /** A runner's own completion or failure, fenced by its attempt. */
  report(fence: Omit<Fence, 'status'>, end: AttemptEnd, now: number): Promise<ReportOutcome>;

  /**
   * Open executions whose deadline has passed (`deadline_at < now`), by deadline then id, after
   * `after` when paging.
   */
  listOverdue(now: number, limit: number, after?: OverdueCursor): Promise<Execution[]>;
  listChildren(parentId: string): Promise<Execution[]>;
  /** Which of these ids have children. */
  withChildren(ids: string[]): Promise<Set<string>>;
  /**
   * Ends the attempt only while the row is still `fence` (compare-and-set); returns whether this
   * write won. With `end.retry` the execution is queued again as the next attempt.
   */
  endAttempt(
    fence: Fence,
    end: AttemptEnd,
    now: number,
    /** Written in the same transaction when the end wins: the audit of this remediation. */
    audit?: RemediationRecord,
  ): Promise<boolean>;
  /**
   * Moves the deadline of an overdue execution the watchdog left alone (in grace, owner unknown,
   * children running) to when it should look again, so the scheduler does not spin on it.
   */
  deferDeadline(fence: Fence, until: number): Promise<void>;
  /** The earliest deadline of any open execution: when the scheduler must wake next. */
  nextDeadline(): Promise<number | null>;
  /** Open executions by status and kind, for metrics. */
  countOpen(): Promise<{ status: OpenStatus; kind: string; count: number }[]>;
  /** The owner of each of these executions that exists. */
  ownersOf(ids: string[]): Promise<Map<string, string | null>>;
  /** Answers when the database is reachable; throws otherwise. */
  ping(): Promise<void>;
  /** Counts a failed termination of this attempt; returns the failures so far. */
  recordTerminationFailure(fence: Fence): Promise<number>;

  recordRemediations(records: RemediationRecord[]): Promise<void>;
  listRemediations(filter: RemediationFilter): Promise<RemediationRecord[]>;
  saveSweep(report: SweepReport): Promise<void>;
  latestSweep(): Promise<SweepReport | undefined>;
  /** The dashboard's overview: counts, the remediation timeline, who is due soonest. */
  summary(query: SummaryQuery): Promise<Summary>;

  /**
   * Takes or renews a named lease until `now + ttlMs`; false while another holder has it. A holder
   * that dies loses the lease when it expires.
   */
  acquireLease(name: string, holder: string, now: number, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, holder: string): Promise<void>;
}

/** Owners that run executions: asked what they run, and asked to stop work. */
export interface OwnerClient {
  /** Asks every owner of these executions what it runs (one request per owner, in parallel). */
  observe(
    executions: readonly Execution[],
    now: number,
  ): Promise<(e: Execution) => OwnerObservation>;
  canTerminate(execution: Execution): boolean;
  terminate(execution: Execution): Promise<TerminationOutcome>;
}

/** For sources whose owners expose no registry and no stop endpoint (the ledger alone). */
export const noOwners: OwnerClient = {
  observe: () => Promise.resolve(() => ({ kind: 'untracked' })),
  canTerminate: () => false,
  terminate: () => Promise.resolve({ kind: 'failed', cause: 'owner offers no way to terminate' }),
};
