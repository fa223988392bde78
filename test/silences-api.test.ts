/**
 * Silences and the pause through the HTTP API (in-process) and the CLI (`runMain`): created,
 * listed, expired, refused with the key named; the pause shown in /healthz and /metrics.
 */
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Vigil } from '../src/app/vigil.js';
import { parseConfig } from '../src/config.js';
import { buildApp } from '../src/http/app.js';
import { FakeClock } from '../src/runtime/clock.js';
import type { SqlStore } from '../src/stores/sql-store.js';
import { openSqliteStore } from '../src/stores/sqlite.js';
import { H, M, T0, runCli, tempDir } from './helpers.js';

let app: FastifyInstance;
let store: SqlStore;
let clock: FakeClock;
let dir: string;
let cleanup: () => void;

beforeEach(async () => {
  ({ dir, cleanup } = tempDir());
  store = openSqliteStore(`${dir}/vigil.db`);
  await store.migrate();
  clock = new FakeClock(T0);
  const config = parseConfig({
    silences: [
      {
        matchers: { owner: 'legacy' },
        startsAt: '2026-01-01T00:00:00Z',
        endsAt: '2027-01-01T00:00:00Z',
        comment: 'being retired',
      },
    ],
  });
  const vigil = new Vigil({ store, config, clock, watchEventLoop: false });
  app = await buildApp({ vigil, store, config, clock });
});
afterEach(async () => {
  await app.close();
  await store.close();
  cleanup();
});

const call = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown) =>
  app.inject({ method, url, payload: payload as object });

describe('silences over HTTP', () => {
  it('creates a maintenance window, lists it beside the configured one, expires it', async () => {
    const created = await call('POST', '/v1/silences', {
      matchers: { kind: 'backup', verdict: ['run_timeout', 'heartbeat_lost'] },
      duration: '2h',
      createdBy: 'alice',
      comment: 'moving the backup host',
      maintenance: true,
    });
    expect(created.statusCode).toBe(201);
    const silence = created.json<Record<string, unknown>>();
    expect(silence).toMatchObject({
      matchers: { kind: ['backup'], verdict: ['run_timeout', 'heartbeat_lost'] },
      startsAt: new Date(T0).toISOString(),
      endsAt: new Date(T0 + 2 * H).toISOString(),
      maintenance: true,
      state: 'active',
      origin: 'store',
    });
    const listed = await call('GET', '/v1/silences');
    expect(listed.json<{ items: { id: string }[] }>().items.map((s) => s.id)).toEqual([
      'config-1',
      silence.id,
    ]);

    clock.advance(M);
    const expired = await call('DELETE', `/v1/silences/${String(silence.id)}`);
    expect(expired.json()).toMatchObject({
      state: 'expired',
      endsAt: new Date(T0 + M).toISOString(),
    });
    expect((await call('GET', '/v1/silences')).json<{ items: unknown[] }>().items).toHaveLength(1);
    expect(
      (await call('GET', '/v1/silences?all=true')).json<{ items: unknown[] }>().items,
    ).toHaveLength(2);
    expect((await call('DELETE', '/v1/silences/nope')).statusCode).toBe(404);
    expect((await call('DELETE', '/v1/silences/config-1')).statusCode).toBe(409);
  });

  it('refuses a bad silence with every problem named, and stores nothing', async () => {
    const refused = await call('POST', '/v1/silences', {
      matchers: { colour: 'red' },
      duration: '5',
      comment: '',
    });
    expect(refused.statusCode).toBe(400);
    const message = refused.json<{ error: { message: string } }>().error.message;
    expect(message).toContain('body.matchers.colour: expected one of kind, owner, source, verdict');
    expect(message).toContain('body.duration: give a unit');
    expect(message).toContain('body.createdBy: expected a non-empty string, got nothing');
    expect(message).toContain('body.comment: expected a non-empty string');
    const backwards = await call('POST', '/v1/silences', {
      matchers: { kind: 'x' },
      startsAt: T0 + H,
      endsAt: T0,
      createdBy: 'a',
      comment: 'b',
    });
    expect(backwards.json<{ error: { message: string } }>().error.message).toContain(
      'body.endsAt: expected a moment after startsAt',
    );
    expect(await store.silences().listSilences({ limit: 10 })).toEqual([]);
  });

  it('pause and resume show in /v1/pause, /healthz and /metrics', async () => {
    expect((await call('GET', '/healthz')).json()).toMatchObject({ paused: false });
    const paused = await call('POST', '/v1/pause', { by: 'alice', comment: 'db failover' });
    expect(paused.json()).toMatchObject({ paused: true, by: 'alice', comment: 'db failover' });
    expect((await call('GET', '/v1/pause')).json()).toMatchObject({ paused: true });
    expect((await call('GET', '/healthz')).json()).toMatchObject({ paused: true });
    expect((await call('GET', '/metrics')).body).toMatch(/^vigil_paused\{replica="local"\} 1$/m);
    expect((await call('POST', '/v1/resume')).json()).toMatchObject({
      paused: false,
      resumed: true,
    });
    expect((await call('GET', '/metrics')).body).toMatch(/^vigil_paused\{replica="local"\} 0$/m);
  });
});

describe('silences from the CLI', () => {
  const io = () => ({ dir, clock, out: [] as string[], err: [] as string[] });

  it('adds, lists and expires a window; pauses and resumes', async () => {
    const at = io();
    expect(
      await runCli(
        [
          'silence',
          'add',
          '--match',
          'kind=backup',
          '--match',
          'owner=a,b',
          '--for',
          '2h',
          '--comment',
          'moving it',
          '--maintenance',
          '--by',
          'bob',
        ],
        at,
      ),
    ).toBe(0);
    const id = at.out[0]!;
    const stored = await store.silences().getSilence(id);
    expect(stored).toMatchObject({
      matchers: { kind: ['backup'], owner: ['a', 'b'] },
      endsAt: T0 + 2 * H,
      maintenance: true,
      createdBy: 'bob',
    });
    expect(await runCli(['silence', 'ls'], at)).toBe(0);
    expect(at.out.join('\n')).toContain('kind=backup owner=a,b');
    expect(await runCli(['silence', 'expire', id], at)).toBe(0);
    expect((await store.silences().getSilence(id))?.expiredAt).toBe(T0);
    expect(await runCli(['silence', 'expire', 'nope'], at)).toBe(2);

    expect(await runCli(['pause', '--comment', 'db failover'], at)).toBe(0);
    expect(await store.silences().pauseState()).toMatchObject({ comment: 'db failover' });
    expect(await runCli(['resume'], at)).toBe(0);
    expect(await store.silences().pauseState()).toBeNull();
  });

  it('refuses a duration without a unit and a matcher it does not know, naming the flag', async () => {
    const at = io();
    expect(
      await runCli(['silence', 'add', '--match', 'kind=x', '--for', '5', '--comment', 'c'], at),
    ).toBe(2);
    expect(at.err.join('\n')).toContain('--for: give a unit: 5s, 5m');
    expect(
      await runCli(['silence', 'add', '--match', 'team=x', '--for', '5m', '--comment', 'c'], at),
    ).toBe(2);
    expect(at.err.join('\n')).toContain('--match: expected a matcher like kind=backup');
    expect(await runCli(['silence', 'add', '--match', 'kind=x', '--for', '5m'], at)).toBe(2);
    expect(at.err.join('\n')).toContain('--comment: expected a non-empty string, got nothing');
    expect(await store.silences().listSilences({ limit: 10 })).toEqual([]);
  });
});
