import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Timers } from '../src/ports/clock.js';
import { DeadlineScheduler } from '../src/runtime/scheduler.js';
import type { Harness } from './helpers.js';
import { S, T0, harness } from './helpers.js';

/** Timers the test fires by hand: each alarm the scheduler sets is recorded with its delay. */
function manualTimers() {
  const armed: { fn: () => void; ms: number }[] = [];
  let waiter: (() => void) | undefined;
  const timers: Timers = {
    setTimeout: (fn, ms) => {
      const alarm = { fn, ms };
      armed.push(alarm);
      waiter?.();
      return alarm;
    },
    clearTimeout: (handle) => {
      const i = armed.indexOf(handle as (typeof armed)[number]);
      if (i >= 0) armed.splice(i, 1);
    },
  };
  /** Waits until an alarm is armed and returns its delay, without firing it. */
  const nextAlarm = async () => {
    while (armed.length === 0) await new Promise<void>((resolve) => (waiter = resolve));
    return armed[0]!;
  };
  return { timers, armed, nextAlarm };
}

let h: Harness;
beforeEach(async () => {
  h = await harness('sqlite', {
    defaults: { limits: { heartbeat: '30s' } },
    sweep: { interval: '1m' },
  });
});
afterEach(async () => {
  await h.close();
});

describe('the deadline scheduler', () => {
  it('backs off, growing, when a sweep leaves the earliest deadline in the past', async () => {
    await h.ledger.register({ id: 'stuck-row', kind: 'job' });
    h.clock.set(T0 + 40 * S);
    // The database refuses every write to this row: the sweep can neither end it nor move its
    // deadline, so the deadline stays in the past after each sweep.
    await h.refuseUpdatesOf('stuck-row');
    const { timers, armed, nextAlarm } = manualTimers();
    let sweeps = 0;
    const scheduler = new DeadlineScheduler({
      store: h.store,
      clock: h.clock,
      intervalMs: 60 * S,
      sweep: () => {
        sweeps++;
        return h.sweeper.sweep();
      },
      onError: () => undefined,
      timers,
    });
    scheduler.start();
    try {
      expect((await nextAlarm()).ms).toBe(0);
      const delays: number[] = [];
      for (let i = 0; i < 5; i++) {
        const alarm = await nextAlarm();
        armed.splice(armed.indexOf(alarm), 1);
        h.clock.advance(alarm.ms);
        alarm.fn();
        delays.push((await nextAlarm()).ms);
      }
      expect(sweeps).toBe(5);
      expect(delays).toEqual([200, 400, 800, 1_600, 3_200]);
      expect((await h.store.get('stuck-row'))?.status).toBe('running');
    } finally {
      scheduler.stop();
    }
  });
});
