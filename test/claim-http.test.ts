import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Vigil } from '../src/app/vigil.js';
import { parseConfig } from '../src/config.js';
import { buildApp } from '../src/http/app.js';
import { FakeClock } from '../src/runtime/clock.js';
import type { SqlStore } from '../src/stores/sql-store.js';
import { openSqliteStore } from '../src/stores/sqlite.js';
import { S, T0, tempDir } from './helpers.js';
import { until } from './process-helpers.js';

const ADMIN = 'admin-token-0123456789';
const ALPHA = 'alpha-token-0123456789';
const as = (token: string) => ({ authorization: `Bearer ${token}` });

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
      auth: { runners: [{ owner: 'alpha', token: ALPHA }] },
      kinds: { embed: { limits: { heartbeat: '30s' } } },
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

const post = (url: string, payload: unknown, token = ADMIN) =>
  app.inject({ method: 'POST', url, payload: payload as object, headers: as(token) });
const queue = (id: string, owner: string | null) =>
  post('/v1/executions', { id, kind: 'embed', owner, status: 'queued' });

describe('POST /v1/kinds/:kind/claim', () => {
  it('answers the claimed execution, running; then null when nothing is due', async () => {
    await queue('job-1', null);
    const claimed = await post('/v1/kinds/embed/claim', { runner: 'w1' });
    expect(claimed.statusCode).toBe(200);
    expect(claimed.json()).toMatchObject({
      runner: 'w1',
      execution: {
        id: 'job-1',
        status: 'running',
        attempt: 1,
        startedAt: new Date(T0).toISOString(),
        deadlineAt: new Date(T0 + 30 * S).toISOString(),
      },
    });
    expect((await post('/v1/kinds/embed/claim', { runner: 'w1' })).json()).toEqual({
      runner: 'w1',
      execution: null,
    });
  });

  it("a runner token claims only its own owner's executions", async () => {
    await queue('beta-job', 'beta');
    await queue('alpha-job', 'alpha');
    const first = await post('/v1/kinds/embed/claim', { runner: 'a1' }, ALPHA);
    expect(first.json()).toMatchObject({ execution: { id: 'alpha-job', owner: 'alpha' } });
    expect((await post('/v1/kinds/embed/claim', { runner: 'a1' }, ALPHA)).json()).toMatchObject({
      execution: null,
    });
    const other = await post('/v1/kinds/embed/claim', { runner: 'a1', owner: 'beta' }, ALPHA);
    expect(other.statusCode).toBe(403);
    expect((await store.get('beta-job'))?.status).toBe('queued');
    // The admin may claim for any owner.
    expect(
      (await post('/v1/kinds/embed/claim', { runner: 'ops', owner: 'beta' })).json(),
    ).toMatchObject({ execution: { id: 'beta-job' } });
  });

  it('waits for work registered meanwhile, and answers null once the wait has passed', async () => {
    const waiting = post('/v1/kinds/embed/claim', { runner: 'w1', wait: '10s' });
    await queue('late-job', null);
    expect((await waiting).json()).toMatchObject({ execution: { id: 'late-job' } });

    let answered: unknown;
    void post('/v1/kinds/embed/claim', { runner: 'w1', wait: 10_000 }).then((r) => {
      answered = r.json();
    });
    // The wait runs on the clock's monotonic time; the request may start after any one step.
    await until(() => {
      clock.advance(S);
      return answered;
    });
    expect(answered).toEqual({ runner: 'w1', execution: null });
    expect(clock.monotonic()).toBeGreaterThanOrEqual(10 * S);
  });

  it('a claim waiting for work answers when the server closes, instead of holding it up', async () => {
    let answered: unknown;
    void post('/v1/kinds/embed/claim', { runner: 'w1', wait: '30s' }).then((r) => {
      answered = r.json();
    });
    // The fake clock never moves here: only closing can end the wait.
    await until(() => vigil.service.claims.waiters === 1);
    await app.close();
    await until(() => answered);
    expect(answered).toEqual({ runner: 'w1', execution: null });
  });

  it('refuses bad input naming the field', async () => {
    const cases: [unknown, string][] = [
      [{}, 'body.runner'],
      [{ runner: 'w', wait: '5' }, 'body.wait: give a unit'],
      [{ runner: 'w', wait: '1h' }, 'body.wait: expected at most 30s'],
      [{ runner: 'w', extra: 1 }, 'unknown field extra'],
    ];
    for (const [body, message] of cases) {
      const answer = await post('/v1/kinds/embed/claim', body);
      expect(answer.statusCode).toBe(400);
      expect(answer.json().error.message).toContain(message);
    }
  });
});
