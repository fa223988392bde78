import { afterEach, beforeEach, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { Sweeper } from '../src/runtime/sweep.js';
import { TableSources } from '../src/sources/table-source.js';
import type { App } from './app-tables-helpers.js';
import { llmTables, openApp } from './app-tables-helpers.js';
import type { Harness } from './helpers.js';
import { M, S, T0, describeEach, harness } from './helpers.js';

let h: Harness;
let app: App;
let sources: TableSources;

/**
 * Mapped-table labels end to end: `labels:` columns are read with the row, kept with its audit,
 * and `stats` groups by them beside the ledger's metadata, on the app's own kind of database.
 */
await describeEach(['postgres', 'sqlite'] as const, 'stats labels on %s', (dialect) => {
  beforeEach(async () => {
    h = await harness(dialect, {});
    app = await openApp(dialect, h.dir);
    const { interactions } = llmTables(app);
    h.config = parseConfig({
      tables: llmTables(app, {
        interactions: { ...interactions, labels: ['actor_id', 'conversation_id'] },
      }),
    });
    sources = new TableSources(Object.values(h.config.tables), {
      cwd: h.dir,
      sqliteBusyTimeoutMs: 1_000,
    });
  });
  afterEach(async () => {
    await sources?.close();
    await app.close();
    await h.close();
  });

  it('keeps the label columns with the audit and groups by them, the ledger by its metadata', async () => {
    // Two rows of agent-a and one of agent-b past their run limit (beating), one healthy row.
    await app.interaction({
      id: 1,
      status: 'running',
      startedAt: T0 - 20 * M,
      updatedAt: T0 - S,
      actor: 'agent-a',
    });
    await app.interaction({
      id: 2,
      status: 'running',
      startedAt: T0 - 30 * M,
      updatedAt: T0 - S,
      actor: 'agent-a',
    });
    await app.interaction({
      id: 3,
      status: 'running',
      startedAt: T0 - 16 * M,
      updatedAt: T0 - S,
      actor: 'agent-b',
    });
    await app.interaction({
      id: 4,
      status: 'running',
      startedAt: T0 - M,
      updatedAt: T0 - S,
      actor: 'agent-c',
    });
    // A ledger execution labelled by its metadata, stuck in the same sweep.
    h.clock.set(T0 - 20 * M);
    await h.ledger.register({
      id: 'api-1',
      kind: 'interactions',
      limits: { run: '15m' },
      metadata: { actor_id: 'agent-a' },
    });
    h.clock.set(T0);
    const sweeper = new Sweeper({
      store: h.store,
      clock: h.clock,
      config: h.config,
      events: h.bus,
      sources: [sources],
    });
    expect((await sweeper.sweep({ dryRun: false })).kind).toBe('completed');

    const audit = await h.store.listRemediations({ limit: 10 });
    expect(audit.find((r) => r.executionId === 'interactions:3')?.labels).toEqual({
      actor_id: 'agent-b',
      conversation_id: 'conv-3',
    });

    const window = { from: T0 - M, to: T0 + M, limit: 10 };
    const byActor = await h.store.stats({ ...window, by: [{ label: 'actor_id' }] });
    expect(byActor.groups.map((g) => [g.key, g.stuck])).toEqual([
      [['agent-a'], 3],
      [['agent-b'], 1],
    ]);
    expect(byActor.groups[0]).toMatchObject({
      ended: 3,
      verdicts: { run_timeout: 3 },
      // Ran 20m, 20m and 30m when detected; 5m, 5m and 15m past the 15m limit.
      ran: { p50: 20 * M, p95: 30 * M, max: 30 * M },
      late: { p50: 5 * M, p95: 15 * M, max: 15 * M },
    });

    const bySource = await h.store.stats({ ...window, by: ['source', { label: 'actor_id' }] });
    expect(bySource.groups.map((g) => [g.key, g.stuck])).toEqual([
      [['interactions', 'agent-a'], 2],
      [['interactions', 'agent-b'], 1],
      [['ledger', 'agent-a'], 1],
    ]);
    // A runner's scope: only its owner's rows (the table's owner column is actor_id).
    const scoped = await h.store.stats({ ...window, by: ['kind'], owner: 'agent-b' });
    expect(scoped).toMatchObject({ totalStuck: 1, groups: [{ key: ['interactions'], stuck: 1 }] });
  });

  it('names the key of a label column the table does not have, or a label that is no column name', async () => {
    const { interactions } = llmTables(app);
    const config = parseConfig({
      tables: llmTables(app, { interactions: { ...interactions, labels: ['actor_id', 'team'] } }),
    });
    const other = new TableSources(Object.values(config.tables), {
      cwd: h.dir,
      sqliteBusyTimeoutMs: 1_000,
    });
    const sweeper = new Sweeper({
      store: h.store,
      clock: h.clock,
      config,
      events: h.bus,
      sources: [other],
    });
    const result = await sweeper.sweep({ dryRun: false });
    await other.close();
    expect(result.kind === 'completed' && result.report.sourceErrors).toEqual([
      expect.objectContaining({
        key: 'tables.interactions.labels.1',
        message: expect.stringContaining('"team" not found'),
      }),
    ]);
    expect(() =>
      parseConfig({
        tables: llmTables(app, { interactions: { ...interactions, labels: ['a b'] } }),
      }),
    ).toThrow(/tables\.interactions\.labels\.0: expected a column name/);
  });
});
