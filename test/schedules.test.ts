import { afterEach, expect, it } from 'vitest';
import { MISS_CAP } from '../src/core/schedule.js';
import { Notifications } from '../src/notify/index.js';
import type { ExecutionStore } from '../src/ports/execution-store.js';
import { ScheduleWatch } from '../src/runtime/schedule-watch.js';
import type { Harness, StoreKind } from './helpers.js';
import { M, S, T0, describeEach, harness, storeKinds } from './helpers.js';
import type { Receiver } from './notify-helpers.js';
import { startReceiver } from './notify-helpers.js';

let h: Harness | undefined;
let receiver: Receiver | undefined;
const errors: string[] = [];

afterEach(async () => {
  await h?.close();
  await receiver?.close();
  h = undefined;
  receiver = undefined;
  errors.length = 0;
});

const HOURLY = { cron: '0 * * * *', grace: '5m', kind: 'backup' };

async function setup(kind: StoreKind, schedules: object, more: object = {}) {
  h = await harness(kind, { schedules, ...more });
  return h;
}

function watchOn(store: ExecutionStore, harness: Harness = h!): ScheduleWatch {
  return new ScheduleWatch({
    specs: Object.values(harness.config.schedules),
    store: store.schedules(),
    clock: harness.clock,
    events: harness.bus,
    lease: (name, holder, now, ttlMs) => store.acquireLease(name, holder, now, ttlMs),
    maxWaitMs: 30 * S,
    onError: (error) => errors.push(String(error)),
  });
}

function scheduleEvents() {
  return h!.events
    .filter((e) => e.type.startsWith('schedule:'))
    .map((e) => ({ type: e.type, dueAt: e.dueAt as number, count: e.count as number | undefined }));
}

/** Registers (and so starts) an execution of this kind now. */
async function startRun(id: string, kind = 'backup') {
  await h!.ledger.register({ id, kind });
}

