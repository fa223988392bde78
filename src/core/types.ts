/**
 * The execution model. Times are milliseconds since the epoch (UTC) inside Vigil; the HTTP API and
 * the CLI render them as ISO-8601.
 */

export const STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'dead'] as const;
export type Status = (typeof STATUSES)[number];

/** Statuses in which an execution is still open: the watchdog judges these. */
export type OpenStatus = 'queued' | 'running';
/** Statuses in which an execution has ended. */
export type EndStatus = 'succeeded' | 'failed' | 'cancelled' | 'dead';

export const isOpen = (status: Status): status is OpenStatus =>
  status === 'queued' || status === 'running';

export const LIMIT_NAMES = ['run', 'heartbeat', 'progress', 'queue'] as const;
export type LimitName = (typeof LIMIT_NAMES)[number];

/**
 * Resolved limits in milliseconds; `null` means "no limit".
 * - `run`: wall clock from start.
 * - `heartbeat`: liveness, the longest silence allowed between heartbeats.
 * - `progress`: the longest time allowed without a progress report (opt-in).
 * - `queue`: the longest wait between being queued and being started.
 */
export type Limits = Record<LimitName, number | null>;

/** Limits as given at one level of the resolution chain: `undefined` defers to the next level. */
export type PartialLimits = Partial<Record<LimitName, number | null>>;

export type EndedBy = 'runner' | 'watchdog' | 'operator';

export const EXECUTION_VERDICTS = [
  'healthy',
  'in_grace',
  'unknown',
  'orphaned',
  'run_timeout',
  'heartbeat_lost',
  'no_progress',
  'queue_timeout',
] as const;
export type ExecutionVerdict = (typeof EXECUTION_VERDICTS)[number];

/** Verdicts that mean the execution is stuck and the watchdog acts on it. */
export type StuckVerdict = Exclude<ExecutionVerdict, 'healthy' | 'in_grace' | 'unknown'>;

export const isStuck = (verdict: ExecutionVerdict): verdict is StuckVerdict =>
  verdict !== 'healthy' && verdict !== 'in_grace' && verdict !== 'unknown';

export type JsonValue =
  string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A report that arrived after the watchdog had ended the attempt it belongs to. */
export interface LateResult {
  at: number;
  attempt: number;
  status: 'succeeded' | 'failed';
  result?: JsonValue;
  error?: JsonValue;
}

export interface Execution {
  id: string;
  kind: string;
  owner: string | null;
  parentId: string | null;
  status: Status;
  /** Fencing token: starts at 1, bumped on each retry. Every write names the attempt it is for. */
  attempt: number;
  /** When the current attempt was queued; for a retry, when its backoff ends. */
  queuedAt: number | null;
  startedAt: number | null;
  heartbeatAt: number | null;
  progressAt: number | null;
  endedAt: number | null;
  /** The earliest moment the watchdog's verdict on this execution can change; null when ended. */
  deadlineAt: number | null;
  limits: Limits;
  progress: string | number | null;
  reason: string | null;
  verdict: ExecutionVerdict | null;
  endedBy: EndedBy | null;
  result: JsonValue | null;
  error: JsonValue | null;
  lateResult: LateResult | null;
  metadata: Record<string, JsonValue>;
  createdAt: number;
}

/**
 * What the execution's owner says about it. Sources without a registry report `untracked`.
 * - `present`: the owner is running it.
 * - `absent`: the owner answered and is not running it.
 * - `recently_completed`: absent, but the owner finished it recently (its report may be in flight).
 * - `unknown`: the owner could not be asked (unreachable, error answer, malformed answer).
 */
export type OwnerObservation =
  | { kind: 'untracked' }
  | { kind: 'present' }
  | { kind: 'absent' }
  | { kind: 'recently_completed'; at?: number }
  | { kind: 'unknown'; cause: string };

/** Retry policy for one kind of execution. */
export interface RetryPolicy {
  /** Attempts in all, the first included. 1 means "never retry". */
  maxAttempts: number;
  /** Delay before the second attempt; doubles for each further attempt. */
  backoffMs: number;
  /** Upper bound of the delay. */
  maxBackoffMs: number;
}

/** What the core needs to know about policy, resolved for one execution. */
export interface Policy {
  /**
   * How long after start an execution may be absent from its owner's registry before it counts as
   * orphaned: dispatch takes time, and the registry may lag behind the database.
   */
  dispatchGraceMs: number;
  retry: RetryPolicy;
}

/** One judged verdict with the facts that led to it. */
export interface Judgement {
  verdict: ExecutionVerdict;
  /** A short human sentence: "ran 20m 3s, limit 15m". */
  reason: string;
  evidence: Record<string, JsonValue>;
}

/** A sweep's counts: remediated, skipped and failed always, then one per verdict and per slot outcome. */
export type Tally = Record<string, number> & {
  remediated: number;
  skipped: number;
  failed: number;
};
