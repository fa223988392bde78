/**
 * The viewer token (reads everything, writes nothing) on each route class, and `GET /v1/events`
 * for runner tokens, scoped to their owner's executions, through a real SSE client.
 */
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Vigil } from '../src/app/vigil.js';
import { parseConfig } from '../src/config.js';
import { buildApp } from '../src/http/app.js';
import { FakeClock } from '../src/runtime/clock.js';
import type { SqlStore } from '../src/stores/sql-store.js';
import { openSqliteStore } from '../src/stores/sqlite.js';
import { M, T0, tempDir } from './helpers.js';
import type { EventStream } from './process-helpers.js';
import { subscribe, until } from './process-helpers.js';

const ADMIN = 'admin-token-0123456789';
const ALPHA = 'alpha-token-0123456789';
const BETA = 'beta-token-01234567890';
const VIEWER = 'viewer-token-0123456789';

let app: FastifyInstance;
let store: SqlStore;
let clock: FakeClock;
let vigil: Vigil;
let cleanup: () => void;

beforeEach(async () => {
  const dir = tempDir();
  cleanup = dir.cleanup;
  store = openSqliteStore(`${dir.dir}/vigil.db`);
  await store.migrate();
  clock = new FakeClock(T0);
  const config = parseConfig(
    {
      auth: {
        runners: [
          { owner: 'alpha', token: ALPHA },
          { owner: 'beta', token: BETA },
        ],
        viewers: [{ name: 'ops-dashboard', token: VIEWER }],
      },
    },
    { VIGIL_TOKEN: ADMIN },
  );
  vigil = new Vigil({ store, config, clock, watchEventLoop: false });
  app = await buildApp({ vigil, store, config, clock });
});
afterEach(async () => {
  await app.close();
  await store.close();
  cleanup();
});

const as = (token: string) => ({ authorization: `Bearer ${token}` });
const call = (method: 'GET' | 'POST' | 'DELETE', url: string, token: string, payload?: object) =>
  app.inject({ method, url, headers: as(token), ...(payload ? { payload } : {}) });

describe('a viewer token', () => {
  beforeEach(async () => {
    for (const [id, owner] of [
      ['a1', 'alpha'],
      ['b1', 'beta'],
    ]) {
      await call('POST', '/v1/executions', ADMIN, {
        id,
        kind: 'k',
        owner,
        limits: { heartbeat: '1m' },
      });
    }
    clock.advance(2 * M);
    expect((await call('POST', '/v1/sweeps', ADMIN, {})).statusCode).toBe(200);
    await call('POST', '/v1/executions', ADMIN, { id: 'live', kind: 'k', owner: 'beta' });
  });

  it('reads every owner’s executions, the audit, the stats, the metrics and the dashboard', async () => {
    const list = await call('GET', '/v1/executions', VIEWER);
    expect(list.statusCode).toBe(200);
    expect(
      list
        .json()
        .items.map((e: { id: string }) => e.id)
        .sort(),
    ).toEqual(['a1', 'b1', 'live']);
    expect((await call('GET', '/v1/executions?owner=beta', VIEWER)).json().items).toHaveLength(2);
    expect((await call('GET', '/v1/executions/b1', VIEWER)).json()).toMatchObject({
      owner: 'beta',
      status: 'failed',
    });
    expect((await call('GET', '/v1/remediations', VIEWER)).json().items).toHaveLength(2);
    for (const url of [
      '/v1/sweeps/latest',
      '/v1/summary',
      '/v1/processes',
      '/v1/probes',
      '/v1/operations',
      '/v1/owners',
      '/v1/notifications',
      '/metrics',
      '/openapi.json',
      '/healthz',
    ]) {
      expect((await call('GET', url, VIEWER)).statusCode, url).toBe(200);
    }
    // The same reads are still refused to a runner.
    expect((await call('GET', '/v1/remediations', ALPHA)).statusCode).toBe(403);
  });

  it('reads the retention settings, told it may not prune (the dashboard hides its buttons)', async () => {
    const viewer = await call('GET', '/v1/retention', VIEWER);
    expect(viewer.statusCode).toBe(200);
    expect(viewer.json()).toMatchObject({ canPrune: false, running: false, lastPass: null });
    expect((await call('GET', '/v1/retention', ADMIN)).json()).toMatchObject({ canPrune: true });
    expect((await call('GET', '/v1/retention', ALPHA)).statusCode).toBe(403);
  });

  it.each([
    ['POST', '/v1/executions', { kind: 'k' }],
    ['POST', '/v1/executions/live/start', { attempt: 1 }],
    ['POST', '/v1/executions/live/heartbeat', { attempt: 1 }],
    ['POST', '/v1/heartbeats', { beats: [{ id: 'live', attempt: 1 }] }],
    ['POST', '/v1/executions/live/complete', { attempt: 1 }],
    ['POST', '/v1/executions/live/fail', { attempt: 1, error: 'x' }],
    ['POST', '/v1/executions/live/cancel', { reason: 'x' }],
    ['POST', '/v1/executions/live/slots', { slot: 'gpu', ttl: 60_000 }],
    ['DELETE', '/v1/executions/live/slots/gpu?attempt=1', undefined],
    ['POST', '/v1/sweeps', { dryRun: true }],
    ['POST', '/v1/sweeps', {}],
    ['POST', '/v1/retention/prune', { dryRun: true }],
    ['POST', '/v1/retention/prune', {}],
  ] as const)('may not %s %s: 403, and nothing changes', async (method, url, payload) => {
    const before = (await call('GET', '/v1/executions/live', ADMIN)).json();
    const sweepsBefore = (await call('GET', '/v1/sweeps/latest', ADMIN)).json();
    const answer = await call(method, url, VIEWER, payload);
    expect(answer.statusCode).toBe(403);
    expect(answer.json().error).toEqual({
      code: 'forbidden',
      message: `a viewer token may only read: expected GET, got ${method} ${url.split('?')[0]}`,
    });
    expect((await call('GET', '/v1/executions/live', ADMIN)).json()).toEqual(before);
    expect((await call('GET', '/v1/sweeps/latest', ADMIN)).json()).toEqual(sweepsBefore);
  });
});

