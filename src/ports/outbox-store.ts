/** What the outbox keeps of one event for one channel (the event itself is plain JSON). */
export interface OutboxEvent {
  type: string;
  /** Milliseconds since the epoch. */
  at: number;
  [key: string]: unknown;
}

/** A notification waiting in, or delivered from, the outbox: one event for one channel. */
export interface OutboxMessage {
  id: string;
  channel: string;
  eventType: string;
  /** What the cooldown is keyed on: the execution, process, probe or owner concerned. */
  subjectKey: string;
  event: OutboxEvent;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  lastError: string | null;
  createdAt: number;
  /** When the next delivery attempt is due (meaningful while pending). */
  dueAt: number;
  deliveredAt: number | null;
}

/**
 * Which messages a worker delivers: notifications (digested per channel), or dispatches of queued
 * attempts to their kind's webhook (channel `dispatch:<kind>`, one message each).
 */
export type OutboxScope = 'notifications' | 'dispatches';

/** The channel of a kind's dispatches; notification channel names cannot contain ":". */
export const dispatchChannel = (kind: string): string => `dispatch:${kind}`;
export const DISPATCH_EVENT = 'execution:dispatch';

export interface OutboxFilter {
  status?: OutboxMessage['status'] | undefined;
  channel?: string | undefined;
  since?: number | undefined;
  limit: number;
}

/**
 * The transactional outbox of notifications. Messages are written before any delivery is tried;
 * workers (one per replica) claim due rows under a lease, so each is delivered by one of them.
 */
export interface OutboxStore {
  /**
   * Writes new messages. Each joins the earliest batch still waiting for its channel, or opens one
   * due `holdMs` from `now` (the digest window), so a burst goes out as one message per channel.
   */
  enqueue(
    messages: Pick<OutboxMessage, 'id' | 'channel' | 'eventType' | 'subjectKey' | 'event'>[],
    now: number,
    holdMs: number,
  ): Promise<void>;
  /**
   * Makes every notification batch still held for its digest window due now (a sweep has completed), except on
   * channels waiting to retry a failed delivery: their new messages go with that retry.
   */
  releaseHeld(now: number): Promise<void>;
  /**
   * Claims up to `limit` due messages for `holder` until `now + leaseMs`; no other holder can
   * claim them meanwhile. Across replicas on PostgreSQL rows are claimed with SKIP LOCKED.
   */
  claimDue(
    holder: string,
    now: number,
    leaseMs: number,
    limit: number,
    scope?: OutboxScope,
  ): Promise<OutboxMessage[]>;
  /** Marks claimed messages delivered; only while `holder` still holds their claim. */
  markDelivered(ids: string[], holder: string, now: number): Promise<void>;
  /**
   * Records a failed attempt on claimed messages: due again at `retryAt`, or `failed` for good
   * when `retryAt` is null.
   */
  markAttemptFailed(
    ids: string[],
    holder: string,
    error: string,
    retryAt: number | null,
  ): Promise<void>;
  /** The earliest moment a pending message falls due, or null when none is pending. */
  nextDue(scope?: OutboxScope): Promise<number | null>;
  /**
   * Writes one dispatch (`dispatch:<id>:<attempt>`) for each queued attempt of these kinds that
   * has none yet, due when its backoff ends: at most one per attempt, across replicas and
   * restarts, since the id is the attempt's. Returns how many were written.
   */
  enqueueDispatches(kinds: readonly string[], now: number, limit: number): Promise<number>;
  /**
   * Takes the cooldown of `key` until `now + ms` unless it is already cooling; false means "a
   * notification for this went out recently: suppress this one". Atomic across replicas.
   */
  acquireCooldown(key: string, now: number, ms: number): Promise<boolean>;
  /** Deletes cooldowns that have ended. */
  pruneCooldowns(now: number): Promise<void>;
  list(filter: OutboxFilter): Promise<OutboxMessage[]>;
}
