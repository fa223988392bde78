import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { buildApp } from '../src/http/app.js';
import { Vigil } from '../src/app/vigil.js';
import type { HttpListSpec } from '../src/sources/http-list-config.js';
import { extractOperations, parseTime, readOperations } from '../src/sources/http-list.js';
import type { HttpListWatcherOptions } from '../src/app/http-list-watcher.js';
import { HttpListWatcher, storeAudit } from '../src/app/http-list-watcher.js';
import { parsePath } from '../src/core/json-path.js';
import type { Harness, StoreKind } from './helpers.js';
import { M, S, T0, harness, storeKinds, describeEach } from './helpers.js';
import type { LoopbackServer } from './loopback-server.js';
import { calls, loopbackServer } from './loopback-server.js';

const kinds: StoreKind[] = storeKinds().filter((k) => k !== 'sqlite-generic');

/** Sources resolved from vigil.yaml-shaped config, so the defaults are the real ones. */
function sources(raw: Record<string, unknown>): HttpListSpec[] {
  return Object.values(parseConfig({ operations: raw }).operations);
}

/**
 * An operations API: `/ops` lists what `operations` holds (times relative to the fake clock),
 * `/ops/:id/cancel` answers `cancelStatus`.
 */
interface FakeApi {
  server: LoopbackServer;
  operations: Record<string, unknown>[];
  cancelStatus: number;
  cancels: () => { method: string; path: string }[];
}

async function operationsApi(): Promise<FakeApi> {
  const api: FakeApi = {
    server: undefined as never,
    operations: [],
    cancelStatus: 202,
    cancels: () => calls(api.server.requests.filter((r) => r.path.endsWith('/cancel'))),
  };
  api.server = await loopbackServer((request) => {
    if (request.path === '/ops')
      return { status: 200, body: { data: { operations: api.operations } } };
    if (request.path.endsWith('/cancel')) return { status: api.cancelStatus, body: {} };
    return { status: 404, body: { error: 'no such route' } };
  });
  return api;
}

