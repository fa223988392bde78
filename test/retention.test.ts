import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Limits } from '../src/core/types.js';
import { parseConfig } from '../src/config.js';
import type { NewExecution } from '../src/ports/ledger-store.js';
import type { RemediationRecord } from '../src/ports/audit-store.js';
import type { AttemptEnd } from '../src/ports/records.js';
import { Pruner } from '../src/runtime/retention.js';
import { Vigil } from '../src/app/vigil.js';
import { buildApp } from '../src/http/app.js';
import { openSqliteStore } from '../src/stores/sqlite.js';
import type { Harness } from './helpers.js';
import { M, S, T0, describeEach, harness, storeKinds, tempDir } from './helpers.js';
import { runVigil } from './process-helpers.js';

const D = 24 * 60 * M;
const LIMITS: Limits = { run: 10 * M, heartbeat: null, progress: null, queue: null };
const failed: AttemptEnd = {
  status: 'failed',
  verdict: 'run_timeout',
  reason: 'ran past its run limit',
  endedBy: 'watchdog',
  retry: null,
};

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

/** Creates `id` at `at` and ends it at `endAt` (its attempt, as the watchdog would). */
async function ended(h: Harness, id: string, at: number, endAt: number, more = {}) {
  await h.store.create(execution(id, more), at);
  expect(await h.store.endAttempt({ id, attempt: 1, status: 'running' }, failed, endAt)).toBe(true);
}

