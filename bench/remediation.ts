/**
 * Remediation at scale, on SQLite and PostgreSQL, with each overdue execution holding a capacity
 * slot in Redis:
 *
 * (a) finding the overdue executions among the running ones (`listOverdue`, one page of 500);
 * (b) full sweeps (`Sweeper.sweep`, in this process, no owners) ending every overdue execution
 *     (run limit crossed → `failed`, one attempt) and releasing the Redis slot each one holds:
 *     executions ended + slots released per second, for several page sizes (`sweep.batchSize`).
 *
 * Every sweep is checked: every overdue execution ended once, one attempt record and one audit row
 * each (with its release step), every slot hold recorded released, no slot key left in Redis.
 * Then one more sweep at the default page size runs under the V8 CPU profiler (node:inspector)
 * and its profile is summarised: where the sweeping process spends its time. PostgreSQL's and
 * Redis's own time is not in it (the process waits for them: the "idle" share).
 *
 * Peer: BullMQ's stalled-job check (`moveStalledJobsToWait`, the Lua script its workers run) over
 * the same number of active jobs whose locks lapsed, with maxStalledCount 0 (each is failed).
 *
 * Run: node --import tsx bench/remediation.ts
 * VIGIL_BENCH_SIZE=tiny runs it at a size that only checks it still works (prints, writes nothing).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { createClient } from 'redis';
import { parseConfig } from '../src/config.js';
import type { ExecutionStore } from '../src/ports/execution-store.js';
import { FakeClock } from '../src/runtime/clock.js';
import { EventBus } from '../src/runtime/events.js';
import { Slots } from '../src/runtime/slots.js';
import { Sweeper } from '../src/runtime/sweep.js';
import { openPostgresStore } from '../src/stores/postgres.js';
import { openRedisSlotStore } from '../src/stores/redis-slots.js';
import { openSqliteStore } from '../src/stores/sqlite.js';
import { bullmqStalled } from './lib/bullmq-stalled-check.js';
import { summarizeProfile } from './lib/profile.js';
import { fmt, machineLines, revision, summarize, writeResult } from './lib/common.js';

const TINY = process.env.VIGIL_BENCH_SIZE === 'tiny';
const POSTGRES_URL =
  process.env.VIGIL_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.VIGIL_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const TOTAL = TINY ? 20_000 : 1_000_000;
const OVERDUE = TINY ? 200 : 10_000;
const STRIDE = TOTAL / OVERDUE;
const PAGES = TINY
  ? [100]
  : (process.env.VIGIL_BENCH_PAGES ?? '500,1000,2000').split(',').map(Number);
const DEFAULT_PAGE = 500;
const RUNS = TINY ? 1 : Number(process.env.VIGIL_BENCH_RUNS ?? 3);
const LIST_RUNS = TINY ? 3 : 30;
const PROFILE = !TINY && process.env.VIGIL_BENCH_PROFILE !== '0';
const PEER = process.env.VIGIL_BENCH_PEER !== '0';
const STORES = (process.env.VIGIL_BENCH_STORES ?? 'sqlite,postgres').split(',') as Kind[];
const TARGETS = { sqlite: 10_000, postgres: 5_000 } as const;

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);
const NOW = T0 + 2 * HOUR;
const OVERDUE_LIMIT = 900_000;
const run = `${Date.now().toString(36)}${process.pid}`;
const prefix = `vigil-bench:remed:${run}:`;

type Kind = 'sqlite' | 'postgres';

/** Plain SQL on the store's database, beside the store (seeding, re-arming, checking). */
interface Admin {
  exec(statement: string): Promise<void>;
  count(query: string): Promise<number>;
  close(): Promise<void>;
}

/** Rows 0, STRIDE, 2·STRIDE… are overdue (a 15 min run limit, plus i ms); the rest have 24 h. */
const seedSql = (series: string, id: string) =>
  `INSERT INTO executions (id, kind, status, attempt, queued_at, started_at, deadline_at,
     limit_run, metadata, termination_failures, created_at)
   SELECT 'exec-' || ${id}, 'bench', 'running', 1, ${T0}, ${T0},
     ${T0} + CASE WHEN i % ${STRIDE} = 0 THEN ${OVERDUE_LIMIT} + i ELSE ${24 * HOUR} END,
     CASE WHEN i % ${STRIDE} = 0 THEN ${OVERDUE_LIMIT} + i ELSE ${24 * HOUR} END, '{}', 0, ${T0}
   FROM ${series}`;

