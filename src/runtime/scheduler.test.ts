import { describe, expect, it } from 'vitest';
import { FakeClock } from './clock.js';
import type { Timers } from '../ports/clock.js';
import { DeadlineScheduler } from './scheduler.js';
import type { SweepResult } from './sweep.js';

/** Timers driven by hand: `fire()` runs the pending alarm. */
class ManualTimers implements Timers {
  pending: { fn: () => void; ms: number } | null = null;
  setTimeout(fn: () => void, ms: number) {
    this.pending = { fn, ms };
    return this.pending;
  }
  clearTimeout(handle: unknown) {
    if (handle === this.pending) this.pending = null;
  }
}

const flush = () => new Promise((resolve) => setImmediate(resolve));
const completed: SweepResult = {
  kind: 'completed',
  report: {
    id: 's',
    startedAt: 0,
    finishedAt: 0,
    dryRun: false,
    examined: 0,
    decisions: [],
    counts: {},
  },
};

function setup(deadlines: (number | null)[]) {
  const clock = new FakeClock(1_000_000);
  const timers = new ManualTimers();
  const sweeps: number[] = [];
  let result: SweepResult | Error = completed;
  const scheduler = new DeadlineScheduler({
    store: {
      nextDeadline: () =>
        Promise.resolve(deadlines.length > 1 ? deadlines.shift()! : (deadlines[0] ?? null)),
    },
    sweep: () => {
      sweeps.push(clock.now());
      return result instanceof Error ? Promise.reject(result) : Promise.resolve(result);
    },
    clock,
    intervalMs: 30_000,
    onError: () => undefined,
    timers,
  });
  return { clock, timers, sweeps, scheduler, failWith: (r: SweepResult | Error) => (result = r) };
}

describe('DeadlineScheduler', () => {
  it('sleeps until 1 ms after the earliest deadline', async () => {
    const { scheduler, timers } = setup([1_002_000]);
    scheduler.start();
    await flush();
    expect(timers.pending?.ms).toBe(2_001);
    expect(scheduler.nextWakeAt).toBe(1_002_001);
  });

  it('never sleeps longer than the safety-net interval', async () => {
    const { scheduler, timers } = setup([null]);
    scheduler.start();
    await flush();
    expect(timers.pending?.ms).toBe(30_000);
  });

  it('an overdue deadline wakes it at once', async () => {
    const { scheduler, timers } = setup([500_000]);
    scheduler.start();
    await flush();
    expect(timers.pending?.ms).toBe(0);
  });

  it('a poke with an earlier deadline re-arms it; a later one does not', async () => {
    const { scheduler, timers } = setup([1_010_000]);
    scheduler.start();
    await flush();
    scheduler.poke(1_020_000);
    expect(timers.pending?.ms).toBe(10_001);
    scheduler.poke(1_001_000);
    expect(timers.pending?.ms).toBe(1_001);
  });

  it('sweeps when the alarm fires, then re-arms from the store', async () => {
    const { scheduler, timers, sweeps, clock } = setup([1_001_000, 1_005_000]);
    scheduler.start();
    await flush();
    clock.set(1_001_001);
    timers.pending!.fn();
    await flush();
    expect(sweeps).toEqual([1_001_001]);
    expect(scheduler.nextWakeAt).toBe(1_005_001);
  });

  it('backs off when sweeps fail instead of spinning on an overdue deadline', async () => {
    const { scheduler, timers, clock, failWith } = setup([900_000]);
    failWith(new Error('database is locked'));
    scheduler.start();
    await flush();
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      timers.pending!.fn();
      await flush();
      delays.push(timers.pending!.ms);
      clock.advance(timers.pending!.ms);
    }
    expect(delays).toEqual([400, 800, 1_600, 3_200]);
  });

  it('stop() cancels the alarm', async () => {
    const { scheduler, timers } = setup([1_002_000]);
    scheduler.start();
    await flush();
    scheduler.stop();
    expect(timers.pending).toBeNull();
  });
});
