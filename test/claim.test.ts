import { afterEach, beforeEach, expect, it } from 'vitest';
import type { ExecutionStore } from '../src/ports/execution-store.js';
import type { Harness } from './helpers.js';
import { M, S, T0, describeEach, harness, storeKinds } from './helpers.js';

const CONFIG = {
  kinds: { flaky: { retry: { maxAttempts: 3, backoff: '10s' }, limits: { heartbeat: '30s' } } },
};

await describeEach(storeKinds(), 'claiming queued work (%s)', (kind) => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness(kind, CONFIG);
  });
  afterEach(async () => {
    await h.close();
  });

  it('claims the oldest due attempt of its kind and owner, started for the claimer', async () => {
    await h.ledger.register({ id: 'b', kind: 'flaky', status: 'queued', owner: 'team-a' });
    h.clock.advance(S);
    await h.ledger.register({ id: 'a', kind: 'flaky', status: 'queued', owner: 'team-b' });
    await h.ledger.register({ id: 'other', kind: 'embed', status: 'queued' });
    await h.ledger.register({ id: 'running', kind: 'flaky' });

    expect(await h.ledger.claim({ kind: 'flaky', owner: 'team-b' })).toMatchObject({
      id: 'a',
      status: 'running',
      attempt: 1,
      startedAt: h.clock.now(),
      deadlineAt: h.clock.now() + 30 * S,
    });
    expect(await h.ledger.claim({ kind: 'flaky', owner: 'team-b' })).toBeUndefined();
    expect(await h.ledger.claim({ kind: 'flaky' })).toMatchObject({ id: 'b' });
    expect(await h.ledger.claim({ kind: 'flaky' })).toBeUndefined();
    expect(await h.ledger.claim({ kind: 'embed', owner: null })).toMatchObject({ id: 'other' });
  });

  it('leaves a retry alone until its backoff has ended', async () => {
    await h.ledger.register({ id: 'job', kind: 'flaky' });
    h.clock.advance(31 * S);
    await h.sweeper.sweep();
    const queued = await h.ledger.get('job');
    expect(queued).toMatchObject({ status: 'queued', attempt: 2 });
    expect(queued.queuedAt).toBeGreaterThan(h.clock.now());

    h.clock.set(queued.queuedAt! - 1);
    expect(await h.ledger.claim({ kind: 'flaky' })).toBeUndefined();
    h.clock.set(queued.queuedAt!);
    expect(await h.ledger.claim({ kind: 'flaky' })).toMatchObject({ id: 'job', attempt: 2 });
  });

  it('a runner that comes back on attempt 1 after attempt 2 was claimed loses ownership; its result is kept late', async () => {
    await h.ledger.register({ id: 'job', kind: 'flaky', status: 'queued' });
    const first = await h.ledger.claim({ kind: 'flaky' });
    expect(first).toMatchObject({ id: 'job', attempt: 1 });
    // Runner A goes quiet; the watchdog ends attempt 1 and queues attempt 2.
    h.clock.advance(31 * S);
    await h.sweeper.sweep();
    h.clock.advance(M);
    const second = await h.ledger.claim({ kind: 'flaky' });
    expect(second).toMatchObject({ id: 'job', attempt: 2, status: 'running' });

    // Runner A wakes up: its heartbeat is refused, its completion kept as a late result only.
    const beat = await h.ledger.heartbeat([{ id: 'job', attempt: 1 }]);
    expect(beat.lost).toMatchObject([{ id: 'job', status: 'running' }]);
    const late = await h.ledger.complete('job', 1, { from: 'A' });
    expect(late).toMatchObject({ kind: 'late', kept: true });
    expect(await h.ledger.get('job')).toMatchObject({ status: 'running', attempt: 2 });

    // Runner B's completion is the execution's result.
    expect(await h.ledger.complete('job', 2, { from: 'B' })).toMatchObject({ kind: 'ended' });
    expect(await h.ledger.get('job')).toMatchObject({
      status: 'succeeded',
      attempt: 2,
      result: { from: 'B' },
      lateResult: { attempt: 1, result: { from: 'A' } },
    });
  });

  // PostgreSQL: a second pool, as another replica has. SQLite: one connection (better-sqlite3
  // blocks the thread while it waits for a lock, so two in one process would wait on each other);
  // replicas on one SQLite file race through the real binary in dispatch-serve.test.ts.
  it('runners racing for the same attempts never both win one', async () => {
    const other: ExecutionStore = kind === 'postgres' ? h.openAnother() : h.store;
    try {
      const ROUNDS = 20;
      const PER_ROUND = 5;
      for (let round = 0; round < ROUNDS; round++) {
        for (let i = 0; i < PER_ROUND; i++) {
          await h.store.create(
            {
              id: `r${round}-${i}`,
              kind: 'race',
              owner: null,
              parentId: null,
              status: 'queued',
              limits: { run: M, heartbeat: null, progress: null, queue: null },
              metadata: {},
            },
            T0,
          );
        }
        // Each runner claims until nothing is left; both run at once, on their own connection.
        const drain = async (store: ExecutionStore) => {
          const won: string[] = [];
          for (;;) {
            const claimed = await store.claim({ kind: 'race' }, T0 + S);
            if (!claimed) return won;
            won.push(`${claimed.id}#${claimed.attempt}`);
          }
        };
        const wins = await Promise.all([drain(h.store), drain(other), drain(h.store)]);
        const all = wins.flat();
        expect(new Set(all).size).toBe(all.length);
        expect(all.sort()).toEqual(
          Array.from({ length: PER_ROUND }, (_, i) => `r${round}-${i}#1`).sort(),
        );
      }
    } finally {
      if (other !== h.store) await other.close();
    }
  });
});
