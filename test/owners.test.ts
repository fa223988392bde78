import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors.js';
import { parseConfig } from '../src/config.js';
import { buildApp } from '../src/http/app.js';
import { httpOwners } from '../src/owners/http-owners.js';
import { Vigil } from '../src/app/vigil.js';
import { Sweeper } from '../src/runtime/sweep.js';
import type { Harness } from './helpers.js';
import { S, T0, describeEach, harness, storeKinds } from './helpers.js';
import type { LoopbackServer, Reply } from './loopback-server.js';
import { calls, loopbackServer } from './loopback-server.js';

/**
 * Owners are real HTTP agents on loopback: `GET /agents/NAME/running` is the registry and
 * `POST /agents/NAME/executions/ID/stop` the stop endpoint; each test scripts their answers.
 */
let h: Harness;
let agents: LoopbackServer;
/** Registry answers by owner; owners not listed answer `{running: []}`. */
let registries: Record<string, Reply>;
/** Stop answers by execution id; default 200. */
let stops: Record<string, Reply>;

function agentConfig(extra: Record<string, unknown> = {}) {
  return {
    defaults: { limits: { heartbeat: '30s' }, dispatchGrace: '10s' },
    sweep: { escalateAfter: 2 },
    owners: {
      '*': {
        registry: {
          url: `${agents.url}/agents/{owner}/running`,
          ids: '$.running[*].id',
          recentlyCompleted: '$.recent',
          timeout: '300ms',
        },
        terminate: { url: `${agents.url}/agents/{owner}/executions/{id}/stop` },
      },
    },
    ...extra,
  };
}

const running = (...ids: string[]): Reply => ({
  status: 200,
  body: { running: ids.map((id) => ({ id })), recent: [] },
});

function sweeper(listeningSince?: number): Sweeper {
  return new Sweeper({
    store: h.store,
    clock: h.clock,
    config: h.config,
    events: h.bus,
    owners: httpOwners(h.config.ownerAgents),
    listeningSince: listeningSince === undefined ? undefined : () => listeningSince,
  });
}

async function register(id: string, owner: string, extra: Record<string, unknown> = {}) {
  await h.ledger.register({ id, kind: 'agent-run', owner, ...extra });
}

async function sweepOnce(s: Sweeper) {
  const result = await s.sweep();
  if (result.kind !== 'completed') throw new Error('sweep skipped');
  return result.report;
}

const eventsOf = (type: string) => h.events.filter((e) => e.type === type);
const registryRequests = (owner: string) =>
  agents.requests.filter((r) => r.path === `/agents/${owner}/running`).length;

beforeEach(async () => {
  registries = {};
  stops = {};
  agents = await loopbackServer((request) => {
    const registry = /^\/agents\/([^/]+)\/running$/.exec(request.path);
    if (registry) return registries[decodeURIComponent(registry[1]!)] ?? running();
    const stop = /^\/agents\/[^/]+\/executions\/([^/]+)\/stop$/.exec(request.path);
    if (stop && request.method === 'POST')
      return stops[decodeURIComponent(stop[1]!)] ?? { status: 200, body: {} };
    return { status: 404, body: { error: 'no such route' } };
  });
});

afterEach(async () => {
  await h.close();
  await agents.close();
});