await describeEach(storeKinds(), 'retention on %s', (kind) => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness(kind);
  });
  afterEach(() => h.close());

  it('prunes ended executions older than the cut-off, with their attempts and slot holds', async () => {
    await ended(h, 'old', T0, T0 + M);
    await h.store.create(execution('young'), T0);
    await h.store.recordSlotHold(
      { executionId: 'young', attempt: 1, slot: 's', expiresAt: null },
      T0,
    );
    await h.store.endAttempt({ id: 'young', attempt: 1, status: 'running' }, failed, T0 + 2 * D);
    await h.store.create(execution('running'), T0);
    await h.store.create(execution('queued', { status: 'queued' }), T0);

    expect(await h.store.countPrunable('executions', T0 + D)).toBe(1);
    expect(await h.store.prune('executions', T0 + D, 100)).toBe(1);
    expect(await h.store.get('old')).toBeUndefined();
    // Its attempt row went too: the id can be used afresh, attempt 1 ended again (the attempts
    // table's key is (execution, attempt), so a leftover row would make this end fail).
    await ended(h, 'old', T0 + D, T0 + D + M);
    for (const id of ['young', 'running', 'queued']) expect(await h.store.get(id)).toBeDefined();
    // "young" is past the cut-off once it is later: its released slot hold goes with it.
    const [hold] = await h.store.dueSlotReleases({ limit: 10, dueBefore: T0 + 3 * D });
    expect(hold).toBeDefined();
    if (hold) await h.store.recordSlotReleases([{ hold, outcome: 'released' }], T0 + 2 * D);
    expect(await h.store.prune('executions', T0 + 3 * D, 100)).toBe(2); // "young" and the new "old"
    expect(await h.store.slotHolds('young')).toEqual([]);
  });

  it('never prunes what is still open around an ended execution', async () => {
    // A parent ended while its child still runs: the child's workflow needs it.
    await h.store.create(execution('parent'), T0);
    await h.store.create(execution('child', { parentId: 'parent' }), T0);
    await h.store.endAttempt({ id: 'parent', attempt: 1, status: 'running' }, failed, T0 + M);
    // An ended attempt whose slot is still to be released.
    await h.store.create(execution('holding'), T0);
    await h.store.recordSlotHold(
      { executionId: 'holding', attempt: 1, slot: 'g', expiresAt: null },
      T0,
    );
    await h.store.endAttempt({ id: 'holding', attempt: 1, status: 'running' }, failed, T0 + M);

    expect(await h.store.countPrunable('executions', T0 + D)).toBe(0);
    expect(await h.store.prune('executions', T0 + D, 100)).toBe(0);
    expect(await h.store.get('parent')).toBeDefined();
    expect(await h.store.get('holding')).toBeDefined();
    await h.store.endAttempt({ id: 'child', attempt: 1, status: 'running' }, failed, T0 + 2 * M);
    expect(await h.store.prune('executions', T0 + D, 100)).toBe(2); // the parent and the child
  });

  it('deletes in batches of at most the limit, oldest first', async () => {
    for (let i = 0; i < 5; i++) await ended(h, `e${i}`, T0, T0 + i * S);
    expect(await h.store.prune('executions', T0 + D, 2)).toBe(2);
    expect(await h.store.get('e0')).toBeUndefined();
    expect(await h.store.get('e1')).toBeUndefined();
    expect(await h.store.get('e2')).toBeDefined();
    expect(await h.store.prune('executions', T0 + D, 2)).toBe(2);
    expect(await h.store.prune('executions', T0 + D, 2)).toBe(1);
    expect(await h.store.prune('executions', T0 + D, 2)).toBe(0);
  });

  it('prunes the audit, sweeps, sent notifications and process recoveries by their own times', async () => {
    const record = (id: string, at: number): RemediationRecord => ({
      id,
      sweepId: null,
      at,
      executionId: 'x',
      attempt: 1,
      kind: 'k',
      owner: null,
      verdict: 'run_timeout',
      action: 'fail',
      reason: 'r',
      evidence: {},
      steps: [],
      outcome: 'remediated',
      dryRun: false,
    });
    await h.store.recordRemediations([record('r-old', T0), record('r-new', T0 + 2 * D)]);
    const sweep = { startedAt: T0, finishedAt: T0, dryRun: false, examined: 0, decisions: [] };
    await h.store.saveSweep({ ...sweep, id: 's-old', counts: {} });
    await h.store.saveSweep({ ...sweep, id: 's-new', startedAt: T0 + 2 * D, counts: {} });
    const outbox = h.store.outbox();
    const message = (id: string) => ({
      id,
      channel: 'ops',
      eventType: 'execution:stuck',
      subjectKey: id,
      event: { type: 'execution:stuck', at: T0 },
    });
    await outbox.enqueue([message('a-sent'), message('b-pending')], T0, 0);
    await outbox.claimDue('me', T0, M, 1);
    await outbox.markDelivered(['a-sent'], 'me', T0);
    const recovery = (id: string, at: number) => ({
      id,
      name: 'web',
      at,
      finishedAt: at,
      trigger: 'timed_out',
      reason: 'r',
      evidence: {},
      steps: [],
      outcome: 'ok' as const,
    });
    await h.store.processes().recordRecovery(recovery('p-old', T0));
    await h.store.processes().recordRecovery(recovery('p-new', T0 + 2 * D));

    for (const table of ['remediations', 'sweeps', 'notifications', 'processRecoveries'] as const)
      expect([table, await h.store.prune(table, T0 + D, 100)]).toEqual([table, 1]);
    expect((await h.store.listRemediations({ limit: 10 })).map((r) => r.id)).toEqual(['r-new']);
    expect((await h.store.latestSweep())?.id).toBe('s-new');
    expect((await outbox.list({ limit: 10 })).map((m) => m.id)).toEqual(['b-pending']);
    expect((await h.store.processes().listRecoveries({ limit: 10 })).map((r) => r.id)).toEqual([
      'p-new',
    ]);
  });

  it('prunes ended silences, schedule pings and schedule verdicts by their own times', async () => {
    const silences = h.store.silences();
    const silence = (id: string, endsAt: number) => ({
      id,
      matchers: { kind: ['backup'] },
      startsAt: T0,
      endsAt,
      createdBy: 'ops',
      comment: 'maintenance',
      maintenance: true,
      createdAt: T0,
      expiredAt: null,
      origin: 'store' as const,
    });
    await silences.createSilence(silence('ended', T0 + M));
    await silences.createSilence(silence('still-on', T0 + 3 * D));
    const schedules = h.store.schedules();
    await schedules.recordPing('nightly', 'success', T0);
    await schedules.recordPing('nightly', 'success', T0 + 2 * D);
    await schedules.ensureSchedule('nightly', null, T0);
    const miss = (dueAt: number) => ({
      dueAt,
      graceMs: M,
      lastStartAt: null,
      count: 1,
      firstDueAt: dueAt,
    });
    const judgement = (dueAt: number) => ({
      lastJudgedDueAt: dueAt,
      state: 'missed' as const,
      lastStartAt: null,
      missed: [miss(dueAt)],
    });
    expect(await schedules.recordJudgement('nightly', null, judgement(T0), T0)).toBe(true);
    expect(await schedules.recordJudgement('nightly', T0, judgement(T0 + 2 * D), T0 + 2 * D)).toBe(
      true,
    );

    for (const table of ['silences', 'schedulePings', 'scheduleVerdicts'] as const) {
      expect([table, await h.store.countPrunable(table, T0 + D)]).toEqual([table, 1]);
      expect([table, await h.store.prune(table, T0 + D, 100)]).toEqual([table, 1]);
    }
    expect(await silences.getSilence('ended')).toBeUndefined();
    expect(await silences.getSilence('still-on')).toBeDefined();
    expect((await schedules.listVerdicts('nightly', 10)).map((v) => v.dueAt)).toEqual([T0 + 2 * D]);
  });

  it('keeps a sent dispatch while its attempt is still queued (or it would be sent again)', async () => {
    await h.store.create(execution('q', { kind: 'jobs', status: 'queued' }), T0);
    const outbox = h.store.outbox();
    expect(await outbox.enqueueDispatches(['jobs'], T0, 10)).toBe(1);
    const [claimed] = await outbox.claimDue('me', T0, M, 10, 'dispatches');
    expect(claimed).toBeDefined();
    await outbox.markDelivered([claimed?.id ?? ''], 'me', T0);
    expect(await h.store.prune('notifications', T0 + D, 100)).toBe(0);
    expect(await outbox.enqueueDispatches(['jobs'], T0 + D, 10)).toBe(0);
    await h.store.start('q', 1, T0 + M);
    expect(await h.store.prune('notifications', T0 + D, 100)).toBe(1);
  });

  it('a pass prunes each table at its own retention; forever keeps; dry runs count only', async () => {
    const config = parseConfig({ retention: { executions: '1d', remediations: 'forever' } });
    await ended(h, 'a', T0, T0 + M);
    await ended(h, 'b', T0, T0 + M);
    h.clock.set(T0 + 2 * D);
    const pruned: [string, number][] = [];
    const pruner = new Pruner({
      store: h.store,
      settings: { ...config.retention, batchSize: 1 },
      clock: h.clock,
      holder: 'me',
      onPruned: (table, rows) => pruned.push([table, rows]),
    });
    const dry = await pruner.pass(true);
    expect(dry.tables?.find((t) => t.table === 'executions')).toEqual({
      table: 'executions',
      before: T0 + D,
      rows: 2,
    });
    expect(dry.tables?.some((t) => t.table === 'remediations')).toBe(false);
    expect(await h.store.get('a')).toBeDefined();

    const report = await pruner.pass();
    expect(report.tables?.find((t) => t.table === 'executions')?.rows).toBe(2);
    expect(pruned).toEqual([
      ['executions', 1],
      ['executions', 1],
    ]);
    expect(pruner.totals.executions).toBe(2);
    expect(await h.store.get('a')).toBeUndefined();
  });

  it('one process prunes at a time', async () => {
    const settings = parseConfig({}).retention;
    await h.store.acquireLease('retention', 'other', h.clock.now(), M);
    const pruner = new Pruner({ store: h.store, settings, clock: h.clock, holder: 'me' });
    expect(await pruner.pass()).toEqual({ dryRun: false, tables: null });
  });
});