const overdueWhere = `limit_run < ${24 * HOUR}`;

/** Every overdue execution back to running attempt 1, its slot held again; audit trail cleared. */
const rearmSql = [
  `UPDATE executions SET status = 'running', attempt = 1, ended_at = NULL, reason = NULL,
     verdict = NULL, ended_by = NULL, result = NULL, error = NULL, queued_at = ${T0},
     started_at = ${T0}, deadline_at = ${T0} + limit_run
   WHERE ${overdueWhere}`,
  'DELETE FROM attempts',
  'DELETE FROM remediations',
  'DELETE FROM slot_holds',
  'DELETE FROM sweeps',
  `INSERT INTO slot_holds (execution_id, attempt, slot, acquired_at)
   SELECT id, 1, 'agent:' || id || ':capacity', ${T0} FROM executions WHERE ${overdueWhere}`,
];

async function openSqlite(dir: string): Promise<{ store: ExecutionStore; admin: Admin }> {
  const file = join(dir, 'vigil.db');
  const store = openSqliteStore(file);
  await store.migrate();
  const raw = new BetterSqlite3(file);
  raw.pragma('journal_mode = WAL');
  const admin: Admin = {
    exec: async (statement) => void raw.exec(statement),
    count: async (query) => (raw.prepare(query).get() as { n: number }).n,
    close: async () => void raw.close(),
  };
  await admin.exec(
    seedSql(
      `(WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < ${TOTAL - 1}) SELECT i FROM s)`,
      "substr('0000000' || i, -7, 7)",
    ),
  );
  await admin.exec('ANALYZE');
  return { store, admin };
}

async function openPostgres(schema: string): Promise<{ store: ExecutionStore; admin: Admin }> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  const store = openPostgresStore(POSTGRES_URL, { schema, poolSize: 4 });
  await store.migrate();
  await client.query(`SET search_path = ${schema}`);
  const admin: Admin = {
    exec: async (statement) => void (await client.query(statement)),
    count: async (query) => Number((await client.query<{ n: string }>(query)).rows[0]!.n),
    close: async () => {
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
      await client.end();
    },
  };
  await admin.exec(seedSql(`generate_series(0, ${TOTAL - 1}) AS i`, "lpad(i::text, 7, '0')"));
  await admin.exec('ANALYZE executions');
  return { store, admin };
}

const newRedis = () => createClient({ url: REDIS_URL });
type Redis = ReturnType<typeof newRedis>;

async function rearm(admin: Admin, redis: Redis): Promise<void> {
  for (const statement of rearmSql) await admin.exec(statement);
  const multi = redis.multi();
  for (let k = 0; k < OVERDUE; k++) {
    const id = `exec-${String(k * STRIDE).padStart(7, '0')}`;
    multi.set(`${prefix}agent:${id}:capacity`, `1:${id}`);
  }
  await multi.execAsPipeline();
}

/**
 * Everything one sweep must have done. Ends are checked strictly (throws); a slot release that
 * failed (it stays due for a later sweep) is returned as a problem, and the run is reported so.
 */