await describeEach(storeKinds(), 'schedules on %s', (kind) => {
  it('a run that starts within the grace is on time: no event, state ok', async () => {
    await setup(kind, { backup: HOURLY });
    const watch = watchOn(h!.store);
    h!.clock.set(T0 - M); // first seen a minute before the 12:00 due time
    await watch.pass();
    h!.clock.set(T0 + 2 * M);
    await startRun('b1');
    h!.clock.set(T0 + 5 * M + S);
    await watch.pass();
    expect(scheduleEvents()).toEqual([]);
    const [status] = await watch.status();
    expect(status).toMatchObject({
      state: 'ok',
      lastJudgedDueAt: T0,
      lastStartAt: T0 + 2 * M,
      nextDueAt: T0 + 60 * M,
    });
    expect(errors).toEqual([]);
  });

  it('missed once, then late (not missed twice), then on time again', async () => {
    await setup(kind, { backup: HOURLY });
    const watch = watchOn(h!.store);
    h!.clock.set(T0 - M);
    await watch.pass();
    h!.clock.set(T0 + 5 * M + S);
    await watch.pass();
    await watch.pass();
    expect(scheduleEvents()).toEqual([{ type: 'schedule:missed', dueAt: T0, count: 1 }]);
    expect(h!.events[0]).toMatchObject({
      schedule: 'backup',
      graceMs: 5 * M,
      lastStartAt: null,
      reason: 'no run started within 5m of 2026-01-01T12:00:00.000Z',
    });
    h!.clock.set(T0 + 20 * M);
    await startRun('b1');
    h!.clock.set(T0 + 21 * M);
    await watch.pass();
    await watch.pass();
    expect(scheduleEvents().slice(1)).toEqual([
      { type: 'schedule:late', dueAt: T0, count: undefined },
    ]);
    expect(h!.events.at(-1)).toMatchObject({ startAt: T0 + 20 * M, lateByMs: 20 * M });
    expect((await watch.status())[0]?.state).toBe('late');
    expect(await h!.store.schedules().listVerdicts('backup', 10)).toEqual([
      expect.objectContaining({ dueAt: T0, verdict: 'late', lateStartAt: T0 + 20 * M }),
    ]);
    // The next hour's run is on time: no event, state ok.
    h!.clock.set(T0 + 61 * M);
    await startRun('b2');
    h!.clock.set(T0 + 66 * M);
    await watch.pass();
    expect(scheduleEvents()).toHaveLength(2);
    expect((await watch.status())[0]?.state).toBe('ok');
  });

  it('a start for another kind or owner does not count; a ping does', async () => {
    await setup(kind, {
      backup: HOURLY,
      report: { cron: '0 * * * *', grace: '5m', owner: 'host-a' },
    });
    const watch = watchOn(h!.store);
    h!.clock.set(T0 - M);
    await watch.pass();
    await startRun('other', 'not-backup');
    await h!.store.schedules().recordPing('report', 'success', T0 + M);
    h!.clock.set(T0 + 6 * M);
    await watch.pass();
    expect(h!.events.filter((e) => e.type === 'schedule:missed').map((e) => e.schedule)).toEqual([
      'backup',
    ]);
  });

  it('due times that fell while Vigil was down are judged when it is back, with a summarising miss past the cap', async () => {
    await setup(kind, { often: { every: '1m', grace: '10s' } });
    const watch = watchOn(h!.store);
    h!.clock.set(T0 + S);
    await watch.pass(); // first seen: judged up to T0 - 1m
    // Down for half an hour; one run pinged in the middle.
    await h!.store.schedules().recordPing('often', 'start', T0 + 15 * M + 2 * S);
    h!.clock.set(T0 + 30 * M);
    await watch.pass();
    await watch.pass();
    // Due T0 … T0+29m (30 due times), T0+15m on time: 29 missed, 19 folded into one.
    const missed = scheduleEvents();
    expect(missed).toHaveLength(MISS_CAP + 1);
    expect(missed[0]).toEqual({ type: 'schedule:missed', dueAt: T0 + 19 * M, count: 19 });
    expect(h!.events[0]).toMatchObject({ firstDueAt: T0 });
    expect(missed.slice(1).map((e) => (e.dueAt - T0) / M)).toEqual([
      20, 21, 22, 23, 24, 25, 26, 27, 28, 29,
    ]);
    expect((await watch.status())[0]?.lastJudgedDueAt).toBe(T0 + 29 * M);
  });

  it('each due time is judged once across replicas', async () => {
    await setup(kind, { backup: HOURLY });
    const other = h!.openAnother();
    try {
      const watches = [watchOn(h!.store), watchOn(other)];
      h!.clock.set(T0 - M);
      await Promise.all(watches.map((w) => w.pass()));
      h!.clock.set(T0 + 6 * M);
      await Promise.all(watches.map((w) => w.pass()));
      // The lease holder may differ from pass to pass; each judges what is left.
      h!.clock.set(T0 + 6 * M + 2 * 60 * S);
      await Promise.all(watches.map((w) => w.pass()));
      expect(scheduleEvents()).toEqual([{ type: 'schedule:missed', dueAt: T0, count: 1 }]);
    } finally {
      await other.close();
    }
  });

  it('a miss is notified once through the notify router', async () => {
    receiver = await startReceiver();
    await setup(
      kind,
      { backup: HOURLY },
      {
        notify: {
          channels: {
            hooks: { type: 'webhook', url: receiver.url, secret: 'a-secret-of-16-chars' },
          },
        },
      },
    );
    const notifications = new Notifications({
      events: h!.bus,
      store: h!.store,
      config: h!.config.notify!,
      clock: h!.clock,
      onError: (error) => errors.push(String(error)),
      deliver: false,
    });
    try {
      const watch = watchOn(h!.store);
      h!.clock.set(T0 - M);
      await watch.pass();
      for (const at of [T0 + 6 * M, T0 + 7 * M, T0 + 8 * M]) {
        h!.clock.set(at);
        await watch.pass();
        await notifications.router.flush();
        await notifications.worker.runOnce();
      }
      const bodies = receiver.accepted().map((r) => r.raw);
      expect(bodies).toHaveLength(1);
      expect(bodies[0]).toContain('"type":"schedule:missed"');
      expect(bodies[0]).toContain('"schedule":"backup"');
    } finally {
      await notifications.stop();
    }
  });

  it('daylight saving in Europe/Berlin: a fixed-time job in the spring-forward gap is due after it, once on fall-back; an interval job skips the gap and runs both repeated hours', async () => {
    await setup(kind, {
      fixed: { cron: '30 2 * * *', tz: 'Europe/Berlin', grace: '1m' },
      interval: { cron: '*/30 2 * * *', tz: 'Europe/Berlin', grace: '1m' },
    });
    const watch = watchOn(h!.store);
    const missedAt = () =>
      h!.events
        .filter((e) => e.type === 'schedule:missed')
        .map((e) => `${e.schedule} ${new Date(e.dueAt).toISOString()}`);
    // Spring forward, 2026-03-29: 02:00 CET becomes 03:00 CEST.
    h!.clock.set(Date.parse('2026-03-28T00:00:00Z'));
    await watch.pass();
    h!.clock.set(Date.parse('2026-03-30T12:00:00Z'));
    await watch.pass();
    expect(missedAt()).toEqual([
      'fixed 2026-03-28T01:30:00.000Z', // 02:30 CET
      'fixed 2026-03-29T01:00:00.000Z', // the first valid time after the gap: 03:00 CEST
      'fixed 2026-03-30T00:30:00.000Z', // 02:30 CEST
      'interval 2026-03-28T01:00:00.000Z',
      'interval 2026-03-28T01:30:00.000Z',
      // none on the 29th: 02:00 and 02:30 do not exist that day
      'interval 2026-03-30T00:00:00.000Z',
      'interval 2026-03-30T00:30:00.000Z',
    ]);
    h!.events.length = 0;
    // Fall back, 2026-10-25: 03:00 CEST becomes 02:00 CET, 02:xx happens twice.
    h!.clock.set(Date.parse('2026-10-24T12:00:00Z'));
    await h!.store.schedules().recordPing('fixed', 'start', Date.parse('2026-10-24T11:00:00Z'));
    const resumed = watchOn(h!.store);
    await resumed.pass(); // catches up the summer in one summary per schedule
    h!.events.length = 0;
    h!.clock.set(Date.parse('2026-10-25T03:00:00Z'));
    await resumed.pass();
    expect(missedAt()).toEqual([
      'fixed 2026-10-25T00:30:00.000Z', // 02:30 CEST only
      'interval 2026-10-25T00:00:00.000Z', // 02:00 CEST
      'interval 2026-10-25T00:30:00.000Z',
      'interval 2026-10-25T01:00:00.000Z', // 02:00 CET
      'interval 2026-10-25T01:30:00.000Z',
    ]);
  });
});

