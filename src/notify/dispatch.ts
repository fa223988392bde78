import type { Execution } from '../core/types.js';
import type { Clock, Timers } from '../ports/clock.js';
import type { Notifier } from '../ports/notifier.js';
import type { OutboxStore } from '../ports/outbox-store.js';
import { dispatchChannel } from '../ports/outbox-store.js';
import { realTimers } from '../shared/timers.js';
import type { DispatchTarget } from './dispatch-config.js';
import { DISPATCH_DELIVERY } from './dispatch-config.js';
import { postJson } from './http-post.js';
import { redactSecrets } from './secret.js';
import { DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signWebhook } from './webhook.js';
import { DeliveryWorker } from './worker.js';

/**
 * How often the outbox is searched for queued attempts without a dispatch. A retry queued by a
 * sweep (here or on another replica) is written this late at most; its backoff is usually longer.
 */
export const DISPATCH_SCAN_MS = 1_000;
/** Dispatches written per scan; more wait for the next one. */
const SCAN_LIMIT = 500;

/** The JSON body of one dispatch: the queued attempt, to be started with this `attempt`. */
export function dispatchBody(dispatchId: string, execution: Execution, now: number) {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    type: 'execution:dispatch',
    dispatchId,
    sentAt: new Date(now).toISOString(),
    execution: {
      id: execution.id,
      kind: execution.kind,
      owner: execution.owner,
      parentId: execution.parentId,
      attempt: execution.attempt,
      queuedAt: iso(execution.queuedAt),
      limits: execution.limits,
      metadata: execution.metadata,
    },
  };
}

/**
 * The sender of one kind's dispatches: a signed POST (the notification webhooks' scheme) of the
 * execution as it is now. An attempt already started (claimed by a runner, started by an earlier
 * delivery's receiver) or ended is not sent: the receiver could only be refused.
 */
export function dispatchNotifier(
  target: DispatchTarget,
  current: (id: string) => Promise<Execution | undefined>,
): Notifier {
  const channel = dispatchChannel(target.kind);
  return {
    channel,
    async deliver(notification, now) {
      for (const [i, event] of notification.events.entries()) {
        const id = String(event.executionId);
        const execution = await current(id);
        if (execution?.status !== 'queued' || execution.attempt !== event.attempt) continue;
        const dispatchId = notification.ids[i] ?? `dispatch:${id}:${execution.attempt}`;
        const body = JSON.stringify(dispatchBody(dispatchId, execution, now));
        const timestamp = String(Math.floor(now / 1000));
        await postJson({
          url: target.url,
          body,
          timeoutMs: target.timeoutMs,
          secrets: [target.url, target.secret],
          headers: {
            [TIMESTAMP_HEADER]: timestamp,
            [SIGNATURE_HEADER]: signWebhook(target.secret.reveal(), timestamp, body),
            [DELIVERY_HEADER]: dispatchId,
            'user-agent': 'vigil-dispatch',
          },
        });
      }
    },
  };
}

export interface DispatchesOptions {
  outbox: OutboxStore;
  targets: Readonly<Record<string, DispatchTarget>>;
  current: (id: string) => Promise<Execution | undefined>;
  clock: Clock;
  onError: (error: unknown, where: string) => void;
  timers?: Timers | undefined;
  holder?: string | undefined;
}

/**
 * Dispatch webhooks (`kinds.<kind>.dispatch`): every `DISPATCH_SCAN_MS` the queued attempts of
 * those kinds that have no dispatch yet get one in the outbox, due when their backoff ends; the
 * outbox's worker delivers them (leased, so one replica sends each; retried with backoff; kept
 * across restarts). Deriving dispatches from the executions themselves means no path that queues
 * an attempt (a registration, a runner's retryable failure, a sweep) can forget one, and a crash
 * between queueing and writing the dispatch only delays it to the next scan.
 */
export class Dispatches {
  readonly worker: DeliveryWorker;
  private handle: unknown = null;
  private scanning: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly options: DispatchesOptions) {
    const notifiers = new Map(
      Object.values(options.targets).map((target) => [
        dispatchChannel(target.kind),
        dispatchNotifier(target, options.current),
      ]),
    );
    const secrets = Object.values(options.targets).flatMap((t) => [t.url, t.secret]);
    this.worker = new DeliveryWorker({
      outbox: options.outbox,
      notifiers,
      clock: options.clock,
      delivery: DISPATCH_DELIVERY,
      holder: options.holder,
      timers: options.timers,
      scope: 'dispatches',
      onError: (error) => options.onError(error, 'dispatch delivery'),
      redact: (text) => redactSecrets(text, secrets),
    });
  }

  /** Writes the dispatches due to be written now; returns how many. Tests call it directly. */
  async scan(): Promise<number> {
    const { outbox, targets, clock } = this.options;
    const written = await outbox.enqueueDispatches(Object.keys(targets), clock.now(), SCAN_LIMIT);
    if (written > 0) this.worker.kick();
    return written;
  }

  start(): void {
    this.stopped = false;
    this.worker.start();
    this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.handle !== null) (this.options.timers ?? realTimers).clearTimeout(this.handle);
    this.handle = null;
    await this.scanning;
    await this.worker.stop();
  }

  private tick(): void {
    if (this.stopped) return;
    this.scanning = this.scan()
      .then(
        () => undefined,
        (error: unknown) => this.options.onError(error, 'dispatch scan'),
      )
      .finally(() => {
        this.scanning = null;
        if (this.stopped) return;
        this.handle = (this.options.timers ?? realTimers).setTimeout(() => {
          this.handle = null;
          this.tick();
        }, DISPATCH_SCAN_MS);
      });
  }
}
