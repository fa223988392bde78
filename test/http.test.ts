import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { buildApp } from '../src/http/app.js';
import { FakeClock } from '../src/runtime/clock.js';
import { Vigil } from '../src/app/vigil.js';
import type { SqlStore } from '../src/stores/sql-store.js';
import { openSqliteStore } from '../src/stores/sqlite.js';
import { M, S, T0, tempDir } from './helpers.js';
import { until } from './process-helpers.js';

let app: FastifyInstance;
let store: SqlStore;
let clock: FakeClock;
let vigil: Vigil;
let cleanup: () => void;

async function setup(raw: unknown = {}, env: Record<string, string> = {}) {
  const dir = tempDir();
  cleanup = dir.cleanup;
  store = openSqliteStore(`${dir.dir}/vigil.db`);
  await store.migrate();
  clock = new FakeClock(T0);
  const config = parseConfig(raw, env);
  vigil = new Vigil({ store, config, clock, watchEventLoop: false });
  app = await buildApp({ vigil, store, config, clock });
}

afterEach(async () => {
  await app.close();
  await store.close();
  cleanup();
});

const post = (url: string, payload?: unknown, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url, payload: payload as object, headers });
const get = (url: string, headers: Record<string, string> = {}) =>
  app.inject({ method: 'GET', url, headers });