await describeEach(kinds, 'HTTP operation lists (audit on %s)', (kind) => {
  let h: Harness;
  let api: FakeApi;
  const errors: string[] = [];

  beforeAll(async () => {
    h = await harness(kind);
  });
  afterAll(async () => {
    await h.close();
  });
  afterEach(async () => {
    await api.server.close();
    h.events.length = 0;
    errors.length = 0;
  });

  function watcher(
    spec: Partial<Record<string, unknown>> = {},
    extra: Partial<HttpListWatcherOptions> = {},
  ) {
    const [source] = sources({
      jobs: {
        url: `${api.server.url}/ops`,
        items: '$.data.operations',
        lastUpdate: 'last_state_update_timestamp',
        running: ['running', 'in_progress'],
        limit: '10m',
        actions: { cancel: { url: `${api.server.url}/ops/{id}/cancel` } },
        ...spec,
      },
    });
    return new HttpListWatcher({
      sources: [source!],
      clock: h.clock,
      events: h.bus,
      audit: storeAudit(h.store),
      onError: (error, where) => errors.push(`${where}: ${(error as Error).message}`),
      ...extra,
    });
  }

  it('flags a stuck operation once and calls its cancel URL once; a moving one is left alone', async () => {
    api = await operationsApi();
    const stuckSince = h.clock.now() - 20 * M;
    const w = watcher();
    const audited = await h.store.listRemediations({ executionId: 'jobs:stuck-1', limit: 10 });
    expect(audited).toEqual([]);
    for (let i = 0; i < 4; i++) {
      api.operations = [
        {
          id: 'stuck-1',
          status: 'running',
          last_state_update_timestamp: new Date(stuckSince).toISOString(),
        },
        // Epoch seconds, moved at every check.
        {
          id: 'moving',
          status: 'in_progress',
          last_state_update_timestamp: (h.clock.now() - S) / 1000,
        },
        { id: 'old-but-done', status: 'succeeded', last_state_update_timestamp: stuckSince },
      ];
      const check = await w.check('jobs');
      expect(check.source.state).toBe('ok');
      h.clock.advance(30 * S);
    }

    expect(api.cancels()).toEqual([{ method: 'POST', path: '/ops/stuck-1/cancel' }]);
    expect(h.events).toHaveLength(1);
    expect(h.events[0]).toMatchObject({
      type: 'execution:stuck',
      source: 'jobs',
      operationId: 'stuck-1',
      reason: 'running with no state change for 20m, limit 10m',
      evidence: {
        status: 'running',
        lastUpdateAt: stuckSince,
        limitMs: 10 * M,
        cancel: { ok: true, detail: `POST ${api.server.url}/ops/stuck-1/cancel: HTTP 202` },
      },
    });
    const rows = await h.store.listRemediations({ executionId: 'jobs:stuck-1', limit: 10 });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      kind: 'operation',
      owner: 'jobs',
      verdict: 'no_progress',
      action: 'cancel',
      outcome: 'remediated',
      reason: 'running with no state change for 20m, limit 10m',
      steps: [
        { step: 'terminate', outcome: 'ok' },
        { step: 'notify', outcome: 'ok' },
      ],
    });
    expect(await h.store.listRemediations({ executionId: 'jobs:moving', limit: 10 })).toEqual([]);
    expect(w.status().items).toEqual([
      {
        source: 'jobs',
        id: 'stuck-1',
        status: 'running',
        lastUpdateAt: stuckSince,
        stuck: true,
        stuckForMs: 20 * M + 90 * S,
      },
      expect.objectContaining({ id: 'moving', stuck: false, stuckForMs: null }),
      expect.objectContaining({ id: 'old-but-done', stuck: false, stuckForMs: null }),
    ]);

    // A Vigil restarted (a new watcher on the same store) recognises the episode from the audit.
    const restarted = watcher();
    await restarted.check('jobs');
    expect(api.cancels()).toHaveLength(1);
    expect(h.events).toHaveLength(1);

    // When the operation moves and gets stuck again, that is a new episode: acted on again.
    api.operations = [
      { id: 'stuck-1', status: 'running', last_state_update_timestamp: h.clock.now() },
    ];
    await restarted.check('jobs');
    h.clock.advance(11 * M);
    await restarted.check('jobs');
    expect(api.cancels()).toHaveLength(2);
    expect(h.events).toHaveLength(2);
    expect(errors).toEqual([]);
  });

  it('unreachable, HTTP 500, malformed JSON and a missing array are unknown: no action', async () => {
    api = await operationsApi();
    const stuckSince = h.clock.now() - 60 * M;
    api.operations = [{ id: 'op', status: 'running', last_state_update_timestamp: stuckSince }];
    const w = watcher({
      actions: { notify: true, cancel: { url: `${api.server.url}/ops/{id}/cancel` } },
    });
    const answers: {
      name: string;
      reply: Parameters<LoopbackServer['respond']>[0];
      reason: RegExp;
    }[] = [
      { name: '500', reply: () => ({ status: 500, raw: 'oops' }), reason: /^HTTP 500 from / },
      {
        name: 'malformed JSON',
        reply: () => ({ status: 200, raw: '{"data": {"operations": [' }),
        reason: /^malformed JSON: /,
      },
      {
        name: 'no array at the path',
        reply: () => ({ status: 200, body: { data: { operations: { op: 'running' } } } }),
        reason: /^malformed answer: \$\.data\.operations is an object, expected an array$/,
      },
      {
        name: 'the path missing',
        reply: () => ({ status: 200, body: { items: [] } }),
        reason: /^malformed answer: \$\.data\.operations is missing, expected an array$/,
      },
    ];
    for (const { reply, reason } of answers) {
      api.server.respond(reply);
      const check = await w.check('jobs');
      expect(check.source.state).toBe('unknown');
      expect(check.source.lastError).toMatch(reason);
      expect(check.actions).toEqual([]);
    }
    await api.server.close();
    const unreachable = await w.check('jobs');
    // A pooled connection the server closed, or a refused new one: unreachable either way.
    expect(unreachable.source.state).toBe('unknown');
    expect(unreachable.source.lastError).toMatch(/^connection (refused|closed) \(/);

    expect(api.cancels()).toEqual([]);
    expect(h.events).toEqual([]);
    expect(await h.store.listRemediations({ executionId: 'jobs:op', limit: 10 })).toEqual([]);
  });

  it('a cancel that fails is audited and tried again at the next checks, up to three times; one notice', async () => {
    api = await operationsApi();
    api.cancelStatus = 500;
    api.operations = [
      { id: 'op-9', status: 'running', last_state_update_timestamp: h.clock.now() - 30 * M },
    ];
    const w = watcher();
    for (let i = 0; i < 5; i++) {
      await w.check('jobs');
      h.clock.advance(30 * S);
    }
    expect(api.cancels()).toHaveLength(3);
    expect(h.events.map((e) => e.type)).toEqual(['execution:stuck']);
    const rows = await h.store.listRemediations({ executionId: 'jobs:op-9', limit: 10 });
    expect(rows.map((r) => [r.outcome, r.evidence.cancelAttempts])).toEqual([
      ['failed', 3],
      ['failed', 2],
      ['failed', 1],
    ]);
    expect(rows[0]!.steps).toEqual([
      expect.objectContaining({
        step: 'terminate',
        outcome: 'failed',
        detail: `POST ${api.server.url}/ops/op-9/cancel: HTTP 500`,
      }),
    ]);
  });

  it('notify only: the operation is reported once and left running', async () => {
    api = await operationsApi();
    api.operations = [
      { id: 'n-1', status: 'running', last_state_update_timestamp: h.clock.now() - 30 * M },
    ];
    const w = watcher({ actions: { notify: true } });
    await w.check('jobs');
    await w.check('jobs');
    expect(api.cancels()).toEqual([]);
    expect(h.events.map((e) => [e.type, e.operationId])).toEqual([['execution:stuck', 'n-1']]);
    const rows = await h.store.listRemediations({ executionId: 'jobs:n-1', limit: 10 });
    expect(rows.map((r) => [r.action, r.outcome])).toEqual([['notify', 'left_running']]);
  });

  it('with several replicas only the holder of the lease checks a source and acts', async () => {
    api = await operationsApi();
    api.operations = [
      { id: 'r-1', status: 'running', last_state_update_timestamp: h.clock.now() - 30 * M },
    ];
    const other = h.openAnother();
    const replica = (holder: string, store = h.store) =>
      watcher(
        {},
        {
          lease: (name, now, ttlMs) => store.acquireLease(name, holder, now, ttlMs),
        },
      );
    const a = replica('replica-a');
    const b = replica('replica-b', other);
    const [first, second] = [await a.check('jobs'), await b.check('jobs')];
    expect(first.source.state).toBe('ok');
    expect(second.source.state).toBe('standby');
    expect(b.status().items).toEqual([]);
    expect(api.cancels()).toHaveLength(1);
    await other.close();
  });
});

