import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { buildApp } from '../src/http/app.js';
import type { ProbeSpec } from '../src/probes/probe-config.js';
import type { ProcessRecoveryHook } from '../src/probes/probe-monitor.js';
import { ProbeMonitor } from '../src/probes/probe-monitor.js';
import { FakeClock } from '../src/runtime/clock.js';
import { EventBus } from '../src/runtime/events.js';
import { Vigil } from '../src/app/vigil.js';
import { openSqliteStore } from '../src/stores/sqlite.js';
import type { RecordedEvent } from './helpers.js';
import { S, T0, tempDir } from './helpers.js';
import type { LoopbackServer } from './loopback-server.js';
import { loopbackServer } from './loopback-server.js';
import { until } from './process-helpers.js';

const servers: LoopbackServer[] = [];
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  for (const server of servers.splice(0)) await server.close();
});

async function server(...args: Parameters<typeof loopbackServer>) {
  const s = await loopbackServer(...args);
  servers.push(s);
  return s;
}

/** Probes resolved from vigil.yaml-shaped config, so the defaults are the real ones. */
function probes(raw: Record<string, unknown>): ProbeSpec[] {
  // A probe may name a supervised process only if it is configured.
  const processes = { 'api-server': { heartbeatFile: '/tmp/api-server.heartbeat.json' } };
  return Object.values(parseConfig({ probes: raw, processes }).probes);
}

function monitor(specs: ProbeSpec[], hook?: ProcessRecoveryHook) {
  const clock = new FakeClock(T0);
  const events: RecordedEvent[] = [];
  const errors: string[] = [];
  const bus = new EventBus();
  bus.on((event) => events.push(event as RecordedEvent));
  const probeMonitor = new ProbeMonitor({
    probes: specs,
    clock,
    events: bus,
    processHook: hook,
    onError: (error, where) => errors.push(`${where}: ${(error as Error).message}`),
  });
  return { probeMonitor, clock, events, errors };
}

