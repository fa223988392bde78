import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Sweeper } from '../src/runtime/sweep.js';
import type { TerminationOutcome } from '../src/core/decide.js';
import type { Execution, OwnerObservation } from '../src/core/types.js';
import type { ExecutionStore } from '../src/ports/execution-store.js';
import type { OwnerClient } from '../src/ports/owner-client.js';
import type { Harness } from './helpers.js';
import { M, S, T0, harness, storeKinds, describeEach } from './helpers.js';

let h: Harness;

/**
 * A sweeper on the harness's store that runs `afterRead` each time the sweep has read a page of
 * overdue rows: how a test puts a runner's write (or another replica) between a read and a write.
 */
function sweeperAfterEachRead(afterRead: (rows: Execution[]) => Promise<void>): Sweeper {
  const store: ExecutionStore = Object.create(h.store) as ExecutionStore;
  store.listOverdue = async (...args) => {
    const rows = await h.store.listOverdue(...args);
    await afterRead(rows);
    return rows;
  };
  return new Sweeper({ store, clock: h.clock, config: h.config, events: h.bus });
}
afterEach(async () => {
  await h.close();
});

/**
 * The whole suite runs on every store: SQLite with its prepared write paths, SQLite through the
 * query builder (the paths other dialects share), and PostgreSQL.
 */
