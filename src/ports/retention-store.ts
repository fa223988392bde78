/**
 * What retention prunes, one name per kind of record Vigil keeps:
 * - `executions`: ended executions, with their attempts and released slot holds;
 * - `remediations`: the audit of decisions;
 * - `sweeps`: sweep reports;
 * - `notifications`: outbox messages delivered or given up on (pending ones are never pruned);
 * - `processRecoveries`: the audit of supervised processes' recoveries;
 * - `scheduleVerdicts`, `schedulePings`: schedules' judged due times and the pings they received;
 * - `silences`: silences and maintenance windows, once ended.
 */
export const RETENTION_TABLES = [
  'executions',
  'remediations',
  'sweeps',
  'notifications',
  'processRecoveries',
  'scheduleVerdicts',
  'schedulePings',
  'silences',
] as const;
export type RetentionTable = (typeof RETENTION_TABLES)[number];

/** Deletes old records in bounded batches, so detection never waits behind a long delete. */
export interface RetentionStore {
  /**
   * Deletes at most `limit` records of `table` older than `before` (ms since the epoch) and
   * returns how many went. Never touches open work: a running or queued execution, an ended one
   * whose slots are still to be released or whose child is still open, a pending notification.
   */
  prune(table: RetentionTable, before: number, limit: number): Promise<number>;
  /** How many records `prune` would delete in all, without deleting any (`vigil prune --dry-run`). */
  countPrunable(table: RetentionTable, before: number): Promise<number>;
}
