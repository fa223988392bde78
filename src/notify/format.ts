import type { Notification } from '../ports/notifier.js';
import type { OutboxEvent } from '../ports/outbox-store.js';

/** Lines listed in one chat message or email; a bigger digest ends with "… and N more". */
export const MAX_LINES = 20;

/**
 * What an event is about, for cooldowns and for people: the execution, process, probe or owner
 * it names (`-` when it names none, e.g. a sweep report).
 */
export function subjectOf(event: OutboxEvent): string {
  for (const key of [
    'executionId',
    'process',
    'probe',
    'schedule',
    'name',
    'owner',
    'source',
    'sweepId',
  ]) {
    const value = event[key];
    if (typeof value === 'string' && value !== '') return value;
  }
  return '-';
}

/** One line about one event: "job-1#2 heartbeat_lost: no heartbeat for 2m 5s, limit 2m". */
export function describeEvent(event: OutboxEvent): string {
  const subject = subjectOf(event);
  const attempt = typeof event.attempt === 'number' ? `#${event.attempt}` : '';
  const verdict = typeof event.verdict === 'string' ? ` ${event.verdict}` : '';
  const detail = [event.reason, event.error, event.status, event.message].find(
    (value): value is string => typeof value === 'string' && value !== '',
  );
  return `${event.type} ${subject}${attempt}${verdict}${detail ? `: ${detail}` : ''}`;
}

/**
 * The headline of a message: the event itself when it is alone, otherwise a digest count per
 * type ("50 events: execution:remediated ×48, execution:dead ×2").
 */
export function headline(events: readonly OutboxEvent[]): string {
  const [event] = events;
  if (event !== undefined && events.length === 1) {
    const verdict = typeof event.verdict === 'string' ? ` (${event.verdict})` : '';
    return `${event.type} ${subjectOf(event)}${verdict}`;
  }
  const counts = new Map<string, number>();
  for (const event of events) counts.set(event.type, (counts.get(event.type) ?? 0) + 1);
  const parts = [...counts].map(([type, n]) => `${type} ×${n}`);
  return `${events.length} events: ${parts.join(', ')}`;
}

/** The body lines of a message: one per event, at most MAX_LINES, then how many were left out. */
export function bodyLines(events: readonly OutboxEvent[]): string[] {
  const lines = events.slice(0, MAX_LINES).map(describeEvent);
  if (events.length > MAX_LINES) lines.push(`… and ${events.length - MAX_LINES} more`);
  return lines;
}

/**
 * The id receivers drop a repeated delivery by (`X-Vigil-Delivery`): the outbox id of the first
 * message it carries. The worker never sends an empty notification; one would be refused here.
 */
export function deliveryId(notification: Notification): string {
  const [first] = notification.ids;
  if (first === undefined) {
    throw new Error(`a notification to channel ${notification.channel} carries no message`);
  }
  return first;
}
