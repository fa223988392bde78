/**
 * `schedules.X.table`: the rows of a mapped table count as runs, by their start column, on
 * SQLite and PostgreSQL app tables (Vigil's store on the same kind of database).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tableStartsFor } from '../src/app/table-starts.js';
import { parseConfig } from '../src/config.js';
import { ScheduleWatch } from '../src/runtime/schedule-watch.js';
import type { App } from './app-tables-helpers.js';
import { llmTables, openApp } from './app-tables-helpers.js';
import type { Harness } from './helpers.js';
import { M, S, T0, describeEach, harness } from './helpers.js';

let h: Harness;
let app: App;
let starts: ReturnType<typeof tableStartsFor>;
const errors: string[] = [];

const HOURLY = { cron: '0 * * * *', grace: '5m' };

function watch(): ScheduleWatch {
  starts = tableStartsFor(h.config, h.dir);
  return new ScheduleWatch({
    specs: Object.values(h.config.schedules),
    tableStarts: starts.read,
    store: h.store.schedules(),
    clock: h.clock,
    events: h.bus,
    lease: (name, holder, now, ttlMs) => h.store.acquireLease(name, holder, now, ttlMs),
    maxWaitMs: 30 * S,
    onError: (error, where) => errors.push(`${where}: ${(error as Error).message}`),
  });
}

const scheduleEvents = () => h.events.filter((e) => e.type.startsWith('schedule:'));

await describeEach(
  ['postgres', 'sqlite'] as const,
  'schedules counting table rows on %s',
  (dialect) => {
    beforeEach(async () => {
      h = await harness(dialect, {});
      app = await openApp(dialect, h.dir);
      errors.length = 0;
    });
    afterEach(async () => {
      await starts?.close();
      await app.close();
      await h.close();
    });

    const configure = (schedules: object, tables: Record<string, unknown> = {}) => {
      h.config = parseConfig({ tables: llmTables(app, tables), schedules });
    };

    it('a row started within the grace is on time; its table is only read', async () => {
      configure({ chats: { ...HOURLY, table: 'interactions' } });
      const w = watch();
      h.clock.set(T0 - M);
      await w.pass();
      // An earlier page of rows outside the window (read on SQLite, whose text times are read by
      // the day) does not hide the one inside it.
      for (let id = 1; id <= 1_001; id++) {
        await app.interaction({ id, status: 'completed', startedAt: T0 - 30 * M + id * S });
      }
      await app.interaction({ id: 2_000, status: 'running', startedAt: T0 + 2 * M });
      const before = await app.rows('interactions');
      h.clock.set(T0 + 5 * M + S);
      await w.pass();
      expect(errors).toEqual([]);
      expect(scheduleEvents()).toEqual([]);
      expect((await w.status())[0]).toMatchObject({
        state: 'ok',
        lastJudgedDueAt: T0,
        lastStartAt: T0 + 2 * M,
      });
      expect(await app.rows('interactions')).toEqual(before);
    });

    it('no row: missed with its evidence; a row that starts later turns the miss late', async () => {
      configure({ chats: { ...HOURLY, table: 'interactions' } });
      const w = watch();
      h.clock.set(T0 - M);
      await w.pass();
      await app.interaction({ id: 1, status: 'completed', startedAt: T0 - 10 * M }); // too early
      h.clock.set(T0 + 5 * M + S);
      await w.pass();
      expect(errors).toEqual([]);
      expect(scheduleEvents()).toEqual([
        expect.objectContaining({
          type: 'schedule:missed',
          schedule: 'chats',
          dueAt: T0,
          graceMs: 5 * M,
          lastStartAt: null,
          count: 1,
          firstDueAt: T0,
        }),
      ]);
      await app.interaction({ id: 2, status: 'running', startedAt: T0 + 20 * M });
      h.clock.set(T0 + 21 * M);
      await w.pass();
      expect(scheduleEvents().at(-1)).toMatchObject({
        type: 'schedule:late',
        dueAt: T0,
        startAt: T0 + 20 * M,
        lateByMs: 20 * M,
      });
      expect((await w.status())[0]?.state).toBe('late');
    });

    it('with owner: only the rows whose owner column holds it count', async () => {
      configure({
        a: { ...HOURLY, table: 'interactions', owner: 'agent-a' },
        b: { ...HOURLY, table: 'interactions', owner: 'agent-b' },
      });
      const w = watch();
      h.clock.set(T0 - M);
      await w.pass();
      await app.interaction({ id: 1, status: 'running', startedAt: T0 + M, actor: 'agent-b' });
      h.clock.set(T0 + 6 * M);
      await w.pass();
      expect(errors).toEqual([]);
      expect(scheduleEvents().map((e) => e.schedule)).toEqual(['a']);
    });

    it('numbers of seconds in the start column are read in the table’s time unit', async () => {
      const jobs = app.table('jobs');
      await app.sql(
        `CREATE TABLE ${jobs} (id integer PRIMARY KEY, status text, started_at bigint)`,
      );
      configure(
        { jobs: { every: '10m', grace: '1m', table: 'jobs' } },
        {
          jobs: {
            database: app.url,
            table: jobs,
            id: 'id',
            status: { column: 'status', running: 'running', failed: 'failed', succeeded: 'done' },
            startedAt: 'started_at',
            timeUnit: 's',
          },
        },
      );
      const w = watch();
      h.clock.set(T0 - M);
      await w.pass();
      const param = dialect === 'postgres' ? ['$1', '$2'] : ['?', '?'];
      await app.sql(
        `INSERT INTO ${jobs} (id, status, started_at) VALUES (1, 'done', ${param[0]})`,
        [(T0 + 30 * S) / 1_000],
      );
      h.clock.set(T0 + 10 * M + M + S); // T0 judged on time; T0 + 10m missed
      await w.pass();
      expect(errors).toEqual([]);
      expect(scheduleEvents()).toEqual([
        expect.objectContaining({
          type: 'schedule:missed',
          dueAt: T0 + 10 * M,
          lastStartAt: T0 + 30 * S,
        }),
      ]);
    });

    it('a table that cannot be read is reported with its key, and nothing is judged missed', async () => {
      configure({ chats: { ...HOURLY, table: 'interactions' } });
      const w = watch();
      h.clock.set(T0 - M);
      await w.pass();
      await app.sql(`DROP TABLE ${app.table('interactions')}`);
      h.clock.set(T0 + 6 * M);
      await w.pass();
      expect(scheduleEvents()).toEqual([]);
      expect(errors).toEqual([
        expect.stringMatching(
          /^schedule chats: tables\.interactions\.table: table \S*interactions not found/,
        ),
      ]);
      expect((await w.status())[0]?.state).toBe('waiting');
    });
  },
);

describe('schedules.X.table in vigil.yaml', () => {
  const tables = {
    chats: {
      database: 'sqlite:app.db',
      table: 'interactions',
      kind: 'interaction',
      id: 'id',
      status: { column: 'status', running: 'running', failed: 'failed', succeeded: 'done' },
      startedAt: 'started_at',
    },
  };

  it('refuses an unknown table naming the known ones, a kind its rows never have, an owner it cannot tell', () => {
    expect(() =>
      parseConfig({
        tables,
        schedules: {
          a: { every: '1h', table: 'chat' },
          b: { every: '1h', table: 'chats', kind: 'backup' },
          c: { every: '1h', table: 'chats', owner: 'agent-a' },
          d: { every: '1h', table: 'toString' },
        },
      }),
    ).toThrow(
      [
        'invalid configuration:',
        '  - schedules.a.table: expected the name of a mapped table under "tables:" (chats), got "chat"',
        '  - schedules.b.kind: expected "interaction" (the kind of table chats\'s rows) or no kind, got "backup"',
        '  - schedules.c.owner: expected no owner: table chats maps no owner column (tables.chats.owner), got "agent-a"',
        '  - schedules.d.table: expected the name of a mapped table under "tables:" (chats), got "toString"',
      ].join('\n'),
    );
  });

  it("counts ledger executions of the table's kind only, even with an owner alone", () => {
    const config = parseConfig({
      tables: { chats: { ...tables.chats, owner: 'agent_id' } },
      schedules: { a: { every: '1h', table: 'chats', owner: 'agent-a' } },
    });
    expect(config.schedules.a?.counts).toEqual({
      kind: 'interaction',
      owner: 'agent-a',
      table: 'chats',
    });
  });

  it('takes a table with its own kind', () => {
    const config = parseConfig({
      tables,
      schedules: { a: { every: '1h', table: 'chats', kind: 'interaction' } },
    });
    expect(config.schedules.a?.counts).toEqual({
      kind: 'interaction',
      owner: null,
      table: 'chats',
    });
  });
});
