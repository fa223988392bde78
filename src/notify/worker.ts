import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { retryDelay } from '../core/backoff.js';
import type { Clock } from '../ports.js';
import type { Notifier } from '../ports/notifier.js';
import type { OutboxMessage, OutboxScope, OutboxStore } from '../ports/outbox-store.js';
import type { Timers } from '../ports/clock.js';
import { realTimers } from '../shared/timers.js';
import type { NotifyConfig } from './config.js';
import { DeliveryError, toDeliveryError } from './delivery-error.js';

export interface DeliveryWorkerOptions {
  outbox: OutboxStore;
  /** Channel name → its notifier. */
  notifiers: ReadonlyMap<string, Notifier>;
  clock: Clock;
  delivery: NotifyConfig['delivery'];
  /** This worker's name on its claims; unique per replica. */
  holder?: string | undefined;
  timers?: Timers | undefined;
  /**
   * The longest the worker sleeps between looks at the outbox (other replicas write to it too).
   * Default 1 s: a message another replica wrote waits at most this long.
   */
  idlePollMs?: number | undefined;
  onError: (error: unknown) => void;
  /** Scrubs every configured secret from an error before it is stored or reported. */
  redact?: ((text: string) => string) | undefined;
  /**
   * What this worker delivers. Default `notifications`, one digest per channel; `dispatches`
   * are sent one message each (a receiver starts one attempt per message).
   */
  scope?: OutboxScope | undefined;
}

/** Messages claimed at once: one digest per channel carries at most this many events. */
const CLAIM_LIMIT = 500;

export interface RunResult {
  delivered: number;
  retrying: number;
  failed: number;
}

/**
 * Delivers what the outbox holds: claims due messages (a lease, so replicas never deliver one
 * twice), sends one message per channel (a digest when several are due), and records the
 * outcome. A failure that can pass is retried with exponential backoff and jitter until
 * `giveUpAfter`; a refusal is marked failed at once.
 */
export class DeliveryWorker {
  readonly holder: string;
  private handle: unknown = null;
  /** Whether the delivery loop runs (`start`); tests that call `runOnce` leave it off. */
  private looping = false;
  private stopping = false;
  private running: Promise<void> | null = null;
  private again = false;
  private lastPrune = 0;

