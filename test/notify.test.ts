import { createHmac } from 'node:crypto';
import { inspect } from 'node:util';
import { afterEach, expect, it } from 'vitest';
import { buildApp } from '../src/http/app.js';
import { Notifications, notifierFor } from '../src/notify/index.js';
import { DeliveryWorker } from '../src/notify/worker.js';
import type { ExecutionStore } from '../src/ports/execution-store.js';
import type { Notifier } from '../src/ports/notifier.js';
import { Vigil } from '../src/app/vigil.js';
import type { Harness } from './helpers.js';
import {
  M,
  S,
  harness,
  probeFailing,
  probeRecovered,
  storeKinds,
  describeEach,
} from './helpers.js';
import type { MailServer, Receiver } from './notify-helpers.js';
import { startReceiver, startSmtp } from './notify-helpers.js';
import { until } from './process-helpers.js';

const SECRET = 'whsec-0123456789abcdef';

let h: Harness | undefined;
let n: Notifications | undefined;
const extra: { stop: () => Promise<void> }[] = [];
const receivers: Receiver[] = [];
let smtp: MailServer | undefined;
let errors: string[] = [];

afterEach(async () => {
  for (const item of extra.splice(0)) await item.stop();
  await n?.stop();
  n = undefined;
  for (const receiver of receivers.splice(0)) await receiver.close();
  await smtp?.close();
  smtp = undefined;
  await h?.close();
  h = undefined;
  errors = [];
});

async function receiver(): Promise<Receiver> {
  const r = await startReceiver();
  receivers.push(r);
  return r;
}

/** A harness with `notify` configured and notifications on its bus; delivery runs by hand. */
async function setup(kind: Awaited<ReturnType<typeof storeKinds>>[number], raw: object) {
  h = await harness(kind, raw);
  n = notificationsOn(h.store);
  return { h, n };
}

function notificationsOn(
  store: ExecutionStore,
  options: { deliver?: boolean; notifiers?: Map<string, Notifier> } = {},
): Notifications {
  return new Notifications({
    events: h!.bus,
    store,
    config: h!.config.notify!,
    clock: h!.clock,
    onError: (error) => errors.push(String(error)),
    deliver: options.deliver ?? false,
    notifiers: options.notifiers,
  });
}

/** Writes what the bus emitted to the outbox, then delivers what is due now. */
async function deliver(notifications = n!) {
  await notifications.router.flush();
  return notifications.worker.runOnce();
}

/** Registers executions with a 30 s heartbeat limit and lets them go silent past it. */
async function stuck(ids: string[], kind = 'embed') {
  for (const id of ids) await h!.ledger.register({ id, kind, limits: { heartbeat: '30s' } });
  h!.clock.advance(31 * S);
}

const webhook = (r: Receiver, path = '/hook') => ({
  type: 'webhook',
  url: `${r.url}${path}`,
  secret: SECRET,
});

const eventIds = (requests: { json: any }[]) =>
  requests.flatMap((r) =>
    (r.json.events as { notificationId: string }[]).map((e) => e.notificationId),
  );

