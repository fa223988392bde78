import type { Execution } from '../core/types.js';
import type { Clock, Timers } from '../ports/clock.js';
import type { ClaimScope } from '../ports/ledger-store.js';
import { realTimers } from '../shared/timers.js';

/** The longest a claim may wait for work: below the 60–120 s idle timeouts of common proxies. */
export const MAX_CLAIM_WAIT_MS = 30_000;

/**
 * How often a waiting claim looks again. Work queued by another replica, and a retry whose backoff
 * ends, wake no local signal, so this is how late a waiting runner can be told of them; a shorter
 * period costs one indexed read per waiting runner per period.
 */
export const CLAIM_POLL_MS = 250;

export interface ClaimRequest extends ClaimScope {
  /** How long to wait for work when none is due now; 0 answers at once. */
  waitMs: number;
  /** The caller went away (its connection closed): stop waiting. */
  signal?: AbortSignal | undefined;
}

/**
 * A runner's long-poll for work: claims at once when an attempt is due, else looks again every
 * `CLAIM_POLL_MS` (sooner when `wake` names the kind: work registered through this process) until
 * `waitMs` has passed. Each look is one compare-and-set claim, so waiting runners never share an
 * attempt.
 */
export class Claims {
  private readonly waiting = new Map<string, Set<() => void>>();
  private closed = false;

  constructor(
    private readonly claimOnce: (scope: ClaimScope) => Promise<Execution | undefined>,
    private readonly clock: Clock,
    private readonly timers: Timers = realTimers,
  ) {}

  async claim(request: ClaimRequest): Promise<Execution | undefined> {
    const scope: ClaimScope = { kind: request.kind, owner: request.owner };
    const until = this.clock.monotonic() + request.waitMs;
    for (;;) {
      const claimed = await this.claimOnce(scope);
      if (claimed) return claimed;
      const left = until - this.clock.monotonic();
      if (left <= 0 || request.signal?.aborted || this.closed) return undefined;
      await this.pause(request.kind, Math.min(left, CLAIM_POLL_MS), request.signal);
    }
  }

  /** Claims waiting for work now. */
  get waiters(): number {
    let count = 0;
    for (const waiters of this.waiting.values()) count += waiters.size;
    return count;
  }

  /**
   * The server is closing: waiting claims look once more and answer, and new ones do not wait, so
   * a long poll never holds a shutdown up for its whole wait.
   */
  close(): void {
    this.closed = true;
    for (const waiters of this.waiting.values()) for (const resume of waiters) resume();
  }

  /** Work of this kind was queued here: waiting claims look now instead of at their next poll. */
  wake(kind: string): void {
    for (const resume of this.waiting.get(kind) ?? []) resume();
  }

  private pause(kind: string, ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      const waiters = this.waiting.get(kind) ?? new Set<() => void>();
      this.waiting.set(kind, waiters);
      const done = () => {
        this.timers.clearTimeout(handle);
        signal?.removeEventListener('abort', done);
        waiters.delete(done);
        if (waiters.size === 0) this.waiting.delete(kind);
        resolve();
      };
      const handle = this.timers.setTimeout(done, ms);
      signal?.addEventListener('abort', done);
      waiters.add(done);
    });
  }
}
