/**
 * The wall clock against the monotonic one and against the database's: a forward jump (an NTP
 * step, a VM resumed) ends nobody's work, and each replica's skew from the database is measured.
 */
import { performance } from 'node:perf_hooks';
import { afterEach, expect, it } from 'vitest';
import { buildApp } from '../src/http/app.js';
import type { Clock } from '../src/ports.js';
import { Vigil } from '../src/app/vigil.js';
import { CLOCK_SKEW_WARN_MS, Service } from '../src/runtime/service.js';
import type { Harness } from './helpers.js';
import { M, S, describeEach, harness, storeKinds } from './helpers.js';

const kinds = storeKinds().filter((k) => k !== 'sqlite-generic');

await describeEach(kinds, 'clock on %s', (kind) => {
  let h: Harness;
  let warnings: string[];
  afterEach(async () => {
    await h.close();
  });

  async function service(clock: Clock = h.clock): Promise<Service> {
    warnings = [];
    return new Service({
      store: h.store,
      config: h.config,
      clock,
      watchEventLoop: false,
      onWarning: (message) => warnings.push(message),
    });
  }

  it('a forward wall-clock jump ends no run-limited execution; after it, limits apply again', async () => {
    h = await harness(kind);
    const vigil = await service();
    const ledger = vigil.ledger;
    await ledger.register({ id: 'short', kind: 'k', limits: { run: '10m', heartbeat: null } });
    await ledger.register({ id: 'quiet', kind: 'k', limits: { run: null, heartbeat: '5m' } });
    h.clock.advance(4 * M);
    await vigil.sweep({ dryRun: false });

    // The wall clock steps an hour ahead while one second really passes.
    h.clock.jump(60 * M);
    h.clock.advance(S);
    const jumped = await vigil.sweep({ dryRun: false });
    expect(jumped.kind === 'completed' && jumped.report.counts.remediated).toBe(0);
    expect((await ledger.get('short')).status).toBe('running');
    expect((await ledger.get('quiet')).status).toBe('running');
    expect(warnings).toEqual([expect.stringMatching(/^the wall clock jumped forward 1h/)]);

    // Registered after the jump: judged on the new clock, with no extension.
    await ledger.register({ id: 'later', kind: 'k', limits: { run: '3m', heartbeat: null } });
    h.clock.advance(4 * M);
    await vigil.sweep({ dryRun: false });
    expect((await ledger.get('later')).verdict).toBe('run_timeout');
    expect((await ledger.get('short')).status).toBe('running');

    // Ten real minutes after it started, the run limit ends it (and the silence the other).
    h.clock.advance(2 * M);
    await vigil.sweep({ dryRun: false });
    expect(await ledger.get('short')).toMatchObject({ status: 'failed', verdict: 'run_timeout' });
    expect(await ledger.get('quiet')).toMatchObject({ verdict: 'heartbeat_lost' });
    expect(warnings).toHaveLength(1);
  });

  it("measures this replica's clock against the database's: metric, and a warning past the threshold", async () => {
    h = await harness(kind);
    let offset = 10 * S;
    const skewed: Clock = {
      now: () => Date.now() + offset,
      monotonic: () => performance.now(),
    };
    warnings = [];
    const running = new Vigil({
      store: h.store,
      config: h.config,
      clock: skewed,
      watchEventLoop: false,
      onWarning: (message) => warnings.push(message),
    });
    const vigil = running.service;
    const app = await buildApp({ vigil: running, store: h.store, config: h.config, clock: skewed });
    try {
      const metric = async () => {
        const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
        return Number(/^vigil_clock_skew_seconds(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1]);
      };
      const skew = await vigil.measureClockSkew();
      if (kind === 'postgres') {
        // Same host: the database's clock is this one without the offset, give or take the query.
        expect(skew).toBeGreaterThan(offset - CLOCK_SKEW_WARN_MS);
        expect(skew).toBeLessThan(offset + CLOCK_SKEW_WARN_MS);
        expect(await metric()).toBeCloseTo(skew! / 1_000, 3);
        expect(warnings).toEqual([
          // 10 s ahead, give or take the round trip: "9.999s" on a busy machine.
          expect.stringMatching(/^this clock is (9\.9\d*|10(\.\d+)?)s ahead of the database's/),
        ]);
        offset = 0;
        expect(Math.abs((await vigil.measureClockSkew())!)).toBeLessThan(CLOCK_SKEW_WARN_MS);
        expect(Math.abs(await metric())).toBeLessThan(CLOCK_SKEW_WARN_MS / 1_000);
        expect(warnings).toHaveLength(1);
      } else {
        // SQLite runs in this process, on this clock: there is nothing to be off from.
        expect(skew).toBe(0);
        expect(await metric()).toBe(0);
        expect(warnings).toEqual([]);
      }
    } finally {
      await app.close();
    }
  });
});
