/**
 * The failed-stop streaks of executions left running: when each may be asked about again, and how
 * many stops failed in a row. In memory, beside two things kept in the store: the failure count
 * (`recordTerminationFailure`, which decides the escalation) and the deferred deadline (which keeps
 * the scheduler and other replicas from looking before the backoff ends). The memory only covers
 * what the store cannot: a heartbeat recomputes the deadline from the limits, which would bring
 * the execution back before its backoff ends. After a restart the first look may come early,
 * once; the streak's count is still the store's.
 */
import type { Fence } from '../ports/records.js';

interface Streak {
  failures: number;
  retryAt: number;
}

/**
 * A streak is kept this long after its retry time: past the longest backoff (5 min) plus slack,
 * an execution still in a streak has been looked at again and its entry renewed. Shorter would
 * drop the count used in the end's note; longer only holds entries of executions that ended
 * by other means.
 */
const KEEP_AFTER_RETRY_MS = 15 * 60_000;

export class StopRetries {
  private readonly streaks = new Map<string, Streak>();

  /** When the next stop may be sent, if that is after `now`; null when it may be sent now. */
  waitingUntil(fence: Pick<Fence, 'id' | 'attempt'>, now: number): number | null {
    const streak = this.streaks.get(key(fence));
    return streak && streak.retryAt > now ? streak.retryAt : null;
  }

  /** Failed stops in a row known to this process (0 when none). */
  failuresOf(fence: Pick<Fence, 'id' | 'attempt'>): number {
    return this.streaks.get(key(fence))?.failures ?? 0;
  }

  failed(fence: Pick<Fence, 'id' | 'attempt'>, failures: number, retryAt: number): void {
    this.streaks.set(key(fence), { failures, retryAt });
  }

  forget(fence: Pick<Fence, 'id' | 'attempt'>): void {
    this.streaks.delete(key(fence));
  }

  /** Drops the streaks of executions that have not been looked at for long (ended elsewhere). */
  prune(now: number): void {
    for (const [k, streak] of this.streaks) {
      if (streak.retryAt + KEEP_AFTER_RETRY_MS < now) this.streaks.delete(k);
    }
  }
}

const key = (fence: Pick<Fence, 'id' | 'attempt'>) => `${fence.id}#${fence.attempt}`;