async function check(
  admin: Admin,
  redis: Redis,
  counts: Record<string, number>,
): Promise<string[]> {
  const count = (query: string) => admin.count(query);
  const expect = async (what: string, query: string, want: number) => {
    const n = await count(query);
    if (n !== want) throw new Error(`${what}: ${n}, expected ${want}`);
  };
  if (counts.remediated !== OVERDUE) throw new Error(`sweep counts ${JSON.stringify(counts)}`);
  await expect(
    'ended',
    `SELECT count(*) AS n FROM executions WHERE ${overdueWhere} AND status = 'failed' AND verdict = 'run_timeout' AND deadline_at IS NULL`,
    OVERDUE,
  );
  await expect('attempt records', 'SELECT count(*) AS n FROM attempts', OVERDUE);
  await expect(
    'audit rows',
    `SELECT count(*) AS n FROM remediations WHERE outcome = 'remediated'`,
    OVERDUE,
  );
  await expect(
    'healthy left running',
    `SELECT count(*) AS n FROM executions WHERE status = 'running'`,
    TOTAL - OVERDUE,
  );
  const released = counts.slots_released ?? 0;
  const problems: string[] = [];
  if (released !== OVERDUE)
    problems.push(
      `${fmt(OVERDUE - released)} slot releases not done in the sweep (${fmt(counts.slot_release_failed ?? 0)} failed: Redis answered after the 1 s command timeout; left due for a later sweep)`,
    );
  const withStep = await count(
    `SELECT count(*) AS n FROM remediations WHERE outcome = 'remediated' AND steps LIKE '%"release"%'`,
  );
  const holds = await count(
    `SELECT count(*) AS n FROM slot_holds WHERE released_at IS NOT NULL AND release_outcome = 'released'`,
  );
  const left = (await redis.keys(`${prefix}*`)).length;
  if (withStep !== released || holds !== released || left !== OVERDUE - released)
    throw new Error(
      `released ${released}: ${withStep} audit rows with a release step, ${holds} holds recorded released, ${left} keys left`,
    );
  return problems;
}

/** Wall time spent in each store and slot-store call during a sweep (the calls are awaited). */
type Spent = Map<string, { calls: number; ms: number }>;

/** Wraps `names` of `target` so that each call adds its wall time to `spent`. */
function timed<T extends object>(target: T, names: string[], spent: Spent, label: string): T {
  const wrapped = Object.create(target) as Record<string, unknown>;
  for (const name of names) {
    const fn = (target as Record<string, unknown>)[name];
    if (typeof fn !== 'function') continue;
    wrapped[name] = async (...args: unknown[]) => {
      const started = performance.now();
      try {
        return await (fn as (...a: unknown[]) => Promise<unknown>).apply(target, args);
      } finally {
        const entry = spent.get(`${label}.${name}`) ?? { calls: 0, ms: 0 };
        entry.calls++;
        entry.ms += performance.now() - started;
        spent.set(`${label}.${name}`, entry);
      }
    };
  }
  return wrapped as T;
}

const STORE_CALLS = [
  'listOverdue',
  'withChildren',
  'endAttempts',
  'endAttempt',
  'dueSlotReleases',
  'recordSlotReleases',
  'recordRemediations',
  'acquireLease',
  'releaseLease',
  'saveSweep',
  'deferDeadline',
];

interface Swept {
  ms: number;
  /** What this sweep did not finish (see `check`). */
  problems: string[];
  /** CPU time of this process during the sweep, in ms. */
  cpuMs: number;
}

async function sweepOnce(
  store: ExecutionStore,
  admin: Admin,
  redis: Redis,
  slotStore: Awaited<ReturnType<typeof openRedisSlotStore>>,
  page: number,
  profileTo?: string,
  spent?: Spent,
): Promise<Swept> {
  await rearm(admin, redis);
  const clock = new FakeClock(NOW);
  const config = parseConfig({ sweep: { batchSize: page } });
  const s = spent ? timed(store, STORE_CALLS, spent, 'store') : store;
  const slots = new Slots(
    s,
    spent ? timed(slotStore, ['release', 'releaseMany'], spent, 'slots') : slotStore,
    clock,
  );
  const sweeper = new Sweeper({ store: s, clock, config, events: new EventBus(), slots });
  const session = profileTo ? new Session() : undefined;
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 500 });
    await session.post('Profiler.start');
  }
  const cpu = process.cpuUsage();
  const started = performance.now();
  const result = await sweeper.sweep();
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  if (session && profileTo) {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(profileTo, JSON.stringify(profile));
    session.disconnect();
  }
  if (result.kind !== 'completed') throw new Error('sweep skipped');
  const problems = await check(admin, redis, result.report.counts);
  return { ms, problems, cpuMs: (used.user + used.system) / 1000 };
}

