import { sql } from 'kysely';
import type { SqlContext } from './context.js';

/** Answers when the database is reachable; throws otherwise. */
export async function ping(ctx: SqlContext): Promise<void> {
  await sql`select 1`.execute(ctx.db);
}

/**
 * The database server's own clock (ms since the epoch); null on SQLite, which runs in this
 * process, on its clock.
 */
export async function databaseTime(ctx: SqlContext): Promise<number | null> {
  if (ctx.dialect === 'sqlite') return null;
  // clock_timestamp(), not now(): now() is frozen at the start of the transaction.
  const { rows } = await sql<{
    epoch: string | number;
  }>`SELECT extract(epoch from clock_timestamp()) AS epoch`.execute(ctx.db);
  const epoch = rows[0]?.epoch;
  if (epoch === undefined) throw new Error('the database did not tell its time');
  return Math.round(Number(epoch) * 1_000);
}
