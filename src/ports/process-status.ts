import type { ProcessVerdict } from '../core/process-health.js';
import type { JsonValue } from '../core/types.js';

/** A process as the status API shows it: its configuration merged with its state. */
export interface ProcessStatus {
  name: string;
  enabled: boolean;
  verdict: ProcessVerdict | null;
  reason: string | null;
  evidence: Record<string, JsonValue>;
  pid: number | null;
  consecutiveUnhealthy: number;
  restarts: number;
  lastCheckAt: number | null;
  nextRestartAt: number | null;
  gaveUp: boolean;
}
