import * as z from 'zod';
import { EVENT_TYPES } from '../ports/events.js';
import { durationSchema as duration } from '../schemas.js';
import { incidentRoutes } from './incident.js';
import { Secret } from './secret.js';

/** Defaults of the `notify:` section, in one place. */
export const NOTIFY_DEFAULTS = Object.freeze({
  /**
   * One notification per (channel, event type, subject) per 10 minutes. Longer hides a problem
   * that came back; shorter lets a flapping probe or a crash-looping process flood a channel —
   * the worse mistake for an alert channel people must keep reading.
   */
  cooldownMs: 10 * 60_000,
  /**
   * Events for one channel within 5 s of the first go out as one digest (a sweep's events go as
   * soon as it completes). Alerts wait at most this long; a burst is one message, not fifty.
   */
  digestWindowMs: 5_000,
  /** A receiver that has not answered in 10 s is treated as down (and tried again later). */
  timeoutMs: 10_000,
  /** Backoff between delivery attempts: 1 s doubling to 5 min, with jitter. */
  backoffMs: 1_000,
  maxBackoffMs: 5 * 60_000,
  /** A message still undelivered a day after it was written is marked `failed`. */
  giveUpAfterMs: 24 * 3_600_000,
  /**
   * A claimed message belongs to its worker this long. Far longer than the delivery timeout, so
   * a live worker never loses a claim mid-delivery (which would risk a duplicate); a replica that
   * died mid-delivery delays its messages by at most this long.
   */
  leaseMs: 60_000,
  /** PagerDuty's Events API v2 (an EU account: https://events.eu.pagerduty.com/v2/enqueue). */
  pagerDutyUrl: 'https://events.pagerduty.com/v2/enqueue',
  /** Opsgenie's API (an EU account: https://api.eu.opsgenie.com). */
  opsgenieUrl: 'https://api.opsgenie.com',
  /** Events routed by default when `routes` is omitted: the ones a person should act on. */
  events: [
    'execution:remediated',
    'execution:escalated',
    'owner:unreachable',
    'breaker:opened',
    'process:unhealthy',
    'process:gave-up',
    'probe:failing',
    'schedule:missed',
    'schedule:failed',
  ] as readonly string[],
});

const name = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'expected a name of letters, digits, _ . -');
const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name');
const httpUrl = z
  .string()
  .refine((text) => /^https?:\/\/[^\s]+$/.test(text) && URL.canParse(text), {
    error: (issue) => `expected an http(s) URL, got ${JSON.stringify(issue.input)}`,
  });

const urlKeys = { url: httpUrl.optional(), urlEnv: envName.optional() };

const channelSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('webhook'),
    ...urlKeys,
    secret: z.string().min(16, 'expected a secret of at least 16 characters').optional(),
    secretEnv: envName.optional(),
  }),
  z.strictObject({ type: z.literal('slack'), ...urlKeys }),
  z.strictObject({ type: z.literal('discord'), ...urlKeys }),
  z.strictObject({
    type: z.literal('email'),
    smtp: z.strictObject({
      host: z.string().min(1),
      port: z.number().int().min(1).max(65_535).optional(),
      /** implicit: TLS from the first byte (port 465); starttls: required; none: plain text. */
      tls: z.enum(['implicit', 'starttls', 'opportunistic', 'none']).optional(),
      user: z.string().min(1).optional(),
      password: z.string().optional(),
      passwordEnv: envName.optional(),
    }),
    from: z.string().min(3),
    to: z.array(z.string().min(3)).min(1),
    subjectPrefix: z.string().max(100).optional(),
  }),
  z.strictObject({
    type: z.literal('pagerduty'),
    /** Default https://events.pagerduty.com/v2/enqueue. */
    url: httpUrl.optional(),
    routingKey: z.string().min(1).optional(),
    routingKeyEnv: envName.optional(),
  }),
  z.strictObject({
    type: z.literal('opsgenie'),
    /** Default https://api.opsgenie.com (EU: https://api.eu.opsgenie.com). */
    url: httpUrl.optional(),
    apiKey: z.string().min(1).optional(),
    apiKeyEnv: envName.optional(),
  }),
]);

/** An event type, or a pattern: `*` (all), `execution:*` (all of one noun). */
const eventPattern = z.string().refine(
  (pattern) => {
    if (pattern === '*') return true;
    if (pattern.endsWith(':*')) {
      return EVENT_TYPES.some((type) => type.startsWith(pattern.slice(0, -1)));
    }
    return (EVENT_TYPES as readonly string[]).includes(pattern);
  },
  {
    error: (issue) =>
      `expected an event type (${EVENT_TYPES.join(', ')}), "noun:*" or "*", got ${JSON.stringify(issue.input)}`,
  },
);

