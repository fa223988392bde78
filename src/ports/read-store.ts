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
}
