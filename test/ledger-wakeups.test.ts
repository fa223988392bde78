import { afterEach, describe, expect, it } from 'vitest';
import type { Timers } from '../src/ports/clock.js';
import { Ledger } from '../src/runtime/ledger.js';
import { DeadlineScheduler } from '../src/runtime/scheduler.js';
import { StoreHealth } from '../src/runtime/store-health.js';
import type { Harness } from './helpers.js';
import { S, T0, harness } from './helpers.js';

/** Timers driven by hand: the scheduler's one pending alarm, and when it was set to ring. */
class ManualTimers implements Timers {
  pending: { fn: () => void; at: number } | null = null;
  constructor(private readonly now: () => number) {}
  setTimeout(fn: () => void, ms: number) {
    this.pending = { fn, at: this.now() + ms };
    return this.pending;
  }
  clearTimeout(handle: unknown) {
    if (handle === this.pending) this.pending = null;
  }
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

/**
 * A program that embeds the ledger and the scheduler, without the HTTP routes: the ledger itself
 * wakes the scheduler for an earlier deadline and reports the database's health.
 */
describe('a ledger embedded without the HTTP API', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  async function embedded() {
    h = await harness('sqlite', { sweep: { interval: '1h' } });
    const timers = new ManualTimers(() => h!.clock.now());
    const scheduler = new DeadlineScheduler({
      store: h.store,
      clock: h.clock,
      intervalMs: 3_600_000,
      sweep: () => h!.sweeper.sweep(),
      onError: (error) => {
        throw error;
      },
      timers,
    });
    let recovered = 0;
    const health = new StoreHealth(() => recovered++);
    const ledger = new Ledger(h.store, h.config, h.clock, { alarm: scheduler, health });
    scheduler.start();
    await flush();
    return { timers, scheduler, ledger, health, recovered: () => recovered };
  }

  it('wakes the scheduler when a registration or a start brings a deadline earlier', async () => {
    const { timers, scheduler, ledger } = await embedded();
    // Nothing is due: the safety-net hour.
    expect(timers.pending?.at).toBe(T0 + 3_600_000);

    await ledger.register({ id: 'quick', kind: 'k', limits: { heartbeat: '10s' } });
    expect(scheduler.nextWakeAt).toBe(T0 + 10 * S + 1);
    expect(timers.pending?.at).toBe(T0 + 10 * S + 1);

    await ledger.register({ id: 'queued', kind: 'k', status: 'queued', limits: { run: '2s' } });
    h!.clock.advance(S);
    await ledger.start('queued', 1);
    expect(timers.pending?.at).toBe(T0 + 3 * S + 1);

    // A later deadline leaves the alarm where it is.
    await ledger.register({ id: 'slow', kind: 'k', limits: { heartbeat: '1m' } });
    expect(timers.pending?.at).toBe(T0 + 3 * S + 1);
    scheduler.stop();
  });

  it('reports the database up again when a heartbeat lands after it was down', async () => {
    const { scheduler, ledger, health, recovered } = await embedded();
    await ledger.register({ id: 'job', kind: 'k', limits: { heartbeat: '10s' } });
    health.down(new Error('connection refused'));
    expect(health.status()).toEqual({ up: false, error: 'connection refused' });

    await ledger.beat({ id: 'job', attempt: 1 });
    expect(health.status()).toEqual({ up: true, error: null });
    expect(recovered()).toBe(1);

    health.down(new Error('connection refused'));
    await ledger.heartbeat([{ id: 'job', attempt: 1 }]);
    expect(health.status()).toEqual({ up: true, error: null });
    expect(recovered()).toBe(2);
    scheduler.stop();
  });
});
