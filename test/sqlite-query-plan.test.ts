import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlStore } from '../src/stores/sql-store.js';
import { openSqliteStore } from '../src/stores/sqlite.js';

const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;
const NOW = T0 + 2 * HOUR;
const ROWS = 3_000;

/** Every 10th row has ended (no deadline), every 300th is overdue, the rest run within limits. */
function rowAt(i: number) {
  const id = `exec-${String(i).padStart(5, '0')}`;
  const startedAt = T0 + i * 100;
  if (i % 10 === 1) {
    return { id, status: 'succeeded', startedAt, limitRun: HOUR, deadlineAt: null, endedAt: NOW };
  }
  const limitRun = i % 300 === 0 ? 15 * 60_000 : 24 * HOUR;
  return {
    id,
    status: 'running',
    startedAt,
    limitRun,
    deadlineAt: startedAt + limitRun,
    endedAt: null,
  };
}
const OVERDUE = Array.from({ length: ROWS }, (_, i) => rowAt(i)).filter(
  (r) => r.deadlineAt !== null && r.deadlineAt < NOW,
).length;

let dir: string;
let store: SqlStore;
let raw: BetterSqlite3.Database;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-query-plan-'));
  const file = join(dir, 'plan.db');
  store = openSqliteStore(file);
  await store.migrate();
  raw = new BetterSqlite3(file);
  const insert = raw.prepare(
    `insert into executions (id, kind, status, attempt, queued_at, started_at, ended_at,
       deadline_at, limit_run, metadata, created_at)
     values (@id, 'plan', @status, 1, @startedAt, @startedAt, @endedAt, @deadlineAt, @limitRun,
       '{}', @startedAt)`,
  );
  raw.transaction(() => {
    for (let i = 0; i < ROWS; i++) insert.run(rowAt(i));
  })();
  raw.exec('analyze');
});

afterAll(async () => {
  raw?.close();
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function plan(query: { sql: string; parameters: readonly unknown[] }): string[] {
  const rows = raw.prepare(`EXPLAIN QUERY PLAN ${query.sql}`).all(...query.parameters) as {
    detail: string;
  }[];
  return rows.map((r) => r.detail);
}

function expectDeadlineIndex(lines: string[]): void {
  const text = lines.join('\n');
  expect(
    lines.some((l) => /USING (COVERING )?INDEX executions_deadline\b/.test(l)),
    `plan does not use executions_deadline:\n${text}`,
  ).toBe(true);
  expect(
    lines.some((l) =>
      /\bSCAN executions\b(?! USING (COVERING )?INDEX executions_deadline\b)/.test(l),
    ),
    `plan scans executions without an index:\n${text}`,
  ).toBe(false);
}

describe('the overdue query on SQLite', () => {
  it('finds the overdue rows the seed put there', async () => {
    expect(OVERDUE).toBeGreaterThan(0);
    const rows = await store.listOverdue(NOW, 500);
    expect(rows).toHaveLength(OVERDUE);
    expect(rows.every((r) => r.status === 'running' && r.deadlineAt! < NOW)).toBe(true);
  });

  it('reads the executions_deadline index, not the table', () => {
    expectDeadlineIndex(plan(store.overdueQuery(NOW, 500).compile()));
  });

  it('reads the same index when paging after a cursor', () => {
    const first = rowAt(0);
    const after = { deadlineAt: first.deadlineAt!, id: first.id };
    expectDeadlineIndex(plan(store.overdueQuery(NOW, 500, after).compile()));
  });
});

describe('the stats query on SQLite', () => {
  beforeAll(() => {
    // A day of audit rows, one a minute: the window asked for is its last hour.
    const insert = raw.prepare(
      `insert into remediations (id, at, execution_id, attempt, kind, owner, verdict, action,
         reason, evidence, steps, outcome, dry_run, ran_ms, late_ms)
       values (@id, @at, @id, 1, 'plan', 'w', 'run_timeout', 'fail', 'r', '{}', '[]',
         'remediated', 0, 60000, 1000)`,
    );
    raw.transaction(() => {
      for (let i = 0; i < 24 * 60; i++) insert.run({ id: `r-${i}`, at: NOW - i * 60_000 });
    })();
    raw.exec('analyze');
  });

  it.each([[['kind', 'owner'] as const], [['source', { label: 'team' }] as const]])(
    'reads the audit by the remediations_at index when grouped by %j',
    async (by) => {
      const query = { from: NOW - HOUR, to: NOW + 1, by, limit: 10 };
      const lines = plan(store.statsQuery(query));
      const text = lines.join('\n');
      expect(
        lines.some((l) => /SEARCH r USING INDEX remediations_at \(at>\? AND at<\?\)/.test(l)),
        `plan does not range-scan remediations_at:\n${text}`,
      ).toBe(true);
      expect(
        lines.some((l) => /\bSCAN (r|remediations)\b/.test(l)),
        text,
      ).toBe(false);
      // The label's executions are read by their primary key, never scanned.
      expect(
        lines.some((l) => /\bSCAN e\b/.test(l)),
        text,
      ).toBe(false);
      expect((await store.stats(query)).groups[0]?.stuck).toBe(61);
    },
  );
});
