import type { Kysely, Selectable } from 'kysely';
import type { Matchers, PauseState, Silence } from '../core/silence.js';
import type { SilenceFilter, SilenceStore } from '../ports/silence-store.js';
import type { Database } from './schema.js';
import type { SilencesTable } from './silence-schema.js';

const PAUSE_ID = 'global';

/** Silences and the pause on SQLite or PostgreSQL, through the store's kysely instance. */
export class SqlSilenceStore implements SilenceStore {
  constructor(private readonly db: Kysely<Database>) {}

  async createSilence(silence: Silence): Promise<void> {
    await this.db
      .insertInto('silences')
      .values({
        id: silence.id,
        matchers: JSON.stringify(silence.matchers),
        starts_at: silence.startsAt,
        ends_at: silence.endsAt,
        created_by: silence.createdBy,
        comment: silence.comment,
        maintenance: silence.maintenance ? 1 : 0,
        created_at: silence.createdAt,
        expired_at: silence.expiredAt,
      })
      .execute();
  }

  async getSilence(id: string): Promise<Silence | undefined> {
    const row = await this.db
      .selectFrom('silences')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toSilence(row);
  }

  async listSilences(filter: SilenceFilter): Promise<Silence[]> {
    let query = this.db.selectFrom('silences').selectAll();
    if (filter.activeAt !== undefined) query = query.where('ends_at', '>', filter.activeAt);
    const rows = await query
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(filter.limit)
      .execute();
    return rows.map(toSilence);
  }

  async expireSilence(id: string, now: number): Promise<Silence | undefined> {
    // Only one that has not ended: expiring twice keeps the first moment.
    await this.db
      .updateTable('silences')
      .set({ ends_at: now, expired_at: now })
      .where('id', '=', id)
      .where('ends_at', '>', now)
      .execute();
    return this.getSilence(id);
  }

  async pauseState(): Promise<PauseState | null> {
    const row = await this.db
      .selectFrom('pause')
      .selectAll()
      .where('id', '=', PAUSE_ID)
      .executeTakeFirst();
    return row ? { since: Number(row.since), by: row.paused_by, comment: row.comment } : null;
  }

  async pause(state: PauseState): Promise<PauseState> {
    // Pausing again keeps the first pause (its moment and who did it).
    await this.db
      .insertInto('pause')
      .values({ id: PAUSE_ID, since: state.since, paused_by: state.by, comment: state.comment })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    return (await this.pauseState()) ?? state;
  }

  async resume(): Promise<PauseState | null> {
    const before = await this.pauseState();
    await this.db.deleteFrom('pause').where('id', '=', PAUSE_ID).execute();
    return before;
  }
}

function toSilence(row: Selectable<SilencesTable>): Silence {
  return {
    id: row.id,
    matchers: JSON.parse(row.matchers) as Matchers,
    startsAt: Number(row.starts_at),
    endsAt: Number(row.ends_at),
    createdBy: row.created_by,
    comment: row.comment,
    maintenance: Number(row.maintenance) === 1,
    createdAt: Number(row.created_at),
    expiredAt: row.expired_at === null ? null : Number(row.expired_at),
    origin: 'store',
  };
}
