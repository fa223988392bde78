import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Vigil } from '../src/app/vigil.js';
import { parseConfig } from '../src/config.js';
import { buildApp } from '../src/http/app.js';
import type { Harness } from './helpers.js';
import { M, S, T0, describeEach, harness, storeKinds } from './helpers.js';

const ADMIN = 'admin-token-0123456789';
const ALPHA = 'alpha-token-0123456789';
const as = (token: string) => ({ authorization: `Bearer ${token}` });

await describeEach(storeKinds(), 'GET /v1/stats on %s', (kind) => {
  let h: Harness;
  let app: FastifyInstance;
  const get = async (url: string, token = ADMIN) => {
    const response = await app.inject({ method: 'GET', url, headers: as(token) });
    return { status: response.statusCode, json: response.json() };
  };

  beforeAll(async () => {
    h = await harness(kind);
    const config = parseConfig(
      { auth: { runners: [{ owner: 'alpha', token: ALPHA }] } },
      { VIGIL_TOKEN: ADMIN },
    );
    const vigil = new Vigil({ store: h.store, config, clock: h.clock, watchEventLoop: false });
    app = await buildApp({ vigil, store: h.store, config, clock: h.clock });
    const { ledger } = vigil.service;
    // alpha: two embeds go quiet; beta: one backup overruns. Ended at 12:01.
    for (const id of ['e1', 'e2']) {
      await ledger.register({
        id,
        kind: 'embed',
        owner: 'alpha',
        limits: { heartbeat: '30s' },
        metadata: { team: 'search' },
      });
    }
    await ledger.register({ id: 'b1', kind: 'backup', owner: 'beta', limits: { run: '45s' } });
    h.clock.set(T0 + M);
    expect((await vigil.service.sweep({ dryRun: false })).kind).toBe('completed');
    // A dry run decides about a later one and must not count.
    await ledger.register({ id: 'b2', kind: 'backup', owner: 'beta', limits: { run: '10s' } });
    h.clock.set(T0 + 2 * M);
    expect((await vigil.service.sweep({ dryRun: true })).kind).toBe('completed');
    h.clock.set(T0 + 3 * M);
  });

  afterAll(async () => {
    await app?.close();
    await h?.close();
  });

  it('groups stuck executions by kind and owner, most first, with their durations', async () => {
    const { status, json } = await get('/v1/stats?by=kind,owner');
    expect(status).toBe(200);
    expect(json).toMatchObject({
      from: new Date(T0 + 3 * M - 24 * 60 * M).toISOString(),
      to: new Date(T0 + 3 * M).toISOString(),
      by: ['kind', 'owner'],
      totalStuck: 3,
      totalGroups: 2,
    });
    expect(json.groups).toEqual([
      {
        key: { kind: 'embed', owner: 'alpha' },
        stuck: 2,
        verdicts: { heartbeat_lost: 2 },
        ended: 2,
        retried: 0,
        deadLettered: 0,
        leftAlone: 0,
        failed: 0,
        ranMs: { p50: M, p95: M, max: M },
        lateMs: { p50: 30 * S, p95: 30 * S, max: 30 * S },
      },
      expect.objectContaining({
        key: { kind: 'backup', owner: 'beta' },
        stuck: 1,
        verdicts: { run_timeout: 1 },
        ranMs: { p50: M, p95: M, max: M },
        lateMs: { p50: 15 * S, p95: 15 * S, max: 15 * S },
      }),
    ]);
  });

  it('groups by a metadata label, keeps the top `limit`, and honours from/to', async () => {
    const byTeam = await get('/v1/stats?by=label:team&limit=1');
    expect(byTeam.json).toMatchObject({
      totalGroups: 2,
      groups: [{ key: { 'label:team': 'search' }, stuck: 2 }],
    });
    const before = await get(
      `/v1/stats?from=${new Date(T0).toISOString()}&to=${new Date(T0 + M).toISOString()}`,
    );
    expect(before.json).toMatchObject({ totalStuck: 0, groups: [] });
  });

  it("shows a runner token its own owner's groups only", async () => {
    const { status, json } = await get('/v1/stats?by=owner', ALPHA);
    expect(status).toBe(200);
    expect(json).toMatchObject({ totalStuck: 2, groups: [{ key: { owner: 'alpha' }, stuck: 2 }] });
    expect(json.groups).toHaveLength(1);
  });

  it.each([
    [
      'since=yesterday',
      'query.since: expected a duration like "24h" or an ISO time with its zone, got "yesterday"',
    ],
    [
      'since=5',
      'query.since: expected a duration like "24h" or an ISO time with its zone, got "5"',
    ],
    ['since=1h&from=2026-01-01', 'query.since: expected since or from, not both'],
    [
      'from=soon',
      'query.from: expected an ISO time with its zone (2026-01-01T00:00:00Z), got "soon"',
    ],
    ['to=2020-01-01T00:00:00Z', 'query.since: expected a moment before 2020-01-01T00:00:00.000Z'],
    ['by=colour', 'query.by: expected kind, owner, source, verdict or label:NAME'],
    ['by=label:a.b', 'query.by: expected kind, owner, source, verdict or label:NAME'],
    ['by=kind,kind', 'query.by: expected each key once, got kind twice'],
    ['limit=0', 'query.limit:'],
    ['limit=many', 'query.limit:'],
    ['verdict=orphaned', 'query: unknown field verdict'],
  ])('refuses %s with a 400 naming the parameter', async (query, message) => {
    const { status, json } = await get(`/v1/stats?${query}`);
    expect(status).toBe(400);
    expect(json.error.code).toBe('bad_input');
    expect(json.error.message).toContain(message);
  });

  it('refuses a request without a token', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/stats' });
    expect(response.statusCode).toBe(401);
  });
});
