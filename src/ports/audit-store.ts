import type { ActionLabel } from '../core/decide.js';
import type { ExecutionVerdict, JsonValue } from '../core/types.js';

export interface StepRecord {
  step: 'terminate' | 'end' | 'retry' | 'dead_letter' | 'derive_parent' | 'release' | 'notify';
  outcome: 'ok' | 'failed' | 'lost_race' | 'skipped';
  ms: number;
  detail?: string | undefined;
}

/** `silenced`: a destructive decision held back by a maintenance window or the pause. */
export type DecisionOutcome =
  'ignored' | 'remediated' | 'lost_race' | 'left_running' | 'failed' | 'dry_run' | 'silenced';

/** The execution an audit row and a report line are about, and what was decided for it. */
export interface Subject {
  executionId: string;
  attempt: number;
  kind: string;
  owner: string | null;
  verdict: ExecutionVerdict;
  action: ActionLabel;
  reason: string;
  evidence: Record<string, JsonValue>;
  /** The values of a mapped table's `labels:` columns, read with its row (absent for the ledger). */
  labels?: Labels | undefined;
}

/** Label name → value, as `stats` groups by them (`--by label:NAME`). */
export type Labels = Record<string, string | number | boolean | null>;

/** One audited decision: what was decided, on what evidence, and how each step went. */
export interface RemediationRecord extends Subject {
  id: string;
  sweepId: string | null;
  at: number;
  steps: StepRecord[];
  outcome: DecisionOutcome;
  dryRun: boolean;
}

export interface RemediationFilter {
  since?: number | undefined;
  verdict?: ExecutionVerdict | undefined;
  executionId?: string | undefined;
  includeDryRun?: boolean | undefined;
  limit: number;
}

export interface SweepDecision {
  executionId: string;
  attempt: number;
  verdict: ExecutionVerdict;
  action: ActionLabel;
  reason: string;
  outcome: DecisionOutcome;
}

export interface SweepReport {
  id: string;
  startedAt: number;
  finishedAt: number;
  dryRun: boolean;
  examined: number;
  decisions: SweepDecision[];
  counts: Record<string, number>;
  /** Problems that kept part of a source (a mapped table) from being swept; set when sources are. */
  sourceErrors?: SourceError[] | undefined;
}

/** A source that could not be swept (or only partly), named by its configuration key. */
export interface SourceError {
  source: string;
  /** The configuration key at fault: `tables.interactions.status.column`. */
  key: string;
  message: string;
}

/** The audit trail: every remediation decided, and the report of each sweep. */
export interface AuditStore {
  recordRemediations(records: RemediationRecord[]): Promise<void>;
  listRemediations(filter: RemediationFilter): Promise<RemediationRecord[]>;
  saveSweep(report: SweepReport): Promise<void>;
  latestSweep(): Promise<SweepReport | undefined>;
}
