/**
 * Sweep benchmark on the embedded store: 100,000 running executions of which 100 are overdue.
 *
 * Measures the sweep's read (`listOverdue`), a full sweep that remediates the overdue rows, and
 * prints the query plan of the overdue query. Every figure in the output is measured by this run.
 * At full size (unless VIGIL_BENCH_PROFILE=0), the timed reads and sweeps are then repeated under
 * the V8 profiler (in this process: there is no server here) and the profile's summary goes beside
 * the figures.
 *
 * Run: node --import tsx bench/sweep-sqlite.ts
 * VIGIL_BENCH_SIZE=tiny runs it at a size that only checks it still works.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import BetterSqlite3 from 'better-sqlite3';
import { parseConfig } from '../src/config.js';
import { FakeClock } from '../src/runtime/clock.js';
import { EventBus } from '../src/runtime/events.js';
import { Sweeper } from '../src/runtime/sweep.js';
import { openSqliteStore } from '../src/stores/sqlite.js';
import { benchSize, machine, machineLines, revision, writeResult } from './lib/common.js';
import { profileThisProcess, profiling } from './lib/profile.js';

const TINY = benchSize() === 'tiny';
const TOTAL = TINY ? 1_000 : 100_000;
const OVERDUE = TINY ? 10 : 100;
/** Every STRIDE-th row is overdue, so overdue rows are spread through the table. */
const STRIDE = TOTAL / OVERDUE;
const PAGE = 500;
const LIST_WARMUP = TINY ? 1 : 5;
const LIST_RUNS = TINY ? 3 : 50;
const SWEEP_WARMUP = 1;
const SWEEP_RUNS = TINY ? 2 : 10;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const T0 = Date.UTC(2026, 0, 1);
/** The sweep's now: two hours after the first start. */
const NOW = T0 + 2 * HOUR;
/** Healthy rows: a 24 h run limit, so their deadline is far after NOW. */
const HEALTHY_RUN_LIMIT = 24 * HOUR;
/** Overdue rows: a 15 min run limit (plus a second per row, to spread their deadlines). */
const OVERDUE_RUN_LIMIT = 15 * MINUTE;

interface Row {
  id: string;
  started_at: number;
  limit_run: number;
  deadline_at: number;
}

function rowAt(i: number): Row & { overdue: boolean } {
  const id = `exec-${String(i).padStart(6, '0')}`;
  if (i % STRIDE === 0) {
    const k = i / STRIDE;
    const limitRun = OVERDUE_RUN_LIMIT + k * 1_000;
    return { id, started_at: T0, limit_run: limitRun, deadline_at: T0 + limitRun, overdue: true };
  }
  // Starts spread over the first ~17 minutes; all before NOW, all deadlines after it.
  const startedAt = T0 + i * 10;
  return {
    id,
    started_at: startedAt,
    limit_run: HEALTHY_RUN_LIMIT,
    deadline_at: startedAt + HEALTHY_RUN_LIMIT,
    overdue: false,
  };
}

function seed(file: string): Row[] {
  const raw = new BetterSqlite3(file);
  try {
    const insert = raw.prepare(
      `insert into executions (
         id, kind, owner, parent_id, status, attempt, queued_at, started_at, heartbeat_at,
         progress_at, ended_at, deadline_at, limit_run, limit_heartbeat, limit_progress,
         limit_queue, progress, reason, verdict, ended_by, result, error, late_result, metadata,
         termination_failures, created_at
       ) values (
         @id, 'bench', null, null, 'running', 1, @started_at, @started_at, null,
         null, null, @deadline_at, @limit_run, null, null,
         null, null, null, null, null, null, null, null, '{}',
         0, @started_at
       )`,
    );
    const overdue: Row[] = [];
    raw.transaction(() => {
      for (let i = 0; i < TOTAL; i++) {
        const { overdue: isOverdue, ...row } = rowAt(i);
        insert.run(row);
        if (isOverdue) overdue.push(row);
      }
    })();
    const counts = raw
      .prepare(
        `select count(*) as total, sum(deadline_at < ?) as overdue from executions
         where status = 'running'`,
      )
      .get(NOW) as { total: number; overdue: number };
    if (counts.total !== TOTAL || counts.overdue !== OVERDUE) {
      throw new Error(`seeding went wrong: ${JSON.stringify(counts)}`);
    }
    return overdue;
  } finally {
    raw.close();
  }
}

