import type { OutboxEvent } from './outbox-store.js';

/** A message rendered for one channel: one event, or a digest of several. */
export interface Notification {
  channel: string;
  /** The outbox ids of the events it carries, oldest first. */
  ids: string[];
  events: OutboxEvent[];
}

/**
 * One channel's way of delivering notifications: a webhook, Slack, Discord, email. Resolves when
 * the receiver has accepted the message; rejects otherwise, with a DeliveryError when it
 * can tell whether trying again may help.
 */
export interface Notifier {
  readonly channel: string;
  deliver(notification: Notification, now: number): Promise<void>;
  close?(): Promise<void>;
}
