import { afterEach, beforeEach, expect, it } from 'vitest';
import type { ExecutionStore } from '../src/ports/execution-store.js';
import type { FakeClock } from '../src/runtime/clock.js';
import type { Ledger } from '../src/runtime/ledger.js';
import type { Harness } from './helpers.js';
import { M, S, T0, harness, storeKinds, describeEach } from './helpers.js';

/** Heartbeats agree on every store kind (SQLite's prepared statements, PostgreSQL's batch UPDATE). */
await describeEach(storeKinds(), 'heartbeats on %s', (kind) => {
  let store: ExecutionStore;
  let ledger: Ledger;
  let clock: FakeClock;
  let h: Harness;

  beforeEach(async () => {
    h = await harness(kind);
    ({ store, clock, ledger } = h);
  });
  afterEach(() => h.close());

  it('moves the deadline to the earliest of run, heartbeat and progress limits', async () => {
    await ledger.register({
      id: 'a',
      kind: 'k',
      limits: { run: '10m', heartbeat: '1m', progress: '5m' },
    });
    clock.set(T0 + 2 * M);
    // Liveness only: the heartbeat deadline moves, progress still counts from the start (5m).
    expect(await store.heartbeat([{ id: 'a', attempt: 1 }], clock.now())).toEqual({
      ok: [{ id: 'a', deadlineAt: T0 + 3 * M }],
      lost: [],
    });
    clock.set(T0 + 4 * M + 30 * S);
    expect((await store.heartbeat([{ id: 'a', attempt: 1 }], clock.now())).ok[0]?.deadlineAt).toBe(
      T0 + 5 * M,
    );
    // With progress: both move; the run limit caps them.
    clock.set(T0 + 9 * M + 30 * S);
    expect(
      (await store.heartbeat([{ id: 'a', attempt: 1, progress: 7 }], clock.now())).ok[0]
        ?.deadlineAt,
    ).toBe(T0 + 10 * M);
    expect(await store.get('a')).toMatchObject({
      heartbeatAt: T0 + 9 * M + 30 * S,
      progressAt: T0 + 9 * M + 30 * S,
      progress: 7,
      deadlineAt: T0 + 10 * M,
    });
  });

  it('a heartbeat without limits leaves no deadline; a string progress is kept as given', async () => {
    await ledger.register({ id: 'free', kind: 'k', limits: { run: null } });
    const result = await store.heartbeat([{ id: 'free', attempt: 1, progress: 'page 3' }], T0 + S);
    expect(result.ok).toEqual([{ id: 'free', deadlineAt: null }]);
    expect((await store.get('free'))?.progress).toBe('page 3');
  });

  it('answers lost with the reason for each beat that did not land', async () => {
    await ledger.register({ id: 'queued', kind: 'k', status: 'queued' });
    await ledger.register({ id: 'done', kind: 'k' });
    await ledger.complete('done', 1);
    await ledger.register({ id: 'live', kind: 'k' });
    const result = await store.heartbeat(
      [
        { id: 'live', attempt: 1 },
        { id: 'live-stale', attempt: 1 },
        { id: 'queued', attempt: 1 },
        { id: 'done', attempt: 1 },
        { id: 'live', attempt: 2 },
      ],
      T0 + S,
    );
    expect(result.ok.map((b) => b.id)).toEqual(['live']);
    expect(result.lost).toEqual([
      { id: 'live-stale', status: null, reason: 'no such execution' },
      { id: 'queued', status: 'queued', reason: 'not started' },
      { id: 'done', status: 'succeeded', reason: 'execution is succeeded' },
      {
        id: 'live',
        status: 'running',
        reason: 'there is no attempt 2; the execution is on attempt 1',
      },
    ]);
  });

  it('a beat no execution could match (attempt beyond 2^31 - 1, an id with a NUL) is lost on its own', async () => {
    await ledger.register({ id: 'a', kind: 'k', limits: { heartbeat: '1m' } });
    await ledger.register({ id: 'b', kind: 'k', limits: { heartbeat: '1m' } });
    clock.set(T0 + 10 * S);
    // In one write, as the group commit puts beats of several callers together.
    const written = await store.heartbeat(
      [
        { id: 'a', attempt: 1 },
        { id: 'b', attempt: 2_147_483_648 },
        { id: 'c\u0000', attempt: 1 },
      ],
      clock.now(),
    );
    expect(written.ok).toEqual([{ id: 'a', deadlineAt: T0 + 10 * S + M }]);
    expect(written.lost).toEqual([
      {
        id: 'b',
        status: 'running',
        reason: 'there is no attempt 2147483648; the execution is on attempt 1',
      },
      { id: 'c\u0000', status: null, reason: 'no such execution' },
    ]);
    // Two callers whose beats share a write: the good one lands.
    const [good, odd] = await Promise.all([
      ledger.heartbeat([{ id: 'a', attempt: 1 }]),
      ledger.heartbeat([{ id: 'b', attempt: 2_147_483_648 }]),
    ]);
    expect(good.ok.map((beat) => beat.id)).toEqual(['a']);
    expect(odd.lost.map((beat) => beat.id)).toEqual(['b']);
  });

  it('concurrent batches over the same executions in opposite orders all land (no deadlock)', async () => {
    const ids = Array.from({ length: 50 }, (_, i) => `c-${String(i).padStart(2, '0')}`);
    for (const id of ids) await ledger.register({ id, kind: 'k', limits: { heartbeat: '1m' } });
    for (let round = 1; round <= 10; round++) {
      const beats = ids.map((id) => ({ id, attempt: 1 }));
      const results = await Promise.all([
        store.heartbeat(beats, T0 + round * S),
        store.heartbeat([...beats].reverse(), T0 + round * S),
      ]);
      for (const result of results) {
        expect(result.lost).toEqual([]);
        expect(result.ok).toHaveLength(50);
      }
    }
  });
});