/** Puts the overdue rows back to running attempt 1 and forgets every sweep's audit trail. */
function rearm(file: string, overdue: Row[]): void {
  const raw = new BetterSqlite3(file);
  try {
    const update = raw.prepare(
      `update executions set status = 'running', attempt = 1, ended_at = null,
         deadline_at = @deadline_at, reason = null, verdict = null, ended_by = null,
         result = null, error = null, late_result = null, termination_failures = 0
       where id = @id`,
    );
    raw.transaction(() => {
      for (const row of overdue) update.run({ id: row.id, deadline_at: row.deadline_at });
      raw.exec('delete from attempts; delete from remediations; delete from sweeps;');
    })();
  } finally {
    raw.close();
  }
}

function countStatus(file: string, status: string): number {
  const raw = new BetterSqlite3(file, { readonly: true });
  try {
    return (
      raw.prepare('select count(*) as n from executions where status = ?').get(status) as {
        n: number;
      }
    ).n;
  } finally {
    raw.close();
  }
}

interface PlanRow {
  id: number;
  parent: number;
  detail: string;
}

function explain(
  file: string,
  query: { sql: string; parameters: readonly unknown[] },
  analyze: boolean,
): { plan: string[]; sqliteVersion: string } {
  const raw = new BetterSqlite3(file);
  try {
    if (analyze) raw.exec('analyze');
    const rows = raw
      .prepare(`EXPLAIN QUERY PLAN ${query.sql}`)
      .all(...query.parameters) as PlanRow[];
    const depth = new Map<number, number>([[0, 0]]);
    const plan = rows.map((r) => {
      const d = (depth.get(r.parent) ?? 0) + 1;
      depth.set(r.id, d);
      return `${'  '.repeat(d - 1)}${r.detail}`;
    });
    const { v } = raw.prepare('select sqlite_version() as v').get() as { v: string };
    return { plan, sqliteVersion: v };
  } finally {
    raw.close();
  }
}

interface Stats {
  runs: number;
  median: number;
  p95: number;
  min: number;
  max: number;
}

/** Median (mean of the two middle values when even) and nearest-rank p95. */
function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  const mid = Math.floor(n / 2);
  const median = n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const p95 = sorted[Math.max(0, Math.ceil(0.95 * n) - 1)]!;
  return { runs: n, median, p95, min: sorted[0]!, max: sorted[n - 1]! };
}

const ms = (value: number) => value.toFixed(2);

