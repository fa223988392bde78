/**
 * The interfaces the runtime needs. Adapters (stores, owner clients) implement them; entry points
 * (CLI, HTTP) wire them.
 */
import type { ActionLabel, TerminationOutcome } from './core/decide.js';
import type { ProcessVerdict } from './core/process-health.js';
import type { SupervisionState } from './core/process-supervision.js';
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

export type { Clock } from './ports/clock.js';

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

export interface StepRecord {
  step: 'terminate' | 'end' | 'retry' | 'dead_letter' | 'derive_parent' | 'release' | 'notify';
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
  /** Problems that kept part of a source (a mapped table) from being swept; set when sources are. */
  sourceErrors?: SourceError[] | undefined;
}

/** A source that could not be swept (or only partly), named by its configuration key. */
export interface SourceError {
  source: string;
  /** The configuration key at fault: `tables.interactions.status.column`. */
  key: string;
  message: string;
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
  /**
   * Throws `store_unavailable` when the store can no longer keep what it acknowledges (an SQLite
   * file deleted or replaced while open). Cheap: called on each health check.
   */
  assertIntact?(): void;

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
   * Many `endAttempt`s in one transaction (a sweep's page): one answer per item, in order. If it
   * throws, none of them was applied.
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
  /** Open executions by status and kind, for metrics. */
  countOpen(): Promise<{ status: OpenStatus; kind: string; count: number }[]>;
  /**
   * Running executions per owner, for these owners (owners with none are absent): what each
   * owner's registry should list. Queued executions are not on their owner yet, so not counted.
   */
  countOpenByOwner(owners: readonly string[]): Promise<Map<string, number>>;
  /** The owner of each of these executions that exists. */
  ownersOf(ids: string[]): Promise<Map<string, string | null>>;
  /** Answers when the database is reachable; throws otherwise. */
  ping(): Promise<void>;
  /**
   * The database server's own clock (ms since the epoch), to measure this process's clock against;
   * null where the database has no clock of its own (SQLite runs in this process, on its clock).
   */
  databaseTime(): Promise<number | null>;
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
  /** Live holders of leases whose name starts with `prefix` (e.g. the replicas). */
  listLeases(prefix: string, now: number): Promise<{ name: string; holder: string }[]>;

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

  /** The supervised processes' state and recovery audit, in the same database. */
  processes(): ProcessStore;

  /** The notification outbox, in the same database. */
  outbox(): OutboxStore;
}

/** What the supervisor keeps about one process between checks (and across restarts of Vigil). */
export interface ProcessState extends SupervisionState {
  name: string;
  /** The process Vigil believes runs it, and that process's OS start time (its identity). */
  pid: number | null;
  pidStartedAt: number | null;
  /** When Vigil last started it: the startup grace counts from here. */
  startedAt: number | null;
  verdict: ProcessVerdict | null;
  reason: string | null;
  evidence: Record<string, JsonValue>;
  /** Restarts by Vigil in all. */
  restarts: number;
  lastCheckAt: number | null;
}

export interface RecoveryStepRecord {
  /** `kill`, `start`, or `run:NAME` for a named command. */
  step: string;
  /** `warned`: a named command failed; the pipeline went on. */
  outcome: 'ok' | 'failed' | 'warned' | 'skipped';
  startedAt: number;
  ms: number;
  detail: string;
  evidence: Record<string, JsonValue>;
}

/** One audited recovery, automatic or by an operator. */
export interface RecoveryRecord {
  id: string;
  name: string;
  at: number;
  finishedAt: number;
  /** A verdict ("timed_out"), or "operator:restart", "operator:off", "operator:on". */
  trigger: string;
  reason: string;
  evidence: Record<string, JsonValue>;
  steps: RecoveryStepRecord[];
  outcome: 'ok' | 'failed';
}

/** Where the supervisor's state lives. Writers hold the process's lease (`process:NAME`). */
export interface ProcessStore {
  getProcess(name: string): Promise<ProcessState | undefined>;
  listProcesses(): Promise<ProcessState[]>;
  saveProcess(state: ProcessState): Promise<void>;
  recordRecovery(record: RecoveryRecord): Promise<void>;
  /** Newest first. */
  listRecoveries(filter: { name?: string | undefined; limit: number }): Promise<RecoveryRecord[]>;
}

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
  holderOf(slot: string, now: number): Promise<string | null>;
  /**
   * Whether the slot store answers, from its last command's outcome (or its recovery probe); absent
   * when the slots live in the database itself.
   */
  status?(): StoreStatus;
  close(): Promise<void>;
}

/** One store's reachability, as `/healthz` and `/metrics` report it. */
export interface StoreStatus {
  up: boolean;
  /** Why it is down (null while up). */
  error: string | null;
}

