/** Rows of the supervisor's tables (migration 0004_processes). Times in ms since the epoch. */
export interface ProcessesTable {
  name: string;
  /** 0 when an operator turned it off ("off" is sticky). */
  enabled: number;
  /** The process Vigil believes runs it, and that process's OS start time (its identity). */
  pid: number | null;
  pid_started_at: number | null;
  /** When Vigil last started it: the startup grace counts from here. */
  started_at: number | null;
  verdict: string | null;
  reason: string | null;
  evidence: string;
  consecutive_unhealthy: number;
  unhealthy_since: number | null;
  restarts: number;
  streak: number;
  last_restart_at: number | null;
  next_restart_at: number | null;
  gave_up: number;
  last_check_at: number | null;
}

/** One audited recovery (automatic or by an operator): its steps, outcomes and timing. */
export interface ProcessRecoveriesTable {
  id: string;
  name: string;
  at: number;
  finished_at: number;
  /** What set it off: a verdict ("timed_out"), or "operator:restart" / "operator:off" / … */
  trigger: string;
  reason: string;
  evidence: string;
  steps: string;
  outcome: string;
}
