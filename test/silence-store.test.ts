import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Silence } from '../src/core/silence.js';
import type { Harness } from './helpers.js';
import { H, M, T0, describeEach, harness, storeKinds } from './helpers.js';

let h: Harness;

function silence(id: string, more: Partial<Silence> = {}): Silence {
  return {
    id,
    matchers: { kind: ['backup'], verdict: ['run_timeout', 'heartbeat_lost'] },
    startsAt: T0,
    endsAt: T0 + 2 * H,
    createdBy: 'ops',
    comment: 'migrating the backup host',
    maintenance: true,
    createdAt: T0,
    expiredAt: null,
    origin: 'store',
    ...more,
  };
}

await describeEach(storeKinds(), 'silences and the pause on %s', (kind) => {
  beforeEach(async () => {
    h = await harness(kind);
  });
  afterEach(() => h.close());

  it('keeps a silence as written and lists the newest first', async () => {
    const store = h.store.silences();
    await store.createSilence(silence('s1'));
    await store.createSilence(
      silence('s2', { createdAt: T0 + M, maintenance: false, matchers: { owner: ['a'] } }),
    );
    expect(await store.getSilence('s1')).toEqual(silence('s1'));
    expect((await store.listSilences({ limit: 10 })).map((s) => s.id)).toEqual(['s2', 's1']);
    expect(await store.getSilence('nope')).toBeUndefined();
  });

  it('lists only those not ended at a moment, and expires one once', async () => {
    const store = h.store.silences();
    await store.createSilence(silence('short', { endsAt: T0 + M }));
    await store.createSilence(silence('long', { createdAt: T0 + 1 }));
    expect((await store.listSilences({ activeAt: T0 + M, limit: 10 })).map((s) => s.id)).toEqual([
      'long',
    ]);
    const expired = await store.expireSilence('long', T0 + 5 * M);
    expect(expired).toMatchObject({ endsAt: T0 + 5 * M, expiredAt: T0 + 5 * M });
    // A second expiry keeps the first moment.
    expect(await store.expireSilence('long', T0 + 9 * M)).toMatchObject({ endsAt: T0 + 5 * M });
    expect(await store.listSilences({ activeAt: T0 + 5 * M, limit: 10 })).toEqual([]);
    expect(await store.expireSilence('nope', T0)).toBeUndefined();
  });

  it('pauses once (the first pause stays) and resumes', async () => {
    const store = h.store.silences();
    const first = { since: T0, by: 'alice', comment: 'db failover' };
    expect(await store.pause(first)).toEqual(first);
    expect(await store.pause({ since: T0 + M, by: 'bob', comment: '' })).toEqual(first);
    const other = h.openAnother();
    expect(await other.silences().pauseState()).toEqual(first);
    await other.close();
    expect(await store.resume()).toEqual(first);
    expect(await store.pauseState()).toBeNull();
    expect(await store.resume()).toBeNull();
  });
});
