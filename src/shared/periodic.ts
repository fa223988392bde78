import type { Timers } from '../ports/clock.js';
import { realTimers } from './timers.js';

export interface Repeating {
  stop(): void;
}

/**
 * Runs `task` now and then `intervalMs` after each run ends. Runs never overlap: a check that takes
 * longer than its interval delays the next one instead of piling up requests on a struggling
 * endpoint. `task` must not throw; a rejection is passed to `onError` and the loop carries on.
 */
export function repeat(
  task: () => Promise<unknown>,
  intervalMs: number,
  onError: (error: unknown) => void,
  timers: Timers = realTimers,
): Repeating {
  let stopped = false;
  let handle: unknown = null;
  const run = async () => {
    handle = null;
    if (stopped) return;
    try {
      await task();
    } catch (error) {
      onError(error);
    }
    if (!stopped) handle = timers.setTimeout(() => void run(), intervalMs);
  };
  void run();
  return {
    stop: () => {
      stopped = true;
      if (handle !== null) timers.clearTimeout(handle);
      handle = null;
    },
  };
}

/**
 * Named checks, each repeated on its own interval (see `repeat`), each single-flight: asking for
 * a check already under way joins it instead of starting another. Subclasses say how to run one.
 */
export abstract class PeriodicChecks<Spec extends { name: string; intervalMs: number }, Result> {
  private readonly inFlight = new Map<string, Promise<Result>>();
  private loops: Repeating[] = [];

  constructor(private readonly specs: readonly Spec[]) {}

  protected abstract runCheck(spec: Spec): Promise<Result>;
  /** Names a check in errors: `probe api`, `operations jobs`. */
  protected abstract describe(name: string): string;
  protected abstract reportError(error: unknown, where: string): void;

  /** Checks each on its own interval until `stop`. */
  start(timers?: Timers): void {
    this.stop();
    this.loops = this.specs.map((spec) =>
      repeat(
        () => this.check(spec.name),
        spec.intervalMs,
        (error) => this.reportError(error, this.describe(spec.name)),
        timers,
      ),
    );
  }

  stop(): void {
    for (const loop of this.loops) loop.stop();
    this.loops = [];
  }

  /** Resolves when the checks under way have finished (after `stop`, before closing the store). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.inFlight.values()]);
  }

  /** Runs one check now; a check of that name already under way is joined, not repeated. */
  check(name: string): Promise<Result> {
    const running = this.inFlight.get(name);
    if (running) return running;
    const spec = this.specs.find((s) => s.name === name);
    if (!spec) return Promise.reject(new Error(`no ${this.describe(JSON.stringify(name))}`));
    const check = this.runCheck(spec).finally(() => this.inFlight.delete(name));
    this.inFlight.set(name, check);
    return check;
  }

  /** Checks every one once, in parallel. */
  checkAll(): Promise<Result[]> {
    return Promise.all(this.specs.map((spec) => this.check(spec.name)));
  }
}
