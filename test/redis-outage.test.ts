import type { ChildProcess } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import type { VigilProcess } from './process-helpers.js';
import { api, freePort, startVigil, until } from './process-helpers.js';

const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;

/** Same as `api`, but gives up after `ms` (a frozen store must not hang the test itself). */
async function within(ms: number, url: string, method: string, body?: unknown) {
  const response = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(ms),
  });
  return { status: response.status, json: (await response.json()) as any };
}

/** A redis-server of the test's own on a free loopback port, answering. */
async function startOwnRedis(): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const probe = createClient({ url });
  probe.on('error', () => undefined);
  try {
    await until(
      async () => {
        if (!probe.isOpen) await probe.connect();
        return (await probe.ping()) === 'PONG';
      },
      { what: 'the test redis-server to answer' },
    );
  } finally {
    probe.destroy();
  }
  return { child, url };
}

/** `vigil serve` on its own SQLite file, its slots in `redisUrl`, sweeping every 200 ms. */
function serveWith(dir: string, redisUrl: string): Promise<VigilProcess> {
  writeFileSync(`${dir}/vigil.yaml`, 'sweep:\n  interval: 200ms\n');
  return startVigil(dir, {
    VIGIL_REDIS_URL: redisUrl,
    VIGIL_DATABASE_URL: `sqlite:${dir}/vigil.db`,
  });
}

/**
 * A Redis of this test's own, frozen with SIGSTOP: its connection stays open and nothing answers,
 * which no unreachable port can imitate. The watchdog must keep ending executions, slot routes
 * must answer 503 `store_unavailable`, and `/healthz` must say steadily which store is down.
 */
describe.runIf(hasRedisServer)('a frozen Redis under vigil serve', () => {
  const { dir, cleanup } = tempDir();
  let redis: ChildProcess;
  let redisUrl: string;
  let vigil: VigilProcess | undefined;

  beforeAll(async () => {
    ({ child: redis, url: redisUrl } = await startOwnRedis());
    vigil = await serveWith(dir, redisUrl);
  });
  afterAll(async () => {
    redis?.kill('SIGCONT');
    await vigil?.stop('SIGKILL');
    redis?.kill('SIGKILL');
    cleanup();
  });

  it('keeps ending executions, answers slot routes 503 and reports the slot store down, steadily', async () => {
    const url = vigil!.url;
    const status = async (id: string) =>
      ((await api(url, 'GET', `/v1/executions/${id}`)).json as { status: string }).status;
    await api(url, 'POST', '/v1/executions', {
      id: 'holder',
      kind: 'agent',
      limits: { heartbeat: '1s' },
    });
    expect(
      (await api(url, 'POST', '/v1/executions/holder/slots', { attempt: 1, slot: 'cap' })).status,
    ).toBe(200);

    redis.kill('SIGSTOP');
    // Ended while Redis is frozen: its slot release is due and cannot be done now.
    await until(async () => (await status('holder')) === 'failed', {
      what: 'the slot holder to be ended',
    });
    // An execution holding no slot is ended too: the due release does not hold the sweep up.
    await api(url, 'POST', '/v1/executions', {
      id: 'plain',
      kind: 'agent',
      limits: { heartbeat: '1s' },
    });
    await until(async () => (await status('plain')) === 'failed', {
      what: 'an execution without slots to be ended while Redis is frozen',
    });

    await api(url, 'POST', '/v1/executions', { id: 'live', kind: 'agent' });
    // Each round: a heartbeat that lands, a slot route refused, and the same health answer.
    for (let round = 0; round < 5; round++) {
      expect((await api(url, 'POST', '/v1/executions/live/heartbeat', { attempt: 1 })).status).toBe(
        200,
      );
      const taken = await within(10_000, `${url}/v1/executions/live/slots`, 'POST', {
        attempt: 1,
        slot: `queue-${round}`,
      });
      expect(taken.status).toBe(503);
      expect(taken.json).toMatchObject({ error: { code: 'store_unavailable' }, store: 'slots' });
      const health = await within(10_000, `${url}/healthz`, 'GET');
      expect(health.status).toBe(503);
      expect(health.json).toMatchObject({
        status: 'unhealthy',
        storeReachable: false,
        database: { up: true, error: null },
        slots: { up: false, store: 'redis' },
      });
    }
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/vigil_store_up\{[^}]*store="database"[^}]*\} 1/);
    expect(metrics).toMatch(/vigil_store_up\{[^}]*store="slots"[^}]*\} 0/);

    redis.kill('SIGCONT');
    await until(async () => (await api(url, 'GET', '/healthz')).status === 200, {
      what: '/healthz to recover once Redis answers again',
    });
    // What could not be done while Redis was frozen is finished later: every key is given back
    // (the holder's slot, and any slot a timed-out acquisition took after all).
    const check = createClient({ url: redisUrl });
    await check.connect();
    try {
      await until(async () => (await check.keys('vigil:slot:*')).length === 0, {
        what: 'every slot to be released after the freeze',
        timeoutMs: 60_000,
      });
    } finally {
      check.destroy();
    }
    await until(
      async () =>
        (
          (await api(url, 'GET', '/v1/executions/holder/slots')).json.items as {
            releasedAt: string | null;
          }[]
        ).every((h) => h.releasedAt !== null),
      { what: "the holder's release to be recorded", timeoutMs: 60_000 },
    );
    expect(vigil!.child.exitCode).toBeNull();
  });
});

/**
 * A Redis that is gone (killed): runners keep beating through the database while slot routes
 * fail. /healthz must not follow whichever call came last: the slot store is down, the database up.
 */
describe.runIf(hasRedisServer)('a Redis gone under vigil serve', () => {
  const { dir, cleanup } = tempDir();
  let redis: ChildProcess;
  let vigil: VigilProcess | undefined;

  beforeAll(async () => {
    const own = await startOwnRedis();
    redis = own.child;
    vigil = await serveWith(dir, own.url);
  });
  afterAll(async () => {
    await vigil?.stop('SIGKILL');
    redis?.kill('SIGKILL');
    cleanup();
  });

  it('/healthz says steadily that the slot store is down and the database up', async () => {
    const url = vigil!.url;
    await api(url, 'POST', '/v1/executions', { id: 'live', kind: 'agent' });
    const exited = new Promise((resolve) => redis.once('exit', resolve));
    redis.kill('SIGKILL');
    await exited;
    for (let round = 0; round < 5; round++) {
      const taken = await api(url, 'POST', '/v1/executions/live/slots', {
        attempt: 1,
        slot: `cap-${round}`,
      });
      expect(taken.status).toBe(503);
      expect(taken.json).toMatchObject({ error: { code: 'store_unavailable' } });
      // A heartbeat that lands says the database answers; it says nothing about Redis.
      const beat = await api(url, 'POST', '/v1/executions/live/heartbeat', { attempt: 1 });
      expect(beat.status).toBe(200);
      const health = await api(url, 'GET', '/healthz');
      expect(health.status, `round ${round}: ${JSON.stringify(health.json)}`).toBe(503);
      expect(health.json).toMatchObject({
        storeReachable: false,
        database: { up: true },
        slots: { up: false, store: 'redis' },
      });
    }
    expect(vigil!.child.exitCode).toBeNull();
  });
});