  constructor(private readonly options: DeliveryWorkerOptions) {
    this.holder =
      options.holder ?? `notify:${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  }

  start(): void {
    this.looping = true;
    this.kick();
  }

  /** Stops the loop and waits for a delivery in flight to be recorded. */
  async stop(): Promise<void> {
    this.looping = false;
    this.stopping = true;
    this.clearTimer();
    await this.running;
  }

  /** Something was written to the outbox: look now instead of at the next poll. */
  kick(): void {
    if (!this.looping) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.clearTimer();
    this.running = this.loop().finally(() => {
      this.running = null;
    });
  }

  /**
   * Delivers every message due now, one claim of up to 500 at a time. Tests call this directly
   * with a fake clock.
   */
  async runOnce(): Promise<RunResult> {
    const result: RunResult = { delivered: 0, retrying: 0, failed: 0 };
    for (;;) {
      const { outbox, clock, delivery } = this.options;
      const scope = this.options.scope ?? 'notifications';
      const claimed = await outbox.claimDue(
        this.holder,
        clock.now(),
        delivery.leaseMs,
        CLAIM_LIMIT,
        scope,
      );
      const groups = new Map<string, OutboxMessage[]>();
      for (const message of claimed) {
        const key = scope === 'dispatches' ? message.id : message.channel;
        const group = groups.get(key) ?? [];
        group.push(message);
        groups.set(key, group);
      }
      // Channels are independent: a slow or dead receiver does not hold up the others.
      await Promise.all(
        [...groups.values()].map((messages) =>
          this.deliver(messages[0]?.channel ?? '', messages, result),
        ),
      );
      if (claimed.length < CLAIM_LIMIT || this.stopping) return result;
    }
  }

  private async deliver(
    channel: string,
    messages: OutboxMessage[],
    result: RunResult,
  ): Promise<void> {
    const { outbox, clock } = this.options;
    const ids = messages.map((m) => m.id);
    const notifier = this.options.notifiers.get(channel);
    try {
      if (!notifier) {
        throw new DeliveryError(`no channel named ${JSON.stringify(channel)} is configured`, false);
      }
      await notifier.deliver({ channel, ids, events: messages.map((m) => m.event) }, clock.now());
    } catch (error) {
      await this.recordFailure(messages, toDeliveryError(error), result);
      return;
    }
    await outbox.markDelivered(ids, this.holder, clock.now());
    result.delivered += ids.length;
  }

  private async recordFailure(
    messages: OutboxMessage[],
    failure: DeliveryError,
    result: RunResult,
  ): Promise<void> {
    const { outbox, clock, delivery } = this.options;
    const [first] = messages;
    if (first === undefined) return;
    const now = clock.now();
    // A receiver's answer may quote any credential (another channel's URL, say): scrub them all.
    const message = (this.options.redact ?? ((text: string) => text))(failure.message);
    const error = `${message}${failure.transient ? '' : ' (not retried)'}`;
    if (!failure.transient) {
      await outbox.markAttemptFailed(
        messages.map((m) => m.id),
        this.holder,
        error,
        null,
      );
      result.failed += messages.length;
      return;
    }
    // The digest's messages retry together, on the backoff of the most-tried one.
    const attempt = Math.max(...messages.map((m) => m.attempts)) + 1;
    const retryAt =
      now +
      retryDelay(
        {
          maxAttempts: Infinity,
          backoffMs: delivery.backoffMs,
          maxBackoffMs: delivery.maxBackoffMs,
        },
        first.id,
        attempt,
      );
    const expired = messages.filter((m) => retryAt - m.createdAt > delivery.giveUpAfterMs);
    const retrying = messages.filter((m) => retryAt - m.createdAt <= delivery.giveUpAfterMs);
    if (expired.length > 0) {
      await outbox.markAttemptFailed(
        expired.map((m) => m.id),
        this.holder,
        `${message} (gave up after ${delivery.giveUpAfterMs} ms)`,
        null,
      );
      result.failed += expired.length;
    }
    if (retrying.length > 0) {
      await outbox.markAttemptFailed(
        retrying.map((m) => m.id),
        this.holder,
        error,
        retryAt,
      );
      result.retrying += retrying.length;
    }
    const what = this.options.scope === 'dispatches' ? 'dispatch' : 'notification';
    this.options.onError(new Error(`${what} to channel ${first.channel} failed: ${message}`));
  }

  private async loop(): Promise<void> {
    const { outbox, clock } = this.options;
    const idlePollMs = this.options.idlePollMs ?? 1_000;
    let wakeIn = idlePollMs;
    try {
      do {
        this.again = false;
        await this.runOnce();
      } while (this.again && this.looping);
      const now = clock.now();
      if (now - this.lastPrune > 60_000) {
        this.lastPrune = now;
        await outbox.pruneCooldowns(now);
      }
      const next = await outbox.nextDue(this.options.scope);
      if (next !== null) wakeIn = Math.min(idlePollMs, Math.max(0, next - clock.now()));
      // Kicked while finishing up: something new was written.
      if (this.again) wakeIn = 0;
    } catch (error) {
      // The store is failing: report it and look again at the next poll.
      this.options.onError(error);
    }
    if (!this.looping) return;
    const timers = this.options.timers ?? realTimers;
    this.handle = timers.setTimeout(() => {
      this.handle = null;
      this.kick();
    }, wakeIn);
  }

  private clearTimer(): void {
    if (this.handle !== null) (this.options.timers ?? realTimers).clearTimeout(this.handle);
    this.handle = null;
  }
}
