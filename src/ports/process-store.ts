import type { ProcessVerdict } from '../core/process-health.js';
import type { SupervisionState } from '../core/process-supervision.js';
import type { JsonValue } from '../core/types.js';

/** What the supervisor keeps about one process between checks (and across restarts of Vigil). */
export interface ProcessState extends SupervisionState {
  name: string;
  /** The process Vigil believes runs it, and that process's OS start time (its identity). */
  pid: number | null;
  pidStartedAt: number | null;
  /** When Vigil last started it: the startup grace counts from here. */
  startedAt: number | null;
  verdict: ProcessVerdict | null;
  reason: string | null;
  evidence: Record<string, JsonValue>;
  /** Restarts by Vigil in all. */
  restarts: number;
  lastCheckAt: number | null;
}

export interface RecoveryStepRecord {
  /** `kill`, `start`, or `run:NAME` for a named command. */
  step: string;
  /** `warned`: a named command failed; the pipeline went on. */
  outcome: 'ok' | 'failed' | 'warned' | 'skipped';
  startedAt: number;
  ms: number;
  detail: string;
  evidence: Record<string, JsonValue>;
}

/** One audited recovery, automatic or by an operator. */
export interface RecoveryRecord {
  id: string;
  name: string;
  at: number;
  finishedAt: number;
  /** A verdict ("timed_out"), or "operator:restart", "operator:off", "operator:on". */
  trigger: string;
  reason: string;
  evidence: Record<string, JsonValue>;
  steps: RecoveryStepRecord[];
  outcome: 'ok' | 'failed';
}

/** Where the supervisor's state lives. Writers hold the process's lease (`process:NAME`). */
export interface ProcessStore {
  getProcess(name: string): Promise<ProcessState | undefined>;
  listProcesses(): Promise<ProcessState[]>;
  saveProcess(state: ProcessState): Promise<void>;
  recordRecovery(record: RecoveryRecord): Promise<void>;
  /** Newest first. */
  listRecoveries(filter: { name?: string | undefined; limit: number }): Promise<RecoveryRecord[]>;
}
