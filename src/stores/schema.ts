import type { Generated } from 'kysely';
import type { ProcessRecoveriesTable, ProcessesTable } from './process-schema.js';
import type { PauseTable, SilencesTable } from './silence-schema.js';
import type {
  ScheduleDefinitionsTable,
  SchedulePingsTable,
  ScheduleVerdictsTable,
  SchedulesTable,
} from './schedule-schema.js';

/** Rows as stored. Times are integer milliseconds since the epoch; JSON is stored as text. */
export interface ExecutionsTable {
  id: string;
  kind: string;
  owner: string | null;
  parent_id: string | null;
  status: string;
  attempt: number;
  queued_at: number | null;
  started_at: number | null;
  heartbeat_at: number | null;
  progress_at: number | null;
  ended_at: number | null;
  deadline_at: number | null;
  limit_run: number | null;
  limit_heartbeat: number | null;
  limit_progress: number | null;
  limit_queue: number | null;
  progress: string | null;
  reason: string | null;
  verdict: string | null;
  ended_by: string | null;
  result: string | null;
  error: string | null;
  late_result: string | null;
  metadata: string;
  termination_failures: Generated<number>;
  created_at: number;
}

export interface AttemptsTable {
  execution_id: string;
  attempt: number;
  status: string;
  queued_at: number | null;
  started_at: number | null;
  ended_at: number;
  verdict: string | null;
  reason: string | null;
  ended_by: string;
  result: string | null;
  error: string | null;
  late_result: string | null;
}

export interface RemediationsTable {
  id: string;
  sweep_id: string | null;
  at: number;
  execution_id: string;
  attempt: number;
  kind: string;
  owner: string | null;
  verdict: string;
  action: string;
  reason: string;
  evidence: string;
  steps: string;
  outcome: string;
  dry_run: number;
  /** JSON: the labels of a mapped row (null for the ledger, whose labels are its metadata). */
  labels: string | null;
  /** How long the execution had run when it was detected (null when not known). */
  ran_ms: number | null;
  /** How long after its deadline it was detected (null when not known). */
  late_ms: number | null;
}

export interface SweepsTable {
  id: string;
  started_at: number;
  finished_at: number;
  dry_run: number;
  report: string;
}

export interface LeasesTable {
  name: string;
  holder: string;
  expires_at: number;
}

export interface SlotHoldsTable {
  execution_id: string;
  attempt: number;
  slot: string;
  acquired_at: number;
  expires_at: number | null;
  release_due_at: number | null;
  remediation_id: string | null;
  released_at: number | null;
  release_outcome: string | null;
}

export interface SlotsTable {
  name: string;
  holder: string;
  expires_at: number | null;
}

export interface NotificationsTable {
  id: string;
  channel: string;
  event_type: string;
  subject_key: string;
  event: string;
  status: string;
  attempts: Generated<number>;
  last_error: string | null;
  created_at: number;
  due_at: number;
  claimed_by: string | null;
  claim_until: number | null;
  delivered_at: number | null;
}

export interface NotifyCooldownsTable {
  key: string;
  cooling_until: number;
}

export interface Database {
  executions: ExecutionsTable;
  attempts: AttemptsTable;
  remediations: RemediationsTable;
  sweeps: SweepsTable;
  leases: LeasesTable;
  slot_holds: SlotHoldsTable;
  slots: SlotsTable;
  processes: ProcessesTable;
  process_recoveries: ProcessRecoveriesTable;
  notifications: NotificationsTable;
  notify_cooldowns: NotifyCooldownsTable;
  silences: SilencesTable;
  pause: PauseTable;
  schedules: SchedulesTable;
  schedule_verdicts: ScheduleVerdictsTable;
  schedule_pings: SchedulePingsTable;
  schedule_definitions: ScheduleDefinitionsTable;
}