await describeEach(
  storeKinds().filter((k) => k !== 'sqlite-generic'),
  'on %s',
  (kind) => {
    beforeEach(async () => {
      h = await harness(kind, agentConfig());
    });

    it('ends an execution absent past the dispatch grace as orphaned; one request per owner', async () => {
      registries['agent-a'] = running('alive');
      await register('alive', 'agent-a', { limits: { heartbeat: null } });
      for (const id of ['gone-1', 'gone-2', 'gone-3']) await register(id, 'agent-a');
      h.clock.set(T0 + 40 * S);

      const report = await sweepOnce(sweeper());

      for (const id of ['gone-1', 'gone-2', 'gone-3']) {
        expect(await h.store.get(id)).toMatchObject({
          status: 'failed',
          verdict: 'orphaned',
          endedBy: 'watchdog',
        });
      }
      expect(await h.store.get('alive')).toMatchObject({ status: 'running' });
      expect(report.counts.orphaned).toBe(3);
      // One request for the page of overdue executions, one for reconciling the rest: per owner and
      // page, never per execution.
      expect(registryRequests('agent-a')).toBe(2);
      // Orphans are not running anywhere: nothing to stop.
      expect(agents.requests.filter((r) => r.method === 'POST')).toEqual([]);
    });

    it('skips an execution absent while still inside its dispatch grace', async () => {
      h = await harnessAgain(
        agentConfig({ defaults: { limits: { heartbeat: '30s' }, dispatchGrace: '60s' } }),
      );
      await register('just-sent', 'agent-a');
      h.clock.set(T0 + 40 * S);
      // Vigil (re)started at T0+35s: the heartbeat silence before that is not the runner's, so the
      // row is overdue in the index but judged only on its registry answer.
      const report = await sweepOnce(sweeper(T0 + 35 * S));
      expect(report.decisions).toEqual([
        expect.objectContaining({
          executionId: 'just-sent',
          verdict: 'in_grace',
          outcome: 'ignored',
        }),
      ]);
      expect(await h.store.get('just-sent')).toMatchObject({ status: 'running' });
    });

    it('sends no stop for an id its owner never listed while inside the grace, even past a shorter limit', async () => {
      h = await harnessAgain(
        agentConfig({ defaults: { limits: { heartbeat: '5s' }, dispatchGrace: '60s' } }),
      );
      await register('not-yet-there', 'agent-a');
      h.clock.set(T0 + 10 * S);

      const report = await sweepOnce(sweeper());

      expect(report.decisions).toEqual([
        expect.objectContaining({ executionId: 'not-yet-there', verdict: 'in_grace' }),
      ]);
      expect(agents.requests.filter((r) => r.method === 'POST')).toEqual([]);
      expect(await h.store.get('not-yet-there')).toMatchObject({ status: 'running' });
      // Nothing to look at again before the grace ends: one audit row, not one per sweep.
      expect((await h.store.get('not-yet-there'))?.deadlineAt).toBe(T0 + 60 * S + 1);
      for (let t = 20; t <= 60; t += 10) {
        h.clock.set(T0 + t * S);
        await sweepOnce(sweeper());
      }
      expect(await h.store.listRemediations({ executionId: 'not-yet-there', limit: 10 })).toEqual([
        expect.objectContaining({ verdict: 'in_grace' }),
      ]);

      // Past the grace and still not listed: an orphan, ended without a stop request.
      h.clock.set(T0 + 61 * S);
      await sweepOnce(sweeper());
      expect(await h.store.get('not-yet-there')).toMatchObject({
        status: 'failed',
        verdict: 'orphaned',
      });
      expect(agents.requests.filter((r) => r.method === 'POST')).toEqual([]);
    });

    it('reconciles every running execution with its owner on each reconcile interval, whatever its limits', async () => {
      h = await harnessAgain(agentConfig({ sweep: { interval: '1m', reconcileInterval: '2m' } }));
      expect(h.config.sweep.reconcileIntervalMs).toBe(120 * S);
      registries['agent-a'] = running('listed');
      await register('listed', 'agent-a', { limits: { heartbeat: null } });
      await register('lost-early', 'agent-a', { limits: { heartbeat: null, run: '1h' } });
      const s = sweeper();

      // Nothing is overdue, yet the first sweep reconciles: the absent one is an orphan.
      h.clock.set(T0 + 40 * S);
      await sweepOnce(s);
      expect(await h.store.get('lost-early')).toMatchObject({
        status: 'failed',
        verdict: 'orphaned',
      });
      expect(await h.store.get('listed')).toMatchObject({ status: 'running' });

      h.clock.set(T0 + 60 * S);
      await register('lost-later', 'agent-a', { limits: { heartbeat: null } });
      // Past its grace, but the next reconciliation is not due before +2m.
      h.clock.set(T0 + 100 * S);
      await sweepOnce(s);
      expect(await h.store.get('lost-later')).toMatchObject({ status: 'running' });
      h.clock.set(T0 + 160 * S);
      await sweepOnce(s);
      expect(await h.store.get('lost-later')).toMatchObject({
        status: 'failed',
        verdict: 'orphaned',
      });
      // What is healthy or in grace is not written to the audit at each reconciliation.
      expect(await h.store.listRemediations({ executionId: 'listed', limit: 10 })).toEqual([]);
      expect(h.config.sweep.reconcileIntervalMs).toBe(120 * S);
      expect(parseConfig({ sweep: { interval: '45s' } }).sweep.reconcileIntervalMs).toBe(45 * S);
    });

    it('does not count an execution its owner finished recently as orphaned', async () => {
      registries['agent-a'] = { status: 200, body: { running: [], recent: ['finished-there'] } };
      await register('finished-there', 'agent-a');
      h.clock.set(T0 + 40 * S);
      await sweepOnce(sweeper());
      expect(await h.store.get('finished-there')).toMatchObject({ status: 'running' });
    });

    it('treats an unreachable, failing, malformed or slow owner as unknown and still sweeps the others', async () => {
      const closed = await loopbackServer();
      await closed.close();
      h = await harnessAgain(
        agentConfig({
          owners: {
            '*': agentConfig().owners['*'],
            'down-agent': {
              registry: { url: `${closed.url}/running`, ids: 'running' },
            },
          },
        }),
      );
      registries['error-agent'] = { status: 500, body: { error: 'boom' } };
      registries['garbled-agent'] = { status: 200, raw: '{"running": [' };
      registries['shapeless-agent'] = { status: 200, body: { jobs: [] } };
      registries['slow-agent'] = 'hang';
      const unknown = [
        'down-agent',
        'error-agent',
        'garbled-agent',
        'shapeless-agent',
        'slow-agent',
      ];
      for (const owner of unknown) await register(`on-${owner}`, owner);
      await register('on-ok-agent', 'ok-agent');
      h.clock.set(T0 + 40 * S);

      const report = await sweepOnce(sweeper());

      for (const owner of unknown) {
        expect(await h.store.get(`on-${owner}`)).toMatchObject({
          status: 'running',
          endedAt: null,
        });
      }
      expect(await h.store.get('on-ok-agent')).toMatchObject({
        status: 'failed',
        verdict: 'orphaned',
      });
      const reasons = Object.fromEntries(
        report.decisions
          .filter((d) => d.verdict === 'unknown')
          .map((d) => [d.executionId, d.reason]),
      );
      expect(reasons['on-down-agent']).toMatch(/connection refused/);
      expect(reasons['on-error-agent']).toMatch(/HTTP 500/);
      expect(reasons['on-garbled-agent']).toMatch(/malformed JSON/);
      expect(reasons['on-shapeless-agent']).toMatch(/\$\.running\[\*\]\.id: expected an array/);
      expect(reasons['on-slow-agent']).toMatch(/timed out after 300ms/);
      expect(agents.requests.some((r) => r.method === 'POST')).toBe(false);
    });

    it('opens the breaker on an empty registry for an owner with 10 running: nothing fails, one alert', async () => {
      for (let i = 1; i <= 10; i++) await register(`run-${i}`, 'agent-a');
      h.clock.set(T0 + 40 * S);
      const s = sweeper();

      const first = await sweepOnce(s);
      h.clock.advance(40 * S);
      await sweepOnce(s);

      const open = await h.store.list({ status: 'running', limit: 100 });
      expect(open.items).toHaveLength(10);
      expect(first.counts.remediated).toBe(0);
      expect(first.decisions[0]?.reason).toBe(
        'breaker open for owner agent-a: its registry lists nothing while it holds 10 running executions',
      );
      expect(eventsOf('breaker:opened')).toEqual([
        expect.objectContaining({ owner: 'agent-a', running: 10, listed: 0 }),
      ]);
      const audit = await h.store.listRemediations({ executionId: 'run-1', limit: 10 });
      expect(audit[0]).toMatchObject({ verdict: 'orphaned', action: 'ignore', outcome: 'ignored' });
      expect(audit[0]!.steps).toEqual([
        expect.objectContaining({ step: 'end', outcome: 'skipped', detail: audit[0]!.reason }),
      ]);
      expect(s.ownerWatch.status()).toEqual([
        expect.objectContaining({ name: 'agent-a', breaker: 'open', reachable: true }),
      ]);

      // The agent's registry is back and lists all but one: one orphan, the breaker closes.
      registries['agent-a'] = running(...Array.from({ length: 9 }, (_, i) => `run-${i + 1}`));
      h.clock.advance(40 * S);
      await sweepOnce(s);
      expect(eventsOf('breaker:closed')).toEqual([expect.objectContaining({ owner: 'agent-a' })]);
      expect(await h.store.get('run-10')).toMatchObject({ status: 'failed', verdict: 'orphaned' });
      expect(s.ownerWatch.status()[0]).toMatchObject({ breaker: 'closed' });
    });

    it('keeps the breaker open through sweeps that do not ask the owner; alerts and status agree', async () => {
      for (let i = 1; i <= 5; i++)
        await register(`steady-${i}`, 'agent-a', { limits: { heartbeat: null } });
      await register('lost', 'agent-a');
      const s = sweeper();
      const lastAlert = () =>
        h.events.filter((e) => e.type.startsWith('breaker:')).at(-1)?.type ?? 'none';

      // +40s: `lost` is due and its owner lists nothing; +41s: nothing is due, the owner is not
      // asked; +71s: `lost` is due again and the owner still lists nothing.
      for (const at of [40, 41, 71, 72]) {
        h.clock.set(T0 + at * S);
        await sweepOnce(s);
        expect(lastAlert()).toBe('breaker:opened');
        expect(s.ownerWatch.status()[0]).toMatchObject({ name: 'agent-a', breaker: 'open' });
      }
      expect(eventsOf('breaker:opened')).toHaveLength(1);
      expect(eventsOf('breaker:closed')).toEqual([]);
      expect(await h.store.get('lost')).toMatchObject({ status: 'running' });
    });

    it('opens the breaker when one sweep would orphan more than the share of an owner', async () => {
      registries['agent-a'] = running('run-1', 'run-2');
      for (let i = 1; i <= 6; i++) await register(`run-${i}`, 'agent-a');
      h.clock.set(T0 + 40 * S);
      await sweepOnce(sweeper());
      expect(eventsOf('breaker:opened')[0]?.reason).toBe(
        'breaker open for owner agent-a: 4 of its 6 running executions would be orphaned at once (more than 50%)',
      );
      const open = await h.store.list({ status: 'running', limit: 100 });
      expect(open.items).toHaveLength(6);
    });

    it('a dry run reports the pause and changes no breaker', async () => {
      for (let i = 1; i <= 5; i++) await register(`run-${i}`, 'agent-a');
      h.clock.set(T0 + 40 * S);
      const s = sweeper();
      const result = await s.sweep({ dryRun: true });
      expect(result.kind === 'completed' && result.report.decisions[0]?.reason).toMatch(
        /^breaker open for owner agent-a/,
      );
      expect(eventsOf('breaker:opened')).toEqual([]);
      expect(s.ownerWatch.status()).toEqual([]);
    });

    it('terminates an overrun on its owner, then ends it as run_timeout with the termination audited', async () => {
      registries['agent-a'] = running('overrun');
      await register('overrun', 'agent-a', { limits: { heartbeat: null, run: '1m' } });
      h.clock.set(T0 + 2 * 60 * S);

      await sweepOnce(sweeper());

      const ended = await h.store.get('overrun');
      expect(ended).toMatchObject({ status: 'failed', verdict: 'run_timeout' });
      expect(ended?.reason).toBe('ran 2m, limit 1m; terminated by its owner');
      expect(calls(agents.requests)).toContainEqual({
        method: 'POST',
        path: '/agents/agent-a/executions/overrun/stop',
      });
      const [audit] = await h.store.listRemediations({ executionId: 'overrun', limit: 1 });
      expect(audit!.steps.map((s) => [s.step, s.outcome])).toEqual([
        ['terminate', 'ok'],
        ['end', 'ok'],
      ]);
    });

    it('leaves it running while the stop endpoint fails, asks again after a growing backoff, escalates once', async () => {
      registries['agent-a'] = running('stubborn');
      stops.stubborn = { status: 503, body: { error: 'busy' } };
      await register('stubborn', 'agent-a', { limits: { heartbeat: '10m', run: '1m' } });
      const stopsSent = () => agents.requests.filter((r) => r.method === 'POST').length;
      const s = sweeper();
      const at = T0 + 2 * 60 * S;

      h.clock.set(at);
      const first = await sweepOnce(s);
      expect(first.decisions[0]).toMatchObject({ outcome: 'left_running' });
      expect(stopsSent()).toBe(1);
      // The next look is after the backoff, in the store too (the scheduler wakes for it).
      expect((await h.store.get('stubborn'))?.deadlineAt).toBe(at + 1 * S);

      // Sweeps within the backoff send nothing, even after a heartbeat brought the deadline back.
      h.clock.set(at + 500);
      await sweepOnce(s);
      await h.ledger.heartbeat([{ id: 'stubborn', attempt: 1 }]);
      expect((await h.store.get('stubborn'))?.deadlineAt).toBeLessThan(at);
      await sweepOnce(s);
      expect(stopsSent()).toBe(1);

      // Failure n waits 2^(n-1) s: stops at +0, +1s, +3s, +7s, +15s.
      const sentAt: number[] = [at];
      for (let t = at; stopsSent() < 5; t += 250) {
        h.clock.set(t);
        const before = stopsSent();
        await sweepOnce(s);
        if (stopsSent() > before) sentAt.push(t);
      }
      const gaps = sentAt.slice(1).map((t, i) => t - sentAt[i]!);
      expect(gaps).toEqual([1_250, 2_250, 4_250, 8_250]);

      expect(await h.store.get('stubborn')).toMatchObject({ status: 'running' });
      expect(eventsOf('execution:escalated')).toEqual([
        expect.objectContaining({ executionId: 'stubborn', failures: 2 }),
      ]);
      expect(eventsOf('execution:stuck')).toHaveLength(1);
      // The audit keeps the streak's start and its escalation, not one row per retry.
      const audit = await h.store.listRemediations({ executionId: 'stubborn', limit: 10 });
      expect(audit.map((a) => a.steps[0]?.detail)).toEqual([
        expect.stringMatching(/^termination failed \(2 in a row, next try in 2s\): .*HTTP 503/),
        expect.stringMatching(/^termination failed \(1 in a row, next try in 1s\): .*HTTP 503/),
      ]);

      // The endpoint is repaired: the next try ends it, and its note tells the streak.
      stops.stubborn = { status: 200, body: {} };
      h.clock.set(sentAt.at(-1)! + 16 * S + 1);
      await sweepOnce(s);
      expect((await h.store.get('stubborn'))?.reason).toMatch(
        /^ran 2m 32s, limit 1m; terminated by its owner after 5 failed stop requests$/,
      );
    });

    it('an owner saying the work already finished is not labelled terminated', async () => {
      registries['agent-a'] = running('gone-404', 'said-so');
      stops['gone-404'] = { status: 404, body: { error: 'no such execution' } };
      stops['said-so'] = { status: 200, body: { status: 'already_finished' } };
      for (const id of ['gone-404', 'said-so'])
        await register(id, 'agent-a', { limits: { heartbeat: null, run: '1m' } });
      h.clock.set(T0 + 2 * 60 * S);

      await sweepOnce(sweeper());

      for (const id of ['gone-404', 'said-so']) {
        const ended = await h.store.get(id);
        expect(ended?.reason).toBe(
          'ran 2m, limit 1m; owner reports it had already finished (not terminated)',
        );
        expect(ended?.reason).not.toMatch(/terminated by/);
      }
    });

    it('announces an owner unreachable after N unknown sweeps, once per episode', async () => {
      registries['agent-a'] = { status: 502, body: {} };
      await register('waiting', 'agent-a');
      h.clock.set(T0 + 40 * S);
      const s = sweeper();
      for (let i = 0; i < 5; i++) {
        // Two pages' worth of owners per sweep would still count once: a parent is asked alone.
        await sweepOnce(s);
        h.clock.advance(40 * S);
      }
      expect(eventsOf('owner:unreachable')).toEqual([
        expect.objectContaining({ owner: 'agent-a', consecutiveUnknown: 3 }),
      ]);
      expect(s.ownerWatch.status()[0]).toMatchObject({
        reachable: false,
        consecutiveUnknown: 5,
        breaker: 'closed',
      });
      expect(await h.store.get('waiting')).toMatchObject({ status: 'running' });
      // The audit records the changes (became unknown, announced unreachable), not each sweep.
      const reasons = async () =>
        (await h.store.listRemediations({ executionId: 'waiting', limit: 20 }))
          .map((r) => r.reason)
          .reverse();
      expect(await reasons()).toEqual([
        expect.stringMatching(/^owner agent-a could not be asked: .*HTTP 502: \{\}$/),
        expect.stringMatching(/HTTP 502: \{\} \(owner unreachable for 3 sweeps in a row\)$/),
      ]);

      // It answers (listing the execution), then fails again: a new episode, a new alert.
      // Listed but silent: asked to stop, which fails, so it stays on the owner's books.
      registries['agent-a'] = running('waiting');
      stops.waiting = { status: 503, body: {} };
      await sweepOnce(s);
      expect(s.ownerWatch.status()[0]).toMatchObject({ reachable: true, consecutiveUnknown: 0 });
      registries['agent-a'] = { status: 502, body: {} };
      for (let i = 0; i < 3; i++) {
        h.clock.advance(40 * S);
        await sweepOnce(s);
      }
      expect(eventsOf('owner:unreachable')).toHaveLength(2);
      const all = await reasons();
      expect(all).toHaveLength(5);
      expect(all[2]).toMatch(/\(owner agent-a answers again\)$/);
      expect(all[3]).toMatch(/^owner agent-a could not be asked/);
      expect(all[4]).toMatch(/\(owner unreachable for 3 sweeps in a row\)$/);
    });

    it('GET /v1/owners lists owners with a registry, their breaker and running count', async () => {
      h = await harnessAgain(
        agentConfig({
          owners: {
            'agent-a': {
              registry: { url: `${agents.url}/agents/agent-a/running`, ids: 'running' },
            },
          },
        }),
      );
      registries['agent-a'] = { status: 200, body: { running: [] } };
      const vigil = new Vigil({
        store: h.store,
        config: h.config,
        clock: h.clock,
        owners: httpOwners(h.config.ownerAgents),
        watchEventLoop: false,
      });
      const app = await buildApp({ vigil, store: h.store, config: h.config, clock: h.clock });
      try {
        const before = await app.inject({ method: 'GET', url: '/v1/owners' });
        expect(before.json()).toEqual({
          items: [
            {
              name: 'agent-a',
              reachable: null,
              lastCheckedAt: null,
              consecutiveUnknown: 0,
              breaker: 'closed',
              running: 0,
              breakerReason: null,
              listed: null,
              lastError: null,
            },
          ],
        });
        for (let i = 1; i <= 5; i++) await register(`run-${i}`, 'agent-a');
        h.clock.set(T0 + 40 * S);
        await vigil.service.sweep({ dryRun: false });
        const after = await app.inject({ method: 'GET', url: '/v1/owners' });
        expect(after.json().items[0]).toMatchObject({
          name: 'agent-a',
          reachable: true,
          lastCheckedAt: new Date(T0 + 40 * S).toISOString(),
          breaker: 'open',
          running: 5,
          listed: 0,
        });
      } finally {
        vigil.stop();
        await app.close();
      }
    });
  },
);