describe('the execution lifecycle over HTTP', () => {
  beforeEach(() => setup({ kinds: { flaky: { retry: { maxAttempts: 2, backoff: '1s' } } } }));

  it("registers, beats, completes, and answers in the contract's JSON", async () => {
    const created = await post('/v1/executions', {
      id: 'job-1',
      kind: 'embed',
      limits: { heartbeat: '30s' },
      metadata: { doc: 7 },
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({
      id: 'job-1',
      kind: 'embed',
      owner: null,
      status: 'running',
      attempt: 1,
      startedAt: new Date(T0).toISOString(),
      deadlineAt: new Date(T0 + 30 * S).toISOString(),
      limits: { run: 15 * M, heartbeat: 30 * S, progress: null, queue: null },
      metadata: { doc: 7 },
      lateResult: null,
    });
    expect((await post('/v1/executions', { id: 'job-1', kind: 'embed' })).json()).toMatchObject({
      error: { code: 'already_exists' },
    });

    clock.advance(10 * S);
    const beat = await post('/v1/executions/job-1/heartbeat', { attempt: 1, progress: 'page 3' });
    expect(beat.statusCode).toBe(200);
    expect(beat.json()).toEqual({ deadlineAt: new Date(T0 + 40 * S).toISOString() });

    const done = await post('/v1/executions/job-1/complete', { attempt: 1, result: { pages: 9 } });
    expect(done.statusCode).toBe(200);
    expect(done.json()).toMatchObject({
      status: 'succeeded',
      endedBy: 'runner',
      result: { pages: 9 },
      progress: 'page 3',
    });
    expect((await get('/v1/executions/job-1')).json()).toMatchObject({ status: 'succeeded' });
    expect((await get('/v1/executions/nope')).statusCode).toBe(404);
  });

  it('queued → running with start, fenced by attempt', async () => {
    await post('/v1/executions', { id: 'q', kind: 'embed', status: 'queued' });
    expect((await post('/v1/executions/q/start', { attempt: 2 })).statusCode).toBe(409);
    const started = await post('/v1/executions/q/start', { attempt: 1 });
    expect(started.json()).toMatchObject({
      status: 'running',
      startedAt: new Date(T0).toISOString(),
    });
  });

  it('a heartbeat with a stale attempt answers 409 lost_ownership with status and reason', async () => {
    await post('/v1/executions', { id: 'j', kind: 'flaky', limits: { run: '1m' } });
    clock.advance(2 * M);
    await post('/v1/sweeps', {});
    const stale = await post('/v1/executions/j/heartbeat', { attempt: 1 });
    expect(stale.statusCode).toBe(409);
    expect(stale.json()).toMatchObject({
      error: { code: 'lost_ownership' },
      status: 'queued',
      reason: 'attempt 1 is over; the execution is on attempt 2',
    });
  });

  it('a late complete answers 409 already_ended and the result is kept as lateResult', async () => {
    await post('/v1/executions', { id: 'late', kind: 'embed', limits: { heartbeat: '1m' } });
    clock.advance(2 * M);
    const sweep = await post('/v1/sweeps', {});
    expect(sweep.json().counts).toMatchObject({ heartbeat_lost: 1, remediated: 1 });
    clock.advance(S);
    const late = await post('/v1/executions/late/complete', {
      attempt: 1,
      result: 'done after all',
    });
    expect(late.statusCode).toBe(409);
    expect(late.json()).toMatchObject({
      error: { code: 'already_ended' },
      execution: {
        status: 'failed',
        verdict: 'heartbeat_lost',
        lateResult: {
          status: 'succeeded',
          result: 'done after all',
          attempt: 1,
          at: new Date(T0 + 2 * M + S).toISOString(),
        },
      },
    });
    expect((await get('/v1/executions/late')).json().lateResult).toMatchObject({
      result: 'done after all',
    });
  });

  it('a second, different late report is answered as not kept; a repeat of the kept one as kept', async () => {
    await post('/v1/executions', { id: 'twice', kind: 'embed', limits: { heartbeat: '1m' } });
    clock.advance(2 * M);
    await post('/v1/sweeps', {});
    const first = await post('/v1/executions/twice/complete', { attempt: 1, result: 'first' });
    expect(first.json()).toMatchObject({ lateResultKept: true });

    const other = await post('/v1/executions/twice/fail', { attempt: 1, error: 'second' });
    expect(other.statusCode).toBe(409);
    expect(other.json()).toMatchObject({
      error: {
        code: 'already_ended',
        message: expect.stringMatching(/different late result .* was NOT kept/),
      },
      lateResultKept: false,
      execution: { lateResult: { status: 'succeeded', result: 'first' } },
    });
    const repeat = await post('/v1/executions/twice/complete', { attempt: 1, result: 'first' });
    expect(repeat.json()).toMatchObject({
      error: { message: expect.stringMatching(/kept as lateResult/) },
      lateResultKept: true,
    });
  });

  it('batch heartbeats answer which beats landed and which lost ownership', async () => {
    await post('/v1/executions', { id: 'a', kind: 'embed' });
    await post('/v1/executions', { id: 'b', kind: 'embed' });
    await post('/v1/executions/b/cancel', { reason: 'not needed' });
    const res = await post('/v1/heartbeats', {
      beats: [
        { id: 'a', attempt: 1 },
        { id: 'b', attempt: 1 },
        { id: 'c', attempt: 1 },
      ],
    });
    expect(res.json()).toEqual({
      ok: ['a'],
      lost: [
        { id: 'b', status: 'cancelled', reason: 'not needed' },
        { id: 'c', status: null, reason: 'no such execution' },
      ],
    });
  });

  it('409 already_ended always carries the execution; a beat for an unknown id is a 404', async () => {
    await post('/v1/executions', { id: 'c', kind: 'embed' });
    await post('/v1/executions/c/cancel', {});
    const again = await post('/v1/executions/c/cancel', {});
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({
      error: { code: 'already_ended' },
      execution: { id: 'c', status: 'cancelled', endedBy: 'operator' },
    });
    const done = await post('/v1/executions/c/complete', { attempt: 1 });
    expect(done.json()).toMatchObject({
      error: { code: 'already_ended' },
      execution: { id: 'c', status: 'cancelled' },
    });
    expect((await post('/v1/executions/ghost/heartbeat', { attempt: 1 })).statusCode).toBe(404);
  });

  it("fail with retryable retries under the kind's policy", async () => {
    await post('/v1/executions', { id: 'r', kind: 'flaky' });
    const failed = await post('/v1/executions/r/fail', {
      attempt: 1,
      error: 'timeout talking to S3',
      retryable: true,
    });
    expect(failed.json()).toMatchObject({ status: 'queued', attempt: 2 });
    const again = await post('/v1/executions/r/fail', { attempt: 1, error: 'x' });
    expect(again.statusCode).toBe(409);
  });

  it('lists with filters and cursors', async () => {
    for (let i = 0; i < 5; i++) {
      await post('/v1/executions', { id: `e${i}`, kind: i % 2 ? 'odd' : 'even' });
      clock.advance(1);
    }
    const first = (await get('/v1/executions?limit=2')).json();
    expect(first.items.map((e: { id: string }) => e.id)).toEqual(['e4', 'e3']);
    const second = (await get(`/v1/executions?limit=2&cursor=${first.nextCursor}`)).json();
    expect(second.items.map((e: { id: string }) => e.id)).toEqual(['e2', 'e1']);
    expect((await get('/v1/executions?kind=odd')).json().items).toHaveLength(2);
    expect((await get('/v1/executions?status=bogus')).statusCode).toBe(400);
  });

  it('sweeps, dry runs, the latest report and the audit trail', async () => {
    expect((await get('/v1/sweeps/latest')).statusCode).toBe(404);
    await post('/v1/executions', { id: 's', kind: 'embed' });
    clock.advance(16 * M);
    const dry = (await post('/v1/sweeps', { dryRun: true })).json();
    expect(dry).toMatchObject({
      dryRun: true,
      decisions: [{ executionId: 's', verdict: 'run_timeout', outcome: 'dry_run' }],
    });
    expect((await get('/v1/executions/s')).json().status).toBe('running');
    await post('/v1/sweeps');
    expect((await get('/v1/sweeps/latest')).json()).toMatchObject({
      dryRun: false,
      counts: { remediated: 1 },
    });
    const audit = (await get('/v1/remediations?verdict=run_timeout&since=1h')).json();
    expect(audit.items).toEqual([
      expect.objectContaining({
        executionId: 's',
        outcome: 'remediated',
        steps: [expect.objectContaining({ step: 'end', outcome: 'ok' })],
      }),
    ]);
    expect((await get('/v1/remediations?since=yesterday')).statusCode).toBe(400);
  });

  it('/healthz turns 503 when no sweep has succeeded for 3 intervals', async () => {
    expect((await get('/healthz')).json()).toMatchObject({ status: 'ok', lastSweepAt: null });
    await post('/v1/sweeps');
    clock.advance(3 * 30 * S);
    expect((await get('/healthz')).statusCode).toBe(200);
    clock.advance(1);
    const stalled = await get('/healthz');
    expect(stalled.statusCode).toBe(503);
    expect(stalled.json()).toMatchObject({ status: 'unhealthy', lastSweepAgeMs: 90 * S + 1 });
  });

  it('/metrics speaks Prometheus', async () => {
    await post('/v1/executions', { id: 'm', kind: 'embed', limits: { run: '1m' } });
    await post('/v1/executions/m/heartbeat', { attempt: 1 });
    clock.advance(2 * M);
    await post('/v1/sweeps');
    const text = (await get('/metrics')).body;
    expect(text).toContain(
      'vigil_remediations_total{verdict="run_timeout",action="fail",replica="local"} 1',
    );
    expect(text).toContain('vigil_heartbeats_total{outcome="ok",replica="local"} 1');
    expect(text).toContain('vigil_sweep_duration_seconds_count');
    expect(text).toMatch(/vigil_last_successful_sweep_timestamp_seconds\{replica="local"\} \d+/);
  });

  it('serves its OpenAPI document', async () => {
    const doc = (await get('/openapi.json')).json();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toContain('/v1/executions/{id}/heartbeat');
  });
});

describe('auth', () => {
  const ADMIN = 'admin-token-0123456789';
  const ALPHA = 'alpha-token-0123456789';
  beforeEach(() =>
    setup(
      {
        auth: {
          runners: [
            { owner: 'alpha', token: ALPHA },
            { owner: 'beta', token: 'beta-token-0123456789' },
          ],
        },
      },
      { VIGIL_TOKEN: ADMIN },
    ),
  );
  const as = (token: string) => ({ authorization: `Bearer ${token}` });

  it('no token → 401, wrong token → 401, /healthz stays open', async () => {
    expect((await get('/v1/executions')).statusCode).toBe(401);
    expect((await get('/v1/executions', as('nope'))).json()).toMatchObject({
      error: { code: 'unauthorized' },
    });
    expect((await get('/healthz')).statusCode).toBe(200);
    expect((await get('/metrics')).statusCode).toBe(401);
  });

  it("a runner token may only touch its own owner's executions", async () => {
    const mine = await post('/v1/executions', { id: 'mine', kind: 'k' }, as(ALPHA));
    expect(mine.json().owner).toBe('alpha');
    await post('/v1/executions', { id: 'theirs', kind: 'k', owner: 'beta' }, as(ADMIN));
    expect(
      (await post('/v1/executions/theirs/heartbeat', { attempt: 1 }, as(ALPHA))).statusCode,
    ).toBe(404);
    expect(
      (await post('/v1/executions/theirs/complete', { attempt: 1 }, as(ALPHA))).statusCode,
    ).toBe(404);
    expect((await post('/v1/executions', { kind: 'k', owner: 'beta' }, as(ALPHA))).statusCode).toBe(
      403,
    );
    expect((await get('/v1/executions/theirs', as(ALPHA))).statusCode).toBe(404);
    expect((await post('/v1/sweeps', {}, as(ALPHA))).statusCode).toBe(403);
    expect(
      (await get('/v1/executions', as(ALPHA))).json().items.map((e: { id: string }) => e.id),
    ).toEqual(['mine']);
    expect(
      (await post('/v1/executions/mine/heartbeat', { attempt: 1 }, as(ALPHA))).statusCode,
    ).toBe(200);
    expect(
      (await post('/v1/executions/theirs/complete', { attempt: 1 }, as(ADMIN))).statusCode,
    ).toBe(200);
  });

  it("a slot another owner's execution holds is refused without naming that execution", async () => {
    await post('/v1/executions', { id: 'mine', kind: 'k' }, as(ALPHA));
    await post('/v1/executions', { id: 'also-mine', kind: 'k' }, as(ALPHA));
    await post('/v1/executions', { id: 'theirs', kind: 'k', owner: 'beta' }, as(ADMIN));
    const take = (id: string, headers: Record<string, string>) =>
      post(`/v1/executions/${id}/slots`, { attempt: 1, slot: 'gpu' }, headers);
    expect((await take('theirs', as(ADMIN))).statusCode).toBe(200);

    const refused = await take('mine', as(ALPHA));
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ holder: null, error: { code: 'slot_taken' } });
    expect(refused.body).not.toContain('theirs');
    // Its own holder, and any holder for the admin, is named.
    expect((await take('theirs', as(ADMIN))).statusCode).toBe(200); // idempotent for its holder
    const forAdmin = await take('mine', as(ADMIN));
    expect(forAdmin.json()).toMatchObject({ holder: { executionId: 'theirs' } });
    await post('/v1/executions/theirs/complete', { attempt: 1 }, as(ADMIN));
    await until(async () => (await take('mine', as(ALPHA))).statusCode === 200);
    const own = await take('also-mine', as(ALPHA));
    expect(own.json()).toMatchObject({ holder: { executionId: 'mine' } });
  });

  it("another owner's execution, named anywhere in a request, answers as a missing one (404, same body)", async () => {
    await post('/v1/executions', { id: 'mine', kind: 'k' }, as(ALPHA));
    await post('/v1/executions', { id: 'theirs', kind: 'workflow', owner: 'beta' }, as(ADMIN));
    await post('/v1/executions', { id: 'nobodys', kind: 'workflow' }, as(ADMIN));
    const routes: [method: 'GET' | 'POST' | 'DELETE', path: string, payload?: object][] = [
      ['GET', '/v1/executions/ID'],
      ['POST', '/v1/executions/ID/start', { attempt: 1 }],
      ['POST', '/v1/executions/ID/heartbeat', { attempt: 1 }],
      ['POST', '/v1/executions/ID/complete', { attempt: 1 }],
      ['POST', '/v1/executions/ID/fail', { attempt: 1, error: 'boom' }],
      ['POST', '/v1/executions/ID/slots', { attempt: 1, slot: 'gpu' }],
      ['GET', '/v1/executions/ID/slots'],
      ['DELETE', '/v1/executions/ID/slots/gpu?attempt=1'],
      ['POST', '/v1/executions', { kind: 'step', parentId: 'ID' }],
    ];
    const send = (method: string, path: string, id: string, payload?: object) =>
      app.inject({
        method: method as 'GET',
        url: path.replace('ID', id),
        headers: as(ALPHA),
        ...(payload
          ? { payload: JSON.parse(JSON.stringify(payload).replace('"ID"', `"${id}"`)) }
          : {}),
      });
    for (const [method, path, payload] of routes) {
      const missing = await send(method, path, 'ghost', payload);
      expect(missing.statusCode, `${method} ${path} for a missing id`).toBe(404);
      for (const id of ['theirs', 'nobodys']) {
        const hidden = await send(method, path, id, payload);
        expect(hidden.statusCode, `${method} ${path} for ${id}`).toBe(404);
        expect(hidden.body.replaceAll(id, 'ID'), `${method} ${path} for ${id}`).toBe(
          missing.body.replaceAll('ghost', 'ID'),
        );
      }
    }

    const batch = await post(
      '/v1/heartbeats',
      {
        beats: [
          { id: 'theirs', attempt: 1 },
          { id: 'mine', attempt: 1 },
          { id: 'ghost', attempt: 1 },
        ],
      },
      as(ALPHA),
    );
    expect(batch.statusCode).toBe(200);
    expect(batch.json()).toEqual({
      ok: ['mine'],
      lost: [
        { id: 'theirs', status: null, reason: 'no such execution' },
        { id: 'ghost', status: null, reason: 'no such execution' },
      ],
    });

    // Nothing reached the other owner's workflow: no child, no beat, no slot, still running.
    const theirs = await get('/v1/executions/theirs', as(ADMIN));
    expect(theirs.json()).toMatchObject({ status: 'running', heartbeatAt: null });
    expect((await get('/v1/executions?parentId=theirs', as(ADMIN))).json().items).toEqual([]);
    expect((await get('/v1/executions/theirs/slots', as(ADMIN))).json().items).toEqual([]);

    const ownChild = await post('/v1/executions', { kind: 'step', parentId: 'mine' }, as(ALPHA));
    expect(ownChild.json()).toMatchObject({ parentId: 'mine', owner: 'alpha' });

    // The admin still sees and acts on everything.
    const child = await post('/v1/executions', { kind: 'step', parentId: 'theirs' }, as(ADMIN));
    expect(child.statusCode).toBe(201);
    expect(
      (
        await post(
          '/v1/heartbeats',
          {
            beats: [
              { id: 'theirs', attempt: 1 },
              { id: 'mine', attempt: 1 },
            ],
          },
          as(ADMIN),
        )
      ).json(),
    ).toEqual({ ok: ['theirs', 'mine'], lost: [] });
  });
});

