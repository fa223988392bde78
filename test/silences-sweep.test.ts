/**
 * Maintenance windows and the pause against every destructive path, on every store kind, with a
 * fake clock: the ledger's ends (run limit, heartbeat), a stop request to an owner, slot releases,
 * a mapped table's row and a supervised process's recovery. Held decisions are audited as
 * `silenced` with the window's id; once the window ends, the next sweep acts.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { TerminationOutcome } from '../src/core/decide.js';
import type { Silence } from '../src/core/silence.js';
import type { OwnerObservation } from '../src/core/types.js';
import { parseConfig } from '../src/config.js';
import type { SweepReport } from '../src/ports/audit-store.js';
import type { OwnerClient } from '../src/ports/owner-client.js';
import { Ledger } from '../src/runtime/ledger.js';
import { Slots } from '../src/runtime/slots.js';
import { Sweeper } from '../src/runtime/sweep.js';
import { TableSources } from '../src/sources/table-source.js';
import { Supervisor } from '../src/supervisor/supervisor.js';
import { gateReader } from '../src/runtime/gate.js';
import { llmTables, openApp } from './app-tables-helpers.js';
import type { Harness } from './helpers.js';
import { H, M, S, T0, describeEach, harness, storeKinds } from './helpers.js';

let h: Harness;

function window(id: string, more: Partial<Silence> = {}): Silence {
  return {
    id,
    matchers: { kind: ['embed'] },
    startsAt: T0,
    endsAt: T0 + 2 * H,
    createdBy: 'ops',
    comment: 'moving the embed cluster',
    maintenance: true,
    createdAt: T0,
    expiredAt: null,
    origin: 'store',
    ...more,
  };
}

async function sweep(sweeper: Sweeper = h.sweeper, dryRun = false): Promise<SweepReport> {
  const result = await sweeper.sweep({ dryRun });
  if (result.kind !== 'completed') throw new Error('sweep skipped');
  return result.report;
}

const types = () => h.events.map((e) => e.type);

await describeEach(storeKinds(), 'maintenance windows and the pause on %s', (kind) => {
  beforeEach(async () => {
    h = await harness(kind, { defaults: { limits: { heartbeat: '1m' } } });
  });
  afterEach(() => h.close());

  it('a window holds back a run-limit end (audited once as silenced, with its id); the next sweep after it ends acts', async () => {
    await h.ledger.register({ id: 'e1', kind: 'embed', limits: { heartbeat: null } });
    await h.ledger.register({ id: 'other', kind: 'backup', limits: { heartbeat: null } });
    await h.store.silences().createSilence(window('w1', { endsAt: T0 + 30 * M }));
    h.clock.set(T0 + 20 * M);

    const report = await sweep();
    expect(await h.store.get('e1')).toMatchObject({ status: 'running' });
    // Not matched (another kind): ended as usual.
    expect(await h.store.get('other')).toMatchObject({ status: 'failed' });
    expect(report.decisions.find((d) => d.executionId === 'e1')).toMatchObject({
      verdict: 'run_timeout',
      action: 'fail',
      outcome: 'silenced',
    });
    expect(report.counts.silenced).toBe(1);
    const [held] = await h.store.listRemediations({ executionId: 'e1', limit: 10 });
    expect(held).toMatchObject({
      outcome: 'silenced',
      verdict: 'run_timeout',
      evidence: { heldBy: 'maintenance', silenceId: 'w1', windowEndsAt: T0 + 30 * M },
    });
    expect(held!.reason).toContain('held: maintenance window w1 (moving the embed cluster)');
    // Nothing is announced about it: no stuck, no remediated.
    expect(h.events.filter((e) => 'executionId' in e && e.executionId === 'e1')).toEqual([]);
    // Its deadline waits for the window's end or the next safety-net sweep, whichever is first.
    expect((await h.store.get('e1'))?.deadlineAt).toBe(T0 + 20 * M + 30 * S);

    h.clock.advance(31 * S);
    await sweep();
    expect(await h.store.get('e1')).toMatchObject({ status: 'running' });
    expect(await h.store.listRemediations({ executionId: 'e1', limit: 10 })).toHaveLength(1);

    h.clock.set(T0 + 30 * M + 1);
    await sweep();
    expect(await h.store.get('e1')).toMatchObject({ status: 'failed', verdict: 'run_timeout' });
    const audit = await h.store.listRemediations({ executionId: 'e1', limit: 10 });
    expect(audit.map((r) => r.outcome)).toEqual(['remediated', 'silenced']);
  });

  it('a silence without maintenance mutes notifications only: the end goes ahead', async () => {
    await h.ledger.register({ id: 'e1', kind: 'embed' });
    await h.store.silences().createSilence(window('quiet', { maintenance: false }));
    h.clock.set(T0 + 2 * M);
    await sweep();
    expect(await h.store.get('e1')).toMatchObject({ status: 'failed', verdict: 'heartbeat_lost' });
  });

  it('the pause holds a heartbeat-lost end everywhere; resume lets the next sweep act', async () => {
    await h.ledger.register({ id: 'e1', kind: 'backup' });
    await h.store.silences().pause({ since: T0, by: 'alice', comment: 'db failover' });
    h.clock.set(T0 + 2 * M);

    const report = await sweep();
    expect(report.decisions).toMatchObject([{ verdict: 'heartbeat_lost', outcome: 'silenced' }]);
    expect(await h.store.get('e1')).toMatchObject({ status: 'running' });
    const [held] = await h.store.listRemediations({ executionId: 'e1', limit: 10 });
    expect(held).toMatchObject({
      outcome: 'silenced',
      evidence: { heldBy: 'pause', pausedBy: 'alice' },
    });

    await h.store.silences().resume();
    h.clock.advance(31 * S);
    await sweep();
    expect(await h.store.get('e1')).toMatchObject({ status: 'failed', verdict: 'heartbeat_lost' });
  });

  it('a dry run reports what a window would hold, and changes nothing', async () => {
    await h.ledger.register({ id: 'e1', kind: 'embed' });
    await h.store.silences().createSilence(window('w1'));
    h.clock.set(T0 + 2 * M);
    const report = await sweep(h.sweeper, true);
    expect(report.decisions).toMatchObject([{ executionId: 'e1', outcome: 'silenced' }]);
    const [audit] = await h.store.listRemediations({ includeDryRun: true, limit: 10 });
    expect(audit).toMatchObject({ outcome: 'silenced', dryRun: true });
    expect(await h.store.get('e1')).toMatchObject({ status: 'running', deadlineAt: T0 + M });
  });

  it('a window on an owner holds back the stop request to it', async () => {
    await h.ledger.register({
      id: 'e1',
      kind: 'embed',
      owner: 'agent-a',
      limits: { heartbeat: null },
    });
    let asked = 0;
    const owner: OwnerClient = {
      observe: () => Promise.resolve((): OwnerObservation => ({ kind: 'present' })),
      canTerminate: () => true,
      terminate: () => {
        asked++;
        return Promise.resolve<TerminationOutcome>({ kind: 'terminated' });
      },
    };
    const sweeper = new Sweeper({
      store: h.store,
      clock: h.clock,
      config: h.config,
      events: h.bus,
      owners: owner,
    });
    await h.store
      .silences()
      .createSilence(window('w1', { matchers: { owner: ['agent-a'] }, endsAt: T0 + 25 * M }));
    h.clock.set(T0 + 20 * M);
    await sweep(sweeper);
    expect(asked).toBe(0);
    expect(await h.store.get('e1')).toMatchObject({ status: 'running' });

    h.clock.set(T0 + 25 * M + 1);
    await sweep(sweeper);
    expect(asked).toBe(1);
    expect(await h.store.get('e1')).toMatchObject({ status: 'failed' });
  });

  it('slots stay held while a window holds the end; the pause also holds a release left due', async () => {
    const slots = new Slots(h.store, h.store.localSlots(), h.clock);
    const sweeper = new Sweeper({
      store: h.store,
      clock: h.clock,
      config: h.config,
      events: h.bus,
      slots,
    });
    const ledger = new Ledger(h.store, h.config, h.clock, { events: h.bus });
    await ledger.register({ id: 'e1', kind: 'embed' });
    await slots.acquire('e1', { attempt: 1, slot: 'gpu' });
    await h.store.silences().createSilence(window('w1', { endsAt: T0 + 5 * M }));
    h.clock.set(T0 + 2 * M);
    await sweep(sweeper);
    expect(await h.store.localSlots().holderOf('gpu', h.clock.now())).not.toBeNull();
    h.clock.set(T0 + 5 * M + 1);
    const after = await sweep(sweeper);
    expect(after.counts.slots_released).toBe(1);
    expect(await h.store.localSlots().holderOf('gpu', h.clock.now())).toBeNull();

    // A release a crashed replica left due waits out the pause.
    await ledger.register({ id: 'e2', kind: 'backup' });
    await slots.acquire('e2', { attempt: 1, slot: 'disk' });
    await h.store.endAttempt(
      { id: 'e2', attempt: 1, status: 'running' },
      {
        status: 'failed',
        verdict: 'heartbeat_lost',
        reason: 'test',
        endedBy: 'watchdog',
        retry: null,
      },
      h.clock.now(),
    );
    await h.store.silences().pause({ since: h.clock.now(), by: 'alice', comment: '' });
    h.clock.advance(M);
    await sweep(sweeper);
    expect(await h.store.localSlots().holderOf('disk', h.clock.now())).not.toBeNull();
    await h.store.silences().resume();
    await sweep(sweeper);
    expect(await h.store.localSlots().holderOf('disk', h.clock.now())).toBeNull();
  });

  it('a window of vigil.yaml holds like a stored one', async () => {
    const config = parseConfig({
      defaults: { limits: { heartbeat: '1m' } },
      silences: [
        {
          matchers: { kind: 'embed' },
          startsAt: '2026-01-01T12:00:00Z',
          endsAt: '2026-01-01T13:00:00Z',
          maintenance: true,
          comment: 'yearly',
        },
      ],
    });
    const ledger = new Ledger(h.store, config, h.clock, { events: h.bus });
    await ledger.register({ id: 'e1', kind: 'embed' });
    const sweeper = new Sweeper({ store: h.store, clock: h.clock, config, events: h.bus });
    h.clock.set(T0 + 2 * M);
    const report = await sweep(sweeper);
    expect(report.decisions).toMatchObject([{ outcome: 'silenced' }]);
    expect((await h.store.listRemediations({ limit: 1 }))[0]?.evidence).toMatchObject({
      silenceId: 'config-1',
    });
  });

  it('a supervised process is not recovered while a window holds it', async () => {
    const config = parseConfig({
      processes: {
        web: {
          heartbeatFile: join(h.dir, 'web.heartbeat.json'),
          heartbeat: '5s',
          unhealthyAfter: 1,
          start: { command: [process.execPath, '-e', ''], window: '100ms' },
        },
      },
    });
    h.clock.set(Date.now());
    await h.store.silences().createSilence(
      window('w-web', {
        matchers: { source: ['process:web'] },
        startsAt: 0,
        endsAt: h.clock.now() + H,
      }),
    );
    const supervisor = new Supervisor({
      store: h.store,
      processes: config.processes,
      clock: h.clock,
      events: h.bus,
      gate: gateReader(h.store),
    });
    const [held] = await supervisor.checkAll();
    expect(held).toMatchObject({ action: 'held', recovery: null });
    expect(held!.why).toContain('held: maintenance window w-web');
    expect(await h.store.processes().listRecoveries({ limit: 10 })).toEqual([]);

    await h.store.silences().expireSilence('w-web', h.clock.now());
    h.clock.advance(S);
    const [acted] = await supervisor.checkAll();
    expect(acted!.recovery).not.toBeNull();
    expect(types()).toContain('process:unhealthy');
  });
});

await describeEach(
  ['sqlite', 'postgres'] as const,
  'a window on a mapped table on %s',
  (dialect) => {
    it('holds back the end of a row, audited with the row; acts once the window is expired', async () => {
      h = await harness(dialect);
      const app = await openApp(dialect, h.dir);
      const config = parseConfig({ tables: llmTables(app) });
      const sources = new TableSources(Object.values(config.tables), {
        cwd: h.dir,
        sqliteBusyTimeoutMs: 1_000,
      });
      try {
        await app.interaction({
          id: 1,
          status: 'running',
          startedAt: T0 - 20 * M,
          updatedAt: T0 - 30 * S,
        });
        await h.store
          .silences()
          .createSilence(window('w-tab', { matchers: { source: ['table:interactions'] } }));
        const sweeper = new Sweeper({
          store: h.store,
          clock: h.clock,
          config,
          events: h.bus,
          sources: [sources],
        });
        const report = await sweep(sweeper);
        expect(report.decisions).toMatchObject([
          { executionId: 'interactions:1', outcome: 'silenced' },
        ]);
        expect((await app.rows('interactions'))[0]).toMatchObject({ status: 'running' });
        const [audit] = await h.store.listRemediations({ limit: 10 });
        expect(audit).toMatchObject({
          outcome: 'silenced',
          evidence: { silenceId: 'w-tab', table: app.table('interactions'), rowId: '1' },
        });

        await h.store.silences().expireSilence('w-tab', h.clock.now());
        h.clock.advance(S);
        await sweep(sweeper);
        expect((await app.rows('interactions'))[0]).toMatchObject({ status: 'failed' });
      } finally {
        await sources.close();
        await app.close();
        await h.close();
      }
    });
  },
);
