/**
 * Silences mute notifications: what an active silence matches never reaches the outbox (the audit
 * keeps the decision); what it does not match, or once it has ended, goes out as usual.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Silence } from '../src/core/silence.js';
import { Notifications } from '../src/notify/index.js';
import { gateReader } from '../src/runtime/gate.js';
import type { Harness } from './helpers.js';
import { H, M, T0, describeEach, harness, probeFailing, storeKinds } from './helpers.js';

let h: Harness;
let n: Notifications;

function silence(id: string, more: Partial<Silence> = {}): Silence {
  return {
    id,
    matchers: { kind: ['embed'] },
    startsAt: T0,
    endsAt: T0 + H,
    createdBy: 'ops',
    comment: 'known noise',
    maintenance: false,
    createdAt: T0,
    expiredAt: null,
    origin: 'store',
    ...more,
  };
}

await describeEach(storeKinds(), 'silenced notifications on %s', (kind) => {
  beforeEach(async () => {
    h = await harness(kind, {
      notify: {
        channels: {
          hooks: {
            type: 'webhook',
            url: 'http://127.0.0.1:9/hook',
            secret: 'whsec-0123456789abcdef',
          },
        },
        routes: [{ channel: 'hooks', events: ['*'] }],
      },
    });
    n = new Notifications({
      events: h.bus,
      store: h.store,
      config: h.config.notify!,
      clock: h.clock,
      onError: (error) => {
        throw error;
      },
      deliver: false,
      silences: gateReader(h.store),
    });
  });
  afterEach(async () => {
    await n.stop();
    await h.close();
  });

  const outboxTypes = async () =>
    (await h.store.outbox().list({ limit: 100 }))
      .map((m) => `${m.eventType} ${m.subjectKey}`)
      .sort();

  it('an active silence keeps what it matches out of the outbox, by kind (looked up) or by probe', async () => {
    await h.ledger.register({ id: 'quiet', kind: 'embed' });
    await h.ledger.register({ id: 'loud', kind: 'backup' });
    const silences = h.store.silences();
    await silences.createSilence(silence('s-kind'));
    await silences.createSilence(silence('s-probe', { matchers: { source: ['probe:api'] } }));
    h.clock.set(T0 + 20 * M);
    await h.sweeper.sweep();
    h.bus.emit(probeFailing('api', h.clock.now()));
    h.bus.emit(probeFailing('db', h.clock.now()));
    await n.router.flush();

    expect(await outboxTypes()).toEqual([
      'execution:remediated loud',
      'execution:stuck loud',
      'probe:failing db',
      'sweep:completed ' + (await h.store.latestSweep())!.id,
    ]);
    expect(n.router.muted).toBe(3);
    // The audit keeps both decisions.
    const audit = await h.store.listRemediations({ limit: 10 });
    expect(audit.map((r) => r.executionId).sort()).toEqual(['loud', 'quiet']);
  });

  it('an expired silence mutes nothing', async () => {
    await h.store
      .silences()
      .createSilence(silence('s-probe', { matchers: { source: ['probe:api'] } }));
    await h.store.silences().expireSilence('s-probe', T0 + M);
    h.clock.set(T0 + 2 * M);
    h.bus.emit(probeFailing('api', h.clock.now()));
    await n.router.flush();
    expect(await outboxTypes()).toEqual(['probe:failing api']);
  });
});