const routeSchema = z.strictObject({
  channel: name.optional(),
  channels: z.array(name).min(1).optional(),
  events: z.array(eventPattern).min(1).optional(),
  /** Only executions of these kinds (events without a kind — processes, probes — never match). */
  kinds: z.array(z.string().min(1)).min(1).optional(),
  cooldown: duration.optional(),
});

/** The `notify:` section of vigil.yaml, as written. */
export const notifySchema = z
  .strictObject({
    channels: z.record(name, channelSchema),
    routes: z.array(routeSchema).optional(),
    cooldown: duration.optional(),
    digestWindow: duration.refine((ms) => ms <= 10 * 60_000, 'expected at most 10m').optional(),
    delivery: z
      .strictObject({
        timeout: duration
          .refine((ms) => ms >= 100 && ms <= 5 * 60_000, 'expected 100ms-5m')
          .optional(),
        backoff: duration.refine((ms) => ms >= 10, 'expected at least 10ms').optional(),
        maxBackoff: duration.optional(),
        giveUpAfter: duration.optional(),
      })
      .optional(),
  })
  .superRefine((notify, ctx) => {
    const known = Object.keys(notify.channels);
    for (const [i, route] of (notify.routes ?? []).entries()) {
      if ((route.channel === undefined) === (route.channels === undefined)) {
        ctx.addIssue({
          code: 'custom',
          path: ['routes', i],
          message: 'expected exactly one of "channel" or "channels"',
        });
      }
      const named = route.channel !== undefined ? [route.channel] : (route.channels ?? []);
      for (const channel of named) {
        if (!known.includes(channel)) {
          ctx.addIssue({
            code: 'custom',
            path: ['routes', i, route.channel !== undefined ? 'channel' : 'channels'],
            message: `no channel named ${JSON.stringify(channel)} (channels: ${known.join(', ') || 'none'})`,
          });
        }
      }
    }
    for (const [channelName, channel] of Object.entries(notify.channels)) {
      const path = (key: string) => ['channels', channelName, key];
      if (channel.type === 'pagerduty' || channel.type === 'opsgenie') {
        const [inline, variable] =
          channel.type === 'pagerduty'
            ? (['routingKey', channel.routingKey !== undefined] as const)
            : (['apiKey', channel.apiKey !== undefined] as const);
        const fromEnv =
          channel.type === 'pagerduty'
            ? channel.routingKeyEnv !== undefined
            : channel.apiKeyEnv !== undefined;
        if (variable === fromEnv) {
          ctx.addIssue({
            code: 'custom',
            path: path(inline),
            message: `expected exactly one of "${inline}" or "${inline}Env"`,
          });
        }
        continue;
      }
      if (
        channel.type !== 'email' &&
        (channel.url === undefined) === (channel.urlEnv === undefined)
      ) {
        ctx.addIssue({
          code: 'custom',
          path: path('url'),
          message: 'expected exactly one of "url" or "urlEnv"',
        });
      }
      if (
        channel.type === 'webhook' &&
        (channel.secret === undefined) === (channel.secretEnv === undefined)
      ) {
        ctx.addIssue({
          code: 'custom',
          path: path('secret'),
          message:
            'expected exactly one of "secret" or "secretEnv" (deliveries are signed with it)',
        });
      }
      if (
        channel.type === 'email' &&
        channel.smtp.password !== undefined &&
        channel.smtp.passwordEnv !== undefined
      ) {
        ctx.addIssue({
          code: 'custom',
          path: ['channels', channelName, 'smtp', 'password'],
          message: 'expected at most one of "password" or "passwordEnv"',
        });
      }
    }
  });

type NotifyFile = z.infer<typeof notifySchema>;

export type ChannelConfig =
  | { name: string; type: 'webhook'; url: Secret; secret: Secret }
  | { name: string; type: 'slack' | 'discord'; url: Secret }
  | { name: string; type: 'pagerduty'; url: string; routingKey: Secret }
  | { name: string; type: 'opsgenie'; url: string; apiKey: Secret }
  | {
      name: string;
      type: 'email';
      smtp: {
        host: string;
        port: number;
        tls: 'implicit' | 'starttls' | 'opportunistic' | 'none';
        user: string | null;
        password: Secret | null;
      };
      from: string;
      to: string[];
      subjectPrefix: string;
    };

export interface RouteConfig {
  channels: string[];
  /** Event types and patterns (`*`, `noun:*`). */
  events: string[];
  /** null: every kind, and events that have none. */
  kinds: string[] | null;
  cooldownMs: number;
}

/** The resolved `notify:` section: secrets read from the environment, defaults applied. */
export interface NotifyConfig {
  channels: Record<string, ChannelConfig>;
  routes: RouteConfig[];
  digestWindowMs: number;
  delivery: {
    timeoutMs: number;
    backoffMs: number;
    maxBackoffMs: number;
    giveUpAfterMs: number;
    leaseMs: number;
  };
}

