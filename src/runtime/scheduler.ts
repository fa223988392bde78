import type { SweepStore } from '../ports/sweep-store.js';
import type { Clock, Timers } from '../ports/clock.js';
import { realTimers } from '../shared/timers.js';
import type { SweepResult } from './sweep.js';

export interface SchedulerOptions {
  store: Pick<SweepStore, 'nextDeadline'>;
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
  /** Sweeps in a row that left the earliest deadline in the past (see `arm`). */
  private stale = 0;

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

  /**
   * `sweptAt`: when the sweep that just ran started. A deadline before it was seen by that sweep
   * and left in the past (a write that failed, a row it could not move): sweeping again at once
   * would change nothing, so the scheduler backs off (100 ms doubling, up to the interval) instead
   * of spinning on it. A deadline that moves ends the backoff.
   */
  private async arm(delayFloorMs = 0, sweptAt?: number): Promise<void> {
    if (this.stopped) return;
    const now = this.options.clock.now();
    let at = now + this.options.intervalMs;
    let floor = delayFloorMs;
    try {
      const next = await this.options.store.nextDeadline();
      if (next !== null) at = Math.min(at, next + 1);
      this.stale = sweptAt !== undefined && next !== null && next < sweptAt ? this.stale + 1 : 0;
      if (this.stale > 0) {
        floor = Math.max(
          floor,
          Math.min(this.options.intervalMs, 100 * 2 ** Math.min(this.stale, 20)),
        );
      }
    } catch (error) {
      this.options.onError(error);
    }
    this.setAlarm(Math.max(at, now + floor));
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
    const sweptAt = this.options.clock.now();
    let floor = 0;
    let completed = false;
    try {
      const result = await this.options.sweep();
      this.failures = 0;
      completed = result.kind === 'completed';
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
    await this.arm(floor, completed ? sweptAt : undefined);
  }
}