describe('a probe against a real endpoint that fails, then recovers', () => {
  it('emits one probe:failing for many failed checks, then one probe:recovered, in order', async () => {
    const endpoint = await server();
    const [spec] = probes({
      api: { url: `${endpoint.url}/health`, failures: 3, successes: 2, interval: '10s' },
    });
    const { probeMonitor, clock, events } = monitor([spec!]);
    // 2 good answers, 8 errors, 3 good ones: one check every 10 s.
    const plan = [200, 200, 500, 500, 500, 500, 500, 503, 500, 500, 200, 200, 200];
    const states: string[] = [];
    for (const [i, status] of plan.entries()) {
      endpoint.respond(() => ({ status, body: { status: status === 200 ? 'ok' : 'down' } }));
      clock.set(T0 + i * 10 * S);
      states.push((await probeMonitor.check('api')).state);
    }

    expect(endpoint.requests).toHaveLength(plan.length);
    expect(states).toEqual([
      ...['passing', 'passing', 'passing', 'passing'],
      ...['failing', 'failing', 'failing', 'failing', 'failing', 'failing'],
      'failing', // one pass of the two needed to recover
      'passing',
      'passing',
    ]);
    expect(events.map((e) => [e.type, e.at])).toEqual([
      ['probe:failing', T0 + 40 * S],
      ['probe:recovered', T0 + 110 * S],
    ]);
    expect(events[0]).toEqual({
      type: 'probe:failing',
      at: T0 + 40 * S,
      probe: 'api',
      url: `${endpoint.url}/health`,
      reason: 'status 500, expected 2xx',
      consecutiveFailures: 3,
      process: null,
    });
    expect(events[1]).toMatchObject({ consecutiveSuccesses: 2, failingForMs: 70 * S });
    expect(probeMonitor.status()).toEqual([
      {
        name: 'api',
        url: `${endpoint.url}/health`,
        state: 'passing',
        consecutiveFailures: 0,
        consecutiveSuccesses: 3,
        lastCheckAt: T0 + 120 * S,
        lastError: null,
        failingSince: null,
      },
    ]);
  });

  it('fails on the body when it must contain a text or match a pattern', async () => {
    const endpoint = await server(() => ({ status: 200, raw: '{"status":"degraded"}' }));
    const specs = probes({
      text: { url: endpoint.url, failures: 1, expect: { body: '"status":"ok"' } },
      pattern: { url: endpoint.url, failures: 1, expect: { status: [200], body: '/DEGRADED/i' } },
    });
    const { probeMonitor } = monitor(specs);
    const [text, pattern] = await probeMonitor.checkAll();
    expect(text).toMatchObject({
      state: 'failing',
      lastError: 'body does not contain "\\"status\\":\\"ok\\""',
    });
    expect(pattern).toMatchObject({ state: 'passing', lastError: null });
  });

  it('an endpoint that never answers fails by its timeout; a closed port is refused', async () => {
    const hanging = await server(() => 'hang');
    const closed = await loopbackServer();
    await closed.close();
    const specs = probes({
      slow: { url: hanging.url, failures: 1, timeout: '200ms' },
      gone: { url: closed.url, failures: 1 },
    });
    const { probeMonitor, events } = monitor(specs);
    const [slow, gone] = await probeMonitor.checkAll();
    expect(slow).toMatchObject({ state: 'failing', lastError: 'timed out after 200ms' });
    expect(gone).toMatchObject({
      state: 'failing',
      lastError: 'connection refused (ECONNREFUSED)',
    });
    expect(events.map((e) => e.probe).sort()).toEqual(['gone', 'slow']);
  });

  it('one hanging probe does not hold up another', async () => {
    const hanging = await server(() => 'hang');
    const healthy = await server();
    const specs = probes({
      slow: { url: hanging.url, timeout: '10s' },
      fast: { url: healthy.url },
    });
    const { probeMonitor } = monitor(specs);
    let slowSettled = false;
    const slow = probeMonitor.check('slow').finally(() => (slowSettled = true));
    await until(() => hanging.requests.length === 1, { what: 'the slow probe to be asked' });
    expect(await probeMonitor.check('fast')).toMatchObject({ state: 'passing' });
    expect(slowSettled).toBe(false);
    // A second check of the slow probe joins the one under way instead of asking again.
    const again = probeMonitor.check('slow');
    expect(hanging.requests).toHaveLength(1);
    await hanging.close();
    servers.splice(servers.indexOf(hanging), 1);
    await Promise.all([slow, again]);
  });
});

describe('a failing probe that names a supervised process', () => {
  it('calls the recovery hook once per transition to failing, with the cause', async () => {
    const endpoint = await server(() => ({ status: 500 }));
    const specs = probes({ api: { url: endpoint.url, failures: 2, process: 'api-server' } });
    const calls: unknown[] = [];
    const { probeMonitor, clock } = monitor(specs, {
      onFailing: (name, cause) => {
        calls.push({ name, ...cause });
      },
    });
    for (let i = 0; i < 5; i++) {
      clock.set(T0 + i * S);
      await probeMonitor.check('api');
    }
    await until(() => calls.length > 0, { what: 'the hook to be called' });
    expect(calls).toEqual([
      {
        name: 'api-server',
        probe: 'api',
        url: endpoint.url,
        reason: 'status 500, expected 2xx',
        at: T0 + S,
      },
    ]);
    // Recovered, then failing again: a second call.
    endpoint.respond(() => ({ status: 200 }));
    await probeMonitor.check('api');
    endpoint.respond(() => ({ status: 500 }));
    await probeMonitor.check('api');
    await probeMonitor.check('api');
    await until(() => calls.length === 2, { what: 'the second call' });
  });

  it('without a hook wired, reports that instead of failing silently; a throwing hook is reported too', async () => {
    const endpoint = await server(() => ({ status: 500 }));
    const specs = probes({ api: { url: endpoint.url, failures: 1, process: 'api-server' } });
    const unwired = monitor(specs);
    await unwired.probeMonitor.check('api');
    expect(unwired.events.map((e) => e.type)).toEqual(['probe:failing']);
    expect(unwired.errors).toEqual([
      'probe api: probe api is failing and names process api-server, but no process supervisor is wired',
    ]);

    const throwing = monitor(specs, {
      onFailing: () => Promise.reject(new Error('supervisor down')),
    });
    await throwing.probeMonitor.check('api');
    await until(() => throwing.errors.length > 0, { what: 'the hook error to be reported' });
    expect(throwing.errors).toEqual(['recovery of api-server: supervisor down']);
  });
});

