import { afterEach, beforeEach, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { Sweeper } from '../src/runtime/sweep.js';
import type { SweepReport } from '../src/ports/audit-store.js';
import type { AppDatabase, AppDatabaseOptions } from '../src/sources/app-database.js';
import { openAppDatabase } from '../src/sources/app-database.js';
import { TableSources } from '../src/sources/table-source.js';
import type { Harness } from './helpers.js';
import { M, S, T0, describeEach, harness } from './helpers.js';
import type { JobsApp } from './table-rows-app.js';
import { jobsTable, openJobsApp } from './table-rows-app.js';

let h: Harness;
let app: JobsApp;
let sources: TableSources | undefined;

/** A sweeper over the mapped tables; `afterRead` runs after each read of running rows. */
function sweeper(afterRead?: () => Promise<void>): Sweeper {
  const open = (url: string, options: AppDatabaseOptions): AppDatabase => {
    const db = openAppDatabase(url, options);
    if (!afterRead) return db;
    return {
      ...db,
      dialect: db.dialect,
      description: db.description,
      query: async <R>(text: string, params: readonly unknown[], o?: { readOnly?: boolean }) => {
        const rows = await db.query<R>(text, params, o);
        if (/\bLIMIT\b/.test(text)) await afterRead();
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
  });
}

async function sweep(s = sweeper(), dryRun = false): Promise<SweepReport> {
  const result = await s.sweep({ dryRun });
  await sources?.close();
  if (result.kind !== 'completed') throw new Error('sweep skipped');
  return result.report;
}

function configure(extra: Record<string, unknown>): void {
  h.config = parseConfig({ tables: jobsTable(app, extra) });
}

const requeue = {
  status: 'pending',
  attempts: { column: 'attempts', max: 3 },
  set: { runner_id: null },
  backoff: { initial: '4m', max: '8m' },
};
const deadLetter = {
  status: 'dead_letter',
  set: { completed_at: 'now' },
  reason: { column: 'output', key: 'error', text: 'watchdog: gave up after {attempt} attempts' },
};

await describeEach(
  ['postgres', 'sqlite'] as const,
  'per-row keys of mapped tables on %s',
  (dialect) => {
    beforeEach(async () => {
      h = await harness(dialect, {});
      app = await openJobsApp(dialect, h.dir);
    });
    afterEach(async () => {
      await sources?.close();
      sources = undefined;
      await app.close();
      await h.close();
    });

    it('takes a limit by the value of a column, other values falling back to the entry', async () => {
      configure({
        rowLimits: { run: { column: 'actor_type', values: { ai_model: '10m', script: '5m' } } },
      });
      await app.job({ id: 1, actor: 'ai_model', startedAt: T0 - 11 * M });
      await app.job({ id: 2, actor: 'ai_model', startedAt: T0 - 9 * M });
      await app.job({ id: 3, actor: 'script', startedAt: T0 - 6 * M });
      await app.job({ id: 4, actor: 'human', startedAt: T0 - 14 * M });
      await app.job({ id: 5, actor: null, startedAt: T0 - 16 * M });

      const report = await sweep();

      const jobs = await app.jobs();
      expect(Object.values(jobs).map((job) => [job.job_id, job.status])).toEqual([
        [1, 'failed'],
        [2, 'running'],
        [3, 'failed'],
        [4, 'running'],
        [5, 'failed'],
      ]);
      expect(jobs['3']?.output).toEqual({ error: 'vigil: run_timeout: ran 6m, limit 5m' });
      const audit = await h.store.listRemediations({ limit: 10 });
      const from = (id: string) => audit.find((r) => r.executionId === id)?.evidence.limitFrom;
      expect(from('jobs:1')).toEqual({ run: 'rowLimits.run: actor_type = "ai_model" → 10m' });
      expect(from('jobs:5')).toEqual({
        run: 'rowLimits.run: actor_type = NULL is not listed; from limits.run',
      });
      expect(report.decisions.map((d) => d.executionId)).toEqual(['jobs:1', 'jobs:3', 'jobs:5']);
    });

    it('reads a limit from a column in its unit, with the fallback when it is NULL or not a limit', async () => {
      configure({ rowLimits: { run: { column: 'timeout_ms', unit: 'ms' } } });
      await app.job({ id: 1, timeoutMs: 60_000, startedAt: T0 - 2 * M });
      await app.job({ id: 2, timeoutMs: 180_000, startedAt: T0 - 2 * M });
      await app.job({ id: 3, timeoutMs: null, startedAt: T0 - 14 * M });
      await app.job({ id: 4, timeoutMs: -5, startedAt: T0 - 16 * M });

      await sweep();

      const jobs = await app.jobs();
      expect(Object.values(jobs).map((job) => job.status)).toEqual([
        'failed',
        'running',
        'running',
        'failed',
      ]);
      expect(jobs['1']?.output).toEqual({ error: 'vigil: run_timeout: ran 2m, limit 1m' });
      expect(jobs['4']?.output).toEqual({ error: 'vigil: run_timeout: ran 16m, limit 15m' });
      const audit = await h.store.listRemediations({ limit: 10 });
      expect(audit.find((r) => r.executionId === 'jobs:4')?.evidence.limitFrom).toEqual({
        run: 'rowLimits.run: timeout_ms = -5 is not a limit; from limits.run',
      });
    });

    it('takes a limit from a SQL expression over joined tables, read-only', async () => {
      configure({
        joins: [
          { table: app.table('schedules'), as: 's', on: { schedule_id: 'schedule_id' } },
          { table: app.table('agents'), as: 'a', on: { agent_id: 'agent_id' } },
        ],
        rowLimits: { run: { sql: 'COALESCE(s.timeout_seconds, a.timeout, 900)', unit: 's' } },
      });
      // The joined tables have status, started_at and updated_at columns too: the mapped table's
      // own must be the ones read (and written).
      await app.sql(
        `INSERT INTO {schema}.schedules (schedule_id, status, timeout_seconds) VALUES (1, 'active', 60), (2, 'active', NULL)`,
      );
      await app.sql(
        `INSERT INTO {schema}.agents (agent_id, status, timeout) VALUES (7, 'idle', 300)`,
      );
      await app.job({ id: 1, schedule: 1, agent: 7, startedAt: T0 - 2 * M });
      await app.job({ id: 2, schedule: 2, agent: 7, startedAt: T0 - 4 * M });
      await app.job({ id: 3, schedule: 2, agent: 7, startedAt: T0 - 6 * M });
      await app.job({ id: 4, startedAt: T0 - 14 * M });
      await app.job({ id: 5, startedAt: T0 - 16 * M });
      await app.job({ id: 6, status: 'completed', schedule: 1, startedAt: T0 - 60 * M });

      const report = await sweep();

      expect(report.sourceErrors).toEqual([]);
      const jobs = await app.jobs();
      expect(Object.values(jobs).map((job) => job.status)).toEqual([
        'failed',
        'running',
        'failed',
        'running',
        'failed',
        'completed',
      ]);
      expect(jobs['3']?.output).toEqual({ error: 'vigil: run_timeout: ran 6m, limit 5m' });
      const audit = await h.store.listRemediations({ limit: 10 });
      expect(audit.find((r) => r.executionId === 'jobs:1')?.evidence.limitFrom).toEqual({
        run: 'rowLimits.run: COALESCE(s.timeout_seconds, a.timeout, 900) = 60 s → 1m',
      });
    });

    it('writes the end text from its template, with column values, for monitoring queries', async () => {
      configure({
        onEnd: {
          set: { completed_at: 'now' },
          reason: {
            column: 'output',
            key: 'error',
            text: 'watchdog: {verdict} after {elapsed} (limit {limit}) on {source} row {id}, actor {row.actor_type}, attempt {attempt} {{ok}}',
          },
        },
      });
      await app.job({ id: 1, actor: 'script', startedAt: T0 - 20 * M - 3 * S });

      await sweep();

      const found = await app.sql(
        dialect === 'postgres'
          ? `SELECT job_id, output->>'error' AS error FROM {schema}.jobs WHERE output->>'error' LIKE '%watchdog%'`
          : `SELECT job_id, json_extract(output, '$.error') AS error FROM jobs WHERE json_extract(output, '$.error') LIKE '%watchdog%'`,
      );
      expect(found.map((row) => ({ ...row, job_id: Number(row.job_id) }))).toEqual([
        {
          job_id: 1,
          error:
            'watchdog: run_timeout after 20m 3s (limit 15m) on jobs row 1, actor script, attempt 1 {ok}',
        },
      ]);
    });

    it('re-queues a stuck row once its backoff has passed, then dead-letters it after the last attempt', async () => {
      configure({ requeue, deadLetter });
      // Over its 15m limit by 1m: crossed it at T0 - 1m; a backoff of 4m–8m is not over yet.
      await app.job({ id: 1, startedAt: T0 - 16 * M, attempts: 0 });

      const first = await sweep();
      expect((await app.jobs())['1']).toMatchObject({ status: 'running', attempts: 0 });
      expect(first.decisions).toEqual([
        expect.objectContaining({ executionId: 'jobs:1', action: 'ignore', outcome: 'ignored' }),
      ]);
      expect(first.decisions[0]?.reason).toMatch(/^re-queue as attempt 2 after a backoff of /);

      h.clock.set(T0 + 8 * M);
      const second = await sweep();
      expect(second.decisions).toEqual([
        expect.objectContaining({ executionId: 'jobs:1', action: 'retry', outcome: 'remediated' }),
      ]);
      expect((await app.jobs())['1']).toMatchObject({
        status: 'pending',
        attempts: 1,
        runner_id: null,
        completed_at: null,
      });
      expect(h.events.find((e) => e.type === 'execution:remediated')).toMatchObject({
        executionId: 'jobs:1',
        attempt: 1,
        action: 'retry',
        status: 'queued',
        rowStatus: 'pending',
      });

      // The runner claims it again (third attempt, per the count) and dies again.
      await app.otherWrite(
        `UPDATE {schema}.jobs SET status = 'running', attempts = 2, runner_id = 'runner-2', started_at = ${app.p(1)} WHERE job_id = 1`,
        [app.at(T0 - 20 * M)],
      );
      const third = await sweep();
      expect(third.decisions).toEqual([
        expect.objectContaining({ executionId: 'jobs:1', action: 'dead_letter' }),
      ]);
      expect((await app.jobs())['1']).toMatchObject({
        status: 'dead_letter',
        attempts: 2,
        completed_at: T0 + 8 * M,
        output: { error: 'watchdog: gave up after 3 attempts' },
      });
      expect(h.events.filter((e) => e.type === 'execution:dead')).toEqual([
        expect.objectContaining({ executionId: 'jobs:1', attempt: 3, source: 'jobs' }),
      ]);
      const audit = await h.store.listRemediations({ limit: 10 });
      expect(audit.map((r) => [r.action, r.attempt, r.outcome])).toEqual(
        expect.arrayContaining([
          ['retry', 1, 'remediated'],
          ['dead_letter', 3, 'remediated'],
        ]),
      );
    });

    it('with an "available at" column, re-queues at once and writes when the row may run again', async () => {
      configure({ requeue: { ...requeue, availableAt: 'available_at' } });
      await app.job({ id: 1, startedAt: T0 - 16 * M });

      await sweep();

      const job = (await app.jobs())['1'];
      expect(job).toMatchObject({ status: 'pending', attempts: 1 });
      // Equal jitter: between half the backoff and all of it.
      expect(job?.available_at).toBeGreaterThanOrEqual(T0 + 2 * M);
      expect(job?.available_at).toBeLessThanOrEqual(T0 + 4 * M);
    });

    it('loses the race, and writes nothing, when the runner beats between the read and a re-queue or a dead-letter', async () => {
      configure({ requeue: { ...requeue, availableAt: 'available_at' }, deadLetter });
      await app.job({ id: 1, startedAt: T0 - 16 * M, updatedAt: T0 - 16 * M, attempts: 0 });
      await app.job({ id: 2, startedAt: T0 - 16 * M, updatedAt: T0 - 16 * M, attempts: 2 });
      const beat = () =>
        app.otherWrite(`UPDATE {schema}.jobs SET updated_at = ${app.p(1)}`, [app.at(T0 - S)]);

      const report = await sweep(sweeper(beat));

      expect(report.decisions.map((d) => [d.executionId, d.action, d.outcome])).toEqual([
        ['jobs:1', 'retry', 'lost_race'],
        ['jobs:2', 'dead_letter', 'lost_race'],
      ]);
      const jobs = await app.jobs();
      expect([jobs['1']?.status, jobs['1']?.attempts, jobs['2']?.status]).toEqual([
        'running',
        0,
        'running',
      ]);
    });

    it('loses the race when the runner claimed the row again between the read and the re-queue', async () => {
      configure({ heartbeatAt: undefined, requeue: { ...requeue, availableAt: 'available_at' } });
      await app.job({ id: 1, startedAt: T0 - 16 * M, attempts: 0 });
      const claim = () => app.otherWrite(`UPDATE {schema}.jobs SET attempts = 1, runner_id = 'r2'`);

      const report = await sweep(sweeper(claim));

      expect(report.decisions.map((d) => d.outcome)).toEqual(['lost_race']);
      expect((await app.jobs())['1']).toMatchObject({ status: 'running', runner_id: 'r2' });
    });

    it('a dry run says it would re-queue or dead-letter, and writes nothing', async () => {
      configure({ requeue: { ...requeue, availableAt: 'available_at' }, deadLetter });
      await app.job({ id: 1, startedAt: T0 - 16 * M, attempts: 0 });
      await app.job({ id: 2, startedAt: T0 - 16 * M, attempts: 2 });

      const report = await sweep(sweeper(), true);

      expect(report.decisions.map((d) => [d.action, d.attempt, d.outcome])).toEqual([
        ['retry', 1, 'dry_run'],
        ['dead_letter', 3, 'dry_run'],
      ]);
      expect(Object.values(await app.jobs()).map((job) => [job.status, job.attempts])).toEqual([
        ['running', 0],
        ['running', 2],
      ]);
      expect(h.events.filter((e) => e.type.startsWith('execution:'))).toEqual([]);
    });

    it('reports a column the per-row keys name that the table lacks, under its key', async () => {
      configure({
        rowLimits: { run: { column: 'timeout', unit: 's' } },
        onEnd: { reason: { column: 'output', key: 'error', text: '{row.owner_name}' } },
      });
      await app.job({ id: 1, startedAt: T0 - 16 * M });

      const report = await sweep();

      expect(report.sourceErrors).toEqual([
        expect.objectContaining({ key: 'tables.jobs.rowLimits.run.column' }),
      ]);
    });
  },
);

await describeEach(['postgres'] as const, 'rowLimits expressions on %s', (dialect) => {
  beforeEach(async () => {
    h = await harness(dialect, {});
    app = await openJobsApp(dialect, h.dir);
  });
  afterEach(async () => {
    await sources?.close();
    sources = undefined;
    await app.close();
    await h.close();
  });

  it('cannot write: the SELECT runs in a read-only transaction', async () => {
    configure({
      rowLimits: { run: { sql: `nextval('${app.table('counter')}')`, unit: 's' } },
    });
    await app.job({ id: 1, startedAt: T0 - 16 * M });

    const report = await sweep();

    expect(report.sourceErrors).toEqual([
      expect.objectContaining({ message: expect.stringMatching(/read-only transaction/) }),
    ]);
    const [sequence] = await app.sql(`SELECT last_value, is_called FROM {schema}.counter`);
    expect(sequence?.is_called).toBe(false);
  });
});
