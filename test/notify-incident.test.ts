import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';
import { Notifications } from '../src/notify/index.js';
import type { Harness } from './helpers.js';
import {
  M,
  S,
  describeEach,
  harness,
  probeFailing,
  probeRecovered,
  storeKinds,
} from './helpers.js';
import type { Receiver } from './notify-helpers.js';
import { startReceiver } from './notify-helpers.js';

const ROUTING_KEY = 'R0UT1NGKEY0123456789abcdef012345';
const API_KEY = 'eb243592-faa2-4ba2-a551q-1afdf565c889';

let h: Harness | undefined;
let n: Notifications | undefined;
const receivers: Receiver[] = [];
let errors: string[] = [];

afterEach(async () => {
  await n?.stop();
  n = undefined;
  for (const receiver of receivers.splice(0)) await receiver.close();
  await h?.close();
  h = undefined;
  errors = [];
});

async function receiver(status = 202): Promise<Receiver> {
  const r = await startReceiver();
  r.respond(status, '{"status":"success"}');
  receivers.push(r);
  return r;
}

async function setup(kind: Awaited<ReturnType<typeof storeKinds>>[number], notify: object) {
  h = await harness(kind, { notify });
  n = new Notifications({
    events: h.bus,
    store: h.store,
    config: h.config.notify!,
    clock: h.clock,
    onError: (error) => errors.push(String(error)),
    deliver: false,
  });
}

/** Writes what the bus emitted to the outbox, then delivers what is due now. */
async function deliver() {
  await n!.router.flush();
  return n!.worker.runOnce();
}

