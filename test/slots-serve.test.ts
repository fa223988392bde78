import { randomUUID } from 'node:crypto';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VigilClient } from '../src/sdk/index.js';
import { REDIS_URL, redisAvailable, tempDir } from './helpers.js';
import type { VigilProcess } from './process-helpers.js';
import { api, startVigil, until } from './process-helpers.js';

const available = await redisAvailable();

/**
 * A real `vigil serve` with its slots in a real Redis: a runner takes its capacity slot and queue
 * entry through the API (the SDK), goes silent, and the watchdog's remediation gives both back.
 */
describe.runIf(available)('capacity slots in Redis, through the API', () => {
  const { dir, cleanup } = tempDir();
  const prefix = `vigil-e2e:${randomUUID()}:`;
  const redis = createClient({ url: REDIS_URL });
  let vigil: VigilProcess;

  beforeAll(async () => {
    await redis.connect();
    await import('node:fs').then(({ writeFileSync }) =>
      writeFileSync(`${dir}/vigil.yaml`, `redis:\n  keyPrefix: "${prefix}"\n`),
    );
    vigil = await startVigil(dir, { VIGIL_REDIS_URL: REDIS_URL });
  });
  afterAll(async () => {
    await vigil?.stop();
    for (const key of await redis.keys(`${prefix}*`)) await redis.del(key);
    await redis.close();
    cleanup();
  });

  it('serve names the slot store it uses', async () => {
    // Printed beside the "listening" line, perhaps in a later chunk of its output.
    await until(() => /slots redis redis:\/\/127\.0\.0\.1:6379/.test(vigil.output()), {
      what: `the slot store in the output (so far: ${vigil.output()})`,
    });
  });

  it('a silent runner is ended and exactly its slots are released; the other keeps its own', async () => {
    const client = new VigilClient({ url: vigil.url });
    const stuck = await client.register({ kind: 'agent', limits: { heartbeat: '1s' } });
    const healthy = await client.register({ kind: 'agent', limits: { heartbeat: '1h' } });
    await client.acquireSlot(stuck.id, { attempt: 1, slot: 'agent:alpha:capacity' });
    await client.acquireSlot(stuck.id, { attempt: 1, slot: 'agent:alpha:queue' });
    await client.acquireSlot(healthy.id, { attempt: 1, slot: 'agent:beta:capacity', ttl: '1h' });
    expect(await redis.get(`${prefix}agent:alpha:capacity`)).toBe(`1:${stuck.id}`);

    const taken = await api(vigil.url, 'POST', `/v1/executions/${healthy.id}/slots`, {
      attempt: 1,
      slot: 'agent:alpha:capacity',
    });
    expect(taken).toMatchObject({
      status: 409,
      json: { error: { code: 'slot_taken' }, holder: { executionId: stuck.id, attempt: 1 } },
    });

    // No heartbeat: the deadline passes, the scheduler sweeps, the slots come back.
    await until(
      async () =>
        (await redis.get(`${prefix}agent:alpha:capacity`)) === null &&
        (await redis.get(`${prefix}agent:alpha:queue`)) === null,
      { what: 'the stuck execution’s slots to be released' },
    );
    expect(await redis.get(`${prefix}agent:beta:capacity`)).toBe(`1:${healthy.id}`);
    expect(await client.get(stuck.id)).toMatchObject({
      status: 'failed',
      verdict: 'heartbeat_lost',
    });

    const holds = await api(vigil.url, 'GET', `/v1/executions/${stuck.id}/slots`);
    expect(holds.json.items).toEqual([
      expect.objectContaining({ slot: 'agent:alpha:capacity', releaseOutcome: 'released' }),
      expect.objectContaining({ slot: 'agent:alpha:queue', releaseOutcome: 'released' }),
    ]);
    const audit = await api(vigil.url, 'GET', `/v1/remediations?executionId=${stuck.id}`);
    await until(async () => {
      const steps = (await api(vigil.url, 'GET', `/v1/remediations?executionId=${stuck.id}`)).json
        .items[0]?.steps as { step: string }[] | undefined;
      return steps?.filter((s) => s.step === 'release').length === 2;
    });
    expect(audit.status).toBe(200);
  });

  it('bad slot input is a 400 naming the field', async () => {
    const client = new VigilClient({ url: vigil.url });
    const execution = await client.register({ kind: 'agent' });
    const bad = await api(vigil.url, 'POST', `/v1/executions/${execution.id}/slots`, {
      attempt: 1,
      slot: 'has spaces',
      ttl: 'soon',
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toMatch(/body\.slot.*body\.ttl/s);
  });
});