/**
 * Resolves the parsed `notify:` section: reads secrets named by `*Env` keys from `env` and
 * applies defaults. Problems (an unset variable) are pushed to `problems`, each naming its key.
 */
export function resolveNotify(
  file: NotifyFile | undefined,
  env: Record<string, string | undefined>,
  problems: string[],
): NotifyConfig | null {
  if (!file) return null;
  const fromEnv = (key: string, variable: string): Secret | null => {
    const value = env[variable];
    if (value === undefined || value === '') {
      problems.push(`${key}: environment variable ${variable} is not set`);
      return null;
    }
    return new Secret(value);
  };
  const secret = (key: string, inline: string | undefined, variable: string | undefined) =>
    inline !== undefined
      ? new Secret(inline)
      : variable !== undefined
        ? fromEnv(key, variable)
        : null;

  const channels: Record<string, ChannelConfig> = {};
  for (const [name, channel] of Object.entries(file.channels)) {
    const key = `notify.channels.${name}`;
    if (channel.type === 'email') {
      const tls = channel.smtp.tls ?? 'opportunistic';
      channels[name] = {
        name,
        type: 'email',
        smtp: {
          host: channel.smtp.host,
          port: channel.smtp.port ?? (tls === 'implicit' ? 465 : 587),
          tls,
          user: channel.smtp.user ?? null,
          password: secret(
            `${key}.smtp.passwordEnv`,
            channel.smtp.password,
            channel.smtp.passwordEnv,
          ),
        },
        from: channel.from,
        to: channel.to,
        subjectPrefix: channel.subjectPrefix ?? '[Vigil]',
      };
      continue;
    }
    if (channel.type === 'pagerduty') {
      const routingKey = secret(`${key}.routingKeyEnv`, channel.routingKey, channel.routingKeyEnv);
      const url = channel.url ?? NOTIFY_DEFAULTS.pagerDutyUrl;
      if (routingKey) channels[name] = { name, type: 'pagerduty', url, routingKey };
      continue;
    }
    if (channel.type === 'opsgenie') {
      const apiKey = secret(`${key}.apiKeyEnv`, channel.apiKey, channel.apiKeyEnv);
      const url = channel.url ?? NOTIFY_DEFAULTS.opsgenieUrl;
      if (apiKey) channels[name] = { name, type: 'opsgenie', url, apiKey };
      continue;
    }
    const url = secret(`${key}.urlEnv`, channel.url, channel.urlEnv);
    if (url && !URL.canParse(url.reveal())) {
      problems.push(`${key}.urlEnv: expected an http(s) URL in the environment variable`);
    }
    if (channel.type === 'webhook') {
      const signing = secret(`${key}.secretEnv`, channel.secret, channel.secretEnv);
      if (url && signing) channels[name] = { name, type: 'webhook', url, secret: signing };
    } else if (url) {
      channels[name] = { name, type: channel.type, url };
    }
  }

  const cooldownMs = file.cooldown ?? NOTIFY_DEFAULTS.cooldownMs;
  const routes: RouteConfig[] = file.routes
    ? file.routes.map((route) => ({
        channels: route.channel !== undefined ? [route.channel] : (route.channels ?? []),
        events: route.events ?? [...NOTIFY_DEFAULTS.events],
        kinds: route.kinds ?? null,
        cooldownMs: route.cooldown ?? cooldownMs,
      }))
    : [
        {
          channels: Object.keys(file.channels),
          events: [...NOTIFY_DEFAULTS.events],
          kinds: null,
          cooldownMs,
        },
      ];
  const isIncident = (channel: string) => {
    const type = file.channels[channel]?.type;
    return type === 'pagerduty' || type === 'opsgenie';
  };
  const delivery = file.delivery ?? {};
  const timeoutMs = delivery.timeout ?? NOTIFY_DEFAULTS.timeoutMs;
  return {
    channels,
    routes: routes.flatMap((route) => incidentRoutes(route, isIncident)),
    digestWindowMs: file.digestWindow ?? NOTIFY_DEFAULTS.digestWindowMs,
    delivery: {
      timeoutMs,
      backoffMs: delivery.backoff ?? NOTIFY_DEFAULTS.backoffMs,
      maxBackoffMs: delivery.maxBackoff ?? NOTIFY_DEFAULTS.maxBackoffMs,
      giveUpAfterMs: delivery.giveUpAfter ?? NOTIFY_DEFAULTS.giveUpAfterMs,
      leaseMs: Math.max(NOTIFY_DEFAULTS.leaseMs, 4 * timeoutMs),
    },
  };
}

/** Whether an event type matches a route's pattern (`*`, `noun:*` or an exact type). */
export function matchesEvent(pattern: string, type: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith(':*')) return type.startsWith(pattern.slice(0, -1));
  return pattern === type;
}
