import { randomBytes } from 'node:crypto';
import type { Clock } from '../ports.js';
import type { OutboxEvent, OutboxMessage, OutboxStore } from '../ports/outbox-store.js';
import type { VigilEvent } from '../ports/events.js';
import type { NotifyConfig } from './config.js';
import { matchesEvent } from './config.js';
import { subjectOf } from './format.js';
import type { GateView } from '../core/silence.js';
import type { ExecutionLookup } from './silenced.js';
import { silenceOf } from './silenced.js';

export interface NotifyRouterOptions {
  outbox: OutboxStore;
  config: NotifyConfig;
  clock: Clock;
  /** The kind of an execution, for routes filtered by kind when an event does not carry it. */
  kindOf?: ((executionId: string) => Promise<string | undefined>) | undefined;
  /** The silences in force; an event one of them matches is not written to the outbox. */
  silences?: ((now: number) => Promise<GateView>) | undefined;
  /** An execution's kind and owner, for silences that match on them (events may not carry them). */
  executionOf?: ExecutionLookup | undefined;
  /** Called after messages were written or released, to wake the delivery worker. */
  onEnqueued?: (() => void) | undefined;
  onError: (error: unknown) => void;
}

type NewMessage = Pick<OutboxMessage, 'id' | 'channel' | 'eventType' | 'subjectKey' | 'event'>;

/**
 * Listens to the event bus and writes what the routes select to the outbox: one message per
 * (event, channel), unless the same (channel, event type, subject) went out within its cooldown.
 * Events are written in the order they came, in batches (a sweep emits them in bursts), and a
 * completed sweep releases the batches held for the digest window.
 */
export class NotifyRouter {
  private queue: VigilEvent[] = [];
  private draining: Promise<void> | null = null;
  private seq = 0;
  /** Events not sent because their key was cooling down (for tests and metrics). */
  suppressed = 0;
  /** Events not sent because a silence matched them. */
  muted = 0;

  constructor(private readonly options: NotifyRouterOptions) {}

  /** The EventBus listener: never throws, never blocks the emitter. */
  readonly listener = (event: VigilEvent): void => {
    // A dry run changes nothing and tells no one.
    if (event.type === 'sweep:completed' && event.dryRun) return;
    this.queue.push(event);
    this.draining ??= this.drain().finally(() => {
      this.draining = null;
    });
  };

  /** Resolves when every event received so far has been written to the outbox. */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    // Let the rest of a synchronous burst (a sweep page) arrive, then write it as one batch.
    await Promise.resolve();
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0);
      try {
        await this.route(batch);
      } catch (error) {
        // The store is failing: these events are not notified (the sweep reports its own failure).
        this.options.onError(error);
      }
    }
  }

  /** Routes a batch of events into the outbox. */
  async route(events: readonly VigilEvent[]): Promise<void> {
    const { outbox, config, clock } = this.options;
    const now = clock.now();
    const messages: NewMessage[] = [];
    let sweepCompleted = false;
    const view = await this.options.silences?.(now);
    for (const event of events) {
      if (event.type === 'sweep:completed') sweepCompleted = true;
      if (view && (await silenceOf(event, view, now, this.options.executionOf))) {
        this.muted++;
        continue;
      }
      const json = JSON.parse(JSON.stringify(event)) as OutboxEvent;
      const subject = subjectOf(json);
      for (const target of await this.targetsOf(event)) {
        const key = `${target.channel}|${event.type}|${subject}`;
        if (target.cooldownMs > 0 && !(await outbox.acquireCooldown(key, now, target.cooldownMs))) {
          this.suppressed++;
          continue;
        }
        messages.push({
          id: this.nextId(now),
          channel: target.channel,
          eventType: event.type,
          subjectKey: subject,
          event: structuredClone(json),
        });
      }
    }
    await outbox.enqueue(messages, now, config.digestWindowMs);
    // The sweep is over: what it produced goes out now, as one digest per channel.
    if (sweepCompleted) await outbox.releaseHeld(now);
    if (messages.length > 0 || sweepCompleted) this.options.onEnqueued?.();
  }

  /**
   * Ids sort in the order events were routed (time, then a counter), so a digest lists its events
   * in the order they happened; the random tail keeps replicas' ids apart.
   */
  private nextId(now: number): string {
    const time = now.toString(36).padStart(9, '0');
    const seq = (this.seq++ % 36 ** 6).toString(36).padStart(6, '0');
    return `${time}-${seq}-${randomBytes(4).toString('hex')}`;
  }

  /** The channels an event goes to; when several routes name a channel, the first one counts. */
  private async targetsOf(event: VigilEvent): Promise<{ channel: string; cooldownMs: number }[]> {
    const targets = new Map<string, number>();
    let kind: string | undefined | null = null;
    for (const route of this.options.config.routes) {
      if (!route.events.some((pattern) => matchesEvent(pattern, event.type))) continue;
      if (route.kinds !== null) {
        if (kind === null) kind = await this.kindOf(event);
        if (kind === undefined || !route.kinds.includes(kind)) continue;
      }
      for (const channel of route.channels) {
        if (!targets.has(channel)) targets.set(channel, route.cooldownMs);
      }
    }
    return [...targets].map(([channel, cooldownMs]) => ({ channel, cooldownMs }));
  }

  private async kindOf(event: VigilEvent): Promise<string | undefined> {
    if ('kind' in event && typeof event.kind === 'string') return event.kind;
    if (!('executionId' in event) || !this.options.kindOf) return undefined;
    return this.options.kindOf(event.executionId);
  }
}