async function measure(kind: Kind, redis: Redis) {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-remed-'));
  const schema = `vigil_bench_remed_${run}`;
  const seedStarted = performance.now();
  const { store, admin } = kind === 'sqlite' ? await openSqlite(dir) : await openPostgres(schema);
  const seedMs = performance.now() - seedStarted;
  const slotStore = await openRedisSlotStore(REDIS_URL, { keyPrefix: prefix });
  try {
    const list: number[] = [];
    for (let i = 0; i < 5 + LIST_RUNS; i++) {
      const started = performance.now();
      const rows = await store.listOverdue(NOW, DEFAULT_PAGE);
      const elapsed = performance.now() - started;
      if (rows.length !== Math.min(DEFAULT_PAGE, OVERDUE)) throw new Error(`found ${rows.length}`);
      if (i >= 5) list.push(elapsed);
    }
    const sweeps: { page: number; samples: Swept[] }[] = [];
    const warmNotes: string[] = [];
    for (const page of PAGES) {
      // One warm-up sweep per page size, not counted (what it left undone is still said).
      const warm = await sweepOnce(store, admin, redis, slotStore, page);
      for (const problem of warm.problems)
        warmNotes.push(`${kind}, pages of ${page}, warm-up: ${problem}`);
      const samples: Swept[] = [];
      for (let r = 0; r < RUNS; r++)
        samples.push(await sweepOnce(store, admin, redis, slotStore, page));
      sweeps.push({ page, samples });
    }
    let profile: string[] = [];
    if (PROFILE) {
      const file = join(process.env.VIGIL_BENCH_PROFILE_DIR ?? dir, `sweep-${kind}.cpuprofile`);
      const spent: Spent = new Map();
      const swept = await sweepOnce(store, admin, redis, slotStore, DEFAULT_PAGE, file, spent);
      profile = [
        ...summarizeProfile(
          file,
          `${kind}: one sweep of ${fmt(OVERDUE)} (pages of ${DEFAULT_PAGE}), ${fmt(swept.ms)} ms under the profiler, ${fmt(swept.cpuMs)} ms of CPU${swept.problems.map((x) => `; ${x}`).join('')}`,
        ),
        'Wall time inside each store and slot-store call of that sweep (awaited in turn, except slot releases, which run beside the next page):',
        '',
        '| Call | Calls | ms | Share of the sweep |',
        '| --- | ---: | ---: | ---: |',
        ...[...spent.entries()]
          .sort((a, b) => b[1].ms - a[1].ms)
          .map(
            ([name, e]) =>
              `| \`${name}\` | ${fmt(e.calls)} | ${fmt(e.ms)} | ${fmt((e.ms / swept.ms) * 100, 1)} % |`,
          ),
        '',
      ];
    }
    return { kind, seedMs, list: summarize(list), sweeps, profile, warmNotes };
  } finally {
    await slotStore.close();
    await store.close();
    await admin.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<string> {
  const measured = revision();
  const redis = newRedis();
  await redis.connect();
  const results = [];
  try {
    for (const kind of STORES) results.push(await measure(kind, redis));
  } finally {
    for (const key of await redis.keys(`${prefix}*`)) await redis.del(key);
    await redis.close();
  }
  const peer = PEER ? await bullmqStalled(OVERDUE, TINY ? 1 : RUNS) : null;
  const peerRate = peer === null ? NaN : (OVERDUE * 1000) / peer.p50;
  const rows: string[] = [];
  const notes: string[] = [];
  for (const r of results) {
    rows.push(
      `| ${r.kind} | (a) \`listOverdue\`: a page of ${DEFAULT_PAGE} of the ${fmt(OVERDUE)} overdue among ${fmt(TOTAL)} | ${r.list.n} | ${fmt(r.list.p50, 2)} ms | ${fmt(r.list.max, 2)} ms | | | | |`,
    );
    for (const { page, samples } of r.sweeps) {
      const ms = summarize(samples.map((s) => s.ms));
      const rate = (OVERDUE * 1000) / ms.p50;
      const cpu = summarize(samples.map((s) => s.cpuMs / s.ms));
      const goal = TARGETS[r.kind];
      const undone = samples.some((x) => x.problems.length > 0);
      const verdict = undone
        ? '**not met** (releases left undone, see below)'
        : rate >= goal
          ? 'met'
          : '**not met**';
      rows.push(
        `| ${r.kind} | (b) sweep: end ${fmt(OVERDUE)} + release ${fmt(OVERDUE)} Redis slots, pages of ${fmt(page)} | ${ms.n} | ${fmt(ms.p50)} ms | ${fmt(ms.max)} ms | **${fmt(rate)}/s** | ≥ ${fmt(goal)}/s — ${verdict} | ${fmt(cpu.p50 * 100)} % | ${peer === null ? 'n/a' : `${fmt(rate / peerRate, 2)} ×`} |`,
      );
      for (const note of r.warmNotes)
        if (note.includes(`pages of ${page},`)) notes.push(`- ${note}.`);
      for (const [i, x] of samples.entries())
        for (const problem of x.problems)
          notes.push(`- ${r.kind}, pages of ${fmt(page)}, run ${i + 1}: ${problem}.`);
    }
  }
  return [
    '## Remediation at scale (`bench/remediation.ts`)',
    '',
    ...machineLines(),
    `- Vigil: ${measured}`,
    `- Data: ${fmt(TOTAL)} running executions per store, ${fmt(OVERDUE)} of them overdue (run limit crossed, spread through the table), each overdue one holding a capacity slot in Redis (127.0.0.1:6379) recorded in \`slot_holds\`. SQLite: a file in a temporary directory, WAL, synchronous=NORMAL; PostgreSQL: 127.0.0.1:5432, a fresh schema, pool of 4, default settings. Seeded, then ANALYZE (${results.map((r) => `${r.kind} ${fmt(r.seedMs / 1000, 1)} s`).join(', ')}).`,
    `- Each sweep: \`Sweeper.sweep()\` in this process, no owners, one attempt (each ends \`failed\`, verdict \`run_timeout\`); before each, the overdue rows are re-armed and their slots taken again. One warm-up sweep per page size, then ${RUNS} measured. Every sweep is checked: all ${fmt(OVERDUE)} ended once, ${fmt(OVERDUE)} attempt records, ${fmt(OVERDUE)} audit rows each with its release step, ${fmt(OVERDUE)} holds recorded released, no key left in Redis, the healthy rows still running.`,
    `- Rate = executions ended + slots released per second of the whole sweep (p50). CPU = this process's CPU time ÷ the sweep's wall time (100 % = one core); the rest is waiting for the database and Redis.`,
    peer === null
      ? '- Peer: not run.'
      : `- Peer: BullMQ ${peer.version}'s stalled-job check over ${fmt(OVERDUE)} active jobs whose locks lapsed (maxStalledCount 0: each moved back to wait marked to fail, failed when next fetched), p50 of ${peer.n}: ${fmt(peer.p50)} ms = **${fmt(peerRate)} jobs/s**. It is one Lua script inside Redis with no audit, no attempt history and no second store; Vigil ÷ BullMQ below is the ratio of the two rates.`,
    '',
    '| Store | Measure | Runs | p50 | max | Rate | Target | CPU | Vigil ÷ BullMQ |',
    '| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |',
    ...rows,
    ...(notes.length > 0 ? ['', ...notes] : []),
    ...(results.some((r) => r.profile.length > 0)
      ? [
          '',
          '### Where the sweeping process spends its time',
          '',
          'One more sweep at the default page size under the V8 CPU profiler (node:inspector, 0.5 ms sampling); self time per frame and per area, as shares of the time the process was not idle (idle = waiting for PostgreSQL, SQLite is in-process, Redis).',
          '',
          ...results.flatMap((r) => r.profile),
        ]
      : []),
  ].join('\n');
}

const markdown = await main();
// A tiny run only checks that the benchmark still works: its figures are not kept.
if (TINY) console.log(markdown);
else writeResult('remediation', markdown);
process.exit(0);