describe('owners without a registry', () => {
  beforeEach(async () => {
    h = await harness('sqlite', { defaults: { limits: { heartbeat: '30s' } } });
  });

  it('GET /v1/owners answers {items: []} and executions stay ledger-only (untracked)', async () => {
    const vigil = new Vigil({
      store: h.store,
      config: h.config,
      clock: h.clock,
      owners: httpOwners(h.config.ownerAgents),
      watchEventLoop: false,
    });
    const app = await buildApp({ vigil, store: h.store, config: h.config, clock: h.clock });
    try {
      expect(httpOwners(h.config.ownerAgents)).toBeUndefined();
      expect((await app.inject({ method: 'GET', url: '/v1/owners' })).json()).toEqual({
        items: [],
      });
      await register('silent', 'agent-a');
      h.clock.set(T0 + 40 * S);
      await vigil.service.sweep({ dryRun: false });
      expect(await h.store.get('silent')).toMatchObject({ verdict: 'heartbeat_lost' });
    } finally {
      vigil.stop();
      await app.close();
    }
  });

  it('an owner entry with limits only inherits the "*" templates', async () => {
    h = await harnessAgain({
      owners: {
        '*': { registry: { url: `${agents.url}/agents/{owner}/running`, ids: 'running' } },
        'plain-agent': { limits: { run: '1h' } },
      },
    });
    // plain-agent inherits the "*" registry: an owner entry with limits only still gets the
    // templates shared by every owner.
    expect(h.config.ownerAgents.named['plain-agent']?.registry).not.toBeNull();
  });
});

