import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { buildApp } from '../src/http/app.js';
import { Vigil } from '../src/app/vigil.js';
import type { Harness } from './helpers.js';
import { M, S, T0, harness, storeKinds, describeEach } from './helpers.js';

const H = 60 * M;
const at = (ms: number) => new Date(ms).toISOString();

await describeEach(storeKinds(), 'GET /v1/summary on %s', (kind) => {
  let h: Harness;
  let app: FastifyInstance;
  let vigil: Vigil;
  const get = async (url: string) => {
    const response = await app.inject({ method: 'GET', url });
    return { status: response.statusCode, json: response.json() };
  };

  beforeAll(async () => {
    h = await harness(kind);
    vigil = new Vigil({
      store: h.store,
      config: h.config,
      clock: h.clock,
      watchEventLoop: false,
    });
    app = await buildApp({ vigil, store: h.store, config: h.config, clock: h.clock });
    const { ledger } = vigil.service;

    // 12:00 — one runner goes quiet and is ended at 12:00:31 (heartbeat_lost).
    await ledger.register({ id: 'quiet', kind: 'k', limits: { heartbeat: '30s' } });
    await ledger.register({ id: 'done', kind: 'k' });
    await ledger.complete('done', 1, { ok: true });
    await ledger.register({ id: 'stopped', kind: 'k' });
    await ledger.cancel('stopped', 'operator said so');
    h.clock.set(T0 + 31 * S);
    expect((await vigil.service.sweep({ dryRun: false })).kind).toBe('completed');

    // 13:05 — a run limit passes and is ended at 13:07 (run_timeout).
    h.clock.set(T0 + H + 5 * M);
    await ledger.register({ id: 'long', kind: 'k', limits: { run: '1m' } });
    h.clock.set(T0 + H + 7 * M);
    expect((await vigil.service.sweep({ dryRun: false })).kind).toBe('completed');

    // A dry run past a deadline decides but changes nothing: it must not be counted.
    await ledger.register({ id: 'soon', kind: 'k', limits: { heartbeat: '10s' } });
    await ledger.register({ id: 'later', kind: 'k', limits: { heartbeat: '10m' } });
    await ledger.register({ id: 'waiting', kind: 'k', status: 'queued', limits: { queue: '5m' } });
    h.clock.set(T0 + H + 7 * M + 11 * S);
    const dry = await vigil.service.sweep({ dryRun: true });
    expect(dry.kind === 'completed' && dry.report.decisions).toHaveLength(1);
    h.clock.set(T0 + H + 8 * M);
  });

  afterAll(async () => {
    await app?.close();
    await h?.close();
  });

  it('counts executions by status and remediations by verdict, in aligned buckets', async () => {
    const { status, json } = await get('/v1/summary?since=2h&bucket=1h');
    expect(status).toBe(200);
    expect(json).toMatchObject({
      now: at(T0 + H + 8 * M),
      since: at(T0 - H + 8 * M),
      bucketMs: H,
      statuses: { running: 2, queued: 1, failed: 2, succeeded: 1, cancelled: 1 },
      verdicts: { heartbeat_lost: 1, run_timeout: 1 },
    });
    expect(json.timeline).toEqual([
      { start: at(T0 - H), counts: {} },
      { start: at(T0), counts: { heartbeat_lost: 1 } },
      { start: at(T0 + H), counts: { run_timeout: 1 } },
    ]);
  });

  it('lists open executions nearest their deadline first, overdue ones included', async () => {
    const { json } = await get('/v1/summary?dueSoon=3');
    expect(json.dueSoon.map((e: { id: string }) => e.id)).toEqual(['soon', 'waiting', 'later']);
    expect(json.dueSoon[0]).toMatchObject({
      status: 'running',
      deadlineAt: at(T0 + H + 7 * M + 10 * S),
      limits: { heartbeat: 10 * S },
    });
    expect((await get('/v1/summary?dueSoon=0')).json.dueSoon).toEqual([]);
  });

  it('leaves remediations before `since` out, and accepts an ISO time', async () => {
    const { json } = await get(`/v1/summary?since=${at(T0 + H)}&bucket=30m`);
    expect(json.verdicts).toEqual({ run_timeout: 1 });
    expect(json.timeline).toEqual([{ start: at(T0 + H), counts: { run_timeout: 1 } }]);
  });

  it('by default covers 24 hours in at most 49 bars of a round width', async () => {
    const { status, json } = await get('/v1/summary');
    expect(status).toBe(200);
    expect(json.since).toBe(at(T0 + H + 8 * M - 24 * H));
    expect(json.bucketMs).toBe(30 * M);
    expect(json.timeline.length).toBeLessThanOrEqual(49);
    expect(json.timeline.at(-1).start).toBe(at(T0 + H));
    expect(json.dueSoon).toHaveLength(3);
  });

  it.each([
    ['since=yesterday', 'query.since: expected an ISO time or a duration like "24h"'],
    [`since=${at(T0 + 2 * H)}`, 'query.since: expected a moment in the past'],
    ['bucket=soon', 'query.bucket: expected a duration'],
    ['bucket=500ms', 'query.bucket: expected at least 1s, got "500ms"'],
    ['since=24h&bucket=1m', 'query.bucket: "1m" makes 1440 buckets'],
    ['dueSoon=-1', 'query.dueSoon:'],
    ['dueSoon=many', 'query.dueSoon:'],
    ['verdict=orphaned', 'query: unknown field verdict'],
  ])('refuses %s with a 400 naming the parameter', async (query, message) => {
    const { status, json } = await get(`/v1/summary?${query}`);
    expect(status).toBe(400);
    expect(json.error.code).toBe('bad_input');
    expect(json.error.message).toContain(message);
  });
});

describe('GET /v1/summary with tokens configured', () => {
  let h: Harness;
  let app: FastifyInstance;
  const token = 'admin-token-0123456789';
  const runner = 'runner-token-0123456789';

  beforeAll(async () => {
    h = await harness('sqlite');
    const config = parseConfig(
      { auth: { runners: [{ owner: 'gpu-1', token: runner }] } },
      { VIGIL_TOKEN: token },
    );
    const vigil = new Vigil({ store: h.store, config, clock: h.clock, watchEventLoop: false });
    app = await buildApp({ vigil, store: h.store, config, clock: h.clock });
  });
  afterAll(async () => {
    await app?.close();
    await h?.close();
  });

  it('is described in /openapi.json with its query parameters', async () => {
    const doc = (
      await app.inject({
        method: 'GET',
        url: '/openapi.json',
        headers: { authorization: `Bearer ${token}` },
      })
    ).json();
    const names = doc.paths['/v1/summary'].get.parameters.map((p: { name: string }) => p.name);
    expect(names).toEqual(['since', 'bucket', 'dueSoon']);
  });

  it('answers the admin token only', async () => {
    const call = (headers: Record<string, string>) =>
      app.inject({ method: 'GET', url: '/v1/summary', headers });
    expect((await call({})).statusCode).toBe(401);
    expect((await call({ authorization: `Bearer ${runner}` })).statusCode).toBe(403);
    expect((await call({ authorization: `Bearer ${token}` })).statusCode).toBe(200);
  });
});
