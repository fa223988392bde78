import type { Kysely, Selectable } from 'kysely';
import { sql } from 'kysely';
import type {
  OutboxEvent,
  OutboxFilter,
  OutboxMessage,
  OutboxScope,
  OutboxStore,
} from '../ports/outbox-store.js';
import { DISPATCH_EVENT, dispatchChannel } from '../ports/outbox-store.js';
import type { Database, NotificationsTable } from './schema.js';

/** SQLite caps bound parameters per statement; ids are written and matched in chunks of this. */
const CHUNK = 500;

/**
 * The notification outbox on the same SQL database as the executions, SQLite or PostgreSQL.
 * Every time comes from the caller's clock.
 */
export class SqlOutbox implements OutboxStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: 'sqlite' | 'postgres',
  ) {}

  async enqueue(
    messages: Pick<OutboxMessage, 'id' | 'channel' | 'eventType' | 'subjectKey' | 'event'>[],
    now: number,
    holdMs: number,
  ): Promise<void> {
    if (messages.length === 0) return;
    const channels = [...new Set(messages.map((m) => m.channel))];
    // A message joins the earliest batch its channel still has waiting (held for the digest
    // window, or backing off after a failed delivery), so a burst leaves as one digest and a
    // receiver that comes back gets one catch-up message rather than one per event.
    const waiting = await this.db
      .selectFrom('notifications')
      .select(['channel', (eb) => eb.fn.min('due_at').as('due')])
      .where('status', '=', 'pending')
      .where('channel', 'in', channels)
      .where((eb) => eb.or([eb('claim_until', 'is', null), eb('claim_until', '<=', now)]))
      .groupBy('channel')
      .execute();
    const dueBy = new Map(waiting.map((w) => [w.channel, Math.max(Number(w.due), now)]));
    const rows = messages.map((m) => ({
      id: m.id,
      channel: m.channel,
      event_type: m.eventType,
      subject_key: m.subjectKey,
      event: JSON.stringify(m.event),
      status: 'pending',
      attempts: 0,
      last_error: null,
      created_at: now,
      due_at: dueBy.get(m.channel) ?? now + holdMs,
      claimed_by: null,
      claim_until: null,
      delivered_at: null,
    }));
    for (let i = 0; i < rows.length; i += CHUNK) {
      await this.db
        .insertInto('notifications')
        .values(rows.slice(i, i + CHUNK))
        .execute();
    }
  }

  async releaseHeld(now: number): Promise<void> {
    await this.db
      .updateTable('notifications')
      .set({ due_at: now })
      .where('status', '=', 'pending')
      .where('attempts', '=', 0)
      .where('due_at', '>', now)
      // A dispatch waits for its attempt's backoff, never for a digest.
      .where('event_type', '!=', DISPATCH_EVENT)
      // A channel backing off after a failure keeps its new messages for that retry, so the
      // receiver gets one catch-up message when it is back.
      .where((eb) =>
        eb(
          'channel',
          'not in',
          eb
            .selectFrom('notifications as failing')
            .select('failing.channel')
            .where('failing.status', '=', 'pending')
            .where('failing.attempts', '>', 0),
        ),
      )
      .execute();
  }

  async claimDue(
    holder: string,
    now: number,
    leaseMs: number,
    limit: number,
    scope: OutboxScope = 'notifications',
  ): Promise<OutboxMessage[]> {
    let due = this.db
      .selectFrom('notifications')
      .select('id')
      .where('status', '=', 'pending')
      .where('due_at', '<=', now)
      .where('event_type', scope === 'dispatches' ? '=' : '!=', DISPATCH_EVENT)
      .where((eb) => eb.or([eb('claim_until', 'is', null), eb('claim_until', '<=', now)]))
      .orderBy('id')
      .limit(limit);
    // Replicas claiming at the same moment skip each other's rows instead of queueing on them;
    // PostgreSQL re-checks the claim on the newest row version, so a row is claimed once. SQLite
    // runs one writer at a time, and the UPDATE is a single statement.
    if (this.dialect === 'postgres') due = due.forUpdate().skipLocked();
    const rows = await this.db
      .updateTable('notifications')
      .set({ claimed_by: holder, claim_until: now + leaseMs })
      .where('id', 'in', due)
      .returningAll()
      .execute();
    return rows.map(toMessage).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async markDelivered(ids: string[], holder: string, now: number): Promise<void> {
    for (let i = 0; i < ids.length; i += CHUNK) {
      await this.db
        .updateTable('notifications')
        .set((eb) => ({
          status: 'delivered',
          delivered_at: now,
          attempts: eb('attempts', '+', 1),
          last_error: null,
          claimed_by: null,
          claim_until: null,
        }))
        .where('id', 'in', ids.slice(i, i + CHUNK))
        .where('claimed_by', '=', holder)
        .execute();
    }
  }

  async markAttemptFailed(
    ids: string[],
    holder: string,
    error: string,
    retryAt: number | null,
  ): Promise<void> {
    for (let i = 0; i < ids.length; i += CHUNK) {
      await this.db
        .updateTable('notifications')
        .set((eb) => ({
          attempts: eb('attempts', '+', 1),
          last_error: error,
          claimed_by: null,
          claim_until: null,
          ...(retryAt === null ? { status: 'failed' } : { due_at: retryAt }),
        }))
        .where('id', 'in', ids.slice(i, i + CHUNK))
        .where('claimed_by', '=', holder)
        .execute();
    }
  }

  async nextDue(scope: OutboxScope = 'notifications'): Promise<number | null> {
    const row = await this.db
      .selectFrom('notifications')
      .select('due_at')
      .where('status', '=', 'pending')
      .where('event_type', scope === 'dispatches' ? '=' : '!=', DISPATCH_EVENT)
      .orderBy('due_at')
      .limit(1)
      .executeTakeFirst();
    return row ? Number(row.due_at) : null;
  }

  async enqueueDispatches(kinds: readonly string[], now: number, limit: number): Promise<number> {
    if (kinds.length === 0) return 0;
    const dispatchId = sql<string>`${'dispatch:'} || executions.id || ${':'} || executions.attempt`;
    const queued = await this.db
      .selectFrom('executions')
      .select(['id', 'kind', 'attempt', 'queued_at'])
      .where('status', '=', 'queued')
      .where('kind', 'in', [...kinds])
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('notifications')
              .select('notifications.id')
              .whereRef('notifications.id', '=', dispatchId),
          ),
        ),
      )
      .limit(limit)
      .execute();
    if (queued.length === 0) return 0;
    const rows = queued.map((e) => ({
      id: `dispatch:${e.id}:${e.attempt}`,
      channel: dispatchChannel(e.kind),
      event_type: DISPATCH_EVENT,
      subject_key: e.id,
      event: JSON.stringify({
        type: DISPATCH_EVENT,
        at: now,
        executionId: e.id,
        kind: e.kind,
        attempt: e.attempt,
      }),
      status: 'pending',
      attempts: 0,
      last_error: null,
      created_at: now,
      // A retry is sent when its backoff ends, not when it was queued.
      due_at: Math.max(now, Number(e.queued_at ?? now)),
      claimed_by: null,
      claim_until: null,
      delivered_at: null,
    }));
    // Another replica may write the same attempt's dispatch meanwhile: the id keeps it to one.
    const inserted = await this.db
      .insertInto('notifications')
      .values(rows)
      .onConflict((oc) => oc.column('id').doNothing())
      .executeTakeFirst();
    return Number(inserted.numInsertedOrUpdatedRows ?? 0);
  }

  async acquireCooldown(key: string, now: number, ms: number): Promise<boolean> {
    const until = now + ms;
    const row = await this.db
      .insertInto('notify_cooldowns')
      .values({ key, cooling_until: until })
      .onConflict((oc) =>
        oc
          .column('key')
          .doUpdateSet({ cooling_until: until })
          .where('notify_cooldowns.cooling_until', '<=', now),
      )
      .returning('key')
      .executeTakeFirst();
    return row !== undefined;
  }

  async pruneCooldowns(now: number): Promise<void> {
    await this.db.deleteFrom('notify_cooldowns').where('cooling_until', '<=', now).execute();
  }

  async list(filter: OutboxFilter): Promise<OutboxMessage[]> {
    let query = this.db.selectFrom('notifications').selectAll();
    if (filter.status) query = query.where('status', '=', filter.status);
    if (filter.channel) query = query.where('channel', '=', filter.channel);
    if (filter.since !== undefined) query = query.where('created_at', '>=', filter.since);
    const rows = await query
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(filter.limit)
      .execute();
    return rows.map(toMessage);
  }
}

function toMessage(row: Selectable<NotificationsTable>): OutboxMessage {
  return {
    id: row.id,
    channel: row.channel,
    eventType: row.event_type,
    subjectKey: row.subject_key,
    event: JSON.parse(row.event) as OutboxEvent,
    status: row.status as OutboxMessage['status'],
    attempts: row.attempts,
    lastError: row.last_error,
    createdAt: Number(row.created_at),
    dueAt: Number(row.due_at),
    deliveredAt: row.delivered_at === null ? null : Number(row.delivered_at),
  };
}