describe('GET /v1/probes', () => {
  async function app(
    raw: unknown,
    env: Record<string, string> = {},
  ): Promise<{
    app: FastifyInstance;
    vigil: Vigil;
  }> {
    const { dir, cleanup } = tempDir();
    const store = openSqliteStore(`${dir}/vigil.db`);
    await store.migrate();
    const config = parseConfig(raw, env);
    const clock = new FakeClock(T0);
    const vigil = new Vigil({ store, config, clock, watchEventLoop: false });
    const fastify = await buildApp({ vigil, store, config, clock });
    cleanups.push(async () => {
      vigil.stop();
      await fastify.close();
      await store.close();
      cleanup();
    });
    return { app: fastify, vigil };
  }

  it('answers {items: []} when no probe is configured', async () => {
    const { app: fastify } = await app({});
    const response = await fastify.inject({ method: 'GET', url: '/v1/probes' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ items: [] });
  });

  it("shows each probe's state, counts, last check and last error", async () => {
    const endpoint = await server(() => ({ status: 503 }));
    const { app: fastify, vigil } = await app({
      probes: {
        api: { url: `${endpoint.url}/health`, failures: 1 },
        idle: { url: `${endpoint.url}/other` },
      },
    });
    const before = await fastify.inject({ method: 'GET', url: '/v1/probes' });
    expect(before.json().items[0]).toEqual({
      name: 'api',
      url: `${endpoint.url}/health`,
      state: 'unknown',
      consecutiveFailures: 0,
      consecutiveSuccesses: 0,
      lastCheckAt: null,
      lastError: null,
    });
    await vigil.watchers.probes.check('api');
    const after = await fastify.inject({ method: 'GET', url: '/v1/probes' });
    expect(after.json().items).toEqual([
      {
        name: 'api',
        url: `${endpoint.url}/health`,
        state: 'failing',
        consecutiveFailures: 1,
        consecutiveSuccesses: 0,
        lastCheckAt: new Date(T0).toISOString(),
        lastError: 'status 503, expected 2xx',
      },
      expect.objectContaining({ name: 'idle', state: 'unknown' }),
    ]);
  });

  it('is described in the OpenAPI document, with /v1/operations', async () => {
    const { app: fastify } = await app({});
    const paths = (await fastify.inject({ method: 'GET', url: '/openapi.json' })).json().paths;
    expect(Object.keys(paths)).toEqual(expect.arrayContaining(['/v1/probes', '/v1/operations']));
  });

  it('is under the same auth as the rest of the API', async () => {
    const { app: fastify } = await app(
      { auth: { runners: [{ owner: 'w1', token: 'runner-token-0123456789' }] } },
      { VIGIL_TOKEN: 'admin-token-0123456789' },
    );
    const get = (token?: string) =>
      fastify.inject({
        method: 'GET',
        url: '/v1/probes',
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
    expect((await get()).statusCode).toBe(401);
    expect((await get('runner-token-0123456789')).statusCode).toBe(403);
    expect((await get('admin-token-0123456789')).statusCode).toBe(200);
  });
});
