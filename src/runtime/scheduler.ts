import type { Clock, ExecutionStore } from '../ports.js';
import type { SweepResult } from './sweep.js';

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface SchedulerOptions {
  store: Pick<ExecutionStore, 'nextDeadline'>;
  sweep: () => Promise<SweepResult>;
  clock: Clock;
  /** The safety-net period: the longest the scheduler ever sleeps. */
  intervalMs: number;
  onError: (error: unknown) => void;
  timers?: Timers;
}

/**
 * Sleeps until the earliest deadline (or the safety-net interval, whichever is first), sweeps,
 * and sleeps again. `poke` re-arms it when a new execution or a write brings a deadline forward.
 * Detection is therefore bounded by timer precision, not by a polling period.
 */
export class DeadlineScheduler {
  private handle: unknown = null;
  private wakeAt: number | null = null;
  private sweeping = false;
  private stopped = true;
  private failures = 0;

  constructor(private readonly options: SchedulerOptions) {}

  start(): void {
    this.stopped = false;
    void this.arm();
  }

  stop(): void {
    this.stopped = true;
    this.clear();
  }

  /** A deadline was set or moved: wake for it if it comes before the current alarm. */
  poke(deadlineAt: number | null): void {
    if (this.stopped || this.sweeping || deadlineAt === null) return;
    // Overdue means strictly past the deadline: wake 1 ms after it.
    const at = deadlineAt + 1;
    if (this.wakeAt === null || at < this.wakeAt) this.setAlarm(at);
  }

  /** When the scheduler will next sweep (for tests and the dashboard). */
  get nextWakeAt(): number | null {
    return this.wakeAt;
  }

  private async arm(delayFloorMs = 0): Promise<void> {
    if (this.stopped) return;
    const now = this.options.clock.now();
    let at = now + this.options.intervalMs;
    try {
      const next = await this.options.store.nextDeadline();
      if (next !== null) at = Math.min(at, next + 1);
    } catch (error) {
      this.options.onError(error);
    }
    this.setAlarm(Math.max(at, now + delayFloorMs));
  }

  private setAlarm(at: number): void {
    if (this.stopped) return;
    this.clear();
    this.wakeAt = at;
    const delay = Math.max(0, at - this.options.clock.now());
    this.handle = (this.options.timers ?? realTimers).setTimeout(() => void this.fire(), delay);
  }

  private clear(): void {
    if (this.handle !== null) (this.options.timers ?? realTimers).clearTimeout(this.handle);
    this.handle = null;
    this.wakeAt = null;
  }

  private async fire(): Promise<void> {
    this.handle = null;
    this.wakeAt = null;
    if (this.stopped) return;
    this.sweeping = true;
    let floor = 0;
    try {
      const result = await this.options.sweep();
      this.failures = 0;
      // Another replica is sweeping: it will handle what is due; look again shortly.
      if (result.kind === 'skipped') floor = 100;
    } catch (error) {
      this.options.onError(error);
      // The store is failing: back off (200 ms doubling, up to the interval) instead of spinning.
      this.failures++;
      floor = Math.min(this.options.intervalMs, 200 * 2 ** Math.min(this.failures, 10));
    } finally {
      this.sweeping = false;
    }
    await this.arm(floor);
  }
}
