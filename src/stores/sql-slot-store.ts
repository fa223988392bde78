import type { Kysely } from 'kysely';
import type { SlotReleaseOutcome, SlotStore } from '../ports/slot-store.js';
import type { Database } from './schema.js';

/**
 * Slots in Vigil's own database, for deployments without Redis: one row per held slot. Taking a
 * free or expired slot is one upsert; the release is a conditional delete on the holder.
 */
export class SqlSlotStore implements SlotStore {
  readonly description: string;

  constructor(
    private readonly db: Kysely<Database>,
    storeDescription: string,
  ) {
    this.description = `${storeDescription} (table slots)`;
  }

  async acquire(
    slot: string,
    holder: string,
    ttlMs: number | null,
    now: number,
  ): Promise<
    { acquired: true; expiresAt: number | null } | { acquired: false; holder: string | null }
  > {
    const expiresAt = ttlMs === null ? null : now + ttlMs;
    const row = await this.db
      .insertInto('slots')
      .values({ name: slot, holder, expires_at: expiresAt })
      .onConflict((oc) =>
        oc
          .column('name')
          .doUpdateSet({ holder, expires_at: expiresAt })
          .where((eb) =>
            eb.or([eb('slots.holder', '=', holder), eb('slots.expires_at', '<=', now)]),
          ),
      )
      .returning('holder')
      .executeTakeFirst();
    if (row?.holder === holder) return { acquired: true, expiresAt };
    return { acquired: false, holder: await this.holderOf(slot, now) };
  }

  async release(slot: string, holder: string, now: number): Promise<SlotReleaseOutcome> {
    const result = await this.db
      .deleteFrom('slots')
      .where('name', '=', slot)
      .where('holder', '=', holder)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 1) return 'released';
    return (await this.holderOf(slot, now)) === null ? 'already_free' : 'not_held';
  }

  async holderOf(slot: string, now: number): Promise<string | null> {
    const row = await this.db
      .selectFrom('slots')
      .select(['holder', 'expires_at'])
      .where('name', '=', slot)
      .executeTakeFirst();
    if (!row) return null;
    return row.expires_at !== null && Number(row.expires_at) <= now ? null : row.holder;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