describe('HTTP operation lists without a store (vigil probe)', () => {
  let api: FakeApi;
  afterEach(async () => api.server.close());

  it('without a last-update field, a status that does not move is stuck a limit after first sight', async () => {
    api = await operationsApi();
    const { FakeClock } = await import('../src/runtime/clock.js');
    const { EventBus } = await import('../src/runtime/events.js');
    const clock = new FakeClock(T0);
    const [source] = sources({
      jobs: { url: `${api.server.url}/ops`, items: 'data.operations', limit: '5m' },
    });
    const w = new HttpListWatcher({ sources: [source!], clock, events: new EventBus() });
    api.operations = [
      { id: 1, status: 'running' },
      { id: 2, status: 'queued' },
    ];
    expect((await w.check('jobs')).verdicts.map((v) => v.stuck)).toEqual([false, false]);
    clock.advance(5 * M);
    expect((await w.check('jobs')).verdicts.map((v) => v.stuck)).toEqual([false, false]);
    clock.advance(1);
    const check = await w.check('jobs');
    expect(check.verdicts.map((v) => [v.id, v.stuck])).toEqual([
      ['1', true],
      ['2', false],
    ]);
    expect(check.actions).toEqual([{ operationId: '1', notified: true, cancel: null }]);
  });

  it('one unreachable source does not stop another from being checked', async () => {
    api = await operationsApi();
    api.operations = [{ id: 'x', status: 'running', updated: T0 - 60 * M }];
    const { FakeClock } = await import('../src/runtime/clock.js');
    const { EventBus } = await import('../src/runtime/events.js');
    const dead = await loopbackServer();
    await dead.close();
    const specs = sources({
      broken: { url: `${dead.url}/ops`, limit: '1m' },
      good: {
        url: `${api.server.url}/ops`,
        items: '$.data.operations',
        lastUpdate: 'updated',
        limit: '1m',
      },
    });
    const w = new HttpListWatcher({
      sources: specs,
      clock: new FakeClock(T0),
      events: new EventBus(),
    });
    const [broken, good] = await w.checkAll();
    expect(broken!.source.state).toBe('unknown');
    expect(good!.verdicts.map((v) => [v.id, v.stuck])).toEqual([['x', true]]);
    expect(w.status().sources.map((s) => [s.name, s.state])).toEqual([
      ['broken', 'unknown'],
      ['good', 'ok'],
    ]);
  });
});