await describeEach(
  storeKinds().filter((k) => k !== 'sqlite-generic'),
  'PagerDuty and Opsgenie on %s',
  (kind) => {
    it('PagerDuty: probe:failing triggers, probe:recovered resolves the same dedup_key; a relapse triggers again', async () => {
      const pd = await receiver();
      await setup(kind, {
        channels: {
          pager: { type: 'pagerduty', url: `${pd.url}/v2/enqueue`, routingKey: ROUTING_KEY },
        },
        // Only the trigger is routed: the resolve comes with it, or incidents would never close.
        routes: [{ channel: 'pager', events: ['probe:failing'] }],
        digestWindow: 0,
      });
      h!.bus.emit(probeFailing('api', h!.clock.now(), 'status 503, expected 2xx'));
      expect(await deliver()).toEqual({ delivered: 1, retrying: 0, failed: 0 });
      h!.clock.advance(30 * S);
      h!.bus.emit(probeRecovered('api', h!.clock.now()));
      expect(await deliver()).toEqual({ delivered: 1, retrying: 0, failed: 0 });
      // Back within what would be the cooldown of other channels: PagerDuty must hear it.
      h!.clock.advance(30 * S);
      h!.bus.emit(probeFailing('api', h!.clock.now()));
      expect(await deliver()).toEqual({ delivered: 1, retrying: 0, failed: 0 });

      expect(pd.requests.map((r) => [r.method, r.path])).toEqual(
        Array(3).fill(['POST', '/v2/enqueue']),
      );
      const [trigger, resolve, again] = pd.requests.map((r) => r.json);
      expect(pd.requests[0]!.headers['content-type']).toBe('application/json');
      expect(trigger).toEqual({
        routing_key: ROUTING_KEY,
        event_action: 'trigger',
        dedup_key: 'vigil/probe/api',
        client: 'Vigil',
        payload: {
          summary: 'probe:failing api: status 503, expected 2xx',
          source: 'vigil',
          severity: 'critical',
          timestamp: new Date(h!.clock.now() - 60 * S).toISOString(),
          component: 'api',
          group: 'probe',
          class: 'probe:failing',
          custom_details: expect.objectContaining({ probe: 'api', url: 'http://probe.test/api' }),
        },
      });
      expect(resolve).toEqual({
        routing_key: ROUTING_KEY,
        event_action: 'resolve',
        dedup_key: trigger.dedup_key,
      });
      expect(again).toMatchObject({ event_action: 'trigger', dedup_key: trigger.dedup_key });
    });

    it('PagerDuty: a stuck execution triggers with the execution as key, its remediation resolves it', async () => {
      const pd = await receiver();
      await setup(kind, {
        channels: {
          pager: { type: 'pagerduty', url: `${pd.url}/v2/enqueue`, routingKey: ROUTING_KEY },
        },
        routes: [{ channel: 'pager', events: ['execution:stuck'] }],
      });
      await h!.ledger.register({ id: 'job-7', kind: 'embed', limits: { heartbeat: '30s' } });
      h!.clock.advance(31 * S);
      await h!.sweeper.sweep();
      expect(await deliver()).toEqual({ delivered: 2, retrying: 0, failed: 0 });
      // One digest of two events: sent in order, one request each.
      expect(pd.requests.map((r) => [r.json.event_action, r.json.dedup_key])).toEqual([
        ['trigger', 'vigil/execution/job-7'],
        ['resolve', 'vigil/execution/job-7'],
      ]);
      expect(pd.requests[0]!.json.payload).toMatchObject({
        severity: 'error',
        class: 'execution:stuck',
        summary: expect.stringMatching(/^execution:stuck job-7#1 heartbeat_lost: /),
      });
    });

    it('Opsgenie: creates an alert with the subject as alias, closes it by that alias on recovery', async () => {
      const og = await receiver();
      await setup(kind, {
        channels: { genie: { type: 'opsgenie', url: og.url, apiKey: API_KEY } },
        routes: [{ channel: 'genie', events: ['probe:*'] }],
        digestWindow: 0,
      });
      h!.bus.emit(probeFailing('bot health', h!.clock.now(), 'connection refused (ECONNREFUSED)'));
      await deliver();
      h!.clock.advance(M);
      h!.bus.emit(probeRecovered('bot health', h!.clock.now()));
      await deliver();

      expect(og.requests.map((r) => [r.method, r.path])).toEqual([
        ['POST', '/v2/alerts'],
        ['POST', '/v2/alerts/vigil%2Fprobe%2Fbot%20health/close?identifierType=alias'],
      ]);
      for (const request of og.requests) {
        expect(request.headers.authorization).toBe(`GenieKey ${API_KEY}`);
        expect(request.headers['content-type']).toBe('application/json');
      }
      const [create, close] = og.requests.map((r) => r.json);
      expect(create).toMatchObject({
        message: 'probe:failing bot health: connection refused (ECONNREFUSED)',
        alias: 'vigil/probe/bot health',
        priority: 'P1',
        source: 'Vigil',
        tags: ['vigil', 'probe:failing'],
        entity: 'bot health',
        details: { probe: 'bot health', consecutiveFailures: '1' },
      });
      expect(decodeURIComponent(og.requests[1]!.path.split('/')[3]!)).toBe(create.alias);
      expect(close).toEqual({ source: 'Vigil', note: 'probe:recovered bot health' });
    });

    it('goes through the outbox: a 503 is retried with backoff, a 400 fails at once; keys never leak', async () => {
      const pd = await receiver(503);
      const og = await receiver(400);
      await setup(kind, {
        channels: {
          pager: { type: 'pagerduty', url: `${pd.url}/v2/enqueue`, routingKey: ROUTING_KEY },
          genie: { type: 'opsgenie', url: og.url, apiKey: API_KEY },
        },
        digestWindow: 0,
        delivery: { backoff: '1s', maxBackoff: '2s' },
      });
      h!.bus.emit(probeFailing('api', h!.clock.now()));
      expect(await deliver()).toEqual({ delivered: 0, retrying: 1, failed: 1 });
      pd.respond(202, '{"status":"success"}');
      h!.clock.advance(2 * S);
      expect(await deliver()).toEqual({ delivered: 1, retrying: 0, failed: 0 });
      expect(pd.requests).toHaveLength(2);
      expect(pd.requests[1]!.raw).toBe(pd.requests[0]!.raw);
      const rows = await h!.store.outbox().list({ limit: 10 });
      const genie = rows.find((row) => row.channel === 'genie');
      expect(genie).toMatchObject({ status: 'failed', attempts: 1 });
      expect(genie!.lastError).toMatch(/^receiver answered HTTP 400/);
      const stored = JSON.stringify(rows) + errors.join('\n');
      expect(stored).not.toContain(ROUTING_KEY);
      expect(stored).not.toContain(API_KEY);
    });
  },
);

describe('PagerDuty and Opsgenie in vigil.yaml', () => {
  const refused = (notify: object, env: Record<string, string> = {}) => {
    try {
      parseConfig({ notify }, env);
    } catch (error) {
      if (error instanceof ConfigError) return error.problems;
      throw error;
    }
    throw new Error('expected the configuration to be refused');
  };

  it('reads keys from the environment and defaults the public API URLs', () => {
    const config = parseConfig(
      {
        notify: {
          channels: {
            pager: { type: 'pagerduty', routingKeyEnv: 'PD_KEY' },
            genie: { type: 'opsgenie', apiKey: '${OG_KEY}', url: 'https://api.eu.opsgenie.com' },
          },
        },
      },
      { PD_KEY: ROUTING_KEY, OG_KEY: API_KEY },
    );
    const { pager, genie } = config.notify!.channels;
    expect(pager).toMatchObject({
      type: 'pagerduty',
      url: 'https://events.pagerduty.com/v2/enqueue',
    });
    expect(pager?.type === 'pagerduty' && pager.routingKey.reveal()).toBe(ROUTING_KEY);
    expect(genie).toMatchObject({ type: 'opsgenie', url: 'https://api.eu.opsgenie.com' });
    expect(genie?.type === 'opsgenie' && genie.apiKey.reveal()).toBe(API_KEY);
    expect(JSON.stringify(config)).not.toContain(ROUTING_KEY);
    // The default route: the usual events, with what resolves them, and no cooldown.
    expect(config.notify!.routes).toEqual([
      expect.objectContaining({
        channels: ['pager', 'genie'],
        cooldownMs: 0,
        events: expect.arrayContaining(['probe:failing', 'probe:recovered', 'process:recovered']),
      }),
    ]);
  });

  it('refuses a missing key, naming the key and the variable', () => {
    expect(
      refused({ channels: { pager: { type: 'pagerduty', routingKeyEnv: 'PD_KEY' } } }),
    ).toEqual(['notify.channels.pager.routingKeyEnv: environment variable PD_KEY is not set']);
    expect(refused({ channels: { genie: { type: 'opsgenie' } } })).toEqual([
      'notify.channels.genie.apiKey: expected exactly one of "apiKey" or "apiKeyEnv"',
    ]);
  });
});
