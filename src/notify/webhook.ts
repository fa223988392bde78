import { createHmac } from 'node:crypto';
import type { Notification, Notifier } from '../ports/notifier.js';
import type { ChannelConfig } from './config.js';
import { deliveryId, headline } from './format.js';
import { postJson } from './http-post.js';

type WebhookChannel = Extract<ChannelConfig, { type: 'webhook' }>;

/** Header names of the signing scheme (docs/notifications.md). */
export const SIGNATURE_HEADER = 'x-vigil-signature';
export const TIMESTAMP_HEADER = 'x-vigil-timestamp';
export const DELIVERY_HEADER = 'x-vigil-delivery';

/**
 * The signature of one delivery: `sha256=` and the hex HMAC-SHA256, keyed with the channel's
 * secret, of `<timestamp>.<raw body>`. Signing the timestamp with the body means a captured
 * request cannot be replayed later with a fresh timestamp; receivers reject old timestamps.
 */
export function signWebhook(secret: string, timestamp: string, rawBody: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest('hex')}`;
}

/** The JSON body a generic webhook receives. */
export function webhookBody(notification: Notification, now: number) {
  return {
    channel: notification.channel,
    sentAt: new Date(now).toISOString(),
    summary: headline(notification.events),
    // Each event carries its outbox id, so a receiver can drop one it has already processed
    // (delivery is at least once: an answer lost on the way back means a second delivery).
    events: notification.events.map((event, i) => ({
      ...event,
      at: new Date(event.at).toISOString(),
      notificationId: notification.ids[i],
    })),
  };
}

/** A generic webhook: a signed JSON POST. */
export function webhookNotifier(channel: WebhookChannel, timeoutMs: number): Notifier {
  return {
    channel: channel.name,
    async deliver(notification, now) {
      const body = JSON.stringify(webhookBody(notification, now));
      const timestamp = String(Math.floor(now / 1000));
      await postJson({
        url: channel.url,
        body,
        timeoutMs,
        secrets: [channel.url, channel.secret],
        headers: {
          [TIMESTAMP_HEADER]: timestamp,
          [SIGNATURE_HEADER]: signWebhook(channel.secret.reveal(), timestamp, body),
          [DELIVERY_HEADER]: deliveryId(notification),
          'user-agent': 'vigil-notify',
        },
      });
    },
  };
}
