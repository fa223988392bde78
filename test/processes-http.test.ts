/** GET /v1/processes in-process, and `vigil serve` supervising a real process end to end. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { buildApp } from '../src/http/app.js';
import { Vigil } from '../src/app/vigil.js';
import type { Harness } from './helpers.js';
import { T0, harness, tempDir } from './helpers.js';
import { api, startVigil, subscribe, until } from './process-helpers.js';
import { ensureBuilt, isAlive, killGroup, writeBeater } from './supervisor-helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function app(rawConfig: unknown, env: Record<string, string> = {}) {
  h = await harness('sqlite');
  const config = parseConfig(rawConfig, env);
  const vigil = new Vigil({ store: h.store, config, clock: h.clock, watchEventLoop: false });
  return { vigil, app: await buildApp({ vigil, store: h.store, config, clock: h.clock }) };
}

describe('GET /v1/processes', () => {
  it('answers {items: []} when no process is configured', async () => {
    const { app: server } = await app({});
    const response = await server.inject({ method: 'GET', url: '/v1/processes' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ items: [] });
  });

  it('lists each configured process: nulls before its first check, then what it found', async () => {
    const { app: server, vigil } = await app({
      processes: { web: { heartbeatFile: '/nonexistent/vigil-test/web.json' } },
    });
    expect((await server.inject({ method: 'GET', url: '/v1/processes' })).json()).toEqual({
      items: [
        {
          name: 'web',
          enabled: true,
          verdict: null,
          evidence: {},
          pid: null,
          consecutiveUnhealthy: 0,
          restarts: 0,
          lastCheckAt: null,
          nextRestartAt: null,
          gaveUp: false,
        },
      ],
    });
    await vigil.supervisor!.checkAll();
    const [item] = (await server.inject({ method: 'GET', url: '/v1/processes' })).json().items;
    expect(item).toMatchObject({
      name: 'web',
      verdict: 'no_heartbeat',
      consecutiveUnhealthy: 1,
      lastCheckAt: new Date(T0).toISOString(),
      evidence: { inGrace: false },
    });
  });

  it('is under the same auth as the rest of the API', async () => {
    const { app: server } = await app({}, { VIGIL_TOKEN: 'admin-token-0123456789' });
    expect((await server.inject({ method: 'GET', url: '/v1/processes' })).statusCode).toBe(401);
    const ok = await server.inject({
      method: 'GET',
      url: '/v1/processes',
      headers: { authorization: 'Bearer admin-token-0123456789' },
    });
    expect(ok.statusCode).toBe(200);
  });
});

describe('vigil serve supervises processes', () => {
  beforeAll(async () => {
    await ensureBuilt();
  }, 240_000);

  it('starts a configured process on its interval, reports it and emits events', async () => {
    const { dir, cleanup } = tempDir();
    const beater = writeBeater(dir);
    writeFileSync(
      join(dir, 'vigil.yaml'),
      `supervisor: { interval: 200ms }
processes:
  worker:
    heartbeatFile: worker.json
    heartbeat: 1h
    start:
      command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(beater)}]
      window: 200ms
`,
    );
    const vigil = await startVigil(dir, { VIGIL_DATABASE_URL: `sqlite:${join(dir, 'vigil.db')}` });
    let pid: number | null = null;
    try {
      const stream = await subscribe(vigil.url);
      const item = await until(
        async () => {
          const { json } = await api(vigil.url, 'GET', '/v1/processes');
          return json.items[0]?.verdict === 'healthy' ? json.items[0] : null;
        },
        { what: 'the worker to be started and healthy' },
      );
      pid = item.pid;
      expect(item).toMatchObject({ name: 'worker', enabled: true, restarts: 1, gaveUp: false });
      expect(isAlive(pid)).toBe(true);
      await until(() => stream.events.some((e) => e.type === 'process:recovered'), {
        what: 'process:recovered on the event stream',
      });
      // The first check runs as the service starts, so on a busy machine its process:unhealthy
      // may go out before this stream is open: the stream shows what came after it, the metrics
      // count both.
      const types = stream.events.map((e) => e.type);
      expect([['process:unhealthy', 'process:recovered'], ['process:recovered']]).toContainEqual(
        types,
      );
      const unhealthy = stream.events.find((e) => e.type === 'process:unhealthy');
      if (unhealthy)
        expect(unhealthy.data).toMatchObject({ name: 'worker', verdict: 'no_heartbeat' });
      const metrics = await (await fetch(`${vigil.url}/metrics`)).text();
      expect(metrics).toMatch(/^vigil_process_healthy\{process="worker",replica="[^"]+"\} 1$/m);
      expect(metrics).toMatch(/^vigil_events_total\{[^}]*type="process:unhealthy"[^}]*\} 1$/m);
      expect(metrics).toMatch(/^vigil_events_total\{[^}]*type="process:recovered"[^}]*\} 1$/m);
      stream.close();
    } finally {
      expect(await vigil.stop()).toBe(0);
      // A supervised process outlives `vigil serve`: it is detached, in its own group.
      expect(isAlive(pid)).toBe(true);
      killGroup(pid);
      cleanup();
    }
  });
});
