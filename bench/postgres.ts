/**
 * PostgreSQL at scale (the local server, 127.0.0.1:5432, database `test`, a fresh schema):
 *
 * (a) finding overdue executions among 1,000,000 running ones (1,000 overdue): `listOverdue`, and
 *     the plan PostgreSQL chooses;
 * (b) remediation throughput: full sweeps ending those 1,000 executions and releasing the Redis
 *     capacity slot each one holds (executions ended + slots released per second).
 * Batched heartbeat ingest on PostgreSQL is measured in bench/heartbeat-ingest.ts.
 *
 * Every figure is measured by this run. Run: npm run build && node --import tsx bench/postgres.ts
 * (10,000 overdue among 1,000,000 with their slots are measured on both stores by
 * bench/remediation.ts). VIGIL_BENCH_SIZE=tiny runs it at a size that only checks it still works.
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { createClient } from 'redis';
import { parseConfig } from '../src/config.js';
import { FakeClock } from '../src/runtime/clock.js';
import { EventBus } from '../src/runtime/events.js';
import { Slots } from '../src/runtime/slots.js';
import { Sweeper } from '../src/runtime/sweep.js';
import { openPostgresStore } from '../src/stores/postgres.js';
import { openRedisSlotStore } from '../src/stores/redis-slots.js';
import { benchSize, fmt, machineLines, revision, summarize, writeResult } from './lib/common.js';
import { requireServices } from './lib/services.js';

const POSTGRES_URL =
  process.env.VIGIL_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.VIGIL_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const TINY = benchSize() === 'tiny';
const TOTAL = TINY ? 10_000 : 1_000_000;
const OVERDUE = TINY ? 100 : 1_000;
const STRIDE = TOTAL / OVERDUE;
const LIST_WARMUP = TINY ? 1 : 5;
const LIST_RUNS = TINY ? 3 : 30;
const SWEEP_RUNS = TINY ? 1 : 5;
const TARGET_FIND_MS = 50;

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);
const NOW = T0 + 2 * HOUR;
const schema = `vigil_bench_${Date.now().toString(36)}`;
const prefix = `vigil-bench:${schema}:`;

async function main(): Promise<string> {
  const measured = revision();
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  const redis = createClient({ url: REDIS_URL });
  await redis.connect();
  const store = openPostgresStore(POSTGRES_URL, { schema, poolSize: 4 });
  try {
    await store.migrate();
    const seedStarted = performance.now();
    // Healthy rows: a 24 h run limit from T0 (deadline after NOW); every STRIDE-th row: 15 min.
    await admin.query(`SET search_path = ${schema}`);
    await admin.query(
      `INSERT INTO executions (id, kind, status, attempt, queued_at, started_at, deadline_at,
         limit_run, metadata, termination_failures, created_at)
       SELECT 'exec-' || lpad(i::text, 7, '0'), 'bench', 'running', 1, $1::bigint, $1::bigint,
         $1::bigint + CASE WHEN i % ${STRIDE} = 0 THEN 900000 + i ELSE ${24 * HOUR} END,
         CASE WHEN i % ${STRIDE} = 0 THEN 900000 + i ELSE ${24 * HOUR} END, '{}', 0, $1::bigint
       FROM generate_series(0, ${TOTAL - 1}) AS i`,
      [T0],
    );
    await admin.query('ANALYZE executions');
    const seedMs = performance.now() - seedStarted;

    // (a) Finding the overdue rows.
    const clock = new FakeClock(NOW);
    const listSamples: number[] = [];
    for (let i = 0; i < LIST_WARMUP + LIST_RUNS; i++) {
      const started = performance.now();
      const rows = await store.listOverdue(NOW, OVERDUE);
      const elapsed = performance.now() - started;
      if (rows.length !== OVERDUE) throw new Error(`found ${rows.length}, expected ${OVERDUE}`);
      if (i >= LIST_WARMUP) listSamples.push(elapsed);
    }
    const compiled = store.overdueQuery(NOW, OVERDUE).compile();
    const plan = (
      await admin.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN ${compiled.sql}`,
        compiled.parameters as unknown[],
      )
    ).rows.map((r) => r['QUERY PLAN']);

    // (b) Sweeps ending the 1,000 overdue executions and releasing their Redis slots.
    const slotStore = await openRedisSlotStore(REDIS_URL, { keyPrefix: prefix });
    const config = parseConfig({ sweep: { batchSize: 500 } });
    const rearm = async () => {
      await admin.query(
        `UPDATE executions SET status = 'running', ended_at = NULL, reason = NULL, verdict = NULL,
           ended_by = NULL, deadline_at = started_at + limit_run
         WHERE limit_run < ${24 * HOUR}`,
      );
      await admin.query('DELETE FROM attempts; DELETE FROM remediations; DELETE FROM slot_holds;');
      await admin.query(
        `INSERT INTO slot_holds (execution_id, attempt, slot, acquired_at)
         SELECT id, 1, 'agent:' || id || ':capacity', started_at FROM executions
         WHERE limit_run < ${24 * HOUR}`,
      );
      const ids = Array.from(
        { length: OVERDUE },
        (_, k) => `exec-${String(k * STRIDE).padStart(7, '0')}`,
      );
      await Promise.all(ids.map((id) => redis.set(`${prefix}agent:${id}:capacity`, `1:${id}`)));
    };
    const sweepSamples: number[] = [];
    for (let run = 0; run < SWEEP_RUNS; run++) {
      await rearm();
      const slots = new Slots(store, slotStore, clock);
      const sweeper = new Sweeper({ store, clock, config, events: new EventBus(), slots });
      const started = performance.now();
      const result = await sweeper.sweep();
      const elapsed = performance.now() - started;
      if (result.kind !== 'completed') throw new Error('sweep skipped');
      const { counts } = result.report;
      if (counts.remediated !== OVERDUE || counts.slots_released !== OVERDUE) {
        throw new Error(`sweep ${run + 1}: ${JSON.stringify(counts)}`);
      }
      const left = (await redis.keys(`${prefix}*`)).length;
      if (left !== 0) throw new Error(`sweep ${run + 1}: ${left} slots still held in Redis`);
      sweepSamples.push(elapsed);
    }
    await slotStore.close();

    const list = summarize(listSamples);
    const sweep = summarize(sweepSamples);
    const perSecond = (OVERDUE * 1000) / sweep.p50;
    return [
      '## PostgreSQL at scale (`bench/postgres.ts`)',
      '',
      ...machineLines(),
      `- Vigil: ${measured}`,
      `- PostgreSQL: ${(await admin.query<{ v: string }>('SELECT version() AS v')).rows[0]!.v.split(',')[0]}, local, default settings; Redis on 127.0.0.1`,
      `- Data: ${fmt(TOTAL)} running executions (${fmt(OVERDUE)} overdue, spread through the table), seeded in ${fmt(seedMs / 1000, 1)} s, then ANALYZE`,
      '',
      '| Measure | Runs | p50 | p90 | Target |',
      '| --- | ---: | ---: | ---: | --- |',
      `| (a) \`listOverdue\`: find the ${fmt(OVERDUE)} overdue of ${fmt(TOTAL)} | ${list.n} | ${fmt(list.p50, 2)} ms | ${fmt(list.p90, 2)} ms | < ${TARGET_FIND_MS} ms — ${list.p90 < TARGET_FIND_MS ? 'met' : '**missed**'} |`,
      `| (b) full sweep: end ${fmt(OVERDUE)} + release ${fmt(OVERDUE)} Redis slots (pages of 500) | ${sweep.n} | ${fmt(sweep.p50)} ms | ${fmt(sweep.p90)} ms | — |`,
      `| (b) remediation throughput at p50 | | **${fmt(perSecond)} executions ended + slots released / s** | | — |`,
      '',
      'Plan of the overdue query (`EXPLAIN`):',
      '',
      '```',
      ...plan,
      '```',
    ].join('\n');
  } finally {
    await store.close();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await admin.end();
    for (const key of await redis.keys(`${prefix}*`)) await redis.del(key);
    await redis.close();
  }
}

await requireServices('postgres', ['postgres', 'redis']);
writeResult('postgres', await main());
