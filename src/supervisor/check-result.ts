import type { ProcessVerdict } from '../core/process-health.js';
import type { RecoveryRecord } from '../ports/process-store.js';

/** `held`: a recovery was due, and a maintenance window or the pause held it back. */
export type CheckAction =
  'none' | 'recovered' | 'recovery_failed' | 'gave_up' | 'skipped' | 'error' | 'held';

export interface CheckResult {
  name: string;
  verdict: ProcessVerdict | null;
  reason: string;
  action: CheckAction;
  /** Why the supervisor did (or did not) act. */
  why: string;
  recovery: RecoveryRecord | null;
}

export interface OperatorResult {
  name: string;
  ok: boolean;
  detail: string;
  recovery: RecoveryRecord | null;
}
