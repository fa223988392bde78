/**
 * Opsgenie Alert API: an event that opens a problem creates an alert whose `alias` is the incident
 * key of its subject (src/notify/incident.ts); the event that ends it closes the alert by that
 * alias. Opsgenie keeps one open alert per alias (a repeat only counts up), so a message delivered
 * twice changes nothing.
 */
import type { Notifier } from '../ports/notifier.js';
import type { OutboxEvent } from '../ports/outbox-store.js';
import type { ChannelConfig } from './config.js';
import { postJson } from './http-post.js';
import type { IncidentAction, Severity } from './incident.js';
import { incidentOf } from './incident.js';
import { Secret } from './secret.js';

type OpsgenieChannel = Extract<ChannelConfig, { type: 'opsgenie' }>;

/** Opsgenie refuses a `message` over 130 characters. */
const MAX_MESSAGE = 130;

const PRIORITY: Readonly<Record<Severity, string>> = {
  critical: 'P1',
  error: 'P2',
  warning: 'P3',
  info: 'P5',
};

/** The path (under the base URL) and body of one Alert API request. */
export function opsgenieRequest(incident: IncidentAction, event: OutboxEvent) {
  if (incident.action === 'resolve') {
    return {
      path: `/v2/alerts/${encodeURIComponent(incident.key)}/close?identifierType=alias`,
      body: { source: 'Vigil', note: incident.summary },
    };
  }
  const message =
    incident.summary.length > MAX_MESSAGE
      ? `${incident.summary.slice(0, MAX_MESSAGE - 1)}…`
      : incident.summary;
  return {
    path: '/v2/alerts',
    body: {
      message,
      alias: incident.key,
      description: incident.summary,
      priority: PRIORITY[incident.severity],
      source: 'Vigil',
      tags: ['vigil', event.type],
      entity: incident.key.split('/').slice(2).join('/'),
      // Opsgenie's details are a map of strings.
      details: Object.fromEntries(
        Object.entries(event).map(([key, value]) => [
          key,
          typeof value === 'string' ? value : JSON.stringify(value),
        ]),
      ),
    },
  };
}

export function opsgenieNotifier(channel: OpsgenieChannel, timeoutMs: number): Notifier {
  const base = channel.url.replace(/\/+$/, '');
  return {
    channel: channel.name,
    async deliver(notification) {
      // In order: an alert and its close in one digest must reach Opsgenie in that order.
      for (const event of notification.events) {
        const incident = incidentOf(event);
        if (incident === null) continue;
        const request = opsgenieRequest(incident, event);
        await postJson({
          url: new Secret(`${base}${request.path}`),
          body: JSON.stringify(request.body),
          timeoutMs,
          secrets: [channel.apiKey],
          headers: {
            authorization: `GenieKey ${channel.apiKey.reveal()}`,
            'user-agent': 'vigil-notify',
          },
        });
      }
    },
  };
}
