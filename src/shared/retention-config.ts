/** The `retention:` section of vigil.yaml: how long each kind of record is kept. */
import * as z from 'zod';
import { parseDuration } from '../core/duration.js';
import type { RetentionSettings } from '../ports/engine-config.js';
import type { RetentionTable } from '../ports/retention-store.js';
import { RETENTION_TABLES } from '../ports/retention-store.js';
import { boundedDuration, checked } from './config-schemas.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * Every default in one place. Ended executions 30 days: long past any late result a runner may
 * still report (a late result for a pruned execution is answered 404) and a month of `vigil
 * history`. The audit 90 days: a quarter of decisions to look back on. Sweep reports are written
 * every sweep, so a week of them is plenty (each decision is in the audit anyway).
 */
export const RETENTION_DEFAULTS = Object.freeze({
  keepMs: Object.freeze({
    executions: 30 * DAY,
    remediations: 90 * DAY,
    sweeps: 7 * DAY,
    notifications: 30 * DAY,
    processRecoveries: 90 * DAY,
    scheduleVerdicts: 90 * DAY,
    schedulePings: 30 * DAY,
    silences: 90 * DAY,
  } satisfies Record<RetentionTable, number>),
  /** A pass an hour: pruning is about disk, not latency. */
  intervalMs: HOUR,
  /**
   * Rows per delete: 1,000 take a few milliseconds (bench/RESULTS.md), so the SQLite write lock
   * is never held long enough to delay a heartbeat noticeably; larger batches prune faster and
   * delay writers longer, the worse trade for a watchdog.
   */
  batchSize: 1_000,
});

/** A retention: a duration of at least an hour, or `forever` to keep everything. */
const keep = checked<number | null>((value) => {
  if (value === 'forever') return { ok: true, value: null };
  const parsed = parseDuration(value);
  if (!parsed.ok) return { ok: false, error: `${parsed.error} (or "forever")` };
  if (parsed.ms < HOUR) {
    return {
      ok: false,
      error: `expected at least 1h (or "forever"): late results and the audit need their execution, got ${JSON.stringify(value)}`,
    };
  }
  return { ok: true, value: parsed.ms };
});

export const retentionSchema = z.strictObject({
  ...(Object.fromEntries(RETENTION_TABLES.map((table) => [table, keep.optional()])) as Record<
    RetentionTable,
    z.ZodOptional<typeof keep>
  >),
  interval: boundedDuration(1_000, 7 * DAY, '1s and 7d').optional(),
  batchSize: z.number().int().min(1).max(50_000).optional(),
});

export function resolveRetention(
  file: z.infer<typeof retentionSchema> | undefined,
): RetentionSettings {
  const keepMs = { ...RETENTION_DEFAULTS.keepMs } as Record<RetentionTable, number | null>;
  for (const table of RETENTION_TABLES) {
    const value = file?.[table];
    if (value !== undefined) keepMs[table] = value;
  }
  return {
    keepMs,
    intervalMs: file?.interval ?? RETENTION_DEFAULTS.intervalMs,
    batchSize: file?.batchSize ?? RETENTION_DEFAULTS.batchSize,
  };
}
