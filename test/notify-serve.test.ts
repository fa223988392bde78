import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import type { Receiver } from './notify-helpers.js';
import { startReceiver } from './notify-helpers.js';
import type { VigilProcess } from './process-helpers.js';
import { api, startVigil, until } from './process-helpers.js';

const SECRET = 'e2e-signing-secret-0123456789';

let dir: string;
let cleanup: () => void;
let receiver: Receiver;
let vigil: VigilProcess | undefined;

beforeEach(async () => {
  ({ dir, cleanup } = tempDir());
  receiver = await startReceiver();
  writeFileSync(
    join(dir, 'vigil.yaml'),
    `sweep:
  interval: 1s
notify:
  digestWindow: 200ms
  delivery: { backoff: 200ms }
  channels:
    hooks:
      type: webhook
      url: ${receiver.url}/hook
      secretEnv: HOOK_SECRET
  routes:
    - channel: hooks
      events: [execution:remediated]
`,
  );
});
afterEach(async () => {
  await vigil?.stop();
  vigil = undefined;
  await receiver.close();
  cleanup();
});

const env = () => ({
  VIGIL_DATABASE_URL: `sqlite:${join(dir, 'vigil.db')}`,
  HOOK_SECRET: SECRET,
});

describe('notifications from the real vigil serve', () => {
  it('a runner that goes silent is reported to the webhook, signed; the outcome is in the audit', async () => {
    vigil = await startVigil(dir, env());
    const created = await api(vigil.url, 'POST', '/v1/executions', {
      id: 'quiet',
      kind: 'e2e',
      limits: { heartbeat: '300ms' },
    });
    expect(created.status).toBe(201);

    const request = await until(() => receiver.accepted()[0], { what: 'the webhook delivery' });
    const timestamp = request.headers['x-vigil-timestamp'] as string;
    expect(request.headers['x-vigil-signature']).toBe(
      `sha256=${createHmac('sha256', SECRET).update(`${timestamp}.${request.raw}`).digest('hex')}`,
    );
    expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(60);
    expect(request.json.events).toMatchObject([
      {
        type: 'execution:remediated',
        executionId: 'quiet',
        kind: 'e2e',
        verdict: 'heartbeat_lost',
      },
    ]);

    const audit = await until(async () => {
      const { json } = await api(vigil!.url, 'GET', '/v1/notifications');
      return json.items[0]?.status === 'delivered' && json;
    });
    expect(audit.items).toMatchObject([
      { channel: 'hooks', eventType: 'execution:remediated', status: 'delivered', attempts: 1 },
    ]);
    expect(vigil.output()).not.toContain(SECRET);
  });

  it('a message left undelivered when vigil stops is delivered after it starts again', async () => {
    receiver.respond(503);
    vigil = await startVigil(dir, env());
    await api(vigil.url, 'POST', '/v1/executions', {
      id: 'quiet',
      kind: 'e2e',
      limits: { heartbeat: '300ms' },
    });
    await until(() => receiver.requests.length >= 1, { what: 'a first, refused delivery' });
    const pending = await api(vigil.url, 'GET', '/v1/notifications');
    expect(pending.json.items[0]).toMatchObject({ status: 'pending' });
    expect(await vigil.stop()).toBe(0);
    vigil = undefined;

    receiver.respond(200);
    vigil = await startVigil(dir, env());
    const request = await until(() => receiver.accepted()[0], {
      what: 'the delivery after the restart',
    });
    expect(request.json.events.map((e: { executionId: string }) => e.executionId)).toEqual([
      'quiet',
    ]);
    const { json } = await api(vigil.url, 'GET', '/v1/notifications');
    expect(json.items).toHaveLength(1);
    expect(json.items[0]).toMatchObject({ status: 'delivered', lastError: null });
    expect(json.items[0].attempts).toBeGreaterThanOrEqual(2);
    expect(receiver.accepted()).toHaveLength(1);
    expect(vigil.output()).not.toContain(SECRET);
  });
});
