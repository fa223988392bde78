import { performance } from 'node:perf_hooks';
import type { ClockJump } from '../core/judge.js';
import type { Clock } from '../ports.js';

export const systemClock: Clock = { now: () => Date.now(), monotonic: () => performance.now() };

/** A clock tests move by hand: `advance` moves both clocks, `jump` the wall clock alone. */
export class FakeClock implements Clock {
  private elapsed = 0;
  constructor(private current: number = Date.UTC(2026, 0, 1)) {}
  now(): number {
    return this.current;
  }
  monotonic(): number {
    return this.elapsed;
  }
  /** Sets the wall clock, as if time had passed to get there. */
  set(at: number): void {
    this.elapsed += Math.max(0, at - this.current);
    this.current = at;
  }
  advance(ms: number): number {
    this.elapsed += ms;
    this.current += ms;
    return this.current;
  }
  /** Steps the wall clock by `ms` with no time passing (an NTP step, a VM resumed). */
  jump(ms: number): number {
    this.current += ms;
    return this.current;
  }
}

/**
 * How much further the wall clock may move than the monotonic clock between two looks before it
 * counts as a jump. NTP slews by at most 0.5 ms a second, so honest drift between looks is
 * milliseconds; a jump counted wrongly only extends deadlines by its own size, while a real jump
 * missed ends every run-limited execution with less time left than the jump, the worse mistake.
 * One second matches the stalled-loop rule (a tick a second late).
 */
export const CLOCK_JUMP_MS = 1_000;

/** The jumps kept: a bound on memory; older ones only concern executions older than all of them. */
const JUMPS_KEPT = 100;

/**
 * Notices forward steps of the wall clock: between two looks, the wall clock advanced more than
 * the monotonic clock. The skipped interval is time nobody lived through, so deadlines counted
 * from before it are moved by its length (see `effectiveDeadlines`). Backward steps only make
 * deadlines look further away (late, never wrong) and are not corrected.
 */
export class ClockJumpWatch {
  private lastWall: number;
  private lastMonotonic: number;
  private readonly found: ClockJump[] = [];

  constructor(private readonly clock: Clock) {
    this.lastWall = clock.now();
    this.lastMonotonic = clock.monotonic();
  }

  /** Looks at both clocks; the jump found since the last look, if any. */
  observe(): ClockJump | null {
    const wall = this.clock.now();
    const monotonic = this.clock.monotonic();
    const lived = monotonic - this.lastMonotonic;
    const skipped = wall - this.lastWall - lived;
    const from = this.lastWall + lived;
    this.lastWall = wall;
    this.lastMonotonic = monotonic;
    if (skipped <= CLOCK_JUMP_MS) return null;
    const jump = { from, to: wall };
    this.found.push(jump);
    if (this.found.length > JUMPS_KEPT) this.found.shift();
    return jump;
  }

  /** The forward jumps seen so far, oldest first. */
  jumps(): readonly ClockJump[] {
    return this.found;
  }
}
