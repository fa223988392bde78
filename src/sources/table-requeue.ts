/** A table's `requeue` as the core's retry policy for its rows. */
import type { MappedRowFacts } from '../core/mapped-row.js';
import type { TableSourceConfig } from './table-config.js';

export function requeueFacts(table: TableSourceConfig): MappedRowFacts['requeue'] {
  const { requeue } = table;
  if (!requeue) return undefined;
  return {
    retry: {
      maxAttempts: requeue.attempts.max,
      backoffMs: requeue.backoff.initialMs,
      maxBackoffMs: requeue.backoff.maxMs,
    },
    // With a "not before" column the app's runner waits; without, Vigil waits before writing.
    hold: requeue.availableAt === null,
  };
}
