import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Limits } from '../src/core/types.js';
import type { RemediationRecord } from '../src/ports/audit-store.js';
import type { NewExecution } from '../src/ports/ledger-store.js';
import type { AttemptEnd, Fence } from '../src/ports/records.js';
import type { Harness } from './helpers.js';
import { M, S, T0, describeEach, harness, storeKinds } from './helpers.js';

/**
 * A sweep's page of ends (`endAttempts`), as PostgreSQL writes it in one statement per kind of
 * end: still a compare-and-set per row. A row whose attempt, status or deadline changed since the
 * sweep read it is left alone, with no attempt record, no audit row and no slot marked due; the
 * others end, each with exactly its own.
 */

const LIMITS: Limits = { run: 10 * M, heartbeat: M, progress: null, queue: 5 * M };

const execution = (id: string): NewExecution => ({
  id,
  kind: 'k',
  owner: null,
  parentId: null,
  status: 'running',
  limits: LIMITS,
  metadata: {},
});

const failed: AttemptEnd = {
  status: 'failed',
  verdict: 'heartbeat_lost',
  reason: 'no heartbeat',
  endedBy: 'watchdog',
  retry: null,
};

const audit = (id: string, executionId: string, attempt = 1): RemediationRecord => ({
  id,
  sweepId: 's1',
  at: T0 + 2 * M,
  executionId,
  attempt,
  kind: 'k',
  owner: null,
  verdict: 'heartbeat_lost',
  action: 'fail',
  reason: 'no heartbeat',
  evidence: {},
  steps: [{ step: 'end', outcome: 'ok', ms: 0 }],
  outcome: 'remediated',
  dryRun: false,
});

