import type { StatsKey } from '../core/stats-query.js';
export type { StatsKey };
import type { Execution, ExecutionVerdict, OpenStatus, Status } from '../core/types.js';

export interface ListFilter {
  status?: Status | undefined;
  kind?: string | undefined;
  owner?: string | undefined;
  parentId?: string | undefined;
  limit: number;
  cursor?: string | undefined;
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

/** Which stuck executions `stats` covers, and how it groups them. */
export interface StatsQuery {
  /** Decisions from this moment (inclusive, ms since the epoch)… */
  from: number;
  /** …to this one (exclusive). */
  to: number;
  /** One or more keys; each group is one combination of their values. */
  by: readonly StatsKey[];
  /** The groups with the most stuck executions, this many at most. */
  limit: number;
  /** Only this owner's decisions (a runner token's scope); undefined for all. */
  owner?: string | undefined;
}

/** Durations over a group's detections, in ms (null when none of them had the time). */
export interface StatsDurations {
  p50: number | null;
  p95: number | null;
  max: number | null;
}

/** One group: its key values (in the order of `by`) and what happened to its stuck executions. */
export interface StatsGroup {
  key: (string | null)[];
  /** Detections of stuck work (non-dry-run audit rows with a stuck verdict). */
  stuck: number;
  verdicts: Partial<Record<ExecutionVerdict, number>>;
  /** Ended by Vigil (failed, succeeded by their children, cancelled), retried, dead-lettered. */
  ended: number;
  retried: number;
  deadLettered: number;
  /** Left alone (a breaker, children still running, an operation only reported) or failed to end. */
  leftAlone: number;
  failed: number;
  /** How long they had run when detected. */
  ran: StatsDurations;
  /** How long after their deadline (or dispatch grace) they were detected. */
  late: StatsDurations;
}

export interface Stats {
  /** The top groups, most stuck first. */
  groups: StatsGroup[];
  /** How many groups there are in all (more than `groups.length` when `limit` cut them). */
  totalGroups: number;
  /** Stuck detections in the window across every group. */
  totalStuck: number;
}

/** Reads of executions for the API, the CLI, metrics and the dashboard. Writes nothing. */
export interface ReadStore {
  get(id: string): Promise<Execution | undefined>;
  list(filter: ListFilter): Promise<{ items: Execution[]; nextCursor: string | null }>;
  /** Open executions by status and kind, for metrics. */
  countOpen(): Promise<{ status: OpenStatus; kind: string; count: number }[]>;
  /**
   * Running executions per owner, for these owners (owners with none are absent): what each
   * owner's registry should list. Queued executions are not on their owner yet, so not counted.
   */
  countOpenByOwner(owners: readonly string[]): Promise<Map<string, number>>;
  /** The owner of each of these executions that exists. */
  ownersOf(ids: string[]): Promise<Map<string, string | null>>;
  /** The dashboard's overview: counts, the remediation timeline, who is due soonest. */
  summary(query: SummaryQuery): Promise<Summary>;
  /** Who gets stuck most often: the audit's stuck detections over a window, grouped and counted. */
  stats(query: StatsQuery): Promise<Stats>;
}