describe('reading a list', () => {
  const [spec] = sources({
    jobs: {
      url: 'http://127.0.0.1:1/ops',
      id: 'meta.id',
      status: 'state.name',
      lastUpdate: 'state.at',
      limit: '1m',
    },
  });

  it('skips items it cannot read, each with the reason, and reads the rest', () => {
    const read = extractOperations(
      [
        { meta: { id: 'a' }, state: { name: 'running', at: '2026-01-01T12:00:00Z' } },
        { meta: {}, state: { name: 'running' } },
        { meta: { id: 'c' }, state: {} },
        { meta: { id: 'd' }, state: { name: 'running', at: 'yesterday' } },
        { meta: { id: 'a' }, state: { name: 'running' } },
        { meta: { id: 7 }, state: { name: 'running', at: null } },
        'not an object',
      ],
      spec!,
    );
    expect(read).toEqual({
      kind: 'ok',
      operations: [
        { id: 'a', status: 'running', lastUpdateAt: T0 },
        { id: '7', status: 'running', lastUpdateAt: null },
      ],
      skipped: [
        'item 1: no id at "meta.id"',
        'item 2 (c): no status at "state.name"',
        'item 3 (d): "state.at" is "yesterday", expected an ISO time or epoch seconds/milliseconds',
        'item 4: id "a" listed twice',
        'item 6: no id at "meta.id"',
      ],
    });
  });

  it.each([
    ['2026-01-01T12:00:00Z', T0],
    ['2026-01-01T12:00:00.000+00:00', T0],
    ['2026-01-01T13:00:00+01:00', T0],
    ['2026-01-01T12:00:00', T0],
    ['2026-01-01 12:00:00', T0],
    [T0, T0],
    [T0 / 1000, T0],
    [String(T0 / 1000), T0],
    [1767268800.5, T0 + 500],
    ['soon', null],
    [-5, null],
    [true, null],
  ])('parseTime(%j) = %j', (input, expected) => {
    expect(parseTime(input)).toBe(expected);
  });

  it.each([
    ['$', []],
    ['$.data.operations', ['data', 'operations']],
    ['data.operations', ['data', 'operations']],
    ['items[0].state', ['items', 0, 'state']],
    ['$[1]', [1]],
  ])('parsePath(%j)', (text, segments) => {
    expect(parsePath(text)).toEqual({ ok: true, segments });
  });

  it.each(['', 'a..b', '.a', 'a[x]', 'a.'])('parsePath(%j) is refused', (text) => {
    expect(parsePath(text).ok).toBe(false);
  });
});

