/** The mapped tables' rows that count as runs of schedules (`table:` under `schedules:`). */
import type { Config } from '../config.js';
import type { ScheduleWatchOptions } from '../runtime/schedule-watch.js';
import { TableStarts } from '../sources/table-starts.js';

/** Reads the mapped tables' rows for the schedules that count them; close() when done. */
export function tableStartsFor(
  config: Config,
  cwd: string = process.cwd(),
): { read: NonNullable<ScheduleWatchOptions['tableStarts']>; close: () => Promise<void> } {
  const starts = new TableStarts(config.tables, {
    cwd,
    sqliteBusyTimeoutMs: config.sqliteBusyTimeoutMs,
  });
  return {
    read: (table, owner, from, to) => starts.startsBetween(table, owner, from, to),
    close: () => starts.close(),
  };
}
