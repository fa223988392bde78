import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deadlineOf } from '../src/core/limits.js';
import type { Limits } from '../src/core/types.js';
import type { RemediationRecord, SweepReport } from '../src/ports/audit-store.js';
import type { NewExecution } from '../src/ports/ledger-store.js';
import type { AttemptEnd } from '../src/ports/records.js';
import type { SqlContext } from '../src/stores/ops/context.js';
import { SqlStore } from '../src/stores/sql-store.js';
import type { Harness } from './helpers.js';
import { M, S, T0, describeEach, harness, storeKinds } from './helpers.js';

/**
 * The store contract: every method of SqlStore, called on every store kind (SQLite with its
 * prepared statements, SQLite through the query builder, PostgreSQL), with at least one assertion
 * on what it did. Other suites cover the behaviour in depth; this one guarantees that no method is
 * left uncalled on any kind, and the last test fails when a method is added without its entry.
 */

type Method = {
  [K in keyof SqlStore]: SqlStore[K] extends (...args: never[]) => unknown ? K : never;
}[keyof SqlStore];

const LIMITS: Limits = { run: 10 * M, heartbeat: M, progress: 5 * M, queue: null };

function execution(id: string, more: Partial<NewExecution> = {}): NewExecution {
  return {
    id,
    kind: 'k',
    owner: null,
    parentId: null,
    status: 'running',
    limits: LIMITS,
    metadata: {},
    ...more,
  };
}

const failed: AttemptEnd = {
  status: 'failed',
  verdict: 'run_timeout',
  reason: 'ran past its run limit',
  endedBy: 'watchdog',
  retry: null,
};

function audit(id: string, executionId: string, more: Partial<RemediationRecord> = {}) {
  return {
    id,
    sweepId: null,
    at: T0 + 11 * M,
    executionId,
    attempt: 1,
    kind: 'k',
    owner: null,
    verdict: 'run_timeout',
    action: 'fail',
    reason: 'ran past its run limit',
    evidence: { limit: '10m' },
    steps: [{ step: 'end', outcome: 'ok', ms: 1 }],
    outcome: 'remediated',
    dryRun: false,
    ...more,
  } satisfies RemediationRecord;
}

const sweep: SweepReport = {
  id: 'sweep-1',
  startedAt: T0,
  finishedAt: T0 + S,
  dryRun: false,
  examined: 0,
  decisions: [],
  counts: {},
};