await describeEach(
  storeKinds().filter((k) => k !== 'sqlite-generic'),
  'notifications on %s',
  (kind) => {
    it('signs a webhook delivery: HMAC-SHA256 over "<timestamp>.<raw body>" with the secret', async () => {
      const r = await receiver();
      await setup(kind, {
        notify: {
          channels: { hooks: webhook(r) },
          routes: [{ channel: 'hooks', events: ['execution:remediated'] }],
        },
      });
      await stuck(['job-1']);
      await h!.sweeper.sweep();

      expect(await deliver()).toEqual({ delivered: 1, retrying: 0, failed: 0 });

      expect(r.requests).toHaveLength(1);
      const request = r.requests[0]!;
      const timestamp = request.headers['x-vigil-timestamp'] as string;
      expect(timestamp).toBe(String(Math.floor(h!.clock.now() / 1000)));
      const expected = `sha256=${createHmac('sha256', SECRET).update(`${timestamp}.${request.raw}`).digest('hex')}`;
      expect(request.headers['x-vigil-signature']).toBe(expected);
      // The timestamp is part of what is signed: a replay with a fresh timestamp does not verify.
      const replayed = `sha256=${createHmac('sha256', SECRET)
        .update(`${Number(timestamp) + 600}.${request.raw}`)
        .digest('hex')}`;
      expect(replayed).not.toBe(expected);
      expect(request.headers['content-type']).toBe('application/json');
      expect(request.json).toMatchObject({
        channel: 'hooks',
        summary: 'execution:remediated job-1 (heartbeat_lost)',
        events: [
          {
            type: 'execution:remediated',
            executionId: 'job-1',
            attempt: 1,
            kind: 'embed',
            verdict: 'heartbeat_lost',
            at: new Date(h!.clock.now()).toISOString(),
          },
        ],
      });
      const [row] = await h!.store.outbox().list({ limit: 10 });
      expect(request.json.events[0].notificationId).toBe(row!.id);
      expect(request.headers['x-vigil-delivery']).toBe(row!.id);
      expect(row).toMatchObject({ status: 'delivered', attempts: 1, lastError: null });
    });

    it('a sweep that remediates 50 executions sends one digest per channel', async () => {
      const [hooks, slack, discord] = [await receiver(), await receiver(), await receiver()];
      await setup(kind, {
        notify: {
          channels: {
            hooks: webhook(hooks),
            slack: { type: 'slack', url: `${slack.url}/services/T0/B0/abc` },
            discord: { type: 'discord', url: `${discord.url}/api/webhooks/1/xyz` },
          },
          routes: [{ channels: ['hooks', 'slack', 'discord'], events: ['execution:remediated'] }],
        },
      });
      const ids = Array.from({ length: 50 }, (_, i) => `bulk-${String(i).padStart(2, '0')}`);
      await stuck(ids);

      const sweep = await h!.sweeper.sweep();
      expect(sweep.kind === 'completed' && sweep.report.counts.remediated).toBe(50);
      expect(await deliver()).toEqual({ delivered: 150, retrying: 0, failed: 0 });
      expect(await deliver()).toEqual({ delivered: 0, retrying: 0, failed: 0 });

      expect(hooks.requests).toHaveLength(1);
      expect(slack.requests).toHaveLength(1);
      expect(discord.requests).toHaveLength(1);
      const sent = hooks.requests[0]!.json;
      expect(sent.summary).toBe('50 events: execution:remediated ×50');
      expect(sent.events.map((e: { executionId: string }) => e.executionId).sort()).toEqual(ids);
      expect(new Set(eventIds(hooks.requests)).size).toBe(50);

      const text: string = slack.requests[0]!.json.text;
      expect(slack.requests[0]!.path).toBe('/services/T0/B0/abc');
      expect(text.split('\n')[0]).toBe('*Vigil*: 50 events: execution:remediated ×50');
      expect(text).toContain('• execution:remediated bulk-00#1 heartbeat_lost: no heartbeat');
      expect(text.split('\n').at(-1)).toBe('• … and 30 more');
      expect(slack.requests[0]!.json.blocks[0]).toMatchObject({
        type: 'section',
        text: { type: 'mrkdwn' },
      });

      const discordBody = discord.requests[0]!.json;
      expect(discordBody.content.split('\n')[0]).toBe(
        '**Vigil**: 50 events: execution:remediated ×50',
      );
      expect(discordBody.content.length).toBeLessThanOrEqual(2000);
      expect(discordBody.allowed_mentions).toEqual({ parse: [] });
    });

    it('events outside a sweep wait for the digest window, and go out together', async () => {
      const r = await receiver();
      await setup(kind, {
        notify: {
          channels: { hooks: webhook(r) },
          routes: [{ channel: 'hooks', events: ['probe:*'] }],
          digestWindow: '5s',
        },
      });
      const start = h!.clock.now();
      h!.bus.emit(probeFailing('api', start, 'HTTP 500'));
      expect(await deliver()).toEqual({ delivered: 0, retrying: 0, failed: 0 });
      h!.clock.advance(2 * S);
      h!.bus.emit(probeFailing('db', h!.clock.now(), 'timeout'));
      h!.clock.set(start + 5 * S - 1);
      expect(await deliver()).toMatchObject({ delivered: 0 });
      expect(r.requests).toHaveLength(0);

      h!.clock.set(start + 5 * S);
      expect(await deliver()).toMatchObject({ delivered: 2 });
      expect(r.requests).toHaveLength(1);
      expect(r.requests[0]!.json.events.map((e: { probe: string }) => e.probe)).toEqual([
        'api',
        'db',
      ]);
    });

    it('sends no duplicate within the cooldown of (channel, event type, subject)', async () => {
      const [hooks, slack] = [await receiver(), await receiver()];
      await setup(kind, {
        kinds: { flaky: { retry: { maxAttempts: 3, backoff: '1s' } } },
        notify: {
          channels: { hooks: webhook(hooks), slack: { type: 'slack', url: `${slack.url}/s` } },
          routes: [{ channels: ['hooks', 'slack'], events: ['execution:remediated', 'probe:*'] }],
          cooldown: '10m',
          digestWindow: 0,
        },
      });
      // The same execution remediated twice within 10 minutes: a retry that got stuck again.
      await stuck(['job-1'], 'flaky');
      await h!.sweeper.sweep();
      h!.clock.advance(1 * S);
      await h!.ledger.start('job-1', 2);
      h!.clock.advance(31 * S);
      await h!.sweeper.sweep();
      expect((await h!.store.get('job-1'))!.attempt).toBe(3);
      // A probe failing over and over, and one other probe.
      for (let i = 0; i < 3; i++) {
        h!.bus.emit(probeFailing('api', h!.clock.now()));
        h!.clock.advance(M);
      }
      h!.bus.emit(probeFailing('db', h!.clock.now()));
      h!.bus.emit(probeRecovered('api', h!.clock.now()));
      await deliver();

      const sent = (r: Receiver) =>
        r.accepted().flatMap((req) =>
          req.path === '/s'
            ? (req.json.text as string)
                .split('\n')
                .slice(1)
                .map((line) => line.slice(2))
            : req.json.events.map((e: any) => `${e.type} ${e.executionId ?? e.probe}`),
        );
      expect(sent(hooks).sort()).toEqual([
        'execution:remediated job-1',
        'probe:failing api',
        'probe:failing db',
        'probe:recovered api',
      ]);
      expect(sent(slack)).toHaveLength(4);
      expect(n!.router.suppressed).toBe(2 * 3); // per channel: one remediation, two probe failures

      // After the cooldown the same subject is news again.
      h!.clock.advance(10 * M);
      h!.bus.emit(probeFailing('api', h!.clock.now()));
      await deliver();
      expect(sent(hooks).filter((line) => line === 'probe:failing api')).toHaveLength(2);
    });

    it('a receiver that is down for a while (503, then closed) gets every message once it is back', async () => {
      const r = await receiver();
      await setup(kind, {
        notify: {
          channels: { hooks: webhook(r) },
          routes: [{ channel: 'hooks', events: ['execution:remediated'] }],
          delivery: { backoff: '1m', maxBackoff: '10m' },
        },
      });
      const outbox = h!.store.outbox();
      r.respond(503);
      await stuck(['a', 'b', 'c']);
      await h!.sweeper.sweep();

      expect(await deliver()).toEqual({ delivered: 0, retrying: 3, failed: 0 });
      let rows = await outbox.list({ limit: 100 });
      expect(rows.map((row) => [row.status, row.attempts, row.lastError])).toEqual(
        Array(3).fill(['pending', 1, 'receiver answered HTTP 503: unavailable']),
      );
      // Exponential backoff with jitter: the first retry is due 30-60 s later, not before.
      let failedAt = h!.clock.now();
      let due = rows[0]!.dueAt;
      expect(due - failedAt).toBeGreaterThanOrEqual(30 * S);
      expect(due - failedAt).toBeLessThanOrEqual(60 * S);
      h!.clock.set(due - 1);
      await deliver();
      expect(r.requests).toHaveLength(1);

      h!.clock.set(due);
      expect(await deliver()).toMatchObject({ retrying: 3 });
      expect(r.requests).toHaveLength(2);
      rows = await outbox.list({ limit: 100 });
      failedAt = h!.clock.now();
      due = rows[0]!.dueAt;
      // The second retry waits twice as long: 60-120 s.
      expect(due - failedAt).toBeGreaterThanOrEqual(60 * S);
      expect(due - failedAt).toBeLessThanOrEqual(120 * S);

      // Now the receiver is gone altogether, and two more executions get stuck meanwhile.
      await r.down();
      await stuck(['d', 'e']);
      await h!.sweeper.sweep();
      // They join the waiting retry rather than going (and failing) on their own.
      expect(h!.clock.now()).toBeLessThan(due);
      expect(await deliver()).toEqual({ delivered: 0, retrying: 0, failed: 0 });
      expect((await outbox.list({ limit: 100 })).every((row) => row.dueAt === due)).toBe(true);
      h!.clock.set(due);
      expect(await deliver()).toMatchObject({ delivered: 0, retrying: 5 });
      rows = await outbox.list({ limit: 100 });
      // A kept-alive connection the receiver dropped, or a refused new one.
      for (const row of rows) {
        expect(row.lastError).toMatch(
          /^(connection refused \(ECONNREFUSED\)|connection closed by the receiver \(UND_ERR_SOCKET\))$/,
        );
      }

      // Back, answering 200: every message arrives once.
      await r.reopen();
      r.respond(200);
      h!.clock.set(Math.max(...rows.map((row) => row.dueAt)));
      expect(await deliver()).toEqual({ delivered: 5, retrying: 0, failed: 0 });
      h!.clock.advance(10 * M);
      expect(await deliver()).toEqual({ delivered: 0, retrying: 0, failed: 0 });

      // One catch-up message with all five; every attempt before it was refused.
      const accepted = r.accepted();
      expect(accepted).toHaveLength(1);
      expect(r.requests).toHaveLength(3);
      const delivered = accepted.flatMap((req) => req.json.events.map((e: any) => e.executionId));
      expect(delivered.sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
      expect(new Set(eventIds(accepted)).size).toBe(5);
      rows = await outbox.list({ limit: 100 });
      expect(rows.every((row) => row.status === 'delivered' && row.lastError === null)).toBe(true);
      expect(errors.some((e) => e.includes('503'))).toBe(true);
    });

    it('a refusal (HTTP 400) is failed at once, not retried; an outage past giveUpAfter is failed', async () => {
      const [refusing, unavailable] = [await receiver(), await receiver()];
      await setup(kind, {
        notify: {
          channels: {
            refusing: { type: 'discord', url: `${refusing.url}/d` },
            unavailable: webhook(unavailable),
          },
          routes: [{ channels: ['refusing', 'unavailable'], events: ['probe:failing'] }],
          digestWindow: 0,
          delivery: { backoff: '1s', maxBackoff: '2s', giveUpAfter: '5s' },
        },
      });
      refusing.respond(400, 'invalid payload');
      unavailable.respond(503);
      h!.bus.emit(probeFailing('api', h!.clock.now()));
      expect(await deliver()).toEqual({ delivered: 0, retrying: 1, failed: 1 });
      for (let i = 0; i < 10; i++) {
        h!.clock.advance(2 * S);
        await deliver();
      }
      expect(refusing.requests).toHaveLength(1);
      const rows = await h!.store.outbox().list({ limit: 10 });
      const byChannel = Object.fromEntries(rows.map((row) => [row.channel, row]));
      expect(byChannel.refusing).toMatchObject({
        status: 'failed',
        attempts: 1,
        lastError: 'receiver answered HTTP 400: invalid payload (not retried)',
      });
      expect(byChannel.unavailable!.status).toBe('failed');
      expect(byChannel.unavailable!.lastError).toMatch(/503.*gave up after 5000 ms/);
      expect(unavailable.requests.length).toBeGreaterThanOrEqual(3);
      expect(unavailable.requests.length).toBe(byChannel.unavailable!.attempts);
    });

    it('an email arrives at the SMTP server with the expected subject', async () => {
      smtp = await startSmtp({ user: 'vigil', password: 'smtp-pass-123' });
      await setup(kind, {
        notify: {
          channels: {
            oncall: {
              type: 'email',
              smtp: {
                host: '127.0.0.1',
                port: smtp.port,
                tls: 'none',
                user: 'vigil',
                password: 'smtp-pass-123',
              },
              from: 'vigil@example.com',
              to: ['oncall@example.com', 'lead@example.com'],
            },
          },
          routes: [{ channel: 'oncall', events: ['execution:remediated'] }],
        },
      });
      await stuck(['job-1']);
      await h!.sweeper.sweep();
      expect(await deliver()).toEqual({ delivered: 1, retrying: 0, failed: 0 });

      expect(smtp.mails).toHaveLength(1);
      const mail = smtp.mails[0]!;
      expect(mail.subject).toBe('[Vigil] execution:remediated job-1 (heartbeat_lost)');
      expect(mail.from).toBe('vigil@example.com');
      expect(mail.to).toEqual(['oncall@example.com', 'lead@example.com']);
      expect(mail.user).toBe('vigil');
      expect(mail.raw).toContain('execution:remediated job-1#1 heartbeat_lost: no heartbeat');
    });

    it('an SMTP server that refuses the login fails the message without retrying', async () => {
      smtp = await startSmtp({ user: 'vigil', password: 'right-password' });
      await setup(kind, {
        notify: {
          channels: {
            oncall: {
              type: 'email',
              smtp: {
                host: '127.0.0.1',
                port: smtp.port,
                tls: 'none',
                user: 'vigil',
                password: 'wrong-password',
              },
              from: 'vigil@example.com',
              to: ['oncall@example.com'],
            },
          },
          routes: [{ channel: 'oncall', events: ['probe:failing'] }],
          digestWindow: 0,
        },
      });
      h!.bus.emit(probeFailing('api', h!.clock.now()));
      expect(await deliver()).toEqual({ delivered: 0, retrying: 0, failed: 1 });
      const [row] = await h!.store.outbox().list({ limit: 1 });
      expect(row!.lastError).toBe(
        'SMTP server refused: Invalid login: 535 Invalid username or password (not retried)',
      );
      expect(row!.lastError).not.toContain('wrong-password');
      expect(smtp.mails).toHaveLength(0);
    });

    it('a restarted notifier delivers what the previous one left in the outbox', async () => {
      const r = await receiver();
      await setup(kind, {
        notify: {
          channels: { hooks: webhook(r) },
          routes: [{ channel: 'hooks', events: ['execution:remediated'] }],
        },
      });
      await stuck(['a', 'b']);
      await h!.sweeper.sweep();
      // The first notifier wrote the messages and stopped before delivering anything.
      await n!.stop();
      n = undefined;
      expect(r.requests).toHaveLength(0);

      // A new process: its own connection to the database, its delivery loop on real timers.
      const store = h!.openAnother();
      const restarted = notificationsOn(store, { deliver: true });
      extra.push({ stop: async () => (await restarted.stop(), await store.close()) });
      await until(() => r.accepted().length === 1, { what: 'the restarted notifier to deliver' });
      expect(eventIds(r.accepted())).toHaveLength(2);
      // Marked delivered once the receiver's answer is back, a moment after it accepted.
      const delivered = async () =>
        (await store.outbox().list({ limit: 10 })).map((row) => row.status);
      await until(async () => (await delivered()).every((status) => status === 'delivered'), {
        what: 'the messages to be marked delivered',
      });
      expect(await delivered()).toEqual(['delivered', 'delivered']);
    });

    it('a message claimed by a worker that died is delivered by another once the claim lapses', async () => {
      const r = await receiver();
      await setup(kind, {
        notify: {
          channels: { hooks: webhook(r) },
          routes: [{ channel: 'hooks', events: ['probe:failing'] }],
          digestWindow: 0,
        },
      });
      h!.bus.emit(probeFailing('api', h!.clock.now()));
      await n!.router.flush();
      const claimed = await h!.store.outbox().claimDue('dead-replica', h!.clock.now(), 60 * S, 100);
      expect(claimed).toHaveLength(1);

      expect(await deliver()).toMatchObject({ delivered: 0 });
      h!.clock.advance(60 * S);
      expect(await deliver()).toMatchObject({ delivered: 1 });
      // The dead worker's late write cannot undo the delivery.
      await h!.store.outbox().markAttemptFailed([claimed[0]!.id], 'dead-replica', 'late', 0);
      const [row] = await h!.store.outbox().list({ limit: 1 });
      expect(row).toMatchObject({ status: 'delivered', attempts: 1, lastError: null });
      expect(r.requests).toHaveLength(1);
    });

    it('three workers on one database deliver each of 600 messages exactly once', async () => {
      const r = await receiver();
      const channels = Object.fromEntries(
        Array.from({ length: 6 }, (_, i) => [`c${i}`, webhook(r, `/c${i}`)]),
      );
      await setup(kind, {
        notify: { channels, routes: [{ channels: Object.keys(channels), events: ['*'] }] },
      });
      const outbox = h!.store.outbox();
      const messages = Array.from({ length: 600 }, (_, i) => ({
        id: `m-${String(i).padStart(3, '0')}`,
        channel: `c${i % 6}`,
        eventType: 'probe:failing',
        subjectKey: `p${i}`,
        event: { type: 'probe:failing', at: h!.clock.now(), probe: `p${i}` },
      }));
      await outbox.enqueue(messages, h!.clock.now(), 0);

      const stores = [h!.store, h!.openAnother(), h!.openAnother()];
      extra.push({
        stop: async () => void (await Promise.all(stores.slice(1).map((s) => s.close()))),
      });
      const workers = stores.map(
        (store, i) =>
          new DeliveryWorker({
            outbox: store.outbox(),
            notifiers: new Map(
              Object.values(h!.config.notify!.channels).map((c) => [
                c.name,
                notifierFor(c, 10_000),
              ]),
            ),
            clock: h!.clock,
            delivery: h!.config.notify!.delivery,
            holder: `replica-${i}`,
            onError: (error) => errors.push(String(error)),
          }),
      );
      const results = await Promise.all(workers.map((w) => w.runOnce()));
      expect(results.reduce((sum, res) => sum + res.delivered, 0)).toBe(600);
      // More than one worker took part (each claims at most 500 at a time).
      expect(results.filter((res) => res.delivered > 0).length).toBeGreaterThanOrEqual(2);
      const ids = eventIds(r.accepted());
      expect(ids).toHaveLength(600);
      expect(new Set(ids).size).toBe(600);
      const rows = await outbox.list({ limit: 1000 });
      expect(rows.filter((row) => row.status === 'delivered')).toHaveLength(600);
    });

    it('secrets appear neither in the API, the stored errors, the log, nor the configuration dump', async () => {
      const r = await receiver();
      const token = 'T0SECRETXOXB9876';
      await setup(kind, {
        notify: {
          channels: {
            hooks: webhook(r),
            slack: { type: 'slack', url: `${r.url}/services/${token}` },
          },
          routes: [{ channels: ['hooks', 'slack'], events: ['probe:failing'] }],
          digestWindow: 0,
        },
      });
      // A receiver whose error page echoes the URL it was called on, token included.
      r.respond(500, `no such hook /services/${token} (secret ${SECRET})`);
      h!.bus.emit(probeFailing('api', h!.clock.now()));
      expect(await deliver()).toMatchObject({ retrying: 2 });

      const vigil = new Vigil({
        store: h!.store,
        config: h!.config,
        clock: h!.clock,
        watchEventLoop: false,
      });
      const app = await buildApp({ vigil, store: h!.store, config: h!.config, clock: h!.clock });
      extra.push({ stop: () => app.close() });
      const response = await app.inject({ method: 'GET', url: '/v1/notifications' });
      expect(response.statusCode).toBe(200);
      const { items } = response.json();
      expect(items).toHaveLength(2);
      expect(Object.keys(items[0]).sort()).toEqual(
        [
          'attempts',
          'channel',
          'createdAt',
          'deliveredAt',
          'eventType',
          'id',
          'lastError',
          'status',
        ].sort(),
      );
      expect(items[0].lastError).toContain('no such hook /***');
      const everything = [
        response.body,
        errors.join('\n'),
        JSON.stringify(h!.config),
        inspect(h!.config, { depth: 20 }),
        (await app.inject({ method: 'GET', url: '/openapi.json' })).body,
      ].join('\n');
      expect(everything).not.toContain(token);
      expect(everything).not.toContain(SECRET);
    });
  },
);
