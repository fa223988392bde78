import type { FastifyInstance } from 'fastify';
import * as z from 'zod';
import type { JsonValue } from '../core/types.js';
import type { OutboxMessage } from '../ports/outbox-store.js';
import type { StoreAdmin } from '../ports/store-admin.js';
import { iso } from '../present.js';
import { parseInput } from '../runtime/ledger.js';

export const notificationsQuery = z.strictObject({
  status: z.enum(['pending', 'delivered', 'failed']).optional(),
  channel: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(1_000).optional(),
});

/** A notification as the API shows it: no event body, no receiver URL, no secret. */
export function notificationJson(m: OutboxMessage): Record<string, JsonValue> {
  return {
    id: m.id,
    channel: m.channel,
    eventType: m.eventType,
    status: m.status,
    attempts: m.attempts,
    lastError: m.lastError,
    createdAt: iso(m.createdAt),
    deliveredAt: iso(m.deliveredAt),
  };
}

/** `GET /v1/notifications`: delivery outcomes, newest first (admin). */
export function registerNotificationRoutes(
  app: FastifyInstance,
  options: { store: Pick<StoreAdmin, 'outbox'> },
): void {
  app.get('/v1/notifications', async (request) => {
    request.caller.mustReadAll();
    const query = parseInput(notificationsQuery, request.query, 'query');
    const items = await options.store.outbox().list({
      status: query.status,
      channel: query.channel,
      limit: query.limit ?? 100,
    });
    return { items: items.map(notificationJson) };
  });
}
