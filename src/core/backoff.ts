import type { RetryPolicy } from './types.js';

/**
 * The delay before the attempt after `failedAttempt`: exponential (backoff × 2^(n−1)), capped, with
 * "equal jitter" (half fixed, half spread) so that many executions failed by one sweep do not all
 * come back in the same instant. The spread comes from a hash of (id, attempt) rather than a random
 * number, so the core stays pure and a dry run predicts exactly what a real sweep does.
 */
export function retryDelay(policy: RetryPolicy, id: string, failedAttempt: number): number {
  const exponential = policy.backoffMs * 2 ** Math.max(0, failedAttempt - 1);
  const base = Math.min(policy.maxBackoffMs, exponential);
  const half = base / 2;
  return Math.round(half + half * unitHash(`${id}#${failedAttempt}`));
}

/** FNV-1a of the text, mapped to [0, 1). */
function unitHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) / 2 ** 32;
}
