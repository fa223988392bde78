/** Rows of the schedule tables, as stored (times in integer milliseconds since the epoch). */

/** One row per schedule Vigil has judged: where judging stands. */
export interface SchedulesTable {
  name: string;
  /** The latest due time judged; each due time is judged once, by whoever moves this. */
  last_judged_due_at: number | null;
  /** What the latest judged due time came to: waiting, ok, missed, late. */
  state: string;
  last_start_at: number | null;
  updated_at: number;
}

/** Missed due times (a summarising miss covers `count` of them), turned `late` when a run came. */
export interface ScheduleVerdictsTable {
  schedule: string;
  due_at: number;
  verdict: string;
  /** JSON: dueAt, graceMs, lastStartAt, count, firstDueAt. */
  evidence: string;
  judged_at: number;
  late_start_at: number | null;
}

/** Pings of cron jobs that never register an execution (`POST /v1/schedules/NAME/ping`). */
export interface SchedulePingsTable {
  id: string;
  schedule: string;
  /** start, success or fail. */
  kind: string;
  at: number;
}

/** A schedule defined through the API (`PUT /v1/schedules/NAME`); vigil.yaml's are not stored. */
export interface ScheduleDefinitionsTable {
  name: string;
  /** JSON: the keys of vigil.yaml (cron, tz, every, grace, kind, owner, table) as given. */
  definition: string;
  /** Its timing, normalised: a change of timing restarts the schedule's judging. */
  timing: string;
  /** When the timing was set. */
  since: number;
  updated_at: number;
}
