import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { Sweeper } from '../src/runtime/sweep.js';
import { Vigil } from '../src/app/vigil.js';
import type { SweepReport } from '../src/ports/audit-store.js';
import type { AppDatabase, AppDatabaseOptions } from '../src/sources/app-database.js';
import { openAppDatabase } from '../src/sources/app-database.js';
import { TableSources } from '../src/sources/table-source.js';
import type { App } from './app-tables-helpers.js';
import { llmTables, openApp } from './app-tables-helpers.js';
import type { Harness } from './helpers.js';
import { M, POSTGRES_URL, S, T0, describeEach, harness, storeAvailable } from './helpers.js';
import { until } from './process-helpers.js';

const postgresUp = await storeAvailable('postgres');

let h: Harness;
let app: App;
let sources: TableSources;
let warnings: string[];

/** A sweeper over the mapped tables; `afterRead` runs once after each read of running rows. */
function sweeper(afterRead?: (rows: Record<string, unknown>[]) => Promise<void>): Sweeper {
  warnings = [];
  const open = (url: string, options: AppDatabaseOptions): AppDatabase => {
    const db = openAppDatabase(url, options);
    if (!afterRead) return db;
    return {
      ...db,
      dialect: db.dialect,
      description: db.description,
      query: async <R>(text: string, params: readonly unknown[]) => {
        const rows = await db.query<R>(text, params);
        if (/\bLIMIT\b/.test(text)) await afterRead(rows as Record<string, unknown>[]);
        return rows;
      },
    };
  };
  sources = new TableSources(Object.values(h.config.tables), {
    cwd: h.dir,
    sqliteBusyTimeoutMs: 1_000,
    open,
  });
  return new Sweeper({
    store: h.store,
    clock: h.clock,
    config: h.config,
    events: h.bus,
    sources: [sources],
    warn: (message) => warnings.push(message),
  });
}

async function sweep(s: Sweeper, dryRun = false): Promise<SweepReport> {
  const result = await s.sweep({ dryRun });
  if (result.kind !== 'completed') throw new Error('sweep skipped');
  return result.report;
}

const byId = (rows: Record<string, unknown>[], key: string) =>
  Object.fromEntries(rows.map((row) => [String(row[key] as number), row]));