describe('bad input is a 400 naming the field, never a 500', () => {
  beforeEach(async () => {
    await setup();
    await post('/v1/executions', { id: 'x', kind: 'embed' });
  });

  it.each([
    ['/v1/executions', { kind: 5 }, /body\.kind/],
    ['/v1/executions', {}, /body\.kind/],
    ['/v1/executions', { kind: 'k', status: 'done' }, /body\.status/],
    [
      '/v1/executions',
      { kind: 'k', limits: { run: '5 minutes' } },
      /body\.limits\.run: expected a duration/,
    ],
    [
      '/v1/executions',
      { kind: 'k', limits: { run: -1 } },
      /body\.limits\.run: expected a limit above zero/,
    ],
    [
      '/v1/executions',
      { kind: 'k', limits: { heartbeat: 0 } },
      /body\.limits\.heartbeat: expected a limit above zero .*got 0/,
    ],
    [
      '/v1/executions',
      { kind: 'k', limits: { queue: '0s' } },
      /body\.limits\.queue: expected a limit above zero .*got "0s"/,
    ],
    ['/v1/executions', { kind: 'k', colour: 'red' }, /unknown field colour/],
    ['/v1/executions', { kind: 'k', id: 'has spaces' }, /body\.id/],
    ['/v1/executions/x/heartbeat', { attempt: '1' }, /body\.attempt/],
    ['/v1/executions/x/heartbeat', { attempt: 0 }, /body\.attempt/],
    ['/v1/executions/x/heartbeat', { attempt: 1, progress: { a: 1 } }, /body\.progress/],
    ['/v1/heartbeats', { beats: [] }, /body\.beats/],
    ['/v1/heartbeats', { beats: [{ id: 'x' }] }, /body\.beats\.0\.attempt/],
    ['/v1/executions/x/complete', { result: 1 }, /body\.attempt/],
    ['/v1/executions/x/fail', { attempt: 1 }, /body\.error/],
    ['/v1/sweeps', { dryRun: 'yes' }, /body\.dryRun/],
  ])('POST %s %j', async (url, payload, message) => {
    const res = await post(url, payload);
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('bad_input');
    expect(res.json().error.message).toMatch(message);
  });

  it('limits beyond 100 years and JSON nested too deeply are refused, never a 500', async () => {
    const big = await post('/v1/executions', { id: 'big', kind: 'k', limits: { run: 9e15 } });
    expect(big.statusCode).toBe(400);
    expect(big.json().error.message).toMatch(/body\.limits\.run: .*at most 100 years/);
    expect((await get('/v1/executions')).statusCode).toBe(200);
    const deep = `{"kind":"k","metadata":{"a":${'['.repeat(20_000)}${']'.repeat(20_000)}}}`;
    const nested = await app.inject({
      method: 'POST',
      url: '/v1/executions',
      payload: deep,
      headers: { 'content-type': 'application/json' },
    });
    expect(nested.statusCode).toBe(400);
  });

  it('a report for an attempt that never existed is lost_ownership, not already_ended', async () => {
    const res = await post('/v1/executions/x/complete', { attempt: 5 });
    expect(res.statusCode).toBe(409);
    expect(res.json().error).toMatchObject({ code: 'lost_ownership' });
  });

  it('invalid JSON and oversized bodies', async () => {
    const invalid = await app.inject({
      method: 'POST',
      url: '/v1/executions',
      payload: '{"kind":',
      headers: { 'content-type': 'application/json' },
    });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().error.message).toMatch(/^body: expected valid JSON/);
    const huge = await post('/v1/executions', {
      kind: 'k',
      metadata: { blob: 'x'.repeat(2 * 1024 * 1024) },
    });
    expect(huge.statusCode).toBe(400);
    expect(huge.json().error.message).toMatch(/^body: larger than/);
  });

  it('fuzz: random bodies on every route never get a 5xx', async () => {
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!;
    const values = (): unknown =>
      pick([
        null,
        true,
        0,
        -1,
        1.5,
        2 ** 53,
        '',
        'x',
        '30s',
        'running',
        [],
        {},
        [1, 'a'],
        { a: { b: null } },
        'x'.repeat(5000),
      ]);
    const fields = [
      'id',
      'kind',
      'owner',
      'parentId',
      'status',
      'limits',
      'metadata',
      'attempt',
      'progress',
      'result',
      'error',
      'retryable',
      'beats',
      'dryRun',
      'reason',
      'run',
    ];
    const routes = [
      '/v1/executions',
      '/v1/executions/x/start',
      '/v1/executions/x/heartbeat',
      '/v1/heartbeats',
      '/v1/executions/x/complete',
      '/v1/executions/x/fail',
      '/v1/executions/x/cancel',
      '/v1/sweeps',
    ];
    for (let i = 0; i < 400; i++) {
      const body: Record<string, unknown> = {};
      for (let f = Math.floor(random() * 4); f > 0; f--) body[pick(fields)] = values();
      const payload =
        random() < 0.1 ? pick(['[]', '"str"', '12', 'null', '{', '{"a":}']) : JSON.stringify(body);
      const url = pick(routes).replace(
        '/x/',
        `/${pick(['x', 'missing', '%00', 'a'.repeat(300)])}/`,
      );
      const res = await app.inject({
        method: 'POST',
        url,
        payload,
        headers: { 'content-type': 'application/json' },
      });
      expect(res.statusCode, `${url} ${payload}`).toBeLessThan(500);
      if (res.statusCode >= 400)
        expect(res.json(), `${res.statusCode} ${url} ${payload}`).toHaveProperty('error.code');
    }
    for (const query of [
      'limit=0',
      'limit=abc',
      'status=',
      'cursor=zzz',
      'unknown=1',
      'limit=100000',
    ]) {
      const res = await get(`/v1/executions?${query}`);
      expect(res.statusCode, query).toBe(400);
    }
  });
});
