import type { OutboxMessage } from '../../ports/outbox-store.js';
import type { StoreAdmin } from '../../ports/store-admin.js';
import { BadInputError } from '../../errors.js';
import { notificationJson } from '../../http/notifications.js';
import { iso } from '../../present.js';
import type { CliIo } from '../context.js';
import { table } from '../format.js';

const STATUSES = ['pending', 'delivered', 'failed'] as const;

/** `vigil history --notifications`: what was sent to which channel, and how each delivery went. */
export async function printNotificationHistory(
  io: CliIo,
  store: Pick<StoreAdmin, 'outbox'>,
  options: {
    sinceMs: number;
    sinceText: string;
    status?: string | undefined;
    channel?: string | undefined;
    limit: number;
    json: boolean;
  },
): Promise<void> {
  if (options.status !== undefined && !(STATUSES as readonly string[]).includes(options.status)) {
    throw new BadInputError([
      `--status: expected one of ${STATUSES.join(', ')}, got ${JSON.stringify(options.status)}`,
    ]);
  }
  const items = await store.outbox().list({
    since: io.clock.now() - options.sinceMs,
    status: options.status as OutboxMessage['status'] | undefined,
    channel: options.channel,
    limit: options.limit,
  });
  if (options.json) {
    io.out(JSON.stringify({ items: items.map(notificationJson) }, null, 2));
    return;
  }
  if (items.length === 0) {
    io.out(`no notifications in the last ${options.sinceText}`);
    return;
  }
  io.out(
    table([
      ['CREATED', 'CHANNEL', 'EVENT', 'SUBJECT', 'STATUS', 'ATTEMPTS', 'DELIVERED', 'LAST ERROR'],
      ...items.map((m) => [
        iso(m.createdAt) ?? '',
        m.channel,
        m.eventType,
        m.subjectKey,
        m.status,
        String(m.attempts),
        iso(m.deliveredAt) ?? '-',
        m.lastError ?? '',
      ]),
    ]),
  );
}