/** Waits (by turns of the event loop, not by time) until `ready()` holds. */
async function until(ready: () => boolean): Promise<void> {
  for (let turn = 0; turn < 1_000 && !ready(); turn++) {
    await new Promise((resolve) => setImmediate(resolve));
  }
  expect(ready()).toBe(true);
}

it('a schedule changed during a pass is judged again once it ends, by the one loop there is', async () => {
  h = await harness('sqlite', {});
  const store = h.store;
  const pending = new Map<number, () => void>();
  let ids = 0;
  const timers = {
    setTimeout: (fn: () => void) => {
      pending.set(++ids, fn);
      return ids;
    },
    clearTimeout: (id: unknown) => void pending.delete(id as number),
  };
  const fire = () => {
    const [entry] = pending;
    expect(entry).toBeDefined();
    pending.delete(entry![0]);
    entry![1]();
  };
  let loads = 0;
  let release = () => undefined as void;
  const watch = new ScheduleWatch({
    specs: [],
    apiSpecs: async () => {
      loads++;
      if (loads === 1) await new Promise<void>((resolve) => (release = resolve));
      return [];
    },
    store: store.schedules(),
    clock: h.clock,
    events: h.bus,
    lease: (name, holder, now, ttlMs) => store.acquireLease(name, holder, now, ttlMs),
    maxWaitMs: 30 * S,
  });
  watch.start(timers);
  fire(); // the first pass: held while it reads the schedules
  await until(() => loads === 1);
  watch.changed();
  watch.changed();
  expect(pending.size).toBe(0); // no second loop beside the pass under way
  release();
  await until(() => pending.size === 1); // the loop, due at once for the change
  fire();
  await until(() => loads === 2 && pending.size === 1);
  watch.stop();
  expect(pending.size).toBe(0);
});
