/**
 * Every route of the OpenAPI document against a viewer token, over real HTTP on loopback: each GET
 * answers (never 401 or 403), each write is refused with 403. The list is the document's own, so a
 * route added to it is covered without touching this file. Also `GET /v1/whoami` for each token,
 * and the reads a runner token is still refused.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Vigil } from '../src/app/vigil.js';
import { parseConfig } from '../src/config.js';
import { buildApp } from '../src/http/app.js';
import { openApiDocument } from '../src/http/openapi.js';
import { FakeClock } from '../src/runtime/clock.js';
import type { SqlStore } from '../src/stores/sql-store.js';
import { openSqliteStore } from '../src/stores/sqlite.js';
import { M, T0, tempDir } from './helpers.js';

const ADMIN = 'admin-token-0123456789';
const ALPHA = 'alpha-token-0123456789';
const VIEWER = 'viewer-token-0123456789';
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

let app: FastifyInstance;
let store: SqlStore;
let base: string;
let cleanup: () => void;

/** A value for each path parameter naming something that exists. */
const EXISTING: Record<string, string> = { id: 'live', file: 'app.js', name: 'nightly' };

beforeAll(async () => {
  const dir = tempDir();
  cleanup = dir.cleanup;
  const web = join(dir.dir, 'web');
  mkdirSync(join(web, 'assets'), { recursive: true });
  writeFileSync(join(web, 'index.html'), '<!doctype html><title>Vigil</title>');
  writeFileSync(join(web, 'assets', 'app.js'), 'export {};');
  store = openSqliteStore(join(dir.dir, 'vigil.db'));
  await store.migrate();
  const clock = new FakeClock(T0);
  const config = parseConfig(
    {
      auth: {
        runners: [{ owner: 'alpha', token: ALPHA }],
        viewers: [{ name: 'ops-dashboard', token: VIEWER }],
      },
      schedules: { nightly: { cron: '0 3 * * *', kind: 'backup' } },
    },
    { VIGIL_TOKEN: ADMIN },
  );
  const vigil = new Vigil({ store, config, clock, watchEventLoop: false });
  app = await buildApp({ vigil, store, config, clock, webRoot: web });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
  // Something behind every list: an execution, a sweep (so /v1/sweeps/latest has one), a silence.
  await send('POST', '/v1/executions', ADMIN, {
    id: 'live',
    kind: 'k',
    owner: 'alpha',
    limits: { heartbeat: '1m' },
  });
  clock.advance(2 * M);
  expect((await send('POST', '/v1/sweeps', ADMIN, {})).status).toBe(200);
  const silence = { matchers: { kind: 'k' }, duration: '1h', createdBy: 'ops', comment: 'x' };
  expect((await send('POST', '/v1/silences', ADMIN, silence)).status).toBe(201);
});
afterAll(async () => {
  await app.close();
  await store.close();
  cleanup();
});

/** One request; only the status and (for JSON) the body are read, so a stream does not hang. */
async function send(method: string, path: string, token: string, body?: object) {
  const controller = new AbortController();
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
    signal: controller.signal,
  });
  const streaming = response.headers.get('content-type')?.startsWith('text/event-stream');
  const json = response.headers.get('content-type')?.startsWith('application/json');
  const answer = streaming || !json ? null : ((await response.json()) as Record<string, unknown>);
  controller.abort();
  return { status: response.status, json: answer };
}

/** Every (method, path) of the OpenAPI document, its `{params}` filled in. */
function documentedRoutes(): { method: string; path: string }[] {
  const paths = openApiDocument().paths as Record<string, Record<string, unknown>>;
  return Object.entries(paths).flatMap(([template, operations]) =>
    METHODS.filter((m) => m in operations).map((m) => ({
      method: m.toUpperCase(),
      path: template.replace(/\{(\w+)\}/g, (_, name: string) => EXISTING[name] ?? 'missing'),
    })),
  );
}

describe('a viewer token on every route of the OpenAPI document', () => {
  const routes = documentedRoutes();

  it('covers the document: reads and writes alike', () => {
    const methods = new Set(routes.map((r) => r.method));
    expect(methods).toContain('GET');
    expect(methods).toContain('POST');
    expect(methods).toContain('DELETE');
    expect(routes.map((r) => r.path)).toEqual(
      expect.arrayContaining(['/v1/schedules', '/v1/silences', '/v1/pause', '/v1/whoami']),
    );
  });

  it.each(routes.filter((r) => r.method === 'GET'))(
    'GET $path answers a viewer (never 401 or 403)',
    async ({ path }) => {
      const { status, json } = await send('GET', path, VIEWER);
      // A parameter with no existing value may name nothing: 404 then, never a refusal.
      const expected = path.includes('missing') ? [200, 404] : [200];
      expect(expected, `${path}: ${status} ${JSON.stringify(json)}`).toContain(status);
    },
  );

  it.each(routes.filter((r) => r.method !== 'GET'))(
    '$method $path is refused to a viewer (403)',
    async ({ method, path }) => {
      const { status, json } = await send(method, path, VIEWER, {});
      expect(status, `${method} ${path}`).toBe(403);
      expect(json).toMatchObject({ error: { code: 'forbidden' } });
    },
  );
});

describe('what the newly readable routes answer', () => {
  it('a viewer reads the schedules, the silences and the pause; a runner token still may not', async () => {
    const schedules = await send('GET', '/v1/schedules', VIEWER);
    expect(schedules.json).toMatchObject({
      items: [{ name: 'nightly', counts: { kind: 'backup' } }],
    });
    const silences = await send('GET', '/v1/silences', VIEWER);
    expect(silences.json).toMatchObject({
      items: [{ matchers: { kind: ['k'] }, createdBy: 'ops' }],
    });
    expect((await send('GET', '/v1/pause', VIEWER)).json).toMatchObject({ paused: false });
    for (const path of ['/v1/schedules', '/v1/silences', '/v1/pause']) {
      expect((await send('GET', path, ALPHA)).status, path).toBe(403);
    }
  });

  it('GET /v1/whoami names each token’s role, and the owner of a runner token', async () => {
    expect((await send('GET', '/v1/whoami', ADMIN)).json).toEqual({ role: 'admin', owner: null });
    expect((await send('GET', '/v1/whoami', VIEWER)).json).toEqual({ role: 'viewer', owner: null });
    expect((await send('GET', '/v1/whoami', ALPHA)).json).toEqual({
      role: 'runner',
      owner: 'alpha',
    });
    expect((await send('GET', '/v1/whoami', 'not-a-token-0123456789')).status).toBe(401);
  });
});