describe('GET /v1/events for runner tokens', () => {
  const streams: EventStream[] = [];
  afterEach(() => {
    for (const stream of streams.splice(0)) stream.close();
  });

  it("sends each runner only its owner's execution events; the admin and a viewer get them all", async () => {
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    const [alpha, beta, viewer, admin] = await Promise.all(
      [ALPHA, BETA, VIEWER, ADMIN].map((token) => subscribe(url, as(token))),
    );
    streams.push(alpha!, beta!, viewer!, admin!);
    for (const [id, owner] of [
      ['a1', 'alpha'],
      ['b1', 'beta'],
      ['n1', null],
    ]) {
      await call('POST', '/v1/executions', ADMIN, {
        id,
        kind: 'k',
        owner,
        limits: { heartbeat: '1m' },
      });
    }
    clock.advance(2 * M);
    expect((await call('POST', '/v1/sweeps', ADMIN, {})).statusCode).toBe(200);
    // Events that are no owner's executions: a process, a probe.
    const events = vigil.service.events;
    const at = clock.now();
    events.emit({
      type: 'process:unhealthy',
      at,
      name: 'web',
      verdict: 'timed_out',
      reason: 'no heartbeat',
      evidence: {},
    });
    events.emit({
      type: 'probe:failing',
      at,
      probe: 'api',
      url: 'http://127.0.0.1:1/health',
      reason: 'connection refused',
      consecutiveFailures: 3,
      process: null,
    });
    // Markers, last: once a runner has its marker, every event before it has been decided.
    for (const [id, owner] of [
      ['a-marker', 'alpha'],
      ['b-marker', 'beta'],
    ] as const) {
      await call('POST', '/v1/executions', ADMIN, { id, kind: 'k', owner });
      events.emit({
        type: 'execution:late-result',
        at,
        executionId: id,
        kind: 'k',
        attempt: 1,
        status: 'succeeded',
      });
    }
    const ids = (stream: EventStream) => stream.events.map((e) => String(e.data.executionId));
    await until(() => ids(alpha!).includes('a-marker'), { what: "alpha's marker" });
    await until(() => ids(beta!).includes('b-marker'), { what: "beta's marker" });
    await until(() => ids(viewer!).includes('b-marker'), { what: "the viewer's last event" });

    expect(new Set(ids(alpha!))).toEqual(new Set(['a1', 'a-marker']));
    expect(alpha!.events.every((e) => e.type.startsWith('execution:'))).toBe(true);
    expect(new Set(ids(beta!))).toEqual(new Set(['b1', 'b-marker']));
    expect(ids(alpha!).filter((id) => id === 'a1').length).toBeGreaterThanOrEqual(1);
    for (const all of [viewer!, admin!]) {
      await until(() => ids(all).includes('b-marker'), { what: 'every event' });
      expect(new Set(all.events.map((e) => e.type))).toEqual(
        new Set([
          ...alpha!.events.map((e) => e.type),
          ...beta!.events.map((e) => e.type),
          'sweep:completed',
          'process:unhealthy',
          'probe:failing',
        ]),
      );
      expect(ids(all)).toEqual(expect.arrayContaining(['a1', 'b1', 'n1']));
    }
  });
});
