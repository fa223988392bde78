/**
 * Schedules defined through the API (`PUT` and `DELETE /v1/schedules/:name`), in-process on SQLite
 * and PostgreSQL: checked like vigil.yaml's, stored in the database, followed by every replica,
 * judged from their next due time on; vigil.yaml's own are refused.
 */
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Vigil } from '../src/app/vigil.js';
import { parseConfig } from '../src/config.js';
import { buildApp } from '../src/http/app.js';
import type { ExecutionStore } from '../src/ports/execution-store.js';
import type { Harness } from './helpers.js';
import { M, T0, describeEach, harness, storeKinds } from './helpers.js';

const ADMIN = 'admin-token-0123456789';
const RUNNER = 'runner-token-0123456789';
const VIEWER = 'viewer-token-0123456789';

let h: Harness;
let app: FastifyInstance;
let vigil: Vigil;
const others: ExecutionStore[] = [];

const config = () =>
  parseConfig(
    {
      auth: {
        runners: [{ owner: 'host-a', token: RUNNER }],
        viewers: [{ name: 'dashboard', token: VIEWER }],
      },
      schedules: { nightly: { cron: '0 3 * * *', kind: 'backup' } },
    },
    { VIGIL_TOKEN: ADMIN },
  );

/** Another replica: its own connection to the same database, its own Vigil. */
function replica(): Vigil {
  const store = h.openAnother();
  others.push(store);
  return new Vigil({ store, config: h.config, clock: h.clock, watchEventLoop: false });
}