await describeEach(storeKinds(), 'on %s', (kind) => {
  describe('sweep on a real SQLite file, with a fake clock', () => {
    beforeEach(async () => {
      h = await harness(kind, {
        kinds: { flaky: { retry: { maxAttempts: 3, backoff: '10s' } } },
      });
    });

    it('fails a row 20 minutes into a 15-minute limit with its reason and an audit row; leaves one at 14 minutes', async () => {
      await h.ledger.register({ id: 'old', kind: 'embed' });
      h.clock.advance(6 * M);
      await h.ledger.register({ id: 'young', kind: 'embed' });
      h.clock.set(T0 + 20 * M + 3 * S);

      const result = await h.sweeper.sweep();

      expect(result.kind).toBe('completed');
      const old = await h.store.get('old');
      expect(old).toMatchObject({
        status: 'failed',
        verdict: 'run_timeout',
        endedBy: 'watchdog',
        reason: 'ran 20m 3s, limit 15m',
        endedAt: T0 + 20 * M + 3 * S,
        deadlineAt: null,
      });
      const young = await h.store.get('young');
      expect(young).toMatchObject({ status: 'running', endedAt: null, verdict: null });

      const audit = await h.store.listRemediations({ limit: 10 });
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({
        executionId: 'old',
        attempt: 1,
        verdict: 'run_timeout',
        action: 'fail',
        outcome: 'remediated',
        dryRun: false,
        evidence: { limit: 'run', limitMs: 15 * M, elapsedMs: 20 * M + 3 * S },
      });
      expect(audit[0]!.steps.map((s) => [s.step, s.outcome])).toEqual([['end', 'ok']]);
      expect(h.events.map((e) => e.type)).toEqual([
        'execution:stuck',
        'execution:remediated',
        'sweep:completed',
      ]);
    });

    it("a heartbeat that lands between the sweep's read and its write wins: the runner is alive", async () => {
      await h.ledger.register({ id: 'alive', kind: 'embed', limits: { heartbeat: '10s' } });
      h.clock.set(T0 + 11 * S);
      const sweeper = sweeperAfterEachRead(async (rows) => {
        if (rows.length > 0) await h.ledger.heartbeat([{ id: 'alive', attempt: 1 }]);
      });

      const result = await sweeper.sweep();

      expect(await h.store.get('alive')).toMatchObject({
        status: 'running',
        heartbeatAt: T0 + 11 * S,
      });
      expect(result.kind === 'completed' && result.report.decisions[0]?.outcome).toBe('lost_race');
    });

    it('a late result stays visible on the execution after the watchdog retried it', async () => {
      h = await (async () => {
        await h.close();
        return harness(kind, { kinds: { flaky: { retry: { maxAttempts: 2, backoff: '1s' } } } });
      })();
      await h.ledger.register({ id: 'f', kind: 'flaky', limits: { heartbeat: '10s' } });
      h.clock.set(T0 + 11 * S);
      await h.sweeper.sweep();
      expect(await h.store.get('f')).toMatchObject({ status: 'queued', attempt: 2 });
      const late = await h.ledger.complete('f', 1, { answer: 42 });
      expect(late).toMatchObject({ kind: 'late', kept: true });
      expect((await h.store.get('f'))?.lateResult).toMatchObject({
        attempt: 1,
        status: 'succeeded',
        result: { answer: 42 },
      });
      // A report for an attempt that never existed is refused as such.
      expect((await h.ledger.complete('f', 5, {})).kind).toBe('no_such_attempt');
    });

    it("a completion that lands between the sweep's read and its write wins; the sweep does nothing else", async () => {
      await h.ledger.register({ id: 'racer', kind: 'embed' });
      h.clock.set(T0 + 20 * M);
      // The runner's completion arrives right after the sweep has read the overdue rows.
      const sweeper = sweeperAfterEachRead(async (rows) => {
        if (rows.length > 0) await h.ledger.complete('racer', 1, { answer: 42 });
      });

      const result = await sweeper.sweep();

      const racer = await h.store.get('racer');
      expect(racer).toMatchObject({
        status: 'succeeded',
        endedBy: 'runner',
        result: { answer: 42 },
        verdict: null,
      });
      expect(racer?.lateResult).toBeNull();
      if (result.kind !== 'completed') throw new Error('expected a report');
      expect(result.report.decisions).toEqual([
        expect.objectContaining({
          executionId: 'racer',
          verdict: 'run_timeout',
          outcome: 'lost_race',
        }),
      ]);
      expect(result.report.counts).toMatchObject({ remediated: 0, skipped: 1, failed: 0 });
      expect(h.events.map((e) => e.type)).not.toContain('execution:remediated');
    });

    it('keeps a completion that arrives after the watchdog ended the execution as lateResult, once', async () => {
      await h.ledger.register({ id: 'slow', kind: 'embed' });
      h.clock.set(T0 + 20 * M);
      await h.sweeper.sweep();
      h.clock.advance(5 * S);

      const late = await h.ledger.complete('slow', 1, { rows: 7 });
      expect(late.kind).toBe('late');
      const again = await h.ledger.complete('slow', 1, { rows: 8 });
      expect(again).toMatchObject({ kind: 'late', kept: false, conflict: true });
      const repeat = await h.ledger.complete('slow', 1, { rows: 7 });
      expect(repeat).toMatchObject({ kind: 'late', kept: false, conflict: false });

      const slow = await h.store.get('slow');
      expect(slow).toMatchObject({
        status: 'failed',
        verdict: 'run_timeout',
        lateResult: {
          at: T0 + 20 * M + 5 * S,
          attempt: 1,
          status: 'succeeded',
          result: { rows: 7 },
        },
      });
      expect(h.events.filter((e) => e.type === 'execution:late-result')).toHaveLength(1);
      // A late result is not a second remediation: the audit still has one row.
      expect(await h.store.listRemediations({ limit: 10 })).toHaveLength(1);
    });

    it('retries as new attempts after a backoff, then dead-letters after the last attempt', async () => {
      await h.ledger.register({ id: 'job', kind: 'flaky', limits: { run: '1m' } });
      const attempts: unknown[] = [];
      for (let attempt = 1; attempt <= 3; attempt++) {
        h.clock.advance(2 * M);
        const result = await h.sweeper.sweep();
        if (result.kind !== 'completed') throw new Error('expected a report');
        const job = (await h.store.get('job'))!;
        attempts.push([result.report.decisions[0]?.action, job.status, job.attempt]);
        if (job.status === 'queued') {
          // Backoff: the retry is queued until its delay has passed, then a worker starts it.
          expect(job.queuedAt).toBeGreaterThan(h.clock.now());
          expect(job.queuedAt! - h.clock.now()).toBeLessThanOrEqual(10 * S * 2 ** (attempt - 1));
          h.clock.set(job.queuedAt!);
          await h.ledger.start('job', job.attempt);
        }
      }
      expect(attempts).toEqual([
        ['retry', 'queued', 2],
        ['retry', 'queued', 3],
        ['dead_letter', 'dead', 3],
      ]);
      const job = await h.store.get('job');
      expect(job).toMatchObject({ status: 'dead', verdict: 'run_timeout', endedBy: 'watchdog' });
      expect(h.events.filter((e) => e.type === 'execution:dead')).toHaveLength(1);
      // A heartbeat from the first attempt's runner is told it lost ownership.
      expect((await h.ledger.heartbeat([{ id: 'job', attempt: 1 }])).lost[0]?.reason).toMatch(
        /attempt 1 is over/,
      );
    });

    it('ends a workflow run with one failed child as failed, never succeeded', async () => {
      await h.ledger.register({
        id: 'wf',
        kind: 'workflow',
        limits: { run: '1h', heartbeat: '2m' },
      });
      await h.ledger.register({ id: 'step-1', kind: 'embed', parentId: 'wf' });
      await h.ledger.register({ id: 'step-2', kind: 'embed', parentId: 'wf' });
      await h.ledger.register({ id: 'step-3', kind: 'embed', parentId: 'wf' });
      h.clock.advance(M);
      await h.ledger.heartbeat([{ id: 'wf', attempt: 1 }]);
      await h.ledger.complete('step-1', 1, 'ok');
      await h.ledger.complete('step-3', 1, 'ok');
      // step-2 hangs; the workflow's runner keeps beating until minute 10, then dies with it.
      h.clock.set(T0 + 10 * M);
      await h.ledger.heartbeat([{ id: 'wf', attempt: 1 }]);

      h.clock.set(T0 + 16 * M);
      const result = await h.sweeper.sweep();

      expect(await h.store.get('step-2')).toMatchObject({
        status: 'failed',
        verdict: 'run_timeout',
      });
      const wf = await h.store.get('wf');
      expect(wf).toMatchObject({ status: 'failed', endedBy: 'watchdog' });
      expect(wf?.reason).toMatch(/^child step-2 failed: ran 16m, limit 15m/);
      if (result.kind !== 'completed') throw new Error('expected a report');
      expect(result.report.decisions.map((d) => [d.executionId, d.action])).toEqual([
        ['step-2', 'fail'],
        ['wf', 'fail'],
      ]);
    });

    it('closes a silent workflow run whose children all succeeded as succeeded', async () => {
      await h.ledger.register({ id: 'wf', kind: 'workflow', limits: { heartbeat: '2m' } });
      await h.ledger.register({ id: 'a', kind: 'embed', parentId: 'wf' });
      await h.ledger.register({ id: 'b', kind: 'embed', parentId: 'wf' });
      h.clock.advance(M);
      await h.ledger.complete('a', 1);
      await h.ledger.complete('b', 1);
      h.clock.advance(5 * M);
      await h.sweeper.sweep();
      expect(await h.store.get('wf')).toMatchObject({
        status: 'succeeded',
        verdict: 'heartbeat_lost',
      });
    });

    it('two concurrent sweeps: one acts, the others report "in progress" or find nothing left', async () => {
      for (let i = 0; i < 20; i++) await h.ledger.register({ id: `job-${i}`, kind: 'embed' });
      h.clock.set(T0 + 20 * M);
      // A second process on the same database file: its own connection, its own sweeper.
      const otherStore = h.openAnother();
      const other = new Sweeper({
        store: otherStore,
        clock: h.clock,
        config: h.config,
        events: h.bus,
      });
      try {
        const results = await Promise.all([h.sweeper.sweep(), other.sweep(), h.sweeper.sweep()]);
        // The same sweeper twice at once: the second is "in progress" in this process.
        expect(results[2]).toEqual({ kind: 'skipped', reason: 'in progress' });
        // The other process either finds the lease held ("in progress") or, when it gets there
        // after the first sweep is done (a slow connection on a busy machine), nothing left to do.
        const acting = results.filter((r) => r.kind === 'completed' && r.report.examined > 0);
        expect(acting).toHaveLength(1);
        const completed = acting[0];
        if (completed?.kind !== 'completed') throw new Error('expected a report');
        expect(completed.report.counts.remediated).toBe(20);
        const late = results[1];
        if (late !== completed && late?.kind === 'completed') expect(late.report.examined).toBe(0);
        expect(await h.store.listRemediations({ limit: 100 })).toHaveLength(20);
        // The lease is released: the next sweep runs (and finds nothing left to do).
        const next = await other.sweep();
        expect(next.kind === 'completed' && next.report.examined).toBe(0);
      } finally {
        await otherStore.close();
      }
    });

    it('a dry run decides exactly what a real sweep does and changes no execution', async () => {
      await h.ledger.register({ id: 'a', kind: 'embed' });
      await h.ledger.register({ id: 'b', kind: 'flaky', limits: { heartbeat: '1m' } });
      await h.ledger.register({ id: 'c', kind: 'embed', limits: { run: '1h' } });
      h.clock.set(T0 + 20 * M);
      const before = await h.store.list({ limit: 10 });

      const dry = await h.sweeper.sweep({ dryRun: true });
      expect(await h.store.list({ limit: 10 })).toEqual(before);
      expect(await h.store.listRemediations({ limit: 10 })).toEqual([]);
      const real = await h.sweeper.sweep();

      if (dry.kind !== 'completed' || real.kind !== 'completed')
        throw new Error('expected reports');
      const strip = (d: (typeof dry.report.decisions)[number]) => ({ ...d, outcome: undefined });
      expect(dry.report.decisions.map(strip)).toEqual(real.report.decisions.map(strip));
      expect(dry.report.counts).toEqual(real.report.counts);
      expect(dry.report.decisions.map((d) => d.outcome)).toEqual(['dry_run', 'dry_run']);
    });

    it('one row that cannot be written does not stop the others', async () => {
      for (const id of ['a', 'bad', 'c']) await h.ledger.register({ id, kind: 'embed' });
      // A real database failure on one row: a trigger that aborts its update.
      await h.refuseUpdatesOf('bad');
      h.clock.set(T0 + 20 * M);

      const result = await h.sweeper.sweep();

      if (result.kind !== 'completed') throw new Error('expected a report');
      expect(result.report.counts).toMatchObject({ remediated: 2, failed: 1 });
      expect(await h.store.get('a')).toMatchObject({ status: 'failed' });
      expect(await h.store.get('bad')).toMatchObject({ status: 'running' });
      expect(await h.store.get('c')).toMatchObject({ status: 'failed' });
      const failed = (await h.store.listRemediations({ limit: 10 })).find(
        (r) => r.executionId === 'bad',
      );
      expect(failed?.outcome).toBe('failed');
      expect(failed?.steps[0]?.detail).toMatch(/refused by a trigger/);
    });
  });

  describe('sweep paging', () => {
    beforeEach(async () => {
      h = await harness(kind, { sweep: { batchSize: 2 } });
    });

    it('pages through every overdue row, including rows it leaves alone', async () => {
      // A workflow whose child still runs is overdue but left open: paging must move past it.
      await h.ledger.register({
        id: 'wf',
        kind: 'workflow',
        limits: { heartbeat: '1m', run: '1h' },
      });
      await h.ledger.register({
        id: 'child',
        kind: 'embed',
        parentId: 'wf',
        limits: { run: '1h' },
      });
      for (let i = 0; i < 5; i++)
        await h.ledger.register({ id: `job-${i}`, kind: 'embed', limits: { run: '10m' } });
      h.clock.set(T0 + 20 * M);

      const result = await h.sweeper.sweep();

      if (result.kind !== 'completed') throw new Error('expected a report');
      expect(result.report.examined).toBe(6);
      expect(result.report.counts).toMatchObject({ remediated: 5, skipped: 1 });
      expect((await h.store.list({ status: 'failed', limit: 10 })).items).toHaveLength(5);
      expect(await h.store.get('wf')).toMatchObject({ status: 'running' });
    });
  });

  describe('a sweep that outlives its lease', () => {
    beforeEach(async () => {
      h = await harness(kind, { sweep: { batchSize: 2, lease: '1s' } });
    });

    it('stops at the next page once another replica has taken the lease over', async () => {
      for (let i = 0; i < 6; i++) await h.ledger.register({ id: `job-${i}`, kind: 'embed' });
      h.clock.set(T0 + 20 * M);
      // While the first page is being judged, the lease runs out and another replica takes it.
      const other = h.openAnother();
      let pages = 0;
      const sweeper = sweeperAfterEachRead(async () => {
        if (++pages === 1) {
          h.clock.advance(2 * S);
          expect(await other.acquireLease('sweep', 'replica-b', h.clock.now(), 60_000)).toBe(true);
        }
      });
      try {
        const result = await sweeper.sweep();
        if (result.kind !== 'completed') throw new Error('expected a report');
        expect(result.report.counts).toMatchObject({ remediated: 2, lease_lost: 1 });
        expect((await h.store.list({ status: 'running', limit: 10 })).items).toHaveLength(4);
        // The lease stays with the replica that took it.
        expect(await h.store.acquireLease('sweep', 'replica-c', h.clock.now(), 60_000)).toBe(false);
      } finally {
        await other.close();
      }
    });

    it('still notices the takeover when this process’s clock stepped back meanwhile', async () => {
      for (let i = 0; i < 6; i++) await h.ledger.register({ id: `job-${i}`, kind: 'embed' });
      h.clock.set(T0 + 20 * M);
      const other = h.openAnother();
      let pages = 0;
      const sweeper = sweeperAfterEachRead(async () => {
        if (++pages === 1) {
          // 2 s later in real time the lease (1 s) has run out and another replica holds it;
          // this process's wall clock was stepped back an hour meanwhile (NTP).
          expect(await other.acquireLease('sweep', 'replica-b', T0 + 20 * M + 2 * S, 60_000)).toBe(
            true,
          );
          h.clock.set(T0 + 20 * M - 60 * M);
        }
      });
      try {
        const result = await sweeper.sweep();
        if (result.kind !== 'completed') throw new Error('expected a report');
        expect(result.report.counts).toMatchObject({ lease_lost: 1 });
        expect((await h.store.list({ status: 'running', limit: 10 })).items).toHaveLength(4);
      } finally {
        await other.close();
      }
    });

    /** A sweeper whose store counts the sweep-lease writes; `afterRead` as above. */
    function countingLeases(afterRead: () => void = () => undefined) {
      const store: ExecutionStore = Object.create(h.store) as ExecutionStore;
      const counted = { leases: 0 };
      store.acquireLease = (...args) => {
        if (args[0] === 'sweep') counted.leases++;
        return h.store.acquireLease(...args);
      };
      store.listOverdue = async (...args) => {
        const rows = await h.store.listOverdue(...args);
        afterRead();
        return rows;
      };
      const sweeper = new Sweeper({ store, clock: h.clock, config: h.config, events: h.bus });
      return { sweeper, counted };
    }

    it('does not write a lease it took less than a quarter of its length ago again', async () => {
      for (let i = 0; i < 5; i++) await h.ledger.register({ id: `job-${i}`, kind: 'embed' });
      h.clock.set(T0 + 20 * M);
      const { sweeper, counted } = countingLeases();

      const result = await sweeper.sweep();

      if (result.kind !== 'completed') throw new Error('expected a report');
      expect(result.report.counts).toMatchObject({ remediated: 5 });
      // Three pages, one lease write: the one that started the sweep.
      expect(counted.leases).toBe(1);
    });

    it('renews the lease between pages once a quarter of it has passed', async () => {
      for (let i = 0; i < 5; i++) await h.ledger.register({ id: `job-${i}`, kind: 'embed' });
      h.clock.set(T0 + 20 * M);
      const { sweeper, counted } = countingLeases(() => h.clock.advance(300));

      const result = await sweeper.sweep();

      if (result.kind !== 'completed') throw new Error('expected a report');
      expect(result.report.counts).toMatchObject({ remediated: 5 });
      expect(result.report.counts.lease_lost).toBeUndefined();
      expect(counted.leases).toBe(4);
    });
  });

  describe('terminate, then end', () => {
    beforeEach(async () => {
      h = await harness(kind, { sweep: { escalateAfter: 2 } });
    });

    /** An owner that answers "terminate" as scripted (owner HTTP adapters have their own tests). */
    function scriptedOwner(answers: TerminationOutcome[]): OwnerClient & { asked: number } {
      const owner = {
        asked: 0,
        observe: () => Promise.resolve((): OwnerObservation => ({ kind: 'present' })),
        canTerminate: () => true,
        terminate: () => {
          owner.asked++;
          return Promise.resolve<TerminationOutcome>(
            answers.shift() ?? { kind: 'failed', cause: 'no more answers' },
          );
        },
      };
      return owner;
    }

    it('leaves the execution running while termination fails, escalates after N, ends once confirmed', async () => {
      await h.ledger.register({ id: 'overrun', kind: 'embed', owner: 'agent-a' });
      h.clock.set(T0 + 20 * M);
      const owner = scriptedOwner([
        { kind: 'failed', cause: 'HTTP 503' },
        { kind: 'failed', cause: 'HTTP 503' },
        { kind: 'terminated' },
      ]);
      const sweeper = new Sweeper({
        store: h.store,
        clock: h.clock,
        config: h.config,
        events: h.bus,
        owners: owner,
      });

      const first = await sweeper.sweep();
      expect(await h.store.get('overrun')).toMatchObject({ status: 'running' });
      expect(first.kind === 'completed' && first.report.decisions[0]?.outcome).toBe('left_running');
      expect(h.events.filter((e) => e.type === 'execution:escalated')).toHaveLength(0);

      // Asked again once the backoff after each failure (1 s, then 2 s) has passed.
      h.clock.advance(2 * S);
      await sweeper.sweep();
      expect(await h.store.get('overrun')).toMatchObject({ status: 'running' });
      expect(h.events.filter((e) => e.type === 'execution:escalated')).toEqual([
        expect.objectContaining({ executionId: 'overrun', failures: 2 }),
      ]);

      h.clock.advance(3 * S);
      await sweeper.sweep();
      const ended = await h.store.get('overrun');
      expect(ended).toMatchObject({ status: 'failed', verdict: 'run_timeout' });
      expect(ended?.reason).toBe(
        'ran 20m 5s, limit 15m; terminated by its owner after 2 failed stop requests',
      );
      expect(owner.asked).toBe(3);
      const audit = await h.store.listRemediations({ executionId: 'overrun', limit: 10 });
      expect(audit.map((r) => r.outcome)).toEqual(['remediated', 'left_running', 'left_running']);
      expect(audit[0]!.steps.map((s) => [s.step, s.outcome])).toEqual([
        ['terminate', 'ok'],
        ['end', 'ok'],
      ]);
    });

    it('"already finished" ends the record, labelled as not terminated', async () => {
      await h.ledger.register({ id: 'done-there', kind: 'embed', owner: 'agent-a' });
      h.clock.set(T0 + 20 * M);
      const owner = scriptedOwner([{ kind: 'already_finished' }]);
      await new Sweeper({
        store: h.store,
        clock: h.clock,
        config: h.config,
        events: h.bus,
        owners: owner,
      }).sweep();
      const ended = await h.store.get('done-there');
      expect(ended?.reason).toBe(
        'ran 20m, limit 15m; owner reports it had already finished (not terminated)',
      );
    });
  });
});