describe('retention configuration', () => {
  it('defaults: ended executions 30 days, the audit 90 days', () => {
    const { retention } = parseConfig({});
    expect(retention.keepMs).toEqual({
      executions: 30 * D,
      remediations: 90 * D,
      sweeps: 7 * D,
      notifications: 30 * D,
      processRecoveries: 90 * D,
      scheduleVerdicts: 90 * D,
      schedulePings: 30 * D,
      silences: 90 * D,
    });
    expect(retention).toMatchObject({ intervalMs: 60 * M, batchSize: 1_000 });
  });

  it('refuses what it cannot keep to, naming the key', () => {
    expect(() => parseConfig({ retention: { executions: '10m' } })).toThrow(
      /retention\.executions: expected at least 1h/,
    );
    expect(() => parseConfig({ retention: { executions: '30' } })).toThrow(
      /retention\.executions: give a unit/,
    );
    expect(() => parseConfig({ retention: { audit: '30d' } })).toThrow(/retention/);
    expect(() => parseConfig({ retention: { batchSize: 0 } })).toThrow(/retention\.batchSize/);
  });
});

describe('retention in a running Vigil', () => {
  it('prunes through the API and counts it in vigil_pruned_rows_total', async () => {
    const h = await harness('sqlite');
    try {
      await ended(h, 'a', T0, T0 + M);
      h.clock.set(T0 + 40 * D);
      const vigil = new Vigil({
        store: h.store,
        config: h.config,
        clock: h.clock,
        watchEventLoop: false,
      });
      const app = await buildApp({ vigil, store: h.store, config: h.config, clock: h.clock });
      try {
        const dry = await app.inject({
          method: 'POST',
          url: '/v1/retention/prune',
          payload: { dryRun: true },
        });
        expect(dry.json()).toMatchObject({
          dryRun: true,
          skipped: false,
          tables: expect.arrayContaining([
            { table: 'executions', before: expect.any(String), rows: 1 },
          ]),
        });
        const bad = await app.inject({
          method: 'POST',
          url: '/v1/retention/prune',
          payload: { dryRun: 'yes' },
        });
        expect(bad.statusCode).toBe(400);
        expect(bad.json().error.message).toMatch(/dryRun/);
        expect((await app.inject({ method: 'POST', url: '/v1/retention/prune' })).statusCode).toBe(
          200,
        );
        const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
        expect(text).toMatch(/^vigil_pruned_rows_total\{table="executions",replica="[^"]+"\} 1$/m);
        const settings = (await app.inject({ method: 'GET', url: '/v1/retention' })).json();
        expect(settings).toMatchObject({
          keepMs: { executions: 30 * D, remediations: 90 * D },
          prunedSinceStart: { executions: 1 },
          lastPass: { dryRun: false, skipped: false },
          running: false,
          canPrune: true,
        });
      } finally {
        await app.close();
      }
    } finally {
      await h.close();
    }
  });

  it('a pass asked for while one is under way joins it instead of running beside it', async () => {
    const h = await harness('sqlite');
    try {
      await ended(h, 'a', T0, T0 + M);
      h.clock.set(T0 + 40 * D);
      const vigil = new Vigil({
        store: h.store,
        config: h.config,
        clock: h.clock,
        watchEventLoop: false,
      });
      const first = vigil.service.prune();
      expect(vigil.service.pruneUnderWay).toBe(true);
      const second = vigil.service.prune();
      expect(second).toBe(first);
      const [a, b] = await Promise.all([first, second]);
      expect(b).toBe(a);
      expect(a.tables?.find((t) => t.table === 'executions')?.rows).toBe(1);
      expect(vigil.service.pruner.totals.executions).toBe(1);
      expect(vigil.service.pruneUnderWay).toBe(false);
      // A dry run never joins: it only counts, and takes no lease.
      expect((await vigil.service.prune(true)).dryRun).toBe(true);
    } finally {
      await h.close();
    }
  });

  it('vigil prune --dry-run counts and deletes nothing; vigil prune deletes (the real binary)', async () => {
    const { dir, cleanup } = tempDir();
    try {
      // Written long ago: ended on 2026-01-01, well past 30 days on any clock that runs this.
      const store = openSqliteStore(join(dir, 'vigil.db'));
      await store.migrate();
      await store.create(execution('old'), T0);
      await store.endAttempt({ id: 'old', attempt: 1, status: 'running' }, failed, T0 + M);
      await store.close();
      const env = { VIGIL_DATABASE_URL: `sqlite:${join(dir, 'vigil.db')}` };

      const dry = await runVigil(['prune', '--dry-run'], { cwd: dir, env });
      expect(dry.code).toBe(0);
      expect(dry.stdout).toMatch(/^executions\s+30d\s+\S+\s+1$/m);
      expect(dry.stdout).toMatch(/Would delete 1 rows/);
      const json = await runVigil(['prune', '--dry-run', '--json'], { cwd: dir, env });
      expect(JSON.parse(json.stdout)).toMatchObject({
        dryRun: true,
        tables: expect.arrayContaining([expect.objectContaining({ table: 'executions', rows: 1 })]),
      });

      const real = await runVigil(['prune'], { cwd: dir, env });
      expect(real.code).toBe(0);
      expect(real.stdout).toMatch(/^executions\s+30d\s+\S+\s+1$/m);
      expect((await runVigil(['show', 'old'], { cwd: dir, env })).code).toBe(2);
    } finally {
      cleanup();
    }
  });
});