const call = (method: 'GET' | 'PUT' | 'DELETE', url: string, payload?: object, token = ADMIN) =>
  app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${token}` },
    ...(payload ? { payload } : {}),
  });

const listed = async () =>
  (await call('GET', '/v1/schedules')).json<{
    items: { name: string; source: string; state: string }[];
  }>().items;

await describeEach(storeKinds(), 'schedules through the API on %s', (kind) => {
  beforeEach(async () => {
    h = await harness(kind);
    h.config = config();
    vigil = new Vigil({ store: h.store, config: h.config, clock: h.clock, watchEventLoop: false });
    app = await buildApp({ vigil, store: h.store, config: h.config, clock: h.clock });
  });
  afterEach(async () => {
    await app.close();
    await Promise.all(others.splice(0).map((store) => store.close()));
    await h.close();
  });

  it('creates, lists beside vigil.yaml’s, replaces and deletes a schedule', async () => {
    const created = await call('PUT', '/v1/schedules/exports', { every: '10m', grace: '2m' });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({
      name: 'exports',
      source: 'api',
      everyMs: 10 * M,
      graceMs: 2 * M,
      counts: { kind: null, owner: null, table: null },
      state: 'waiting',
      nextDueAt: new Date(T0 + 10 * M).toISOString(),
    });
    expect((await listed()).map((s) => [s.name, s.source])).toEqual([
      ['nightly', 'config'],
      ['exports', 'api'],
    ]);
    const replaced = await call('PUT', '/v1/schedules/exports', {
      cron: '*/15 * * * *',
      tz: 'Europe/Berlin',
      owner: 'host-a',
    });
    expect(replaced.statusCode).toBe(200);
    expect(replaced.json()).toMatchObject({
      cron: '*/15 * * * *',
      tz: 'Europe/Berlin',
      everyMs: null,
      graceMs: 5 * M,
      counts: { owner: 'host-a' },
    });
    // Every replica follows: another one reads the schedule from the database.
    expect((await replica().schedules.status()).map((s) => s.spec.name)).toEqual([
      'nightly',
      'exports',
    ]);
    const deleted = await call('DELETE', '/v1/schedules/exports');
    expect(deleted.statusCode).toBe(200);
    expect(deleted.json()).toEqual({ name: 'exports', deleted: true });
    expect((await listed()).map((s) => s.name)).toEqual(['nightly']);
    const again = await call('DELETE', '/v1/schedules/exports');
    expect(again.statusCode).toBe(404);
    expect(again.json().error.message).toBe(
      'no schedule named "exports" defined through the API (defined: none)',
    );
  });

  it('refuses a bad body with 400 naming each key, and vigil.yaml’s schedules with 409', async () => {
    const bad = async (body: object) => {
      const response = await call('PUT', '/v1/schedules/exports', body);
      expect(response.statusCode).toBe(400);
      return response.json<{ error: { code: string; message: string } }>().error.message;
    };
    expect(await bad({ every: '10' })).toBe(
      'body.every: give a unit: "10s", "10m" (a number without quotes is milliseconds), got "10"',
    );
    expect(await bad({ grace: '1m' })).toBe(
      'body: expected exactly one of "cron" or "every", got neither',
    );
    expect(await bad({ cron: '61 * * * *', table: 'chats' })).toBe(
      'body.cron: expected a cron expression like "*/5 * * * *", got "61 * * * *" (CronPattern: Invalid value for minute: 61); body.table: expected the name of a mapped table under "tables:" (none), got "chats"',
    );
    expect(await bad({ every: '1h', evrey: '1h' })).toBe(
      'body: unknown key "evrey" (did you mean "every"?)',
    );
    expect(await bad({ cron: '0 * * * *', tz: 'Mars/Olympus' })).toBe(
      'body.tz: expected an IANA time zone like "Europe/Berlin" or "UTC", got "Mars/Olympus"',
    );
    const badName = await call('PUT', '/v1/schedules/a%20b', { every: '1h' });
    expect(badName.json().error.message).toBe(
      'name: expected a name of letters, digits, _ . - (at most 100), got "a b"',
    );
    for (const response of [
      await call('PUT', '/v1/schedules/nightly', { every: '1h' }),
      await call('DELETE', '/v1/schedules/nightly'),
    ]) {
      expect(response.statusCode).toBe(409);
      expect(response.json().error.message).toMatch(
        /^schedule "nightly" is defined in defaults \(schedules\.nightly\) and cannot be (replaced|deleted) through the API or the CLI: change it in the file$/,
      );
    }
    expect((await listed()).map((s) => s.source)).toEqual(['config']);
  });

  it('is the admin’s: runner and viewer tokens get 403', async () => {
    for (const token of [RUNNER, VIEWER]) {
      expect((await call('PUT', '/v1/schedules/x', { every: '1h' }, token)).statusCode).toBe(403);
      expect((await call('DELETE', '/v1/schedules/nightly', undefined, token)).statusCode).toBe(
        403,
      );
    }
    expect((await call('GET', '/v1/schedules', undefined, RUNNER)).statusCode).toBe(403);
    expect(await listed()).toHaveLength(1);
  });

  it('judges a new schedule from its next due time on; a new timing starts again; a delete keeps its verdicts', async () => {
    h.clock.set(T0 + 30 * M);
    await call('PUT', '/v1/schedules/hourly', { cron: '0 * * * *', grace: '5m' });
    h.clock.set(T0 + 66 * M);
    // Judged by another replica: the definition is in the database.
    const other = replica();
    await other.schedules.pass();
    const events: { type: string; dueAt?: number }[] = [];
    vigil.service.events.on((event) => events.push(event));
    const missed = () => events.filter((e) => e.type === 'schedule:missed');
    const verdicts = await h.store.schedules().listVerdicts('hourly', 10);
    expect(verdicts.map((v) => v.dueAt)).toEqual([T0 + 60 * M]); // 12:00 was before it existed
    // Replacing the grace keeps judging where it stood; a new timing starts it again.
    await call('PUT', '/v1/schedules/hourly', { cron: '0 * * * *', grace: '10m' });
    expect((await vigil.schedules.status())[1]).toMatchObject({ state: 'missed' });
    h.clock.set(T0 + 90 * M);
    await call('PUT', '/v1/schedules/hourly', { cron: '30 * * * *', grace: '5m' });
    expect((await vigil.schedules.status())[1]).toMatchObject({ state: 'waiting' });
    h.clock.set(T0 + 96 * M); // 13:30 counts: its grace had not ended when the timing was set
    await vigil.schedules.pass();
    h.clock.set(T0 + 156 * M);
    await vigil.schedules.pass();
    expect(missed().map((e) => e.dueAt)).toEqual([T0 + 90 * M, T0 + 150 * M]);
    await call('DELETE', '/v1/schedules/hourly');
    expect(
      (await h.store.schedules().listVerdicts('hourly', 10)).map((v) => v.dueAt).sort(),
    ).toEqual([T0 + 60 * M, T0 + 90 * M, T0 + 150 * M]);
  });

  it('a stored schedule whose table has left vigil.yaml is not judged, and that is reported once', async () => {
    const tables = {
      chats: {
        database: 'sqlite:app.db',
        table: 'chats',
        id: 'id',
        status: { column: 'status', running: 'running', failed: 'failed', succeeded: 'done' },
        startedAt: 'started_at',
      },
    };
    const withTable = parseConfig({ tables }, { VIGIL_TOKEN: ADMIN });
    const before = new Vigil({ store: h.store, config: withTable, clock: h.clock });
    const first = await buildApp({
      vigil: before,
      store: h.store,
      config: withTable,
      clock: h.clock,
    });
    const put = await first.inject({
      method: 'PUT',
      url: '/v1/schedules/chats-hourly',
      headers: { authorization: `Bearer ${ADMIN}` },
      payload: { every: '1h', table: 'chats' },
    });
    expect(put.statusCode).toBe(201);
    await first.close();
    const errors: string[] = [];
    const after = new Vigil({
      store: h.store,
      config: h.config,
      clock: h.clock,
      watchEventLoop: false,
      onError: (error, where) => errors.push(`${where}: ${(error as Error).message}`),
    });
    expect((await after.schedules.status()).map((s) => s.spec.name)).toEqual(['nightly']);
    await after.schedules.pass();
    expect(errors).toEqual([
      'schedule chats-hourly: not judged: definition.table: expected the name of a mapped table under "tables:" (none), got "chats"',
    ]);
  });

  it('a stored schedule that vigil.yaml has since defined is not judged, and can still be deleted', async () => {
    // Stored through the API while vigil.yaml did not define "nightly"…
    const without = parseConfig({}, { VIGIL_TOKEN: ADMIN });
    const before = new Vigil({ store: h.store, config: without, clock: h.clock });
    const first = await buildApp({
      vigil: before,
      store: h.store,
      config: without,
      clock: h.clock,
    });
    const put = await first.inject({
      method: 'PUT',
      url: '/v1/schedules/nightly',
      headers: { authorization: `Bearer ${ADMIN}` },
      payload: { every: '1h' },
    });
    expect(put.statusCode).toBe(201);
    await first.close();
    // …then vigil.yaml defines it: vigil.yaml's is the one judged and listed.
    const errors: string[] = [];
    const after = new Vigil({
      store: h.store,
      config: h.config,
      clock: h.clock,
      watchEventLoop: false,
      onError: (error, where) => errors.push(`${where}: ${(error as Error).message}`),
    });
    const status = await after.schedules.status();
    expect(status.map((s) => [s.spec.name, s.spec.source])).toEqual([['nightly', 'config']]);
    await after.schedules.pass();
    await after.schedules.pass();
    expect(errors).toEqual([
      'schedule nightly: not judged: defaults now defines schedules.nightly, which is judged instead; delete the stored one with DELETE /v1/schedules/nightly or vigil schedules rm nightly',
    ]);
    // The stored one can be deleted; after that a delete is refused as for any of vigil.yaml's.
    expect((await call('DELETE', '/v1/schedules/nightly')).statusCode).toBe(200);
    expect(await h.store.schedules().listDefinitions()).toEqual([]);
    expect((await call('DELETE', '/v1/schedules/nightly')).statusCode).toBe(409);
  });
});
