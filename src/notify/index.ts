import type { StoreAdmin } from '../ports/store-admin.js';
import type { ReadStore } from '../ports/read-store.js';
import type { Clock } from '../ports.js';
import type { Notifier } from '../ports/notifier.js';
import type { Timers } from '../ports/clock.js';
import type { EventFeed } from '../ports/events.js';
import type { GateView } from '../core/silence.js';
import { chatNotifier } from './chat.js';
import type { ChannelConfig, NotifyConfig } from './config.js';
import { emailNotifier } from './email.js';
import { opsgenieNotifier } from './opsgenie.js';
import { pagerDutyNotifier } from './pagerduty.js';
import { NotifyRouter } from './router.js';
import type { Secret } from './secret.js';
import { redactSecrets } from './secret.js';
import { webhookNotifier } from './webhook.js';
import { DeliveryWorker } from './worker.js';

/** The notifier of one configured channel. */
export function notifierFor(channel: ChannelConfig, timeoutMs: number): Notifier {
  switch (channel.type) {
    case 'webhook':
      return webhookNotifier(channel, timeoutMs);
    case 'slack':
    case 'discord':
      return chatNotifier(channel, timeoutMs);
    case 'email':
      return emailNotifier(channel, timeoutMs);
    case 'pagerduty':
      return pagerDutyNotifier(channel, timeoutMs);
    case 'opsgenie':
      return opsgenieNotifier(channel, timeoutMs);
  }
}

/** Every credential in the configuration. */
export function secretsOf(config: NotifyConfig): Secret[] {
  return Object.values(config.channels).flatMap((channel) => {
    switch (channel.type) {
      case 'email':
        return channel.smtp.password ? [channel.smtp.password] : [];
      case 'webhook':
        return [channel.url, channel.secret];
      case 'pagerduty':
        return [channel.routingKey];
      case 'opsgenie':
        return [channel.apiKey];
      default:
        return [channel.url];
    }
  });
}

export interface NotificationsOptions {
  events: EventFeed;
  store: Pick<ReadStore, 'get'> & Pick<StoreAdmin, 'outbox'>;
  config: NotifyConfig;
  clock: Clock;
  onError: (error: unknown, where: string) => void;
  /** Replaces the real notifiers (tests that need a failure they cannot cause otherwise). */
  notifiers?: ReadonlyMap<string, Notifier> | undefined;
  holder?: string | undefined;
  timers?: Timers | undefined;
  /** Start the delivery loop (default true). Tests with a fake clock call `worker.runOnce()`. */
  deliver?: boolean | undefined;
  /** The silences in force (read once per batch of events); none when absent. */
  silences?: ((now: number) => Promise<GateView>) | undefined;
}

/**
 * Notifications for a running Vigil: the event bus → routes and cooldowns → the outbox → the
 * delivery worker. `stop` writes what the bus has already emitted, then stops delivering;
 * anything undelivered stays in the outbox for the next start (or another replica).
 */
export class Notifications {
  readonly router: NotifyRouter;
  readonly worker: DeliveryWorker;
  private readonly notifiers: ReadonlyMap<string, Notifier>;
  private readonly unsubscribe: () => void;

  constructor(options: NotificationsOptions) {
    const { store, config, clock } = options;
    const outbox = store.outbox();
    this.notifiers =
      options.notifiers ??
      new Map(
        Object.values(config.channels).map((channel) => [
          channel.name,
          notifierFor(channel, config.delivery.timeoutMs),
        ]),
      );
    this.worker = new DeliveryWorker({
      outbox,
      notifiers: this.notifiers,
      clock,
      delivery: config.delivery,
      holder: options.holder,
      timers: options.timers,
      onError: (error) => options.onError(error, 'notification delivery'),
      redact: (text) => redactSecrets(text, secretsOf(config)),
    });
    this.router = new NotifyRouter({
      outbox,
      config,
      clock,
      kindOf: async (id) => (await store.get(id))?.kind,
      silences: options.silences,
      executionOf: (id) => store.get(id),
      onEnqueued: () => this.worker.kick(),
      onError: (error) => options.onError(error, 'notification routing'),
    });
    this.unsubscribe = options.events.on(this.router.listener);
    if (options.deliver ?? true) this.worker.start();
  }

  async stop(): Promise<void> {
    this.unsubscribe();
    await this.router.flush();
    await this.worker.stop();
    for (const notifier of this.notifiers.values()) await notifier.close?.();
  }
}
