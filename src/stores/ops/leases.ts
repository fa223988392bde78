import type { SqlContext } from './context.js';

/** Takes or renews a named lease until `now + ttlMs`; false while another holder has it. */
export async function acquireLease(
  ctx: SqlContext,
  name: string,
  holder: string,
  now: number,
  ttlMs: number,
): Promise<boolean> {
  const expiresAt = now + ttlMs;
  const row = await ctx.db
    .insertInto('leases')
    .values({ name, holder, expires_at: expiresAt })
    .onConflict((oc) =>
      oc
        .column('name')
        .doUpdateSet({ holder, expires_at: expiresAt })
        .where((eb) =>
          eb.or([eb('leases.holder', '=', holder), eb('leases.expires_at', '<=', now)]),
        ),
    )
    .returning('holder')
    .executeTakeFirst();
  return row?.holder === holder;
}

/** Gives a lease up, if this holder has it. */
export async function releaseLease(ctx: SqlContext, name: string, holder: string): Promise<void> {
  await ctx.db.deleteFrom('leases').where('name', '=', name).where('holder', '=', holder).execute();
}

/** Live holders of leases whose name starts with `prefix`. */
export async function listLeases(
  ctx: SqlContext,
  prefix: string,
  now: number,
): Promise<{ name: string; holder: string }[]> {
  return ctx.db
    .selectFrom('leases')
    .select(['name', 'holder'])
    .where('name', 'like', `${prefix}%`) // prefixes are Vigil's own constants, free of % and _
    .where('expires_at', '>', now)
    .orderBy('name')
    .execute();
}