/** The holder token of one attempt in a slot store. */
export const slotHolder = (executionId: string, attempt: number): string =>
  `${attempt}:${executionId}`;

/** Owners that run executions: asked what they run, and asked to stop work. */
export interface OwnerClient {
  /** Asks every owner of these executions what it runs (one request per owner, in parallel). */
  observe(
    executions: readonly Execution[],
    now: number,
  ): Promise<(e: Execution) => OwnerObservation>;
  canTerminate(execution: Execution): boolean;
  terminate(execution: Execution): Promise<TerminationOutcome>;
  /**
   * What this owner's registry answered at the last `observe` that asked it; undefined for an
   * owner without a registry. The sweep's breaker and unknown-owner count read it.
   */
  answered?(owner: string): RegistryAnswer | undefined;
}

/** One owner registry's answer: how many executions it listed as running, or why it is unknown. */
export type RegistryAnswer =
  { kind: 'listed'; at: number; listed: number } | { kind: 'unknown'; at: number; cause: string };

/** For sources whose owners expose no registry and no stop endpoint (the ledger alone). */
export const noOwners: OwnerClient = {
  observe: () => Promise.resolve(() => ({ kind: 'untracked' })),
  canTerminate: () => false,
  terminate: () => Promise.resolve({ kind: 'failed', cause: 'owner offers no way to terminate' }),
};

/** What the outbox keeps of one event for one channel (the event itself is plain JSON). */
export interface OutboxEvent {
  type: string;
  /** Milliseconds since the epoch. */
  at: number;
  [key: string]: unknown;
}

/** A notification waiting in, or delivered from, the outbox: one event for one channel. */
export interface OutboxMessage {
  id: string;
  channel: string;
  eventType: string;
  /** What the cooldown is keyed on: the execution, process, probe or owner concerned. */
  subjectKey: string;
  event: OutboxEvent;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  lastError: string | null;
  createdAt: number;
  /** When the next delivery attempt is due (meaningful while pending). */
  dueAt: number;
  deliveredAt: number | null;
}

export interface OutboxFilter {
  status?: OutboxMessage['status'] | undefined;
  channel?: string | undefined;
  since?: number | undefined;
  limit: number;
}

/**
 * The transactional outbox of notifications. Messages are written before any delivery is tried;
 * workers (one per replica) claim due rows under a lease, so each is delivered by one of them.
 */
export interface OutboxStore {
  /**
   * Writes new messages. Each joins the earliest batch still waiting for its channel, or opens one
   * due `holdMs` from `now` (the digest window), so a burst goes out as one message per channel.
   */
  enqueue(
    messages: Pick<OutboxMessage, 'id' | 'channel' | 'eventType' | 'subjectKey' | 'event'>[],
    now: number,
    holdMs: number,
  ): Promise<void>;
  /**
   * Makes every batch still held for its digest window due now (a sweep has completed), except on
   * channels waiting to retry a failed delivery: their new messages go with that retry.
   */
  releaseHeld(now: number): Promise<void>;
  /**
   * Claims up to `limit` due messages for `holder` until `now + leaseMs`; no other holder can
   * claim them meanwhile. Across replicas on PostgreSQL rows are claimed with SKIP LOCKED.
   */
  claimDue(holder: string, now: number, leaseMs: number, limit: number): Promise<OutboxMessage[]>;
  /** Marks claimed messages delivered; only while `holder` still holds their claim. */
  markDelivered(ids: string[], holder: string, now: number): Promise<void>;
  /**
   * Records a failed attempt on claimed messages: due again at `retryAt`, or `failed` for good
   * when `retryAt` is null.
   */
  markAttemptFailed(
    ids: string[],
    holder: string,
    error: string,
    retryAt: number | null,
  ): Promise<void>;
  /** The earliest moment a pending message falls due, or null when none is pending. */
  nextDue(): Promise<number | null>;
  /**
   * Takes the cooldown of `key` until `now + ms` unless it is already cooling; false means "a
   * notification for this went out recently: suppress this one". Atomic across replicas.
   */
  acquireCooldown(key: string, now: number, ms: number): Promise<boolean>;
  /** Deletes cooldowns that have ended. */
  pruneCooldowns(now: number): Promise<void>;
  list(filter: OutboxFilter): Promise<OutboxMessage[]>;
}

/** A message rendered for one channel: one event, or a digest of several. */
export interface Notification {
  channel: string;
  /** The outbox ids of the events it carries, oldest first. */
  ids: string[];
  events: OutboxEvent[];
}

/**
 * One channel's way of delivering notifications: a webhook, Slack, Discord, email. Resolves when
 * the receiver has accepted the message; rejects otherwise, with a DeliveryError when it
 * can tell whether trying again may help.
 */
export interface Notifier {
  readonly channel: string;
  deliver(notification: Notification, now: number): Promise<void>;
  close?(): Promise<void>;
}
