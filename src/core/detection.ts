import type { JsonValue } from './types.js';

/** How long an execution had run when it was found stuck, and how late that was. */
export interface DetectionTimes {
  /** From its start to the decision; null when the evidence does not say when it started. */
  ranMs: number | null;
  /** From the deadline it crossed (or the end of its dispatch grace) to the decision. */
  lateMs: number | null;
}

const num = (value: JsonValue | undefined): number | null =>
  typeof value === 'number' && Number.isFinite(value) ? value : null;

/**
 * Reads the times of a detection from a decision's evidence (see `judge`): `startedAt` gives the
 * run so far; a crossed limit's `deadlineAt`, or an orphan's age past its grace, how late the
 * sweep came. Pure; negative values (a clock stepped back) count as zero.
 */
export function detectionTimes(evidence: Record<string, JsonValue>, at: number): DetectionTimes {
  const now = num(evidence.now) ?? at;
  const startedAt = num(evidence.startedAt);
  const ageMs = num(evidence.ageMs);
  const graceMs = num(evidence.graceMs);
  const deadlineAt = num(evidence.deadlineAt);
  let ranMs: number | null = null;
  if (startedAt !== null) ranMs = now - startedAt;
  else if (ageMs !== null) ranMs = ageMs;
  else if (evidence.limit === 'run') ranMs = num(evidence.elapsedMs);
  let lateMs: number | null = null;
  if (deadlineAt !== null) lateMs = now - deadlineAt;
  else if (ageMs !== null && graceMs !== null) lateMs = ageMs - graceMs;
  const clamp = (ms: number | null) => (ms === null ? null : Math.max(0, Math.round(ms)));
  return { ranMs: clamp(ranMs), lateMs: clamp(lateMs) };
}