async function main(): Promise<string> {
  const measuredRevision = revision();
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-sweep-'));
  try {
    const file = join(dir, 'bench.db');
    const store = openSqliteStore(file);
    try {
      await store.migrate();

      const seedStarted = performance.now();
      const overdue = seed(file);
      const seedMs = performance.now() - seedStarted;

      const clock = new FakeClock(NOW);

      // (a) The sweep's read.
      const listSamples: number[] = [];
      for (let i = 0; i < LIST_WARMUP + LIST_RUNS; i++) {
        const started = performance.now();
        const rows = await store.listOverdue(clock.now(), PAGE);
        const elapsed = performance.now() - started;
        if (rows.length !== OVERDUE) {
          throw new Error(`listOverdue returned ${rows.length} rows, expected ${OVERDUE}`);
        }
        if (i >= LIST_WARMUP) listSamples.push(elapsed);
      }

      // (b) Full sweeps, each remediating the overdue rows; checked, and timed in milliseconds.
      const config = parseConfig({});
      const sweepOnce = async (n: number): Promise<number> => {
        const sweeper = new Sweeper({ store, clock, config, events: new EventBus() });
        const started = performance.now();
        const result = await sweeper.sweep();
        const elapsed = performance.now() - started;
        if (result.kind !== 'completed') {
          throw new Error(`sweep ${n} was skipped: ${result.reason}`);
        }
        const { counts, examined } = result.report;
        if (counts.remediated !== OVERDUE || counts.run_timeout !== OVERDUE) {
          throw new Error(
            `sweep ${n}: expected ${OVERDUE} run_timeout remediations, got ${JSON.stringify(counts)} (examined ${examined})`,
          );
        }
        const failed = countStatus(file, 'failed');
        if (failed !== OVERDUE) {
          throw new Error(`sweep ${n}: ${failed} rows failed in the store, expected ${OVERDUE}`);
        }
        return elapsed;
      };
      const sweepSamples: number[] = [];
      for (let i = 0; i < SWEEP_WARMUP + SWEEP_RUNS; i++) {
        if (i > 0) rearm(file, overdue);
        const elapsed = await sweepOnce(i + 1);
        if (i >= SWEEP_WARMUP) sweepSamples.push(elapsed);
      }
      rearm(file, overdue);

      // The same reads and sweeps again under the profiler (not timed: the profiler costs time).
      let profile: string[] = [];
      if (profiling()) {
        ({ summary: profile } = await profileThisProcess(
          `${LIST_RUNS} \`listOverdue\` reads, then ${SWEEP_RUNS} sweeps (each after a re-arm)`,
          async () => {
            for (let i = 0; i < LIST_RUNS; i++) await store.listOverdue(clock.now(), PAGE);
            for (let i = 0; i < SWEEP_RUNS; i++) {
              await sweepOnce(i + 1);
              rearm(file, overdue);
            }
          },
        ));
      }

      // (c) The overdue query's plan, as the store compiles it.
      const compiled = store.overdueQuery(NOW, PAGE).compile();
      const asSeeded = explain(file, compiled, false);
      const analyzed = explain(file, compiled, true);

      const list = stats(listSamples);
      const sweep = stats(sweepSamples);
      const lines = [
        '## Sweep on SQLite (`bench/sweep-sqlite.ts`)',
        '',
        ...machineLines(),
        `- Vigil: ${measuredRevision}; the store and the sweeper in this process (no server)`,
        `- Runtime: Node ${machine().node}, SQLite ${asSeeded.sqliteVersion} (better-sqlite3), WAL, synchronous=NORMAL`,
        `- Data: ${TOTAL.toLocaleString('en-US')} running executions, ${OVERDUE} of them overdue (run limit crossed); seeded in ${ms(seedMs)} ms; no ANALYZE before the timings`,
        '',
        '| Operation | Runs | Median (ms) | p95 (ms) | Min (ms) | Max (ms) |',
        '| --- | ---: | ---: | ---: | ---: | ---: |',
        `| \`listOverdue(now, ${PAGE})\` → ${OVERDUE} rows | ${list.runs} | ${ms(list.median)} | ${ms(list.p95)} | ${ms(list.min)} | ${ms(list.max)} |`,
        `| full \`sweep()\` remediating ${OVERDUE} rows (no owners) | ${sweep.runs} | ${ms(sweep.median)} | ${ms(sweep.p95)} | ${ms(sweep.min)} | ${ms(sweep.max)} |`,
        '',
        `Warm-up runs excluded: ${LIST_WARMUP} reads, ${SWEEP_WARMUP} sweep. Median of an even count is the mean of the two middle runs; p95 is nearest-rank. Every sweep was checked to remediate exactly ${OVERDUE} rows as \`run_timeout\`.`,
        '',
        'Query plan of the overdue query (`EXPLAIN QUERY PLAN`):',
        '',
        '```sql',
        compiled.sql,
        '```',
        '',
        'As seeded (no statistics):',
        '',
        '```text',
        ...asSeeded.plan,
        '```',
        '',
        'After `ANALYZE`:',
        '',
        '```text',
        ...analyzed.plan,
        '```',
        '',
        ...(profile.length > 0
          ? [
              '### Where the time goes',
              '',
              `The reads and sweeps of the table above, repeated on the same data under the V8 profiler (node:inspector, in this process); the re-arms between sweeps (${OVERDUE} updates in one transaction, by better-sqlite3) are inside the profile too. Self time per frame and per area, as shares of the time the process was not idle; \`(native)\` is mostly SQLite itself (better-sqlite3's calls into it have no frame of their own).`,
              '',
              ...profile,
            ]
          : []),
      ];
      return lines.join('\n');
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

writeResult('sweep-sqlite', await main());