await describeEach(['postgres', 'sqlite'] as const, 'mapped tables on %s', (dialect) => {
  beforeEach(async () => {
    // Vigil's own store on the same kind of database as the app's.
    h = await harness(dialect, {});
    app = await openApp(dialect, h.dir);
    h.config = parseConfig({ tables: llmTables(app) });
  });
  afterEach(async () => {
    await sources?.close();
    await app.close();
    await h.close();
  });

  it('ends stuck rows exactly as configured, leaves healthy, boundary and finished rows alone, and audits each end', async () => {
    await app.interaction({
      id: 1,
      status: 'running',
      startedAt: T0 - 20 * M,
      updatedAt: T0 - 30 * S,
      output: { tokens: 12 },
    });
    await app.interaction({
      id: 2,
      status: 'running',
      startedAt: T0 - 5 * M,
      updatedAt: T0 - 3 * M,
    });
    await app.interaction({
      id: 3,
      status: 'running',
      startedAt: T0 - 5 * M,
      updatedAt: T0 - 30 * S,
    });
    await app.interaction({ id: 4, status: 'completed', startedAt: T0 - 60 * M });
    // Exactly at both limits: still healthy.
    await app.interaction({
      id: 5,
      status: 'running',
      startedAt: T0 - 15 * M,
      updatedAt: T0 - 2 * M,
    });

    const report = await sweep(sweeper());

    const rows = byId(await app.rows('interactions'), 'interaction_id');
    expect(rows['1']).toMatchObject({
      status: 'failed',
      completed_at: T0,
      output: { tokens: 12, error: 'vigil: run_timeout: ran 20m, limit 15m' },
    });
    expect(rows['2']).toMatchObject({
      status: 'failed',
      completed_at: T0,
      output: { error: 'vigil: heartbeat_lost: no heartbeat for 3m, limit 2m' },
    });
    for (const id of ['3', '5']) {
      expect(rows[id]).toMatchObject({ status: 'running', completed_at: null });
    }
    expect(rows['4']).toMatchObject({ status: 'completed', completed_at: null, output: null });

    expect(report.examined).toBe(4);
    expect(report.sourceErrors).toEqual([]);
    expect(report.decisions).toEqual([
      expect.objectContaining({
        executionId: 'interactions:1',
        verdict: 'run_timeout',
        action: 'fail',
        outcome: 'remediated',
      }),
      expect.objectContaining({
        executionId: 'interactions:2',
        verdict: 'heartbeat_lost',
        action: 'fail',
        outcome: 'remediated',
      }),
    ]);
    const audit = await h.store.listRemediations({ limit: 10 });
    expect(audit.map((r) => r.executionId).sort()).toEqual(['interactions:1', 'interactions:2']);
    expect(audit.find((r) => r.executionId === 'interactions:1')).toMatchObject({
      kind: 'interactions',
      owner: 'agent-a',
      verdict: 'run_timeout',
      outcome: 'remediated',
      evidence: {
        source: 'interactions',
        rowId: '1',
        limit: 'run',
        limitMs: 15 * M,
        elapsedMs: 20 * M,
      },
    });
    const stuck = h.events.filter((e) => e.type === 'execution:stuck');
    const remediated = h.events.filter((e) => e.type === 'execution:remediated');
    expect(stuck.map((e) => [e.source, e.rowId, e.executionId])).toEqual([
      ['interactions', '1', 'interactions:1'],
      ['interactions', '2', 'interactions:2'],
    ]);
    expect(remediated[0]).toMatchObject({
      source: 'interactions',
      rowId: '1',
      status: 'failed',
      rowStatus: 'failed',
    });

    // Ended rows are no longer read: a second sweep at the same moment finds nothing to do.
    const again = await sweep(sweeper());
    expect(again.examined).toBe(2);
    expect(again.decisions).toEqual([]);
  });

  it('a row the app finishes between the read and the write is not touched (compare-and-set)', async () => {
    await app.interaction({
      id: 1,
      status: 'running',
      startedAt: T0 - 20 * M,
      updatedAt: T0 - 20 * M,
    });
    await app.interaction({
      id: 2,
      status: 'running',
      startedAt: T0 - 20 * M,
      updatedAt: T0 - 20 * M,
    });
    const finishedAt = T0 - 1 * S;
    const s = sweeper(async () => {
      // Another connection of the app completes row 1 after Vigil read it as running.
      await app.otherWrite(
        `UPDATE {schema}.interactions SET status = 'completed', completed_at = ${dialect === 'postgres' ? '$1' : '?'}, output = '{"answer": 42}' WHERE interaction_id = 1`,
        [app.at(finishedAt)],
      );
    });

    const report = await sweep(s);

    const rows = byId(await app.rows('interactions'), 'interaction_id');
    expect(rows['1']).toMatchObject({
      status: 'completed',
      completed_at: finishedAt,
      output: { answer: 42 },
    });
    expect(rows['2']).toMatchObject({ status: 'failed', completed_at: T0 });
    expect(report.decisions.map((d) => [d.executionId, d.outcome])).toEqual([
      ['interactions:1', 'lost_race'],
      ['interactions:2', 'remediated'],
    ]);
    expect(h.events.filter((e) => e.type === 'execution:remediated').map((e) => e.rowId)).toEqual([
      '2',
    ]);
  });

  it('a heartbeat that lands between the read and the write wins: the row stays running', async () => {
    await app.interaction({
      id: 1,
      status: 'running',
      startedAt: T0 - 5 * M,
      updatedAt: T0 - 3 * M,
    });
    const s = sweeper(async () => {
      await app.otherWrite(
        `UPDATE {schema}.interactions SET updated_at = ${dialect === 'postgres' ? '$1' : '?'} WHERE interaction_id = 1`,
        [app.at(T0)],
      );
    });

    const report = await sweep(s);

    expect(byId(await app.rows('interactions'), 'interaction_id')['1']).toMatchObject({
      status: 'running',
      completed_at: null,
      updated_at: T0,
    });
    expect(report.decisions).toEqual([
      expect.objectContaining({
        executionId: 'interactions:1',
        verdict: 'heartbeat_lost',
        outcome: 'lost_race',
      }),
    ]);
  });

  it('a workflow run is closed from its children: failed when a child failed, never completed; open while a child runs', async () => {
    const old = T0 - 2 * 60 * M; // past the workflow runs' 1h limit
    // Run 1 is young; its child 10 is stuck and is failed by this sweep, so the run fails with it.
    await app.run({ id: 1, status: 'running', startedAt: T0 - 30 * M });
    await app.interaction({ id: 10, run: 1, status: 'running', startedAt: T0 - 20 * M });
    await app.interaction({ id: 11, run: 1, status: 'completed', startedAt: T0 - 25 * M });
    // Run 2 is overdue; one child failed (by the app), one completed: failed, never completed.
    await app.run({ id: 2, status: 'running', startedAt: old });
    await app.interaction({ id: 20, run: 2, status: 'failed', startedAt: old });
    await app.interaction({ id: 21, run: 2, status: 'completed', startedAt: old });
    // Run 3 is overdue and all its children completed: completed.
    await app.run({ id: 3, status: 'running', startedAt: old });
    await app.interaction({ id: 30, run: 3, status: 'completed', startedAt: old });
    await app.interaction({ id: 31, run: 3, status: 'completed', startedAt: old });
    // Run 4 is overdue but a child is still running (healthy): it stays open.
    await app.run({ id: 4, status: 'running', startedAt: old });
    await app.interaction({
      id: 40,
      run: 4,
      status: 'running',
      startedAt: T0 - 1 * M,
      updatedAt: T0 - 10 * S,
    });
    await app.interaction({ id: 41, run: 4, status: 'completed', startedAt: old });

    const s = sweeper();
    const report = await sweep(s);

    const runs = byId(await app.rows('workflow_runs'), 'workflow_run_id');
    expect(runs['1']).toMatchObject({ status: 'failed', completed_at: T0 });
    expect(runs['2']).toMatchObject({ status: 'failed', completed_at: T0 });
    expect(runs['3']).toMatchObject({ status: 'completed', completed_at: T0 });
    expect(runs['4']).toMatchObject({ status: 'running', completed_at: null });
    expect(byId(await app.rows('interactions'), 'interaction_id')['10']).toMatchObject({
      status: 'failed',
    });

    const decision = (id: string) => report.decisions.find((d) => d.executionId === id);
    expect(decision('workflow_runs:1')).toMatchObject({
      action: 'fail',
      reason: expect.stringContaining('child interactions:10 failed'),
    });
    expect(decision('workflow_runs:2')).toMatchObject({
      action: 'fail',
      reason: expect.stringContaining('child interactions:20 failed'),
    });
    expect(decision('workflow_runs:3')).toMatchObject({
      action: 'succeed',
      reason: expect.stringContaining('all 2 children succeeded'),
    });
    expect(decision('workflow_runs:4')).toMatchObject({
      action: 'ignore',
      outcome: 'ignored',
      reason: expect.stringContaining('1 of its children still running'),
    });
    // Children are swept before their workflow runs.
    const order = report.decisions.map((d) => d.executionId);
    expect(order.indexOf('interactions:10')).toBeLessThan(order.indexOf('workflow_runs:1'));
    const audit = await h.store.listRemediations({ executionId: 'workflow_runs:1', limit: 5 });
    expect(audit[0]).toMatchObject({
      outcome: 'remediated',
      evidence: { derivedFrom: 'interactions:10', source: 'workflow_runs', rowId: '1' },
    });

    // The open run is audited once, not again at every sweep that reads it unchanged.
    h.clock.advance(30 * S);
    expect((await sweep(s)).decisions.map((d) => d.executionId)).toEqual(['workflow_runs:4']);
    expect(
      await h.store.listRemediations({ executionId: 'workflow_runs:4', limit: 5 }),
    ).toHaveLength(1);
  });

  it('a dry run reports what a sweep would do and changes no app row', async () => {
    await app.run({ id: 1, status: 'running', startedAt: T0 - 30 * M });
    await app.interaction({
      id: 1,
      run: 1,
      status: 'running',
      startedAt: T0 - 20 * M,
      output: { tokens: 1 },
    });
    await app.interaction({
      id: 2,
      status: 'running',
      startedAt: T0 - 5 * M,
      updatedAt: T0 - 3 * M,
    });
    const before = [await app.rows('interactions'), await app.rows('workflow_runs')];

    const report = await sweep(sweeper(), true);

    expect([await app.rows('interactions'), await app.rows('workflow_runs')]).toEqual(before);
    expect(report.dryRun).toBe(true);
    expect(report.decisions.map((d) => [d.executionId, d.action, d.outcome])).toEqual([
      ['interactions:1', 'fail', 'dry_run'],
      ['interactions:2', 'fail', 'dry_run'],
      ['workflow_runs:1', 'fail', 'dry_run'],
    ]);
    expect(h.events.filter((e) => e.type.startsWith('execution:'))).toEqual([]);
    const audit = await h.store.listRemediations({ includeDryRun: true, limit: 10 });
    expect(audit.every((r) => r.dryRun)).toBe(true);
    expect(await h.store.listRemediations({ limit: 10 })).toEqual([]);
  });

  it('a bad source (missing table, wrong column, unreachable database) is reported with its key; the others are still swept', async () => {
    const tables = llmTables(app);
    h.config = parseConfig({
      tables: {
        missing_table: { ...tables.interactions, parent: undefined, table: 'no_such_table' },
        wrong_column: {
          ...tables.interactions,
          parent: undefined,
          status: { ...tables.interactions.status, column: 'state' },
        },
        unreachable: {
          ...tables.interactions,
          parent: undefined,
          database: 'postgres://postgres@127.0.0.1:1/test',
        },
        no_file: {
          ...tables.interactions,
          parent: undefined,
          database: `sqlite:${h.dir}/missing.db`,
          table: 'interactions',
        },
        interactions: { ...tables.interactions, parent: undefined },
      },
    });
    await app.interaction({ id: 1, status: 'running', startedAt: T0 - 20 * M });

    const report = await sweep(sweeper());

    expect(byId(await app.rows('interactions'), 'interaction_id')['1']).toMatchObject({
      status: 'failed',
    });
    expect(report.decisions.map((d) => [d.executionId, d.outcome])).toEqual([
      ['interactions:1', 'remediated'],
    ]);
    const errors = Object.fromEntries(report.sourceErrors!.map((e) => [e.key, e.message]));
    expect(Object.keys(errors).sort()).toEqual([
      'tables.missing_table.table',
      'tables.no_file.database',
      'tables.unreachable.database',
      'tables.wrong_column.status.column',
    ]);
    expect(errors['tables.missing_table.table']).toMatch(/table "no_such_table" not found/);
    expect(errors['tables.wrong_column.status.column']).toMatch(
      /column "state" not found in table .*interactions/,
    );
    expect(errors['tables.unreachable.database']).toMatch(/ECONNREFUSED/);
    expect(report.counts.failed).toBe(4);
    expect(warnings).toHaveLength(4);
    expect(warnings).toContain(
      `tables.wrong_column.status.column: ${errors['tables.wrong_column.status.column']}`,
    );
  });

  it('runs inside the service’s sweeps (the mapped tables of its configuration)', async () => {
    await app.interaction({ id: 1, status: 'running', startedAt: T0 - 20 * M });
    const vigil = new Vigil({
      store: h.store,
      config: h.config,
      clock: h.clock,
      watchEventLoop: false,
    });
    try {
      const result = await vigil.service.sweep({ dryRun: false });
      expect(result.kind === 'completed' && result.report.decisions[0]).toMatchObject({
        executionId: 'interactions:1',
        outcome: 'remediated',
      });
      expect(byId(await app.rows('interactions'), 'interaction_id')['1']).toMatchObject({
        status: 'failed',
      });
    } finally {
      vigil.stop();
    }
  });
});

