/**
 * PagerDuty Events API v2: one `trigger` per event that opens a problem and one `resolve` per
 * event that ends it, both with the `dedup_key` of the subject (src/notify/incident.ts), so
 * PagerDuty groups repeats into one incident and closes it on recovery. PagerDuty deduplicates by
 * that key itself, so a message delivered twice (delivery is at least once) changes nothing.
 */
import type { Notifier } from '../ports/notifier.js';
import type { OutboxEvent } from '../ports/outbox-store.js';
import type { ChannelConfig } from './config.js';
import { postJson } from './http-post.js';
import type { IncidentAction } from './incident.js';
import { incidentOf } from './incident.js';
import { Secret } from './secret.js';

type PagerDutyChannel = Extract<ChannelConfig, { type: 'pagerduty' }>;

/** PagerDuty cuts `payload.summary` at 1,024 characters. */
const MAX_SUMMARY = 1_024;

/** The body of one Events API v2 request. */
export function pagerDutyBody(routingKey: string, incident: IncidentAction, event: OutboxEvent) {
  if (incident.action === 'resolve') {
    return { routing_key: routingKey, event_action: 'resolve', dedup_key: incident.key };
  }
  return {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key: incident.key,
    client: 'Vigil',
    payload: {
      summary: incident.summary.slice(0, MAX_SUMMARY),
      source: 'vigil',
      severity: incident.severity,
      timestamp: new Date(event.at).toISOString(),
      component: incident.key.split('/').slice(2).join('/'),
      group: incident.key.split('/')[1],
      class: event.type,
      custom_details: event,
    },
  };
}

export function pagerDutyNotifier(channel: PagerDutyChannel, timeoutMs: number): Notifier {
  const url = new Secret(channel.url);
  return {
    channel: channel.name,
    async deliver(notification) {
      // In order: a trigger and its resolve in one digest must reach PagerDuty in that order.
      for (const event of notification.events) {
        const incident = incidentOf(event);
        if (incident === null) continue;
        await postJson({
          url,
          body: JSON.stringify(pagerDutyBody(channel.routingKey.reveal(), incident, event)),
          timeoutMs,
          secrets: [channel.routingKey],
          headers: { 'user-agent': 'vigil-notify' },
        });
      }
    },
  };
}