describe('owners configuration', () => {
  beforeEach(async () => {
    h = await harness('sqlite');
  });

  it('lists every problem by key', () => {
    let error: unknown;
    try {
      parseConfig({
        owners: {
          '*': {
            registry: { url: 'http://agents.local/running', ids: 'running' },
            limits: { run: '1h' },
          },
          a: {
            registry: { url: 'http://{owner}/x', ids: '$.running[*].id[*]', timeout: '-1s' },
            terminate: { url: 'http://{owner}/stop', method: 'GET' },
            breaker: { maxOrphanShare: 2 },
          },
          b: {
            registry: { url: 'ftp://{owner}/x', ids: 'running' },
            terminate: { url: 'http://x/{job}/{id}' },
          },
        },
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const key of [
      'owners.a.registry.ids',
      'owners.a.registry.timeout',
      'owners.a.terminate.url',
      'owners.a.terminate.method',
      'owners.a.breaker.maxOrphanShare',
      'owners.b.registry.url',
      'owners.b.terminate.url',
    ]) {
      expect(message).toContain(key);
    }
    expect(message).toContain('unknown placeholder {job}');
  });

  it('checks the "*" entry: {owner} in its templates, no limits', () => {
    expect(() =>
      parseConfig({
        owners: {
          '*': {
            registry: { url: 'http://agents.local/running', ids: 'running' },
            limits: { run: '1h' },
          },
        },
      }),
    ).toThrow(
      /owners\.\*\.limits[\s\S]*owners\.\*\.registry\.url: a template for every owner must contain \{owner\}/,
    );
  });
});

/** Replaces the suite's harness with one on another configuration (same store kind). */
async function harnessAgain(config: unknown): Promise<Harness> {
  const kind = h.kind;
  await h.close();
  return harness(kind, config);
}
