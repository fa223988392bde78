/**
 * What an event means to an incident tool (PagerDuty, Opsgenie): open (or update) the incident of
 * its subject, close it, or nothing. The incident key is derived from the subject alone — the
 * execution, operation, probe, process or owner — so the event that ends a problem carries the
 * same key as the one that opened it, and the tool closes the right incident.
 */
import { createHash } from 'node:crypto';
import { EVENT_TYPES } from '../ports/events.js';
import type { OutboxEvent } from '../ports/outbox-store.js';
import { describeEvent } from './format.js';

export type Severity = 'critical' | 'error' | 'warning' | 'info';

export type IncidentAction =
  | { action: 'trigger'; key: string; severity: Severity; summary: string }
  | { action: 'resolve'; key: string; summary: string };

/** Events that open an incident, with how bad they are. */
const TRIGGERS: Readonly<Record<string, Severity>> = {
  'execution:stuck': 'error',
  'execution:escalated': 'critical',
  'execution:dead': 'critical',
  'owner:unreachable': 'error',
  'breaker:opened': 'critical',
  'process:unhealthy': 'error',
  'process:gave-up': 'critical',
  'probe:failing': 'critical',
};

/**
 * Events that end the problem of their subject: the execution was ended by Vigil or reported by
 * its runner after all, the process or probe recovered, the owner answers again.
 */
const RESOLVED_BY: Readonly<Record<string, readonly string[]>> = {
  'execution:stuck': ['execution:remediated', 'execution:late-result'],
  'execution:escalated': ['execution:remediated', 'execution:late-result'],
  'execution:dead': ['execution:late-result'],
  'owner:unreachable': ['breaker:closed'],
  'breaker:opened': ['breaker:closed'],
  'process:unhealthy': ['process:recovered'],
  'process:gave-up': ['process:recovered'],
  'probe:failing': ['probe:recovered'],
};
const RESOLVES = new Set(Object.values(RESOLVED_BY).flat());

/** PagerDuty refuses a `dedup_key` over 255 characters; longer subjects are hashed. */
const MAX_KEY = 255;

/** The incident key of an event's subject, or null when it names none (a sweep report). */
export function incidentKey(event: OutboxEvent): string | null {
  const text = (key: string) => {
    const value = event[key];
    return typeof value === 'string' && value !== '' ? value : null;
  };
  const noun = event.type.split(':')[0];
  let subject: string | null = null;
  if (noun === 'execution') {
    const operation = text('operationId');
    subject =
      text('executionId') ?? (operation !== null ? `${text('source') ?? ''}:${operation}` : null);
  } else if (noun === 'probe') subject = text('probe');
  else if (noun === 'process') subject = text('name');
  else if (noun === 'owner' || noun === 'breaker') subject = text('owner');
  if (subject === null) return null;
  // Owners' breaker and reachability are one incident: the owner is in trouble.
  const key = `vigil/${noun === 'breaker' ? 'owner' : noun}/${subject}`;
  return key.length <= MAX_KEY
    ? key
    : `vigil/${noun}/sha256:${createHash('sha256').update(subject).digest('hex')}`;
}

/** What an incident tool should do with this event; null for events that open or close nothing. */
export function incidentOf(event: OutboxEvent): IncidentAction | null {
  const key = incidentKey(event);
  if (key === null) return null;
  const summary = describeEvent(event);
  const severity = TRIGGERS[event.type];
  if (severity !== undefined) return { action: 'trigger', key, severity, summary };
  if (RESOLVES.has(event.type)) return { action: 'resolve', key, summary };
  return null;
}

/**
 * The events a route to an incident tool selects: its own, and the events that resolve what they
 * trigger — an incident opened by `probe:failing` must be closed by `probe:recovered` even when the
 * route names only the first, or it would stay open for ever.
 */
export function withResolvingEvents(patterns: readonly string[]): string[] {
  const matches = (pattern: string, type: string) =>
    pattern === '*' ||
    pattern === type ||
    (pattern.endsWith(':*') && type.startsWith(pattern.slice(0, -1)));
  const selected = EVENT_TYPES.filter((type) => patterns.some((p) => matches(p, type)));
  const resolving = selected.flatMap((type) => RESOLVED_BY[type] ?? []);
  return [...new Set([...patterns, ...resolving])];
}

/**
 * A route's incident channels (PagerDuty, Opsgenie) get a route of their own: with the events that
 * close what the route's events open, and no cooldown. Those tools group by the incident key
 * themselves, and a cooldown there would swallow the trigger of a problem that came back after a
 * resolve — leaving it closed while it is failing, the worse mistake.
 */
export function incidentRoutes<
  R extends { channels: string[]; events: string[]; cooldownMs: number },
>(route: R, isIncident: (channel: string) => boolean): R[] {
  const incident = route.channels.filter(isIncident);
  if (incident.length === 0) return [route];
  const others = route.channels.filter((channel) => !isIncident(channel));
  return [
    ...(others.length > 0 ? [{ ...route, channels: others }] : []),
    { ...route, channels: incident, events: withResolvingEvents(route.events), cooldownMs: 0 },
  ];
}