describe.runIf(postgresUp)('mapped tables on postgres, under a real row lock', () => {
  beforeEach(async () => {
    h = await harness('postgres', {});
    app = await openApp('postgres', h.dir);
    h.config = parseConfig({ tables: llmTables(app) });
  });
  afterEach(async () => {
    await sources?.close();
    await app.close();
    await h.close();
  });

  it("an app transaction that completes the row while Vigil's write waits on its lock wins", async () => {
    await app.interaction({ id: 1, status: 'running', startedAt: T0 - 20 * M });
    const other = new pg.Client({ connectionString: POSTGRES_URL });
    await other.connect();
    try {
      // The app's worker finishes the row in a transaction it has not committed yet.
      await other.query('BEGIN');
      await other.query(
        `UPDATE ${app.table('interactions')} SET status = 'completed', output = '{"answer": 42}' WHERE interaction_id = 1`,
      );
      // Vigil reads the last committed state (running), decides to fail it, and its UPDATE waits.
      const sweeping = sweep(sweeper());
      await until(
        async () =>
          (
            await app.sql(
              `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE %interactions%'`,
            )
          ).length > 0,
        { what: "Vigil's UPDATE to wait on the app's row lock" },
      );
      await other.query('COMMIT');
      const report = await sweeping;

      expect(byId(await app.rows('interactions'), 'interaction_id')['1']).toMatchObject({
        status: 'completed',
        completed_at: null,
        output: { answer: 42 },
      });
      expect(report.decisions).toEqual([
        expect.objectContaining({ executionId: 'interactions:1', outcome: 'lost_race' }),
      ]);
    } finally {
      await other.end();
    }
  });
});

