import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SlotStore } from '../src/ports/slot-store.js';
import { slotHolder } from '../src/ports/slot-store.js';
import { Ledger } from '../src/runtime/ledger.js';
import { STALE_RELEASE_MS, Slots } from '../src/runtime/slots.js';
import { Sweeper } from '../src/runtime/sweep.js';
import { openRedisSlotStore } from '../src/stores/redis-slots.js';
import type { Harness } from './helpers.js';
import type { StoreKind } from './helpers.js';
import {
  M,
  REDIS_URL,
  S,
  dropRedisKeys,
  harness,
  redisAvailable,
  storeAvailable,
  storeKinds,
} from './helpers.js';
import { until } from './process-helpers.js';

type SlotKind = 'table' | 'redis';

const redisUp = await redisAvailable();
const postgresUp = await storeAvailable('postgres');
const combos: [string, StoreKind, SlotKind, boolean][] = [
  ...storeKinds().map((kind): [string, StoreKind, SlotKind, boolean] => [
    `${kind} + table slots`,
    kind,
    'table',
    kind !== 'postgres' || postgresUp,
  ]),
  ['sqlite + redis slots', 'sqlite', 'redis', redisUp],
  ['postgres + redis slots', 'postgres', 'redis', redisUp && postgresUp],
];

for (const [name, storeKind, slotKind, up] of combos)
  describe.skipIf(!up)(`slots on ${name}`, () => {
    let h: Harness;
    let slotStore: SlotStore;
    let slots: Slots;
    let ledger: Ledger;
    let sweeper: Sweeper;
    const prefix = `vigil-test:${randomUUID()}:`;

    beforeEach(async () => {
      h = await harness(storeKind, { defaults: { limits: { heartbeat: '1m' } } });
      slotStore =
        slotKind === 'redis'
          ? await openRedisSlotStore(REDIS_URL, { keyPrefix: prefix })
          : h.store.localSlots();
      slots = new Slots(h.store, slotStore, h.clock);
      ledger = new Ledger(h.store, h.config, h.clock, {
        events: h.bus,
        afterEnd: (id, attempt) => void slots.releaseFor([{ id, attempt }]),
      });
      sweeper = new Sweeper({
        store: h.store,
        clock: h.clock,
        config: h.config,
        events: h.bus,
        slots,
      });
    });
    afterEach(async () => {
      await slotStore.close();
      if (slotKind === 'redis') await dropRedisKeys(prefix);
      await h.close();
    });

    const holderOf = (slot: string) => slotStore.holderOf(slot, h.clock.now());

    it('one holder per slot: a second execution is refused with the holder named', async () => {
      await ledger.register({ id: 'a', kind: 'agent' });
      await ledger.register({ id: 'b', kind: 'agent' });
      await slots.acquire('a', { attempt: 1, slot: 'agent:alpha:capacity' });

      await expect(
        slots.acquire('b', { attempt: 1, slot: 'agent:alpha:capacity' }),
      ).rejects.toMatchObject({
        code: 'slot_taken',
        details: { holder: { executionId: 'a', attempt: 1 } },
      });
      expect(await holderOf('agent:alpha:capacity')).toBe(slotHolder('a', 1));
      // Taking it again is idempotent for its holder.
      await slots.acquire('a', { attempt: 1, slot: 'agent:alpha:capacity' });
      expect(await h.store.slotHolds('b')).toEqual([]);
    });

    it('remediation releases exactly the slots the stuck execution held, as audited steps', async () => {
      await ledger.register({ id: 'stuck', kind: 'agent' });
      await ledger.register({ id: 'other', kind: 'agent', limits: { heartbeat: '1h' } });
      await slots.acquire('stuck', { attempt: 1, slot: 'agent:alpha:capacity' });
      await slots.acquire('stuck', { attempt: 1, slot: 'agent:alpha:queue' });
      await slots.acquire('other', { attempt: 1, slot: 'agent:beta:capacity' });
      h.clock.advance(2 * M);

      const result = await sweeper.sweep();

      expect(result.kind === 'completed' && result.report.counts).toMatchObject({
        heartbeat_lost: 1,
        slots_released: 2,
      });
      expect(await holderOf('agent:alpha:capacity')).toBeNull();
      expect(await holderOf('agent:alpha:queue')).toBeNull();
      expect(await holderOf('agent:beta:capacity')).toBe(slotHolder('other', 1));
      const holds = await h.store.slotHolds('stuck');
      expect(holds.map((x) => [x.slot, x.releaseOutcome])).toEqual([
        ['agent:alpha:capacity', 'released'],
        ['agent:alpha:queue', 'released'],
      ]);
      const [audit] = await h.store.listRemediations({ executionId: 'stuck', limit: 10 });
      expect(audit!.steps.map((step) => [step.step, step.outcome, step.detail])).toEqual([
        ['end', 'ok', expect.stringContaining('failed')],
        ['release', 'ok', 'released agent:alpha:capacity'],
        ['release', 'ok', 'released agent:alpha:queue'],
      ]);
    });

    it('a slot that expired and was re-acquired by a newer execution stays with its new holder', async () => {
      await ledger.register({ id: 'old', kind: 'agent' });
      await slots.acquire('old', { attempt: 1, slot: 'agent:alpha:capacity', ttl: 50 });
      // The TTL runs out: in Redis by Redis's own clock, in the table by Vigil's.
      if (slotKind === 'redis')
        await until(async () => (await holderOf('agent:alpha:capacity')) === null);
      else h.clock.advance(51);
      await ledger.register({ id: 'new', kind: 'agent' });
      await slots.acquire('new', { attempt: 1, slot: 'agent:alpha:capacity' });
      h.clock.advance(2 * M);

      const result = await sweeper.sweep();

      expect((await h.store.get('old'))!.status).toBe('failed');
      expect((await h.store.get('new'))!.status).toBe('failed'); // both went silent
      // Both releases run at once: `old`'s finds the slot still `new`'s (not_held) or already
      // given back by `new` (already_free), never releases it; `new` releases its own.
      const [oldHold] = await h.store.slotHolds('old');
      const [newHold] = await h.store.slotHolds('new');
      expect(['not_held', 'already_free']).toContain(oldHold!.releaseOutcome);
      expect(newHold!.releaseOutcome).toBe('released');
      expect(await holderOf('agent:alpha:capacity')).toBeNull();
      expect(result.kind === 'completed' && result.report.counts.slots_released).toBe(1);
    });

    it('keeps the new holder while the old one is remediated (the new one still running)', async () => {
      await ledger.register({ id: 'old', kind: 'agent' });
      await slots.acquire('old', { attempt: 1, slot: 'q', ttl: 50 });
      if (slotKind === 'redis') await until(async () => (await holderOf('q')) === null);
      else h.clock.advance(51);
      await ledger.register({ id: 'new', kind: 'agent', limits: { heartbeat: '1h' } });
      await slots.acquire('new', { attempt: 1, slot: 'q' });
      h.clock.advance(2 * M);

      await sweeper.sweep();

      expect((await h.store.get('old'))!.status).toBe('failed');
      expect(await holderOf('q')).toBe(slotHolder('new', 1));
      expect((await h.store.slotHolds('old'))[0]!.releaseOutcome).toBe('not_held');
      const [audit] = await h.store.listRemediations({ executionId: 'old', limit: 10 });
      expect(audit!.steps.at(-1)).toMatchObject({
        step: 'release',
        outcome: 'skipped',
        detail: expect.stringMatching(/held by another holder/),
      });
    });

    it('a release cut short by a crash (ended, slot still held) is finished by the next sweep', async () => {
      await ledger.register({ id: 'x', kind: 'agent' });
      await slots.acquire('x', { attempt: 1, slot: 'agent:alpha:capacity' });
      // The end lands (and marks the hold due in its transaction); the process dies before releasing.
      const ended = await h.store.endAttempt(
        { id: 'x', attempt: 1, status: 'running' },
        {
          status: 'failed',
          verdict: 'heartbeat_lost',
          reason: 'test',
          endedBy: 'watchdog',
          retry: null,
        },
        h.clock.now(),
      );
      expect(ended).toBe(true);
      expect(await holderOf('agent:alpha:capacity')).toBe(slotHolder('x', 1));
      expect((await h.store.dueSlotReleases({ limit: 10 })).map((d) => d.executionId)).toEqual([
        'x',
      ]);

      // A sweep leaves a fresh due release to whoever ended the attempt...
      await sweeper.sweep();
      expect(await holderOf('agent:alpha:capacity')).toBe(slotHolder('x', 1));
      // ...and finishes it once it is stale: that releaser is gone.
      h.clock.advance(STALE_RELEASE_MS + 1);
      await sweeper.sweep();

      expect(await holderOf('agent:alpha:capacity')).toBeNull();
      expect(await h.store.dueSlotReleases({ limit: 10 })).toEqual([]);
    });

    it('a release done but not recorded (a crash between the two) is retried as already free, not as taken', async () => {
      await ledger.register({ id: 'x', kind: 'agent' });
      await slots.acquire('x', { attempt: 1, slot: 'agent:alpha:capacity' });
      await h.store.endAttempt(
        { id: 'x', attempt: 1, status: 'running' },
        {
          status: 'failed',
          verdict: 'heartbeat_lost',
          reason: 'test',
          endedBy: 'watchdog',
          retry: null,
        },
        h.clock.now(),
      );
      // The slot store released it; the process died before recording that.
      expect(
        await slotStore.release('agent:alpha:capacity', slotHolder('x', 1), h.clock.now()),
      ).toBe('released');
      h.clock.advance(STALE_RELEASE_MS + 1);

      const result = await sweeper.sweep();

      expect(result.kind === 'completed' && result.report.counts).toMatchObject({
        slots_already_free: 1,
      });
      expect(result.kind === 'completed' && result.report.counts.slots_not_held).toBeUndefined();
      expect((await h.store.slotHolds('x'))[0]!.releaseOutcome).toBe('already_free');
    });

    it('a runner completing releases its slots; a runner may give one back early', async () => {
      await ledger.register({ id: 'r', kind: 'agent' });
      await slots.acquire('r', { attempt: 1, slot: 'cap' });
      await slots.acquire('r', { attempt: 1, slot: 'queue' });

      expect(await slots.release('r', 'queue', 1)).toEqual({ released: true });
      expect(await holderOf('queue')).toBeNull();
      expect(await slots.release('r', 'queue', 1)).toEqual({ released: false });

      await ledger.complete('r', 1, { ok: true });
      // The release is recorded after the slot store answers: wait for the record.
      await until(async () => (await h.store.slotHolds('r')).every((x) => x.releasedAt !== null));
      expect(await holderOf('cap')).toBeNull();
      expect((await h.store.slotHolds('r')).map((x) => x.releaseOutcome)).toEqual([
        'released',
        'released',
      ]);
    });

    it('an ended or unknown attempt cannot take a slot; bad input names the field', async () => {
      await ledger.register({ id: 'done', kind: 'agent' });
      await ledger.complete('done', 1);
      await expect(slots.acquire('done', { attempt: 1, slot: 's' })).rejects.toMatchObject({
        code: 'lost_ownership',
      });
      await expect(slots.acquire('nope', { attempt: 1, slot: 's' })).rejects.toMatchObject({
        code: 'not_found',
      });
      await expect(slots.acquire('done', { attempt: 0, slot: 'bad slot' })).rejects.toMatchObject({
        code: 'bad_input',
        message: expect.stringMatching(/attempt.*slot/s),
      });
      expect(await holderOf('s')).toBeNull();
    });

    // Redis answers a page's releases in calls of at most 1,000 (table slots release one by one).
    it.skipIf(slotKind !== 'redis')(
      'a page longer than one release call releases each slot its own holder held, once',
      async () => {
        const n = 1_100;
        await h.store.createMany(
          Array.from({ length: n }, (_, i) => ({
            id: `p${i}`,
            kind: 'agent',
            owner: null,
            parentId: null,
            status: 'running' as const,
            limits: { run: null, heartbeat: M, progress: null, queue: null },
            metadata: {},
          })),
          h.clock.now(),
        );
        for (let i = 0; i < n; i++) await slots.acquire(`p${i}`, { attempt: 1, slot: `s${i}` });
        // Two holds lapsed meanwhile: one slot was taken by someone else, one is simply free.
        await slotStore.release('s7', slotHolder('p7', 1), h.clock.now());
        await slotStore.acquire('s7', 'someone-else', null, h.clock.now());
        await slotStore.release('s8', slotHolder('p8', 1), h.clock.now());
        h.clock.advance(2 * M);

        const result = await new Sweeper({
          store: h.store,
          clock: h.clock,
          config: { ...h.config, sweep: { ...h.config.sweep, batchSize: n } },
          events: h.bus,
          slots,
        }).sweep();

        expect(result.kind === 'completed' && result.report.counts).toMatchObject({
          heartbeat_lost: n,
          slots_released: n - 2,
          slots_not_held: 1,
          slots_already_free: 1,
        });
        expect(await holderOf('s7')).toBe('someone-else');
        for (const i of [0, 999, 1000, n - 1]) {
          expect(await holderOf(`s${i}`)).toBeNull();
          expect((await h.store.slotHolds(`p${i}`))[0]).toMatchObject({
            releaseOutcome: 'released',
          });
        }
        expect(await h.store.dueSlotReleases({ limit: 10 })).toEqual([]);
      },
    );

    it('a retried execution: the new attempt does not inherit the old attempt’s slots', async () => {
      h.clock.advance(0);
      const flaky = await harness(storeKind, {
        defaults: { limits: { heartbeat: '1m' } },
        kinds: { flaky: { retry: { maxAttempts: 2, backoff: '1s' } } },
      });
      try {
        const local = slotKind === 'redis' ? slotStore : flaky.store.localSlots();
        const s = new Slots(flaky.store, local, flaky.clock);
        const l = new Ledger(flaky.store, flaky.config, flaky.clock);
        await l.register({ id: 'f', kind: 'flaky' });
        await s.acquire('f', { attempt: 1, slot: 'flaky-slot' });
        flaky.clock.advance(2 * M);
        await new Sweeper({
          store: flaky.store,
          clock: flaky.clock,
          config: flaky.config,
          events: flaky.bus,
          slots: s,
        }).sweep();
        expect(await flaky.store.get('f')).toMatchObject({ status: 'queued', attempt: 2 });
        expect(await local.holderOf('flaky-slot', flaky.clock.now())).toBeNull();
        flaky.clock.advance(2 * S);
        await l.start('f', 2);
        await s.acquire('f', { attempt: 2, slot: 'flaky-slot' });
        expect(await local.holderOf('flaky-slot', flaky.clock.now())).toBe(slotHolder('f', 2));
      } finally {
        await flaky.close();
      }
    });
  });
