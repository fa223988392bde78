import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Vigil } from '../src/app/vigil.js';
import { parseConfig } from '../src/config.js';
import type { Execution } from '../src/core/types.js';
import { buildApp } from '../src/http/app.js';
import type { NewExecution } from '../src/ports/ledger-store.js';
import { Ledger } from '../src/runtime/ledger.js';
import type { Harness } from './helpers.js';
import { M, T0, describeEach, harness } from './helpers.js';

/**
 * Registration at scale: `POST /v1/executions/batch` on each store kind, its rules for a runner
 * token per item, and the group commit of single registrations (concurrent POSTs with the same id
 * get exactly one winner).
 */

const ADMIN = 'admin-token-0123456789';
const ALPHA = 'alpha-token-0123456789';
const BETA = 'beta-token-0123456789';
const as = (token: string) => ({ authorization: `Bearer ${token}` });

interface Result {
  execution?: { id: string; owner: string | null; status: string; [key: string]: unknown };
  error?: { code: string; message: string };
}

await describeEach(['sqlite', 'sqlite-generic', 'postgres'], 'registration on %s', (kind) => {
  let h: Harness;
  let app: FastifyInstance;
  let vigil: Vigil;

  beforeEach(async () => {
    const raw = {
      kinds: { slow: { limits: { run: '1h' } } },
      auth: {
        runners: [
          { owner: 'alpha', token: ALPHA },
          { owner: 'beta', token: BETA },
        ],
      },
    };
    h = await harness(kind, raw);
    const config = parseConfig(raw, { VIGIL_TOKEN: ADMIN });
    vigil = new Vigil({ store: h.store, config, clock: h.clock, watchEventLoop: false });
    app = await buildApp({ vigil, store: h.store, config, clock: h.clock });
  });
  afterEach(async () => {
    await app.close();
    await h.close();
  });

  const post = (url: string, payload: unknown, token = ADMIN) =>
    app.inject({ method: 'POST', url, payload: payload as object, headers: as(token) });
  const batch = async (executions: unknown[], token = ADMIN) => {
    const answer = await post('/v1/executions/batch', { executions }, token);
    expect(answer.statusCode, answer.body).toBe(200);
    return answer.json<{ results: Result[] }>().results;
  };

  it('answers one result per item, in order: the execution or its own error', async () => {
    expect((await post('/v1/executions', { id: 'taken', kind: 'k' })).statusCode).toBe(201);
    const results = await batch([
      { id: 'a', kind: 'slow', metadata: { n: 1 } },
      { id: 'taken', kind: 'k' },
      { id: 'b', kind: 'k', status: 'queued' },
      { id: 'a', kind: 'k' },
      { id: 'bad id!', kind: 'k' },
      { kind: 'k', limits: { run: '10m' } },
      { id: 'c', kind: 'k', surprise: 1 },
      { id: 'd', kind: 'k\u0000' },
    ]);
    expect(results).toHaveLength(8);
    // The same JSON the single route answers with.
    expect(results[0]!.execution).toMatchObject({
      id: 'a',
      kind: 'slow',
      status: 'running',
      startedAt: new Date(T0).toISOString(),
      deadlineAt: new Date(T0 + 60 * M).toISOString(),
      metadata: { n: 1 },
    });
    expect(results[1]).toEqual({
      error: { code: 'already_exists', message: 'execution taken already exists' },
    });
    expect(results[2]!.execution).toMatchObject({ id: 'b', status: 'queued', startedAt: null });
    // A second item with the same id in one batch: the first one won.
    expect(results[3]).toEqual({
      error: { code: 'already_exists', message: 'execution a already exists' },
    });
    expect(results[4]!.error).toMatchObject({ code: 'bad_input' });
    expect(results[4]!.error!.message).toMatch(/^executions\.4\.id: /);
    expect(results[5]!.execution).toMatchObject({ status: 'running', limits: { run: 10 * M } });
    expect(results[6]!.error).toMatchObject({
      code: 'bad_input',
      message: 'executions.6: unknown field surprise',
    });
    // A control character PostgreSQL would refuse fails its own item, not the batch's write.
    expect(results[7]!.error).toMatchObject({ code: 'bad_input' });
    expect(results[7]!.error!.message).toMatch(
      /^executions\.7\.kind: expected text without control characters/,
    );
    // What the database holds is what was answered.
    for (const r of results) {
      if (!r.execution) continue;
      const got = await app.inject({ url: `/v1/executions/${r.execution.id}`, headers: as(ADMIN) });
      expect(got.json()).toEqual(r.execution);
    }
    expect((await h.store.get('a'))?.kind).toBe('slow');
  });

  it('refuses a body that is not a batch of 1 to 1,000 items, naming what is wrong', async () => {
    const item = (i: number) => ({ id: `x-${i}`, kind: 'k' });
    const cases: [unknown, RegExp][] = [
      [{}, /^body\.executions: required: expected a list, got nothing$/],
      [{ executions: 'all' }, /^body\.executions: expected a list, got "all"/],
      [{ executions: [] }, /^body\.executions: expected at least 1 item, got \[\]$/],
      [
        { executions: Array.from({ length: 1_001 }, (_, i) => item(i)) },
        /^body\.executions: expected at most 1,000 items, got 1,001$/,
      ],
      [{ executions: [item(1)], more: true }, /^body: unknown field more$/],
      [[item(1)], /^body: expected a mapping of keys, got \[/],
    ];
    for (const [payload, message] of cases) {
      const answer = await post('/v1/executions/batch', payload);
      expect(answer.statusCode, JSON.stringify(payload).slice(0, 80)).toBe(400);
      expect(answer.json().error.code).toBe('bad_input');
      expect(answer.json().error.message).toMatch(message);
    }
    const full = await batch(Array.from({ length: 1_000 }, (_, i) => item(i)));
    expect(full.every((r) => r.execution)).toBe(true);
  });

  it("applies a runner token's rules to each item", async () => {
    await post('/v1/executions', { id: 'alpha-parent', kind: 'k', owner: 'alpha' });
    await post('/v1/executions', { id: 'beta-parent', kind: 'k', owner: 'beta' });
    const results = await batch(
      [
        { id: 'r1', kind: 'k' },
        { id: 'r2', kind: 'k', owner: 'alpha', parentId: 'alpha-parent' },
        { id: 'r3', kind: 'k', owner: 'beta' },
        { id: 'r4', kind: 'k', parentId: 'beta-parent' },
        { id: 'r5', kind: 'k', parentId: 'nowhere' },
        { id: 'beta-parent', kind: 'k' },
      ],
      ALPHA,
    );
    expect(results[0]!.execution).toMatchObject({ id: 'r1', owner: 'alpha' });
    expect(results[1]!.execution).toMatchObject({ owner: 'alpha', parentId: 'alpha-parent' });
    expect(results[2]!.error).toMatchObject({ code: 'forbidden' });
    // Another owner's parent is answered exactly as a missing one: ids do not leak.
    expect(results[3]).toEqual({
      error: {
        code: 'not_found',
        message: 'executions.3.parentId: execution beta-parent not found',
      },
    });
    expect(results[4]).toEqual({
      error: { code: 'not_found', message: 'executions.4.parentId: execution nowhere not found' },
    });
    // As on the single route, a taken id is already_exists whoever holds it.
    expect(results[5]!.error).toMatchObject({ code: 'already_exists' });
    expect(await h.store.get('r3')).toBeUndefined();
    expect(await h.store.get('r4')).toBeUndefined();
    // The admin registers for any owner and under any parent.
    const admin = await batch([{ id: 'a1', kind: 'k', owner: 'beta', parentId: 'alpha-parent' }]);
    expect(admin[0]!.execution).toMatchObject({ owner: 'beta', parentId: 'alpha-parent' });
    const viewerless = await post('/v1/executions/batch', { executions: [{ kind: 'k' }] }, 'nope');
    expect(viewerless.statusCode).toBe(401);
  });

  it('gives exactly one 201 per id to concurrent single registrations', async () => {
    // 200 POSTs at once: 180 distinct ids, and 10 ids sent twice each.
    const ids = [
      ...Array.from({ length: 180 }, (_, i) => `u-${i}`),
      ...Array.from({ length: 10 }, (_, i) => `d-${i}`),
      ...Array.from({ length: 10 }, (_, i) => `d-${i}`),
    ];
    const answers = await Promise.all(
      ids.map((id) => post('/v1/executions', { id, kind: 'k', metadata: { id } })),
    );
    const byId = new Map<string, number[]>();
    answers.forEach((answer, i) =>
      byId.set(ids[i]!, [...(byId.get(ids[i]!) ?? []), answer.statusCode]),
    );
    expect(byId.size).toBe(190);
    for (const [id, statuses] of byId) {
      expect(
        statuses.filter((s) => s === 201),
        id,
      ).toHaveLength(1);
      expect(
        statuses.filter((s) => s !== 201).every((s) => s === 409),
        id,
      ).toBe(true);
    }
    const conflicts = answers.filter((a) => a.statusCode === 409);
    expect(conflicts).toHaveLength(10);
    expect(conflicts[0]!.json().error.code).toBe('already_exists');
    for (const answer of answers.filter((a) => a.statusCode === 201)) {
      const body = answer.json<{ id: string; metadata: { id: string } }>();
      expect(body.metadata.id).toBe(body.id);
    }
  });
});

describe('group commit in the ledger', () => {
  let h: Harness;
  afterEach(() => h.close());

  const input = (id: string) => ({ id, kind: 'k', status: 'queued' as const });

  it('writes registrations of one tick together, each answered with its own row or error', async () => {
    h = await harness('sqlite');
    const writes: number[] = [];
    const store = h.store;
    const counting = Object.create(store) as typeof store;
    counting.createMany = (inputs: NewExecution[], now: number) => {
      writes.push(inputs.length);
      return store.createMany(inputs, now);
    };
    const ledger = new Ledger(counting, h.config, h.clock);
    await ledger.register(input('before'));
    const outcomes = await Promise.allSettled([
      ...Array.from({ length: 50 }, (_, i) => ledger.register(input(`g-${i}`))),
      ledger.register(input('g-0')),
      ledger.register(input('before')),
      ledger.register({ kind: '' }),
    ]);
    // One write for the 52 valid ones (the invalid one never reaches the store).
    expect(writes).toEqual([1, 52]);
    expect(outcomes.slice(0, 50).every((o) => o.status === 'fulfilled')).toBe(true);
    for (const o of outcomes.slice(50)) expect(o.status).toBe('rejected');
    expect((outcomes[50] as PromiseRejectedResult).reason).toMatchObject({
      code: 'already_exists',
      message: 'execution g-0 already exists',
    });
    expect((outcomes[52] as PromiseRejectedResult).reason).toMatchObject({ code: 'bad_input' });
  });

  it('wakes the scheduler once per batch with its earliest deadline, and each queued kind once', async () => {
    h = await harness('sqlite', { kinds: { quick: { limits: { run: '1m' } } } });
    const pokes: (number | null)[] = [];
    const queued: string[] = [];
    const ledger = new Ledger(h.store, h.config, h.clock, {
      alarm: { poke: (at) => pokes.push(at) },
      afterQueue: (kind) => queued.push(kind),
    });
    const results = await ledger.registerMany([
      { id: 'a', kind: 'slow', limits: { run: 3_600_000 } },
      { id: 'b', kind: 'quick' },
      { id: 'c', kind: 'q1', status: 'queued' },
      { id: 'd', kind: 'q1', status: 'queued' },
      { id: 'e', kind: 'q2', status: 'queued' },
    ]);
    expect(results.map((r) => (r as Execution).id)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(pokes).toEqual([T0 + M]);
    expect(queued.sort()).toEqual(['q1', 'q2']);
    expect(await ledger.registerMany([])).toEqual([]);
  });
});
