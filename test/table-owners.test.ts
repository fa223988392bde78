import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { createClient } from 'redis';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { httpOwners } from '../src/owners/http-owners.js';
import type { SweepReport } from '../src/ports/audit-store.js';
import { Sweeper } from '../src/runtime/sweep.js';
import type { AppDatabase, AppDatabaseOptions } from '../src/sources/app-database.js';
import { openAppDatabase } from '../src/sources/app-database.js';
import { TableSources } from '../src/sources/table-source.js';
import type { Harness } from './helpers.js';
import {
  M,
  POSTGRES_URL,
  REDIS_URL,
  S,
  T0,
  describeEach,
  dropRedisKeys,
  dropSchemas,
  harness,
  redisAvailable,
  schemaName,
} from './helpers.js';
import type { LoopbackServer } from './loopback-server.js';
import { loopbackServer } from './loopback-server.js';

const redisUp = await redisAvailable();

/** The agent platform's table of executions, on PostgreSQL (a fresh schema) or SQLite (a file). */
interface AppDb {
  url: string;
  table: string;
  sql: (text: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;
  insert: (row: { id: number; agent: string; startedAt: number; status?: string }) => Promise<void>;
  statusOf: (id: number) => Promise<{ status: string; error: string | null }>;
  close: () => Promise<void>;
}

async function openAppDb(dialect: 'postgres' | 'sqlite', dir: string): Promise<AppDb> {
  const ddl = (schema: string) => `CREATE TABLE ${schema}schedule_executions (
      id integer PRIMARY KEY, agent_name text NOT NULL, status text NOT NULL,
      started_at ${dialect === 'postgres' ? 'timestamptz' : 'text'} NOT NULL,
      completed_at ${dialect === 'postgres' ? 'timestamptz' : 'text'}, error text)`;
  let sql: AppDb['sql'];
  let url: string;
  let table = 'schedule_executions';
  let close: () => Promise<void>;
  if (dialect === 'postgres') {
    const schema = schemaName('app_owners');
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
    sql = async (text, params = []) => (await pool.query(text, params)).rows;
    await sql(`CREATE SCHEMA ${schema}`);
    await sql(ddl(`${schema}.`));
    table = `${schema}.schedule_executions`;
    url = POSTGRES_URL;
    close = async () => {
      await pool.end();
      await dropSchemas(schema);
    };
  } else {
    const path = join(dir, 'platform.db');
    const db = new BetterSqlite3(path);
    db.exec(ddl(''));
    sql = (text, params = []) => {
      const statement = db.prepare(text.replaceAll(/\$\d+/g, '?'));
      return Promise.resolve(
        statement.reader
          ? (statement.all(...params) as Record<string, unknown>[])
          : (statement.run(...params), []),
      );
    };
    url = `sqlite:${path}`;
    close = () => {
      db.close();
      return Promise.resolve();
    };
  }
  const at = (ms: number) => (dialect === 'postgres' ? new Date(ms) : new Date(ms).toISOString());
  return {
    url,
    table,
    sql,
    insert: async (row) => {
      await sql(
        `INSERT INTO ${table} (id, agent_name, status, started_at) VALUES ($1, $2, $3, $4)`,
        [row.id, row.agent, row.status ?? 'running', at(row.startedAt)],
      );
    },
    statusOf: async (id) => {
      const [row] = await sql(`SELECT status, error FROM ${table} WHERE id = $1`, [id]);
      return row as { status: string; error: string | null };
    },
    close,
  };
}

/** Agents on one loopback server: `/{agent}/api/executions/running` and `…/{id}/terminate`. */
interface Agents {
  running: Record<string, string[]>;
  recent: Record<string, string[]>;
  /** Agents whose registry answers 503 (cannot be asked). */
  broken: Set<string>;
  /** How each terminate is answered (default 200). */
  terminate: (agent: string, id: string) => { status: number; body?: unknown };
}

let h: Harness;
let app: AppDb;
let server: LoopbackServer;
let agents: Agents;
let sources: TableSources;
let prefix: string;
let redis: ReturnType<typeof createClient>;

function config(options: { redisUrl?: string; extra?: Record<string, unknown> } = {}) {
  return parseConfig({
    defaults: { dispatchGrace: '60s' },
    owners: {
      '*': {
        registry: {
          url: `${server.url}/{owner}/api/executions/running`,
          ids: '$.executions[*].id',
          recentlyCompleted: '$.recent',
        },
        terminate: { url: `${server.url}/{owner}/api/executions/{id}/terminate` },
        unreachableAfter: 2,
      },
    },
    tables: {
      executions: {
        database: app.url,
        table: app.table,
        id: 'id',
        status: { column: 'status', running: 'running', failed: 'failed', succeeded: 'success' },
        startedAt: 'started_at',
        owner: 'agent_name',
        limits: { run: '15m' },
        onEnd: { set: { completed_at: 'now' }, reason: { column: 'error' } },
        reconcile: true,
        appSlots: {
          redis: options.redisUrl ?? REDIS_URL,
          release: [
            {
              zset: `${prefix}agent:{owner}:slots`,
              member: '{agentId}',
              decrement: `${prefix}agent:{owner}:used`,
            },
            { key: `${prefix}queue:{owner}:running`, value: '{agentId}' },
            { list: `${prefix}queue:{owner}:pending`, value: '{id}' },
          ],
        },
        ...options.extra,
      },
    },
  });
}

/** A sweeper over the table; `afterRead` runs after each read of running rows (the app's write). */
function sweeper(cfg = config(), afterRead?: () => Promise<void>): Sweeper {
  h.config = cfg;
  const open = (url: string, options: AppDatabaseOptions): AppDatabase => {
    const db = openAppDatabase(url, options);
    if (!afterRead) return db;
    return {
      ...db,
      dialect: db.dialect,
      description: db.description,
      query: async <R>(text: string, params: readonly unknown[]) => {
        const rows = await db.query<R>(text, params);
        if (/\bLIMIT\b/.test(text)) await afterRead();
        return rows;
      },
    };
  };
  sources = new TableSources(Object.values(cfg.tables), {
    cwd: h.dir,
    sqliteBusyTimeoutMs: 1_000,
    open,
  });
  return new Sweeper({
    store: h.store,
    clock: h.clock,
    config: cfg,
    events: h.bus,
    owners: httpOwners(cfg.ownerAgents),
    sources: [sources],
  });
}

async function sweep(s: Sweeper, dryRun = false): Promise<SweepReport> {
  const result = await s.sweep({ dryRun });
  if (result.kind !== 'completed') throw new Error('sweep skipped');
  return result.report;
}

/** The app's slots and queue as Redis holds them for one agent. */
async function slotsOf(agent: string) {
  return {
    slots: await redis.zRange(`${prefix}agent:${agent}:slots`, 0, -1),
    used: await redis.get(`${prefix}agent:${agent}:used`),
    running: await redis.get(`${prefix}queue:${agent}:running`),
    pending: await redis.lRange(`${prefix}queue:${agent}:pending`, 0, -1),
  };
}

/** An execution dispatched by the app: its row, its capacity slot and its queue state. */
async function dispatch(id: number, agent: string, startedAt: number, listed = true) {
  await app.insert({ id, agent, startedAt });
  await redis.zAdd(`${prefix}agent:${agent}:slots`, { score: startedAt, value: String(id) });
  await redis.incr(`${prefix}agent:${agent}:used`);
  await redis.set(`${prefix}queue:${agent}:running`, String(id));
  await redis.rPush(`${prefix}queue:${agent}:pending`, String(id));
  if (listed) (agents.running[agent] ??= []).push(String(id));
}

const auditOf = async (id: number) =>
  h.store.listRemediations({ executionId: `executions:${id}`, limit: 10 });

await describeEach(
  ['postgres', 'sqlite'] as const,
  'mapped rows reconciled with their owners on %s',
  (dialect) => {
    beforeEach(async () => {
      h = await harness(dialect, {});
      app = await openAppDb(dialect, h.dir);
      agents = { running: {}, recent: {}, broken: new Set(), terminate: () => ({ status: 200 }) };
      server = await loopbackServer((request) => {
        const [, agent = '', , , id, action] = request.path.split('/');
        if (agents.broken.has(agent)) return { status: 503, body: { error: 'restarting' } };
        if (request.path.endsWith('/running')) {
          return {
            status: 200,
            body: {
              executions: (agents.running[agent] ?? []).map((execution) => ({ id: execution })),
              recent: agents.recent[agent] ?? [],
            },
          };
        }
        if (action === 'terminate' && id) return agents.terminate(agent, id);
        return { status: 404 };
      });
      prefix = `vigil_test_app_${Math.random().toString(36).slice(2, 10)}:`;
      redis = createClient({ url: REDIS_URL });
      await redis.connect();
    });
    afterEach(async () => {
      await sources?.close();
      await redis.close();
      await dropRedisKeys(prefix);
      await server.close();
      await app.close();
      await h.close();
    });

    it.skipIf(!redisUp)(
      'ends an orphan after its grace by compare-and-set and releases its slots; leaves rows in grace, recently completed or listed alone',
      async () => {
        await dispatch(1, 'agent-a', T0 - 5 * M, false); // lost by its agent, past the grace
        await dispatch(2, 'agent-b', T0 - 30 * S, false); // not listed yet, within the grace
        await dispatch(3, 'agent-c', T0 - 5 * M, false); // finished moments ago
        agents.recent['agent-c'] = ['3'];
        await dispatch(4, 'agent-d', T0 - 5 * M); // listed: healthy

        const report = await sweep(sweeper());

        expect(report.counts).toMatchObject({ remediated: 1 });
        expect(await app.statusOf(1)).toEqual({
          status: 'failed',
          error: expect.stringMatching(/^vigil: orphaned: not running on owner agent-a/),
        });
        for (const id of [2, 3, 4]) expect((await app.statusOf(id)).status).toBe('running');
        expect(await slotsOf('agent-a')).toEqual({
          slots: [],
          used: '0',
          running: null,
          pending: [],
        });
        expect(await slotsOf('agent-b')).toEqual({
          slots: ['2'],
          used: '1',
          running: '2',
          pending: ['2'],
        });
        const [audit] = await auditOf(1);
        expect(audit).toMatchObject({
          verdict: 'orphaned',
          outcome: 'remediated',
          evidence: { source: 'executions', rowId: '1', observation: 'absent' },
        });
        expect(audit?.steps.map((s) => [s.step, s.outcome, s.detail])).toEqual([
          ['end', 'ok', expect.stringContaining('status = "failed"')],
          [
            'release',
            'ok',
            `ZREM ${prefix}agent:agent-a:slots "1" (and DECR ${prefix}agent:agent-a:used): released`,
          ],
          ['release', 'ok', `DEL ${prefix}queue:agent-a:running if it holds "1": released`],
          ['release', 'ok', `LREM ${prefix}queue:agent-a:pending 0 "1": released`],
        ]);
        expect(h.events.filter((e) => e.type === 'execution:remediated')).toEqual([
          expect.objectContaining({
            executionId: 'executions:1',
            source: 'executions',
            rowId: '1',
          }),
        ]);
        // Past the grace, the row the agent never picked up is an orphan too.
        h.clock.advance(31 * S);
        await sweep(sweeper());
        expect((await app.statusOf(2)).status).toBe('failed');
        expect((await app.statusOf(3)).status).toBe('running');
      },
    );

    it.skipIf(!redisUp)(
      'an agent that cannot be asked is unknown: nothing is ended even past the run limit, owner:unreachable goes out once',
      async () => {
        await dispatch(1, 'agent-a', T0 - 20 * M, false);
        agents.broken.add('agent-a');
        const s = sweeper();
        await sweep(s);
        h.clock.advance(10 * S);
        await sweep(s);
        h.clock.advance(10 * S);
        await sweep(s);

        expect((await app.statusOf(1)).status).toBe('running');
        expect((await slotsOf('agent-a')).slots).toEqual(['1']);
        const audit = await auditOf(1);
        expect(audit.map((a) => a.verdict)).toEqual(['unknown']);
        expect(h.events.filter((e) => e.type === 'owner:unreachable')).toEqual([
          expect.objectContaining({ owner: 'agent-a', consecutiveUnknown: 2 }),
        ]);
        // It answers again, without the execution: an orphan now.
        agents.broken.delete('agent-a');
        h.clock.advance(10 * S);
        await sweep(s);
        expect((await app.statusOf(1)).status).toBe('failed');
      },
    );

    it.skipIf(!redisUp)(
      'the breaker pauses an agent whose registry lists nothing while it holds many rows',
      async () => {
        for (let id = 1; id <= 5; id++) await dispatch(id, 'agent-a', T0 - 5 * M, false);
        const s = sweeper();
        const report = await sweep(s);

        expect(report.counts.remediated ?? 0).toBe(0);
        for (let id = 1; id <= 5; id++) expect((await app.statusOf(id)).status).toBe('running');
        expect(h.events.filter((e) => e.type === 'breaker:opened')).toEqual([
          expect.objectContaining({ owner: 'agent-a', running: 5, listed: 0 }),
        ]);
        const [audit] = await auditOf(1);
        expect(audit).toMatchObject({
          outcome: 'ignored',
          reason: expect.stringMatching(/^breaker open for owner agent-a/),
        });
        // The agent lists its work again: the breaker closes.
        agents.running['agent-a'] = ['1', '2', '3', '4', '5'];
        h.clock.advance(30 * S); // the next reconcile (the default interval: the sweep's, 30s)
        await sweep(s);
        expect(h.events.filter((e) => e.type === 'breaker:closed')).toHaveLength(1);
      },
    );

    it.skipIf(!redisUp)(
      'a hung execution past its limit is stopped through its agent, ended once the agent confirms, its slot released; a failed stop leaves it running',
      async () => {
        await dispatch(1, 'agent-a', T0 - 20 * M);
        agents.terminate = () => ({ status: 500, body: { error: 'busy' } });
        const s = sweeper();
        await sweep(s);
        expect((await app.statusOf(1)).status).toBe('running');
        expect((await slotsOf('agent-a')).slots).toEqual(['1']);
        expect((await auditOf(1))[0]).toMatchObject({
          outcome: 'left_running',
          verdict: 'run_timeout',
        });

        agents.terminate = (agent, id) => {
          agents.running[agent] = (agents.running[agent] ?? []).filter((e) => e !== id);
          return { status: 200, body: { status: 'terminated' } };
        };
        h.clock.advance(2 * S); // past the first backoff (1 s)
        await sweep(s);
        const row = await app.statusOf(1);
        expect(row.status).toBe('failed');
        expect(row.error).toMatch(
          /run_timeout: .*terminated by its owner after 1 failed stop requests/,
        );
        expect(
          server.requests
            .filter((r) => r.path.endsWith('/terminate'))
            .map((r) => [r.method, r.path]),
        ).toEqual([
          ['POST', '/agent-a/api/executions/1/terminate'],
          ['POST', '/agent-a/api/executions/1/terminate'],
        ]);
        expect(await slotsOf('agent-a')).toEqual({
          slots: [],
          used: '0',
          running: null,
          pending: [],
        });
        expect(h.events.filter((e) => e.type === 'execution:stuck')).toHaveLength(1);
      },
    );

    it.skipIf(!redisUp)(
      'the app wins a race: a row it ended while its agent was stopping it is left alone (lost_race), its slots untouched',
      async () => {
        await dispatch(1, 'agent-a', T0 - 20 * M);
        // The app ends the row itself after Vigil read it (its agent reported the execution over).
        const s = sweeper(config(), async () => {
          await app.sql(
            `UPDATE ${app.table} SET status = 'failed', error = 'stopped' WHERE id = 1`,
          );
        });
        const report = await sweep(s);
        const row = await app.statusOf(1);
        expect(row).toEqual({ status: 'failed', error: 'stopped' });
        expect(report.decisions.map((d) => [d.executionId, d.outcome])).toEqual([
          ['executions:1', 'lost_race'],
        ]);
        expect(server.requests.filter((r) => r.path.endsWith('/terminate'))).toHaveLength(1);
        expect((await slotsOf('agent-a')).slots).toEqual(['1']);
      },
    );

    it.skipIf(!redisUp)(
      'compare-and-release: a slot another execution holds is not released, an absent one is already free, a Redis that is down does not hold up the end',
      async () => {
        await dispatch(1, 'agent-a', T0 - 5 * M, false);
        await redis.set(`${prefix}queue:agent-a:running`, '7'); // the queue moved on to execution 7
        await redis.del(`${prefix}agent:agent-a:slots`);
        await sweep(sweeper());
        expect((await app.statusOf(1)).status).toBe('failed');
        expect(await redis.get(`${prefix}queue:agent-a:running`)).toBe('7');
        expect(await redis.get(`${prefix}agent:agent-a:used`)).toBe('1'); // not decremented: nothing removed
        const steps = (await auditOf(1))[0]?.steps.filter((s) => s.step === 'release');
        expect(steps?.map((s) => [s.outcome, s.detail])).toEqual([
          ['skipped', `ZREM ${prefix}agent:agent-a:slots "1": already free`],
          ['skipped', `DEL ${prefix}queue:agent-a:running if it holds "1": not held: it holds "7"`],
          ['ok', `LREM ${prefix}queue:agent-a:pending 0 "1": released`],
        ]);

        // Redis down (nothing listens there): the row is still ended, the audit says why nothing was released.
        await dispatch(2, 'agent-b', T0 - 5 * M, false);
        await sweep(sweeper(config({ redisUrl: 'redis://127.0.0.1:1' })));
        expect((await app.statusOf(2)).status).toBe('failed');
        const down = (await auditOf(2))[0]?.steps.filter((s) => s.step === 'release');
        expect(down?.map((s) => s.outcome)).toEqual(['failed', 'failed', 'failed']);
        expect(down?.[0]?.detail).toMatch(/redis redis:\/\/127\.0\.0\.1:1 is down/);
        expect(await slotsOf('agent-b')).toEqual({
          slots: ['2'],
          used: '1',
          running: '2',
          pending: ['2'],
        });
      },
    );

    it.skipIf(!redisUp)(
      'a dry run reports what it would stop, end and release, and changes nothing',
      async () => {
        await dispatch(1, 'agent-a', T0 - 5 * M, false);
        await dispatch(2, 'agent-b', T0 - 20 * M);
        const report = await sweep(sweeper(), true);
        expect(report.decisions.map((d) => [d.executionId, d.outcome])).toEqual([
          ['executions:1', 'dry_run'],
          ['executions:2', 'dry_run'],
        ]);
        for (const id of [1, 2]) expect((await app.statusOf(id)).status).toBe('running');
        expect(server.requests.filter((r) => r.path.endsWith('/terminate'))).toEqual([]);
        expect((await slotsOf('agent-a')).slots).toEqual(['1']);
        const audit = await h.store.listRemediations({ includeDryRun: true, limit: 10 });
        const steps = audit.find((a) => a.executionId === 'executions:2')?.steps;
        expect(steps?.map((s) => [s.step, s.detail])).toEqual([
          ['terminate', 'dry run: would ask its owner to stop it'],
          ['end', 'dry run: would set status = "failed"'],
          [
            'release',
            `dry run: would ZREM ${prefix}agent:agent-b:slots "2" (and DECR ${prefix}agent:agent-b:used)`,
          ],
          ['release', `dry run: would DEL ${prefix}queue:agent-b:running if it holds "2"`],
          ['release', `dry run: would LREM ${prefix}queue:agent-b:pending 0 "2"`],
        ]);
      },
    );
  },
);

it('refuses a bad reconcile or appSlots entry, naming each key with what it expected and got', () => {
  const table = {
    database: 'sqlite:app.db',
    table: 'schedule_executions',
    id: 'id',
    status: { column: 'status', running: 'running', failed: 'failed', succeeded: 'success' },
    startedAt: 'started_at',
  };
  let message = '';
  try {
    parseConfig({
      tables: {
        executions: {
          ...table,
          reconcile: { agentId: 'bad column' },
          appSlots: {
            redis: 'http://redis',
            release: [
              { zset: 'agent:{owner}:slots', member: '{execution}' },
              { key: 'a', set: 'b', value: '{id}' },
              { list: 'queue:{id}' },
            ],
          },
        },
      },
    });
  } catch (error) {
    message = (error as Error).message;
  }
  expect(message).toContain('tables.executions.reconcile.agentId: expected a column name');
  expect(message).toContain(
    'tables.executions.reconcile: expected owner: the column naming the owner each row runs on, got none',
  );
  expect(message).toContain(
    'tables.executions.appSlots.redis: expected a redis://… URL, got "http://redis"',
  );
  expect(message).toContain(
    'tables.executions.appSlots.release.0.member: expected a template with placeholders {owner}, {id}, {agentId} or {row.COLUMN} (unknown placeholder {execution}), got "{execution}"',
  );
  expect(message).toContain(
    'tables.executions.appSlots.release.1: expected exactly one of key, set, zset, hash or list, got key and set',
  );
  expect(message).toContain('tables.executions.appSlots.release.2.value: a list entry needs value');
  expect(message).toContain(
    'tables.executions.appSlots.release: uses {owner} but the table maps no owner column (owner:)',
  );
});
