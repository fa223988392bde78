import type { Status } from './types.js';

/** A heartbeat that did not land, and why: the runner must stop. */
export interface LostBeat {
  id: string;
  /** The execution's status now; null when there is no such execution. */
  status: Status | null;
  reason: string;
}

/** Why a heartbeat did not land, from the execution's row as the store read it (if any). */
export function lostBeat(
  beat: { id: string; attempt: number },
  row: { status: string; reason: string | null; attempt: number } | undefined,
): LostBeat {
  return {
    id: beat.id,
    status: (row?.status as Status | undefined) ?? null,
    reason: !row
      ? 'no such execution'
      : row.attempt > beat.attempt
        ? `attempt ${beat.attempt} is over; the execution is on attempt ${row.attempt}`
        : row.attempt < beat.attempt
          ? `there is no attempt ${beat.attempt}; the execution is on attempt ${row.attempt}`
          : row.status === 'queued'
            ? 'not started'
            : (row.reason ?? `execution is ${row.status}`),
  };
}
