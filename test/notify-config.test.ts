import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';
import { buildApp } from '../src/http/app.js';
import { FakeClock } from '../src/runtime/clock.js';
import { Vigil } from '../src/app/vigil.js';
import type { SqlStore } from '../src/stores/sql-store.js';
import { openSqliteStore } from '../src/stores/sqlite.js';
import { M, S, T0, runCli, tempDir } from './helpers.js';
import { startReceiver } from './notify-helpers.js';

/** The problems a configuration is refused with. */
function problems(raw: unknown, env: Record<string, string> = {}): string[] {
  try {
    parseConfig(raw, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('the notify: configuration', () => {
  it('lists every problem, each naming its key and what was found', () => {
    expect(
      problems({
        notify: {
          channels: {
            pager: { type: 'teams', url: 'https://example.com' },
            chat: { type: 'slack', url: 'ftp://example.com/hook' },
          },
          routes: [{ channel: 'chat', events: ['execution:remediatd'] }],
          cooldown: 'soon',
        },
      }),
    ).toEqual([
      'notify.channels.pager.type: expected one of "webhook", "slack", "discord", "email", "pagerduty", "opsgenie", got "teams"',
      'notify.channels.chat.url: expected an http(s) URL, got "ftp://example.com/hook"',
      expect.stringMatching(
        /^notify\.routes\.0\.events\.0: expected an event type \(execution:stuck, .*\), "noun:\*" or "\*", got "execution:remediatd"$/,
      ),
      'notify.cooldown: expected a duration like "30s", "15m", "2h" or a number of milliseconds, got "soon"',
    ]);
  });

  it('checks routes against the channels, and that webhooks are signed', () => {
    expect(
      problems({
        notify: {
          channels: { hooks: { type: 'webhook', url: 'https://example.com/h' } },
          routes: [{ channel: 'pager' }, { channel: 'hooks', channels: ['hooks'] }],
        },
      }),
    ).toEqual([
      'notify.routes.0.channel: no channel named "pager" (channels: hooks)',
      'notify.routes.1: expected exactly one of "channel" or "channels"',
      'notify.channels.hooks.secret: expected exactly one of "secret" or "secretEnv" (deliveries are signed with it)',
    ]);
  });

  it('reads secrets from the environment and says which variable is missing', () => {
    const raw = {
      notify: {
        channels: {
          chat: { type: 'slack', urlEnv: 'SLACK_WEBHOOK_URL' },
          hooks: { type: 'webhook', url: 'https://example.com/h', secretEnv: 'HOOK_SECRET' },
        },
      },
    };
    expect(problems(raw)).toEqual([
      'notify.channels.chat.urlEnv: environment variable SLACK_WEBHOOK_URL is not set',
      'notify.channels.hooks.secretEnv: environment variable HOOK_SECRET is not set',
    ]);
    const config = parseConfig(raw, {
      SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/x',
      HOOK_SECRET: 'a-long-enough-secret',
    });
    const chat = config.notify!.channels.chat!;
    const hooks = config.notify!.channels.hooks!;
    expect(chat.type === 'slack' && chat.url.reveal()).toBe(
      'https://hooks.slack.com/services/T/B/x',
    );
    expect(hooks.type === 'webhook' && hooks.secret.reveal()).toBe('a-long-enough-secret');
    expect(JSON.stringify(config)).not.toContain('a-long-enough-secret');
  });

  it('defaults: every channel gets the events a person should act on, 10m cooldown, 5s window', () => {
    const config = parseConfig({
      notify: {
        channels: {
          mail: {
            type: 'email',
            smtp: { host: 'smtp.example.com' },
            from: 'v@example.com',
            to: ['o@example.com'],
          },
        },
      },
    });
    expect(config.notify).toMatchObject({
      routes: [
        {
          channels: ['mail'],
          events: expect.arrayContaining([
            'execution:remediated',
            'probe:failing',
            'process:gave-up',
          ]),
          kinds: null,
          cooldownMs: 10 * M,
        },
      ],
      digestWindowMs: 5_000,
      delivery: {
        timeoutMs: 10_000,
        backoffMs: 1_000,
        maxBackoffMs: 5 * M,
        giveUpAfterMs: 24 * 60 * M,
      },
    });
    expect(config.notify!.channels.mail).toMatchObject({
      smtp: { port: 587, tls: 'opportunistic', user: null, password: null },
      subjectPrefix: '[Vigil]',
    });
    expect(parseConfig({}).notify).toBeNull();
  });
});

describe('GET /v1/notifications', () => {
  let app: FastifyInstance;
  let store: SqlStore;
  let cleanup: () => void;

  async function setup(raw: unknown = {}, env: Record<string, string> = {}) {
    const dir = tempDir();
    cleanup = dir.cleanup;
    store = openSqliteStore(join(dir.dir, 'vigil.db'));
    await store.migrate();
    const clock = new FakeClock(T0);
    const config = parseConfig(raw, env);
    const vigil = new Vigil({ store, config, clock, watchEventLoop: false });
    app = await buildApp({ vigil, store, config, clock });
  }

  afterEach(async () => {
    await app.close();
    await store.close();
    cleanup();
  });

  it('answers 200 {items: []} when nothing is configured', async () => {
    await setup();
    const response = await app.inject({ method: 'GET', url: '/v1/notifications' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ items: [] });
  });

  it('filters by status and channel, newest first, and refuses bad input naming the field', async () => {
    await setup();
    const outbox = store.outbox();
    const message = (id: string, channel: string) => ({
      id,
      channel,
      eventType: 'probe:failing',
      subjectKey: 'api',
      event: { type: 'probe:failing', at: T0, probe: 'api' },
    });
    await outbox.enqueue([message('a', 'chat'), message('b', 'mail')], T0, 0);
    await outbox.enqueue([message('c', 'chat')], T0 + 1_000, 0);
    const claimed = await outbox.claimDue('w', T0 + 1_000, 60_000, 10);
    await outbox.markDelivered(
      claimed.filter((m) => m.id !== 'b').map((m) => m.id),
      'w',
      T0 + 2_000,
    );

    const all = (await app.inject({ method: 'GET', url: '/v1/notifications' })).json().items;
    expect(all.map((i: { id: string }) => i.id)).toEqual(['c', 'b', 'a']);
    expect(all[0]).toEqual({
      id: 'c',
      channel: 'chat',
      eventType: 'probe:failing',
      status: 'delivered',
      attempts: 1,
      lastError: null,
      createdAt: new Date(T0 + 1_000).toISOString(),
      deliveredAt: new Date(T0 + 2_000).toISOString(),
    });
    const chat = await app.inject({
      method: 'GET',
      url: '/v1/notifications?channel=chat&status=delivered&limit=1',
    });
    expect(chat.json().items.map((i: { id: string }) => i.id)).toEqual(['c']);

    const bad = await app.inject({ method: 'GET', url: '/v1/notifications?status=lost&limit=0' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('bad_input');
    expect(bad.json().error.message).toMatch(/query\.status: .*; query\.limit: /);
  });

  it('is under the same auth as the rest of the API', async () => {
    await setup({}, { VIGIL_TOKEN: 'admin-token-0123456789' });
    expect((await app.inject({ method: 'GET', url: '/v1/notifications' })).statusCode).toBe(401);
    const ok = await app.inject({
      method: 'GET',
      url: '/v1/notifications',
      headers: { authorization: 'Bearer admin-token-0123456789' },
    });
    expect(ok.statusCode).toBe(200);
  });
});

describe('vigil history --notifications', () => {
  it('prints the notifications and their delivery outcome, as a table or JSON', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const clock = new FakeClock(T0 + 5_000);
      const store = openSqliteStore(join(dir, 'vigil.db'));
      await store.migrate();
      const outbox = store.outbox();
      await outbox.enqueue(
        [
          {
            id: 'n1',
            channel: 'chat',
            eventType: 'execution:remediated',
            subjectKey: 'job-1',
            event: { type: 'execution:remediated', at: T0, executionId: 'job-1' },
          },
        ],
        T0,
        0,
      );
      await outbox.claimDue('w', T0, 60_000, 10);
      await outbox.markAttemptFailed(['n1'], 'w', 'receiver answered HTTP 503', T0 + 1_000);
      await store.close();

      const out: string[] = [];
      const vigil = (...args: string[]) => runCli(args, { dir, clock, out, err: out });

      expect(await vigil('history', '--notifications')).toBe(0);
      const [header, row] = out.join('\n').split('\n');
      expect(header).toMatch(
        /^CREATED\s+CHANNEL\s+EVENT\s+SUBJECT\s+STATUS\s+ATTEMPTS\s+DELIVERED\s+LAST ERROR$/,
      );
      expect(row).toMatch(
        /chat\s+execution:remediated\s+job-1\s+pending\s+1\s+-\s+receiver answered HTTP 503$/,
      );

      out.length = 0;
      expect(await vigil('history', '--notifications', '--status', 'pending', '--json')).toBe(0);
      expect(JSON.parse(out.join('\n'))).toEqual({
        items: [
          {
            id: 'n1',
            channel: 'chat',
            eventType: 'execution:remediated',
            status: 'pending',
            attempts: 1,
            lastError: 'receiver answered HTTP 503',
            createdAt: new Date(T0).toISOString(),
            deliveredAt: null,
          },
        ],
      });

      out.length = 0;
      expect(await vigil('history', '--notifications', '--status', 'lost')).toBe(2);
      expect(out.join('\n')).toContain(
        '--status: expected one of pending, delivered, failed, got "lost"',
      );

      out.length = 0;
      expect(await vigil('history', '--status', 'pending')).toBe(2);
      expect(out.join('\n')).toContain('--status: only with --notifications');
    } finally {
      cleanup();
    }
  });
});

describe('vigil sweep (cron mode) with notify configured', () => {
  it('notifies what the sweep remediated; a refused delivery waits in the outbox for the next run', async () => {
    const { dir, cleanup } = tempDir();
    const receiver = await startReceiver();
    try {
      writeFileSync(
        join(dir, 'vigil.yaml'),
        `notify:
  channels:
    hooks: { type: webhook, url: "${receiver.url}/hook", secret: "cron-secret-0123456789" }
  routes: [{ channel: hooks, events: [execution:remediated] }]
`,
      );
      const clock = new FakeClock(T0);
      const out: string[] = [];
      const vigil = (...args: string[]) => runCli(args, { dir, clock, out, err: out });
      expect(
        await vigil('register', '--kind', 'nightly', '--id', 'job-1', '--heartbeat', '30s'),
      ).toBe(0);
      expect(
        await vigil('register', '--kind', 'nightly', '--id', 'job-2', '--heartbeat', '30s'),
      ).toBe(0);
      clock.advance(31 * S);
      receiver.respond(503);
      expect(await vigil('sweep')).toBe(0);
      expect(receiver.requests).toHaveLength(1);
      expect(out.join('\n')).toContain(
        'vigil: notification delivery: notification to channel hooks failed: receiver answered HTTP 503',
      );

      receiver.respond(200);
      clock.advance(10 * S);
      expect(await vigil('sweep')).toBe(0);
      expect(receiver.accepted()).toHaveLength(1);
      expect(
        receiver.accepted()[0]!.json.events.map((e: { executionId: string }) => e.executionId),
      ).toEqual(['job-1', 'job-2']);
    } finally {
      await receiver.close();
      cleanup();
    }
  });
});