/** One check per method; the store is fresh (migrated, empty) for each. */
const contract: Record<Method, (h: Harness, store: SqlStore) => Promise<void>> = {
  async assertIntact(_h, store) {
    expect(() => store.assertIntact()).not.toThrow();
  },
  async localSlots(_h, store) {
    const slots = store.localSlots();
    expect(await slots.acquire('gpu', 'a#1', null, T0)).toEqual({
      acquired: true,
      expiresAt: null,
    });
    expect(await slots.holderOf('gpu', T0)).toBe('a#1');
    expect(await slots.release('gpu', 'a#1', T0)).toBe('released');
  },
  async migrate(_h, store) {
    // Migrated by the harness already: nothing is left to apply.
    expect(await store.migrate()).toEqual([]);
    // A migration this version does not know (a newer Vigil's) is refused, not passed over.
    const { db } = (store as unknown as { ctx: SqlContext }).ctx;
    await sql`insert into kysely_migration (name, timestamp) values ('9999_from_a_newer_vigil', '2099-01-01T00:00:00.000Z')`.execute(
      db,
    );
    await expect(store.migrate()).rejects.toThrow(/9999_from_a_newer_vigil/);
  },
  async pendingMigrations(_h, store) {
    expect(await store.pendingMigrations()).toEqual([]);
  },
  async close(h) {
    const other = h.openAnother() as SqlStore;
    await other.create(execution('a'), T0);
    await other.close();
    await expect(other.get('a')).rejects.toThrow(/destroyed/);
    // What it wrote before closing stays, for the connections still open.
    expect((await h.store.get('a'))?.id).toBe('a');
  },
  async create(_h, store) {
    const created = await store.create(execution('a'), T0);
    expect(created).toMatchObject({ id: 'a', status: 'running', attempt: 1, startedAt: T0 });
    expect(created.deadlineAt).toBe(T0 + M);
    await expect(store.create(execution('a'), T0)).rejects.toThrow(/already exists/);
  },
  async createMany(_h, store) {
    await store.create(execution('taken'), T0);
    const created = await store.createMany(
      [
        execution('a', { metadata: { n: 1 }, owner: 'o', parentId: 'taken' }),
        execution('taken'),
        execution('q', { status: 'queued', limits: { ...LIMITS, queue: M } }),
        execution('a', { metadata: { n: 2 } }),
        execution('free', { limits: { run: null, heartbeat: null, progress: null, queue: null } }),
      ],
      T0 + S,
    );
    // The first item with an id wins; a later one, and an id already there, answer null.
    expect(created.map((e) => e?.id ?? null)).toEqual(['a', null, 'q', null, 'free']);
    expect(created[0]).toMatchObject({
      status: 'running',
      startedAt: T0 + S,
      deadlineAt: T0 + S + M,
    });
    expect(created[2]).toMatchObject({ status: 'queued', startedAt: null, deadlineAt: T0 + S + M });
    // What the database holds is what was answered, field for field.
    for (const e of created) if (e) expect(await store.get(e.id)).toEqual(e);
    expect(await store.get('a')).toMatchObject({
      owner: 'o',
      parentId: 'taken',
      metadata: { n: 1 },
    });
    expect((await store.get('free'))?.deadlineAt).toBeNull();
    // More rows than one statement's bound parameters allow on SQLite's generic path.
    const many = Array.from({ length: 2_500 }, (_, i) => execution(`m-${i}`));
    expect((await store.createMany(many, T0)).every((e) => e !== null)).toBe(true);
    expect((await store.createMany(many.slice(0, 3), T0)).every((e) => e === null)).toBe(true);
    expect(await store.createMany([], T0)).toEqual([]);
    // Text that an array literal or a list of rows would have to quote lands as it was sent.
    const odd = 'k, "q" {b} \\ \'s\' NULL ü';
    const [quoted] = await store.createMany(
      [execution(`odd-${odd.length}`, { kind: odd, owner: 'NULL', metadata: { [odd]: odd } })],
      T0,
    );
    expect(quoted).toMatchObject({ kind: odd, owner: 'NULL', metadata: { [odd]: odd } });
    expect(await store.get(quoted?.id ?? '')).toEqual(quoted);
  },
  async get(_h, store) {
    await store.create(execution('a', { metadata: { n: 1 } }), T0);
    expect(await store.get('a')).toMatchObject({ id: 'a', metadata: { n: 1 } });
    expect(await store.get('nope')).toBeUndefined();
  },
  async list(_h, store) {
    for (const [i, id] of ['a', 'b', 'c'].entries()) await store.create(execution(id), T0 + i);
    const first = await store.list({ limit: 2 });
    expect(first.items.map((e) => e.id)).toEqual(['c', 'b']);
    const rest = await store.list({ limit: 2, cursor: first.nextCursor ?? undefined });
    expect(rest).toMatchObject({ items: [{ id: 'a' }], nextCursor: null });
    await expect(store.list({ limit: 2, cursor: 'junk' })).rejects.toThrow(/cursor/);
  },
  async start(_h, store) {
    await store.create(execution('q', { status: 'queued' }), T0);
    const started = await store.start('q', 1, T0 + S);
    expect(started).toMatchObject({ status: 'running', startedAt: T0 + S, deadlineAt: T0 + S + M });
    expect(await store.start('q', 1, T0 + S)).toBeUndefined();
  },
  async claim(_h, store) {
    await store.create(execution('q', { status: 'queued' }), T0);
    expect(await store.claim({ kind: 'other' }, T0 + S)).toBeUndefined();
    const claimed = await store.claim({ kind: 'k' }, T0 + S);
    expect(claimed).toMatchObject({ id: 'q', status: 'running', startedAt: T0 + S });
    expect(await store.claim({ kind: 'k' }, T0 + S)).toBeUndefined();
  },
  async heartbeat(_h, store) {
    await store.create(execution('a'), T0);
    const result = await store.heartbeat(
      [
        { id: 'a', attempt: 1, progress: 3 },
        { id: 'nope', attempt: 1 },
      ],
      T0 + 30 * S,
    );
    const row = await store.get('a');
    // The deadline the database computed is the one deadlineOf() gives for the row it wrote.
    expect(row && deadlineOf(row)).toBe(T0 + 30 * S + M);
    expect(result).toEqual({
      ok: [{ id: 'a', deadlineAt: T0 + 30 * S + M }],
      lost: [{ id: 'nope', status: null, reason: 'no such execution' }],
    });
  },
  async report(_h, store) {
    await store.create(execution('a'), T0);
    const outcome = await store.report(
      { id: 'a', attempt: 1 },
      {
        status: 'succeeded',
        verdict: null,
        reason: null,
        endedBy: 'runner',
        result: 42,
        retry: null,
      },
      T0 + S,
    );
    expect(outcome).toMatchObject({
      kind: 'ended',
      execution: { status: 'succeeded', result: 42 },
    });
    expect(await store.report({ id: 'nope', attempt: 1 }, failed, T0)).toEqual({
      kind: 'not_found',
    });
  },
  async listOverdue(_h, store) {
    await store.create(execution('late'), T0);
    await store.create(execution('fresh'), T0 + 2 * M);
    expect((await store.listOverdue(T0 + 2 * M, 10)).map((e) => e.id)).toEqual(['late']);
    expect(await store.listOverdue(T0 + 2 * M, 10, { deadlineAt: T0 + M, id: 'late' })).toEqual([]);
  },
  async overdueQuery(_h, store) {
    await store.create(execution('late'), T0);
    const rows = await store.overdueQuery(T0 + 2 * M, 10).execute();
    expect(rows.map((r) => r.id)).toEqual(['late']);
  },
  async listRunningOwned(_h, store) {
    await store.create(execution('a', { owner: 'w1' }), T0);
    await store.create(execution('b', { owner: 'w2' }), T0 + 1);
    await store.create(execution('c'), T0 + 2);
    expect((await store.listRunningOwned(['w1'], 10)).map((e) => e.id)).toEqual(['a']);
    expect((await store.listRunningOwned(null, 10)).map((e) => e.id)).toEqual(['a', 'b']);
    expect(await store.listRunningOwned([], 10)).toEqual([]);
  },
  async listChildren(_h, store) {
    await store.create(execution('p'), T0);
    await store.create(execution('c1', { parentId: 'p' }), T0 + 1);
    await store.create(execution('c2', { parentId: 'p' }), T0 + 2);
    expect((await store.listChildren('p')).map((e) => e.id)).toEqual(['c1', 'c2']);
  },
  async withChildren(_h, store) {
    await store.create(execution('p'), T0);
    await store.create(execution('c', { parentId: 'p' }), T0);
    expect(await store.withChildren(['p', 'c', 'nope'])).toEqual(new Set(['p']));
    expect(await store.withChildren([])).toEqual(new Set());
  },
  async endAttempt(_h, store) {
    await store.create(execution('a'), T0);
    const fence = { id: 'a', attempt: 1, status: 'running' as const, deadlineAt: T0 + M };
    expect(await store.endAttempt(fence, failed, T0 + 2 * M, audit('r1', 'a'))).toBe(true);
    // The compare-and-set: the same fence cannot win twice.
    expect(await store.endAttempt(fence, failed, T0 + 2 * M)).toBe(false);
    expect(await store.get('a')).toMatchObject({ status: 'failed', deadlineAt: null });
    expect((await store.listRemediations({ limit: 10 })).map((r) => r.id)).toEqual(['r1']);
  },
  async endAttempts(_h, store) {
    await store.create(execution('a'), T0);
    await store.create(execution('b'), T0);
    const retry: AttemptEnd = { ...failed, retry: { attempt: 2, queuedAt: T0 + 3 * M } };
    const won = await store.endAttempts(
      [
        { fence: { id: 'a', attempt: 1, status: 'running' }, end: failed },
        { fence: { id: 'b', attempt: 1, status: 'running' }, end: retry },
        { fence: { id: 'b', attempt: 1, status: 'running' }, end: failed },
      ],
      T0 + 2 * M,
    );
    expect(won).toEqual([true, true, false]);
    expect(await store.get('b')).toMatchObject({ status: 'queued', attempt: 2, deadlineAt: null });
  },
  async deferDeadline(_h, store) {
    await store.create(execution('a'), T0);
    const fence = { id: 'a', attempt: 1, status: 'running' as const };
    await store.deferDeadline(fence, T0 + 3 * M);
    expect((await store.get('a'))?.deadlineAt).toBe(T0 + 3 * M);
    // Only ever later.
    await store.deferDeadline(fence, T0 + 2 * M);
    expect((await store.get('a'))?.deadlineAt).toBe(T0 + 3 * M);
  },
  async nextDeadline(_h, store) {
    expect(await store.nextDeadline()).toBeNull();
    await store.create(execution('a'), T0 + S);
    await store.create(execution('b'), T0);
    expect(await store.nextDeadline()).toBe(T0 + M);
  },
  async countOpen(_h, store) {
    await store.create(execution('a'), T0);
    await store.create(execution('b', { status: 'queued' }), T0);
    await store.create(execution('c', { kind: 'other' }), T0);
    const counts = await store.countOpen();
    expect(counts).toHaveLength(3);
    expect(counts).toEqual(
      expect.arrayContaining([
        { status: 'running', kind: 'k', count: 1 },
        { status: 'queued', kind: 'k', count: 1 },
        { status: 'running', kind: 'other', count: 1 },
      ]),
    );
  },
  async countOpenByOwner(_h, store) {
    await store.create(execution('a', { owner: 'w1' }), T0);
    await store.create(execution('b', { owner: 'w1' }), T0);
    await store.create(execution('c', { owner: 'w2', status: 'queued' }), T0);
    expect(await store.countOpenByOwner(['w1', 'w2'])).toEqual(new Map([['w1', 2]]));
  },
  async ownersOf(_h, store) {
    await store.create(execution('a', { owner: 'w1' }), T0);
    await store.create(execution('b'), T0);
    expect(await store.ownersOf(['a', 'b', 'nope'])).toEqual(
      new Map([
        ['a', 'w1'],
        ['b', null],
      ]),
    );
  },
  async ping(_h, store) {
    await expect(store.ping()).resolves.toBeUndefined();
  },
  async databaseTime(h, store) {
    const time = await store.databaseTime();
    if (h.kind === 'postgres') {
      // The server's clock, not the fake one: near this process's real clock.
      expect(Math.abs((time ?? 0) - Date.now())).toBeLessThan(10 * M);
    } else {
      expect(time).toBeNull();
    }
  },
  async recordTerminationFailure(_h, store) {
    await store.create(execution('a'), T0);
    const fence = { id: 'a', attempt: 1, status: 'running' as const };
    expect(await store.recordTerminationFailure(fence)).toBe(1);
    expect(await store.recordTerminationFailure(fence)).toBe(2);
    expect(await store.recordTerminationFailure({ ...fence, attempt: 2 })).toBe(0);
  },
  async recordRemediations(_h, store) {
    await store.recordRemediations([audit('r1', 'a'), audit('r2', 'b', { dryRun: true })]);
    expect((await store.listRemediations({ limit: 10, includeDryRun: true })).length).toBe(2);
  },
  async listRemediations(_h, store) {
    await store.recordRemediations([
      audit('r1', 'a', { at: T0 }),
      audit('r2', 'b', { at: T0 + S, verdict: 'heartbeat_lost' }),
      audit('r3', 'c', { at: T0 + 2 * S, dryRun: true }),
    ]);
    expect((await store.listRemediations({ limit: 10 })).map((r) => r.id)).toEqual(['r2', 'r1']);
    expect(await store.listRemediations({ limit: 10, verdict: 'heartbeat_lost' })).toEqual([
      audit('r2', 'b', { at: T0 + S, verdict: 'heartbeat_lost' }),
    ]);
  },
  async saveSweep(_h, store) {
    await store.saveSweep(sweep);
    expect(await store.latestSweep()).toEqual(sweep);
  },
  async latestSweep(_h, store) {
    expect(await store.latestSweep()).toBeUndefined();
    await store.saveSweep(sweep);
    await store.saveSweep({ ...sweep, id: 'sweep-2', startedAt: T0 + M, finishedAt: T0 + M });
    expect((await store.latestSweep())?.id).toBe('sweep-2');
  },
  async stats(_h, store) {
    await store.create(execution('a', { kind: 'etl', metadata: { team: 'red' } }), T0);
    const startedAt = { startedAt: T0, now: T0 + 11 * M, deadlineAt: T0 + 10 * M };
    await store.recordRemediations([
      audit('r1', 'a', { kind: 'etl', evidence: startedAt }),
      audit('r2', 'b', {
        kind: 'etl',
        action: 'retry',
        evidence: { ...startedAt, now: T0 + 13 * M },
      }),
      audit('r3', 'c', { kind: 'mail', labels: { team: 'blue' }, evidence: { source: 't' } }),
      audit('r4', 'd', { kind: 'etl', dryRun: true }),
      audit('r5', 'e', { kind: 'etl', verdict: 'unknown', outcome: 'ignored' }),
    ]);
    const window = { from: T0, to: T0 + 12 * M, limit: 10 };
    const byKind = await store.stats({ ...window, by: ['kind'] });
    expect(byKind).toMatchObject({ totalGroups: 2, totalStuck: 3 });
    expect(byKind.groups[0]).toMatchObject({
      key: ['etl'],
      stuck: 2,
      verdicts: { run_timeout: 2 },
      ended: 1,
      retried: 1,
      ran: { p50: 11 * M, p95: 13 * M, max: 13 * M },
      late: { p50: M, p95: 3 * M, max: 3 * M },
    });
    const byTeam = await store.stats({ ...window, by: ['source', { label: 'team' }] });
    expect(byTeam.groups.map((g) => g.key)).toEqual([
      ['ledger', 'red'],
      ['ledger', null],
      ['t', 'blue'],
    ]);
  },
  async statsQuery(_h, store) {
    const query = store.statsQuery({ from: T0, to: T0 + M, by: ['owner'], limit: 5, owner: 'w' });
    expect(query.parameters).toEqual(expect.arrayContaining([T0, T0 + M, 'w', 5]));
  },
  async summary(_h, store) {
    await store.create(execution('a'), T0);
    await store.recordRemediations([audit('r1', 'x', { at: T0 + M })]);
    const summary = await store.summary({
      since: T0,
      now: T0 + 2 * M,
      bucketMs: M,
      dueSoonLimit: 5,
    });
    expect(summary.statuses).toEqual({ running: 1 });
    expect(summary.verdicts).toEqual({ run_timeout: 1 });
    expect(summary.timeline).toHaveLength(3);
    expect(summary.dueSoon.map((e) => e.id)).toEqual(['a']);
  },
  async acquireLease(_h, store) {
    expect(await store.acquireLease('sweep', 'r1', T0, M)).toBe(true);
    expect(await store.acquireLease('sweep', 'r2', T0 + S, M)).toBe(false);
    // Expired: another holder takes it.
    expect(await store.acquireLease('sweep', 'r2', T0 + M, M)).toBe(true);
  },
  async releaseLease(_h, store) {
    await store.acquireLease('sweep', 'r1', T0, M);
    await store.releaseLease('sweep', 'r2');
    expect(await store.acquireLease('sweep', 'r2', T0, M)).toBe(false);
    await store.releaseLease('sweep', 'r1');
    expect(await store.acquireLease('sweep', 'r2', T0, M)).toBe(true);
  },
  async listLeases(_h, store) {
    await store.acquireLease('replica:a', 'a', T0, M);
    await store.acquireLease('replica:b', 'b', T0 - M, M);
    await store.acquireLease('sweep', 'a', T0, M);
    expect(await store.listLeases('replica:', T0)).toEqual([{ name: 'replica:a', holder: 'a' }]);
  },
  async recordSlotHold(_h, store) {
    await store.create(execution('a'), T0);
    const hold = { executionId: 'a', attempt: 1, slot: 'gpu', expiresAt: null };
    expect(await store.recordSlotHold(hold, T0)).toBe(true);
    expect(await store.recordSlotHold({ ...hold, attempt: 2 }, T0)).toBe(false);
    expect(await store.slotHolds('a')).toMatchObject([{ slot: 'gpu', acquiredAt: T0 }]);
  },
  async dropSlotHold(_h, store) {
    await store.create(execution('a'), T0);
    await store.recordSlotHold({ executionId: 'a', attempt: 1, slot: 'gpu', expiresAt: null }, T0);
    await store.dropSlotHold('a', 1, 'gpu');
    expect(await store.slotHolds('a')).toEqual([]);
  },
  async slotHolds(_h, store) {
    await store.create(execution('a'), T0);
    for (const slot of ['b', 'a']) {
      await store.recordSlotHold({ executionId: 'a', attempt: 1, slot, expiresAt: T0 + M }, T0);
    }
    expect(await store.slotHolds('a')).toEqual([
      expect.objectContaining({ slot: 'a', expiresAt: T0 + M, releaseDueAt: null }),
      expect.objectContaining({ slot: 'b', expiresAt: T0 + M, releaseDueAt: null }),
    ]);
  },
  async markSlotsDue(_h, store) {
    await store.create(execution('a'), T0);
    for (const slot of ['x', 'y']) {
      await store.recordSlotHold({ executionId: 'a', attempt: 1, slot, expiresAt: null }, T0);
    }
    await store.markSlotsDue('a', 1, T0 + S, 'x');
    expect((await store.slotHolds('a')).map((h) => [h.slot, h.releaseDueAt])).toEqual([
      ['x', T0 + S],
      ['y', null],
    ]);
  },
  async dueSlotReleases(_h, store) {
    await store.create(execution('a'), T0);
    await store.recordSlotHold({ executionId: 'a', attempt: 1, slot: 'x', expiresAt: null }, T0);
    expect(await store.dueSlotReleases({ limit: 10, dueBefore: T0 + M })).toEqual([]);
    // Ending the attempt marks its slots due, in the same transaction.
    await store.endAttempt({ id: 'a', attempt: 1, status: 'running' }, failed, T0 + S);
    expect(await store.dueSlotReleases({ of: [{ id: 'a', attempt: 1 }], limit: 10 })).toEqual([
      expect.objectContaining({ slot: 'x', releaseDueAt: T0 + S }),
    ]);
    expect(await store.dueSlotReleases({ of: [], limit: 10 })).toEqual([]);
  },
  async recordSlotReleases(_h, store) {
    await store.create(execution('a'), T0);
    await store.recordSlotHold({ executionId: 'a', attempt: 1, slot: 'x', expiresAt: null }, T0);
    await store.endAttempt(
      { id: 'a', attempt: 1, status: 'running' },
      failed,
      T0 + S,
      audit('r1', 'a'),
    );
    const [hold] = await store.dueSlotReleases({ limit: 10, dueBefore: T0 + M });
    expect(hold).toBeDefined();
    if (!hold) return;
    const release = { hold, outcome: 'released' as const };
    expect(await store.recordSlotReleases([release], T0 + 2 * S)).toEqual([true]);
    expect(await store.recordSlotReleases([release], T0 + 2 * S)).toEqual([false]);
    const [record] = await store.listRemediations({ limit: 1 });
    expect(record?.steps.map((s) => s.step)).toEqual(['end', 'release']);
  },
  async prune(_h, store) {
    await store.create(execution('old'), T0);
    await store.create(execution('open'), T0);
    await store.endAttempt({ id: 'old', attempt: 1, status: 'running' }, failed, T0 + S);
    expect(await store.prune('executions', T0 + 2 * S, 10)).toBe(1);
    expect(await store.get('old')).toBeUndefined();
    expect((await store.get('open'))?.status).toBe('running');
    expect(await store.prune('executions', T0 + 2 * S, 10)).toBe(0);
  },
  async countPrunable(_h, store) {
    await store.recordRemediations([
      audit('r1', 'a', { at: T0 }),
      audit('r2', 'b', { at: T0 + M }),
    ]);
    expect(await store.countPrunable('remediations', T0 + S)).toBe(1);
    expect(await store.countPrunable('remediations', T0)).toBe(0);
    expect((await store.listRemediations({ limit: 10 })).length).toBe(2);
  },
  async processes(_h, store) {
    const processes = store.processes();
    expect(await processes.listProcesses()).toEqual([]);
    expect(await processes.listRecoveries({ limit: 10 })).toEqual([]);
  },
  async silences(_h, store) {
    const silences = store.silences();
    expect(await silences.listSilences({ limit: 10 })).toEqual([]);
    expect(await silences.pauseState()).toBeNull();
  },
  async outbox(_h, store) {
    const outbox = store.outbox();
    await outbox.enqueue(
      [
        {
          id: 'm1',
          channel: 'ops',
          eventType: 'execution.ended',
          subjectKey: 'a',
          event: { type: 'execution.ended', at: T0 },
        },
      ],
      T0,
      0,
    );
    expect((await outbox.claimDue('me', T0, M, 10)).map((m) => m.id)).toEqual(['m1']);
  },
  async schedules(_h, store) {
    const schedules = store.schedules();
    expect(await schedules.ensureSchedule('nightly', T0, T0)).toMatchObject({
      lastJudgedDueAt: T0,
      state: 'waiting',
    });
    // A second ensure keeps what is there.
    expect(await schedules.ensureSchedule('nightly', null, T0 + M)).toMatchObject({
      lastJudgedDueAt: T0,
    });
    const miss = { dueAt: T0 + M, graceMs: S, lastStartAt: null, count: 1, firstDueAt: T0 + M };
    const judgement = { lastJudgedDueAt: T0 + M, state: 'missed' as const, lastStartAt: null };
    expect(
      await schedules.recordJudgement('nightly', T0, { ...judgement, missed: [miss] }, T0 + 2 * M),
    ).toBe(true);
    // Judged once: a second judge with the same expectation is refused.
    expect(
      await schedules.recordJudgement('nightly', T0, { ...judgement, missed: [miss] }, T0 + 2 * M),
    ).toBe(false);
    await schedules.recordPing('nightly', 'start', T0 + 3 * M);
    await store.create({ ...execution('a'), kind: 'backup' }, T0 + 3 * M + S);
    expect(
      (
        await schedules.startsBetween(
          'nightly',
          { kind: 'backup', owner: null, table: null },
          T0 + 3 * M,
          T0 + 4 * M,
        )
      ).sort(),
    ).toEqual([T0 + 3 * M, T0 + 3 * M + S]);
    expect(await schedules.recordLate('nightly', T0 + M, T0 + 3 * M, T0 + 4 * M)).toBe(true);
    expect(await schedules.recordLate('nightly', T0 + M, T0 + 3 * M, T0 + 4 * M)).toBe(false);
    expect(await schedules.listVerdicts('nightly', 10)).toEqual([
      expect.objectContaining({ dueAt: T0 + M, verdict: 'late', lateStartAt: T0 + 3 * M }),
    ]);
    expect(await schedules.listSchedules()).toEqual([
      expect.objectContaining({ name: 'nightly', state: 'late', lastJudgedDueAt: T0 + M }),
    ]);

    // Schedules defined through the API: a new one, a replacement that keeps its timing (judging
    // goes on), one that changes it (judging starts again), and a delete (its verdicts stay).
    expect(await schedules.putDefinition('nightly', { every: '1m' }, 'every:60000', T0)).toEqual({
      created: true,
      since: T0,
    });
    expect(await schedules.listSchedules()).toEqual([]); // retimed: where judging stood is gone
    await schedules.ensureSchedule('nightly', T0, T0);
    expect(
      await schedules.putDefinition('nightly', { every: '1m', grace: '1s' }, 'every:60000', T0 + M),
    ).toEqual({ created: false, since: T0 });
    expect(await schedules.listSchedules()).toHaveLength(1);
    expect(await schedules.listDefinitions()).toEqual([
      { name: 'nightly', definition: { every: '1m', grace: '1s' }, since: T0, updatedAt: T0 + M },
    ]);
    expect(
      await schedules.putDefinition('nightly', { every: '2m' }, 'every:120000', T0 + 2 * M),
    ).toEqual({ created: false, since: T0 + 2 * M });
    expect(await schedules.listSchedules()).toEqual([]);
    // A pass that read the definition before it was retimed brings nothing back: its ensure and
    // its judgement answer null and false; the current definition's go through.
    expect(await schedules.ensureSchedule('nightly', T0 - M, T0, T0)).toBeNull();
    expect(await schedules.listSchedules()).toEqual([]);
    expect(await schedules.ensureSchedule('nightly', T0, T0 + 2 * M, T0 + 2 * M)).toMatchObject({
      lastJudgedDueAt: T0,
    });
    const retimed = { lastJudgedDueAt: T0 + 2 * M, state: 'ok' as const, lastStartAt: null };
    expect(
      await schedules.recordJudgement('nightly', T0, { ...retimed, missed: [] }, T0 + 3 * M, T0),
    ).toBe(false);
    expect(
      await schedules.recordJudgement(
        'nightly',
        T0,
        { ...retimed, missed: [] },
        T0 + 3 * M,
        T0 + 2 * M,
      ),
    ).toBe(true);
    expect(await schedules.deleteDefinition('nightly')).toBe(true);
    expect(await schedules.ensureSchedule('nightly', T0, T0 + 4 * M, T0 + 2 * M)).toBeNull();
    expect(await schedules.deleteDefinition('nightly')).toBe(false);
    expect(await schedules.listDefinitions()).toEqual([]);
    expect(await schedules.listSchedules()).toEqual([]);
    expect(await schedules.listVerdicts('nightly', 10)).toHaveLength(1);
  },
};

await describeEach(storeKinds(), 'the store contract on %s', (kind) => {
  let h: Harness;
  let store: SqlStore;

  beforeEach(async () => {
    h = await harness(kind);
    store = h.store as SqlStore;
  });
  afterEach(() => h.close());

  for (const [name, check] of Object.entries(contract)) {
    it(name, () => check(h, store));
  }
});

describe('the store contract', () => {
  it('has a check for every method of SqlStore', () => {
    const methods = Object.getOwnPropertyNames(SqlStore.prototype).filter(
      (name) => name !== 'constructor',
    );
    expect(methods.filter((name) => !(name in contract))).toEqual([]);
    expect(Object.keys(contract).filter((name) => !methods.includes(name))).toEqual([]);
  });
});