describe.runIf(postgresUp)('mapped tables on postgres, other column types', () => {
  beforeEach(async () => {
    h = await harness('postgres', {});
    app = await openApp('postgres', h.dir);
  });
  afterEach(async () => {
    await sources?.close();
    await app.close();
    await h.close();
  });

  it('reads and writes timestamp without time zone, epoch seconds, ISO text, json keys and a JSON reason', async () => {
    const table = app.table('jobs');
    await app.sql(`CREATE TABLE ${table} (
      "JobId" text PRIMARY KEY, state smallint NOT NULL, began timestamp, beat_s bigint,
      ended_iso text, ended_ts timestamp, details json, why jsonb)`);
    // state 1 = running, 2 = done, 3 = failed; began 20 minutes ago (UTC), last beat 10 s ago.
    await app.sql(
      `INSERT INTO ${table} VALUES ('a', 1, $1, $2, NULL, NULL, '[1]', NULL), ('b', 1, $1, $3, NULL, NULL, '{"k": "v"}', NULL),
              ('c', 4, $1, $3, NULL, NULL, NULL, NULL)`,
      [
        new Date(T0 - 20 * M).toISOString().replace('Z', ''),
        Math.floor((T0 - 10 * S) / 1000),
        Math.floor((T0 - 5 * M) / 1000),
      ],
    );
    const base = {
      database: app.url,
      table,
      id: 'JobId',
      status: { column: 'state', running: 1, succeeded: 2, failed: 3 },
      startedAt: 'began',
      heartbeatAt: 'beat_s',
      timeUnit: 's',
      limits: { run: '1h', heartbeat: '2m' },
    };
    h.config = parseConfig({
      tables: {
        json_key: {
          ...base,
          onEnd: {
            set: { ended_iso: 'now', ended_ts: 'now' },
            reason: { column: 'details', key: 'error' },
          },
        },
        // The same table, rows in state 4: the reason as a JSON string in a jsonb column.
        json_value: {
          ...base,
          status: { ...base.status, running: 4 },
          onEnd: { set: { ended_iso: 'now' }, reason: { column: 'why' } },
        },
      },
    });
    h.clock.set(T0 + 1500);

    const report = await sweep(sweeper());

    // Rows b and c are silent (5 minutes, limit 2m); a beat 10 s ago.
    expect(report.sourceErrors).toEqual([]);
    expect(report.decisions.map((d) => [d.executionId, d.verdict, d.outcome])).toEqual([
      ['json_key:b', 'heartbeat_lost', 'remediated'],
      ['json_value:c', 'heartbeat_lost', 'remediated'],
    ]);
    const [a, b, c] = await app.sql(
      `SELECT "JobId", state, ended_iso, ended_ts::text AS ended_ts, details::text AS details, why FROM ${table} ORDER BY "JobId"`,
    );
    expect(a).toMatchObject({ state: 1, ended_iso: null, details: '[1]' });
    expect(b).toMatchObject({
      state: 3,
      ended_iso: new Date(T0 + 1500).toISOString(),
      ended_ts: '2026-01-01 12:00:01.5',
      why: null,
    });
    expect(JSON.parse(b!.details as string)).toEqual({
      k: 'v',
      error: 'vigil: heartbeat_lost: no heartbeat for 5m 1s, limit 2m',
    });
    expect(c).toMatchObject({
      state: 3,
      ended_iso: new Date(T0 + 1500).toISOString(),
      why: 'vigil: heartbeat_lost: no heartbeat for 5m 1s, limit 2m',
    });
  });
});
