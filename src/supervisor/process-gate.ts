import type { GateView } from '../core/silence.js';
import { describeHold, holdOf } from '../core/silence.js';

/**
 * Whether a maintenance window or the pause holds back the recovery of a supervised process
 * (kill, cleanup, start): why, or null when it may go ahead. Windows match it as
 * `source=process:NAME` and by its verdict.
 */
export async function heldRecovery(
  gate: ((now: number) => Promise<GateView>) | undefined,
  name: string,
  verdict: string,
  now: number,
): Promise<string | null> {
  if (!gate) return null;
  const hold = holdOf(await gate(now), { source: `process:${name}`, verdict }, now);
  return hold && `held: ${describeHold(hold)}`;
}