describe('GET /v1/operations', () => {
  it('answers {items: []} with nothing configured, and each operation once checked', async () => {
    const h = await harness('sqlite', {});
    const empty = new Vigil({
      store: h.store,
      config: h.config,
      clock: h.clock,
      watchEventLoop: false,
    });
    const emptyApp = await buildApp({
      vigil: empty,
      store: h.store,
      config: h.config,
      clock: h.clock,
    });
    expect((await emptyApp.inject({ method: 'GET', url: '/v1/operations' })).json()).toEqual({
      items: [],
      sources: [],
    });
    await emptyApp.close();

    const api = await operationsApi();
    api.operations = [
      { id: 'a', status: 'running', at: new Date(T0 - 20 * M).toISOString() },
      { id: 'b', status: 'running', at: new Date(T0).toISOString() },
    ];
    const config = parseConfig({
      operations: {
        jobs: {
          url: `${api.server.url}/ops`,
          items: '$.data.operations',
          lastUpdate: 'at',
          limit: '10m',
        },
      },
    });
    const vigil = new Vigil({ store: h.store, config, clock: h.clock, watchEventLoop: false });
    const app = await buildApp({ vigil, store: h.store, config, clock: h.clock });
    try {
      await vigil.watchers.operations.check('jobs');
      const response = await app.inject({ method: 'GET', url: '/v1/operations' });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({
        items: [
          {
            source: 'jobs',
            id: 'a',
            status: 'running',
            lastUpdateAt: new Date(T0 - 20 * M).toISOString(),
            stuck: true,
            stuckForMs: 20 * M,
          },
          {
            source: 'jobs',
            id: 'b',
            status: 'running',
            lastUpdateAt: new Date(T0).toISOString(),
            stuck: false,
            stuckForMs: null,
          },
        ],
        sources: [
          {
            name: 'jobs',
            url: `${api.server.url}/ops`,
            state: 'ok',
            lastCheckAt: new Date(T0).toISOString(),
            lastError: null,
            skipped: [],
          },
        ],
      });
    } finally {
      await app.close();
      await api.server.close();
      await h.close();
    }
  });
});

describe('reading only some operations (ids), from the list or one URL each', () => {
  let server: LoopbackServer;
  let failing = '';
  beforeAll(async () => {
    server = await loopbackServer((request) => {
      const op = (id: string) => ({ id, status: 'running', updated: T0 / 1000 });
      if (request.path === '/ops') return { status: 200, body: [op('a'), op('b'), op('c')] };
      const id = /^\/ops\/([^/]+)$/.exec(request.path)?.[1];
      if (id !== undefined && id === failing) return { status: 500, raw: 'boom' };
      if (id === 'a' || id === 'b' || id === 'a%2Fb') {
        return { status: 200, body: { data: op(decodeURIComponent(id)) } };
      }
      return { status: 404, body: { error: 'no such operation' } };
    });
  });
  afterAll(async () => {
    await server.close();
  });
  afterEach(() => {
    failing = '';
  });

  const spec = (extra: Record<string, unknown>) =>
    sources({ ops: { lastUpdate: 'updated', limit: '1m', ...extra } })[0]!;

  it('narrows the list to the ids, naming those not listed', async () => {
    const read = await readOperations(spec({ url: `${server.url}/ops`, ids: ['c', 'a', 'z'] }));
    expect(read).toEqual({
      kind: 'ok',
      operations: [
        { id: 'a', status: 'running', lastUpdateAt: T0 },
        { id: 'c', status: 'running', lastUpdateAt: T0 },
      ],
      skipped: ['z: not listed'],
    });
  });

  it('reads each id from its own URL (URL-encoded); 404 is skipped, another failure is unknown', async () => {
    const each = spec({
      operationUrl: `${server.url}/ops/{id}`,
      ids: ['a', 'a/b', 'gone'],
      item: '$.data',
    });
    const requestsBefore = server.requests.length;
    expect(await readOperations(each)).toEqual({
      kind: 'ok',
      operations: [
        { id: 'a', status: 'running', lastUpdateAt: T0 },
        { id: 'a/b', status: 'running', lastUpdateAt: T0 },
      ],
      skipped: [`gone: HTTP 404 from ${server.url}/ops/gone`],
    });
    expect(
      server.requests
        .slice(requestsBefore)
        .map((r) => r.path)
        .sort(),
    ).toEqual(['/ops/a', '/ops/a%2Fb', '/ops/gone']);
    failing = 'a';
    expect(await readOperations(each)).toEqual({
      kind: 'unknown',
      reason: `HTTP 500 from ${server.url}/ops/a`,
    });
  });
});