await describeEach(storeKinds(), 'a page of ends on %s', (kind) => {
  let h: Harness;

  beforeEach(async () => {
    h = await harness(kind);
  });
  afterEach(() => h.close());

  it('ends each row only while it is still what the sweep read', async () => {
    const { store } = h;
    const ids = ['won', 'retried', 'moved-on', 'reported', 'beat', 'deadline-held', 'missing'];
    for (const id of ids.slice(0, -1)) {
      await store.create(execution(id), T0);
      expect(
        await store.recordSlotHold(
          { executionId: id, attempt: 1, slot: `cap:${id}`, expiresAt: null },
          T0,
        ),
      ).toBe(true);
    }
    // What the sweep read: every row running at attempt 1 with its first deadline.
    const read = T0 + M;
    const fence = (id: string, deadline?: number): Fence => ({
      id,
      attempt: 1,
      status: 'running',
      ...(deadline === undefined ? {} : { deadlineAt: deadline }),
    });
    // Since then: one moved on to attempt 2, one reported its result, one beat (a new deadline).
    expect(
      await store.endAttempt(
        fence('moved-on'),
        { ...failed, retry: { attempt: 2, queuedAt: T0 + S } },
        T0 + S,
      ),
    ).toBe(true);
    await store.start('moved-on', 2, T0 + 2 * S);
    const reported = await store.report(
      { id: 'reported', attempt: 1 },
      {
        status: 'succeeded',
        verdict: null,
        reason: null,
        endedBy: 'runner',
        result: 7,
        retry: null,
      },
      T0 + 3 * S,
    );
    expect(reported.kind).toBe('ended');
    await store.heartbeat([{ id: 'beat', attempt: 1 }], T0 + 4 * S);

    const now = T0 + 2 * M;
    const retry: AttemptEnd = { ...failed, retry: { attempt: 2, queuedAt: now + S } };
    const won = await store.endAttempts(
      [
        { fence: fence('won', read), end: failed, audit: audit('a-won', 'won') },
        { fence: fence('retried', read), end: retry, audit: audit('a-retried', 'retried') },
        { fence: fence('moved-on'), end: failed, audit: audit('a-moved-on', 'moved-on') },
        { fence: fence('reported'), end: failed, audit: audit('a-reported', 'reported') },
        { fence: fence('beat', read), end: failed, audit: audit('a-beat', 'beat') },
        {
          fence: fence('deadline-held', read),
          end: failed,
          audit: audit('a-held', 'deadline-held'),
        },
        { fence: fence('missing'), end: failed, audit: audit('a-missing', 'missing') },
      ],
      now,
    );
    expect(won).toEqual([true, true, false, false, false, true, false]);

    expect(await store.get('won')).toMatchObject({
      status: 'failed',
      attempt: 1,
      verdict: 'heartbeat_lost',
      endedBy: 'watchdog',
      endedAt: now,
      deadlineAt: null,
    });
    // The retry: the next attempt, queued, with the deadline its queue limit gives.
    expect(await store.get('retried')).toMatchObject({
      status: 'queued',
      attempt: 2,
      queuedAt: now + S,
      startedAt: null,
      endedAt: null,
      deadlineAt: now + S + 5 * M,
    });
    // The rows that changed are exactly as their own writes left them.
    expect(await store.get('moved-on')).toMatchObject({ status: 'running', attempt: 2 });
    expect(await store.get('reported')).toMatchObject({
      status: 'succeeded',
      result: 7,
      endedBy: 'runner',
    });
    expect(await store.get('beat')).toMatchObject({
      status: 'running',
      deadlineAt: T0 + 4 * S + M,
    });
    expect(await store.get('deadline-held')).toMatchObject({ status: 'failed' });

    // One audit row per end that won, and no other.
    const audits = await store.listRemediations({ limit: 100 });
    expect(audits.map((a) => a.id).sort()).toEqual(['a-held', 'a-retried', 'a-won']);
    // Each winner's slot is due for release under its own audit row; the others' are not.
    const hold = async (id: string) => (await store.slotHolds(id))[0];
    expect(await hold('won')).toMatchObject({ releaseDueAt: now, remediationId: 'a-won' });
    expect(await hold('retried')).toMatchObject({ releaseDueAt: now, remediationId: 'a-retried' });
    expect(await hold('deadline-held')).toMatchObject({ remediationId: 'a-held' });
    expect(await hold('beat')).toMatchObject({ releaseDueAt: null, remediationId: null });
    expect(await hold('reported')).toMatchObject({ remediationId: null });
    const due = await store.dueSlotReleases({
      of: ids.map((id) => ({ id, attempt: 1 })),
      limit: 100,
    });
    expect(due.map((d) => d.executionId).sort()).toEqual(
      // 'moved-on' and 'reported' were ended by their own writes, which mark their slots due too.
      ['deadline-held', 'moved-on', 'reported', 'retried', 'won'],
    );

    // Each won end wrote its attempt's record: a late result of it is kept, once.
    const late = await store.report(
      { id: 'won', attempt: 1 },
      {
        status: 'succeeded',
        verdict: null,
        reason: null,
        endedBy: 'runner',
        result: 1,
        retry: null,
      },
      now + S,
    );
    expect(late).toMatchObject({ kind: 'late', execution: { status: 'failed' } });
    // The same fences cannot win twice.
    expect(
      await store.endAttempts(
        [
          { fence: fence('won', read), end: failed },
          { fence: fence('deadline-held', read), end: failed },
        ],
        now + S,
      ),
    ).toEqual([false, false]);
  });

  it('ends a long page, each row with its own record', async () => {
    const { store } = h;
    const n = 1_200;
    await store.createMany(
      Array.from({ length: n }, (_, i) => execution(`e${i}`)),
      T0,
    );
    const now = T0 + 20 * M;
    // Every third row beat since the read: its deadline moved, so it is left running.
    await store.heartbeat(
      Array.from({ length: n / 3 }, (_, k) => ({ id: `e${3 * k}`, attempt: 1 })),
      T0 + 19 * M,
    );
    const won = await store.endAttempts(
      Array.from({ length: n }, (_, i) => ({
        fence: { id: `e${i}`, attempt: 1, status: 'running' as const, deadlineAt: T0 + M },
        end: failed,
        audit: audit(`a${String(i).padStart(5, '0')}`, `e${i}`),
      })),
      now,
    );
    expect(won).toEqual(Array.from({ length: n }, (_, i) => i % 3 !== 0));
    const audits = await store.listRemediations({ limit: 10_000 });
    expect(audits).toHaveLength((2 * n) / 3);
    expect(new Set(audits.map((a) => a.executionId)).size).toBe((2 * n) / 3);
    expect(audits.every((a) => Number(a.executionId.slice(1)) % 3 !== 0)).toBe(true);
    expect(await store.get('e1')).toMatchObject({ status: 'failed', endedAt: now });
    expect(await store.get('e3')).toMatchObject({ status: 'running' });
  });
});
