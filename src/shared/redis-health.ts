/**
 * Talking to a Redis that may stop answering: a timeout on every command and a down-marker that
 * makes commands fail at once while one PING at a time probes for its return. Vigil's slot store
 * and the release of an app's own slots (mapped tables) both use it.
 */
import type { StoreStatus } from '../ports/records.js';

/**
 * How long a command may wait for Redis's answer. A Redis that answers at all answers in
 * milliseconds; 1 s rides out a busy moment without calling an outage, while a frozen Redis (the
 * connection open, nothing answering) would otherwise hold a slot route, and every sweep waiting on
 * a release, forever. A false outage costs one 503 and a retried release; a wait without end stops
 * the watchdog.
 */
export const REDIS_COMMAND_TIMEOUT_MS = 1_000;
/** Between recovery probes while Redis is down: quick to notice its return, cheap while it is not. */
const PROBE_EVERY_MS = 500;

/**
 * Redis's reachability from the last command's outcome: down after a failure or a timeout, up
 * again at the first answer (a command's, or the probe's). Never from whether a command happens
 * to be in flight.
 */
export class RedisHealth {
  private error: string | null = null;
  private probing = false;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly ping: () => Promise<unknown>) {}

  status(): StoreStatus {
    return { up: this.error === null, error: this.error };
  }

  answered(): void {
    this.error = null;
  }

  failed(error: unknown): void {
    this.error = error instanceof Error ? error.message : String(error);
    this.probe();
  }

  /**
   * One PING at a time until Redis answers. A PING that timed out stays in flight: on a frozen
   * connection its answer is the first sign of life, so no second one is queued behind it.
   */
  probe(): void {
    if (this.probing || this.stopped) return;
    this.probing = true;
    this.ping().then(
      () => {
        this.probing = false;
        this.answered();
      },
      (error: unknown) => {
        this.error = error instanceof Error ? error.message : String(error);
        if (this.stopped) return;
        this.timer = setTimeout(() => {
          this.probing = false;
          this.probe();
        }, PROBE_EVERY_MS);
        this.timer.unref();
      },
    );
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}

/**
 * Rejects when `promise` has not settled within `ms` (the command itself may still land). When the
 * timer fires, the rejection waits for the event loop's next I/O phase: if the loop was busy (a
 * long synchronous write, say) the answer may be sitting unread in the socket, and it wins.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(
      () =>
        setImmediate(() => {
          if (!settled) reject(new Error(`no answer within ${ms} ms`));
        }),
      ms,
    );
    promise.then(
      (value) => {
        settled = true;
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        settled = true;
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
