/**
 * Retention at scale: `vigil serve` pruning 1,000,000 ended executions (each with its attempt
 * row) while it detects lost heartbeats, on SQLite and on PostgreSQL.
 *
 * Per store: the database is filled with OLD ended executions (ended 40 days ago, so past the
 * 30-day default), then two servers run the same detection scenario on it — RUNNING executions
 * beating every 500 ms (heartbeat limit 2 s), DROPPED of them stopped — one with
 * `retention.executions: forever` (the baseline: the rows are there, nothing prunes), one pruning
 * (`retention.interval: 1s`, so its first pass starts a second after start). Detection in the
 * second starts once pruning is under way, and the figures say whether it was still under way
 * when the last dropped execution was ended.
 *
 *   overshoot = endedAt − (heartbeatAt + limit)      (as vigil recorded them)
 *   prune rate = rows deleted / seconds from the first pruned row to the last
 *
 * Every figure is measured by this run. Run: npm run build && node --import tsx bench/prune.ts
 * VIGIL_BENCH_SIZE=tiny runs it at a size that only checks it still works.
 */
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { openPostgresStore } from '../src/stores/postgres.js';
import { openSqliteStore } from '../src/stores/sqlite.js';
import type { ExecutionJson } from './lib/common.js';
import {
  call,
  fmt,
  machineLines,
  metric,
  pool,
  register,
  revision,
  sleep,
  startVigil,
  summarize,
  writeResult,
} from './lib/common.js';

const TINY = process.env.VIGIL_BENCH_SIZE === 'tiny';
const OLD = TINY ? 5_000 : 1_000_000;
const RUNNING = TINY ? 100 : 2_000;
const DROPPED = TINY ? 10 : 100;
const LIMIT_MS = 2_000;
const BEAT_EVERY_MS = 500;
const BATCH = 500;
const REGISTER_CHUNK = 250;
const STEADY_MS = TINY ? 1_000 : 3_000;
const DAY = 86_400_000;
const POSTGRES_URL =
  process.env.VIGIL_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

type Kind = 'sqlite' | 'postgres';

interface Database {
  url: string;
  close: () => Promise<void>;
}

/** A migrated store holding OLD ended executions and their attempts, written by SQL in bulk. */
async function fill(kind: Kind): Promise<Database & { fillMs: number }> {
  const endedAt = Date.now() - 40 * DAY;
  const started = performance.now();
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-prune-'));
    const file = join(dir, 'vigil.db');
    const store = openSqliteStore(file);
    await store.migrate();
    await store.close();
    const db = new BetterSqlite3(file);
    db.pragma('journal_mode = WAL');
    db.exec(`
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${OLD})
      INSERT INTO executions (id, kind, status, attempt, started_at, ended_at, verdict, ended_by, created_at)
      SELECT 'old-' || i, 'old', 'failed', 1, ${endedAt - 60_000}, ${endedAt} + i, 'run_timeout', 'watchdog', ${endedAt - 60_000} FROM n;
      INSERT INTO attempts (execution_id, attempt, status, started_at, ended_at, verdict, ended_by)
      SELECT id, 1, status, started_at, ended_at, verdict, ended_by FROM executions WHERE kind = 'old';`);
    db.close();
    return {
      url: `sqlite:${file}`,
      fillMs: performance.now() - started,
      close: () => Promise.resolve(rmSync(dir, { recursive: true, force: true })),
    };
  }
  const schema = `vigil_bench_prune_${String(process.pid)}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`);
  const store = openPostgresStore(POSTGRES_URL, { schema });
  await store.migrate();
  await store.close();
  await admin.query(`SET search_path = ${schema};
    INSERT INTO executions (id, kind, status, attempt, started_at, ended_at, verdict, ended_by, created_at)
    SELECT 'old-' || i, 'old', 'failed', 1, ${endedAt - 60_000}, ${endedAt} + i, 'run_timeout', 'watchdog', ${endedAt - 60_000}
      FROM generate_series(1, ${OLD}) AS i;
    INSERT INTO attempts (execution_id, attempt, status, started_at, ended_at, verdict, ended_by)
    SELECT id, 1, status, started_at, ended_at, verdict, ended_by FROM executions WHERE kind = 'old';
    ANALYZE executions; ANALYZE attempts;`);
  return {
    url: `${POSTGRES_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`,
    fillMs: performance.now() - started,
    close: async () => {
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    },
  };
}

interface Run {
  overshoot: ReturnType<typeof summarize>;
  falsePositives: number;
  notEnded: number;
  /** Rows pruned when the drop happened and when the last dropped execution had been ended. */
  prunedAtDrop: number;
  prunedAtDetection: number;
  /** For the pruning server: rows deleted per second, from the first seen to the last. */
  prunePerSecond: number | null;
}

/** Beats `ids` in batches every 500 ms until stopped; returns the stopper. */
function beat(url: string, ids: () => readonly string[]): () => Promise<void> {
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const all = ids();
      const batches = [];
      for (let i = 0; i < all.length; i += BATCH) batches.push(all.slice(i, i + BATCH));
      await pool(batches, 4, (batch) =>
        call(url, 'POST', '/v1/heartbeats', { beats: batch.map((id) => ({ id, attempt: 1 })) }),
      );
      await sleep(BEAT_EVERY_MS);
    }
  })();
  return async () => {
    stopped = true;
    await loop;
  };
}

async function scenario(kind: Kind, url: string, pruning: boolean, tag: string): Promise<Run> {
  const retention = pruning
    ? 'retention:\n  interval: 1s\n'
    : 'retention:\n  executions: forever\n';
  const vigil = await startVigil(`sweep:\n  interval: 1s\n${retention}`, {
    VIGIL_DATABASE_URL: url,
  });
  const pruned = async () =>
    metric((await call<string>(vigil.url, 'GET', '/metrics')).body, 'vigil_pruned_rows_total');
  try {
    const ids = Array.from({ length: RUNNING }, (_, i) => `${tag}-${String(i)}`);
    const dropped = new Set(ids.filter((_, i) => i % (RUNNING / DROPPED) === 0));
    // Each chunk is beaten as soon as it is registered: registering them all first left the first
    // ones without a beat for longer than the limit whenever registration took over 2 s.
    let beating: readonly string[] = [];
    const stop = beat(vigil.url, () => beating);
    for (let i = 0; i < ids.length; i += REGISTER_CHUNK) {
      const chunk = ids.slice(i, i + REGISTER_CHUNK);
      await register(vigil.url, chunk, { heartbeat: LIMIT_MS, run: null, progress: null });
      beating = [...beating, ...chunk];
    }
    await sleep(STEADY_MS);
    let first = { at: 0, rows: 0 };
    if (pruning) {
      while (first.rows === 0) first = { at: Date.now(), rows: await pruned() };
    }
    const prunedAtDrop = await pruned();
    beating = ids.filter((id) => !dropped.has(id));
    const deadline = Date.now() + 60_000;
    let ended: ExecutionJson[] = [];
    while (Date.now() < deadline) {
      const answers = await pool([...dropped], 16, (id) =>
        call<ExecutionJson>(vigil.url, 'GET', `/v1/executions/${id}`),
      );
      ended = answers.map((a) => a.body).filter((e) => e.endedAt !== null);
      if (ended.length === dropped.size) break;
      await sleep(200);
    }
    const prunedAtDetection = await pruned();
    await sleep(LIMIT_MS); // beats keep going: a healthy execution ended meanwhile is a false positive
    // Read while the beats still go: after they stop, a read slower than the limit (a busy
    // machine, 1,900 reads) would find healthy executions rightly ended and count them.
    const healthy = await pool(beating, 16, (id) =>
      call<ExecutionJson>(vigil.url, 'GET', `/v1/executions/${id}`),
    );
    await stop();
    // The healthy executions are ended here, so the next scenario on this database starts with
    // nothing overdue: left running, they would be a backlog of lost heartbeats for the next
    // server to end first, ahead of the drop it measures.
    await pool(beating, 16, (id) =>
      call(vigil.url, 'POST', `/v1/executions/${id}/complete`, { attempt: 1 }),
    );
    const overshoot = ended.map(
      (e) => Date.parse(e.endedAt ?? '') - (Date.parse(e.heartbeatAt ?? '') + LIMIT_MS),
    );
    let prunePerSecond: number | null = null;
    if (pruning) {
      while ((await pruned()) < OLD) await sleep(100);
      prunePerSecond = ((OLD - first.rows) * 1000) / (Date.now() - first.at);
    }
    return {
      overshoot: summarize(overshoot),
      falsePositives: healthy.filter((a) => a.body.status !== 'running').length,
      notEnded: dropped.size - ended.length,
      prunedAtDrop,
      prunedAtDetection,
      prunePerSecond,
    };
  } finally {
    await vigil.stop();
  }
}

async function measure(kind: Kind) {
  console.log(`\n${kind}: filling ${fmt(OLD)} ended executions`);
  const db = await fill(kind);
  try {
    const baseline = await scenario(kind, db.url, false, 'base');
    console.log(`${kind}: baseline p99 ${fmt(baseline.overshoot.p99)} ms; now pruning`);
    const started = Date.now();
    const pruning = await scenario(kind, db.url, true, 'prune');
    const wall = (Date.now() - started) / 1000;
    return { kind, fillMs: db.fillMs, baseline, pruning, wall };
  } finally {
    await db.close();
  }
}

// One store at a time, so each has the machine to itself; a tiny run only checks that both still
// work, so it runs them side by side (each on its own database and servers).
const results = TINY
  ? await Promise.all([measure('sqlite'), measure('postgres')])
  : [await measure('sqlite'), await measure('postgres')];
const row = (label: string, run: Run) =>
  `| ${label} | ${fmt(run.overshoot.p50)} | ${fmt(run.overshoot.p99)} | ${fmt(run.overshoot.max)} | ${run.notEnded} | ${run.falsePositives} | ${fmt(run.prunedAtDrop)} → ${fmt(run.prunedAtDetection)} |`;
const lines = [
  `## Retention: pruning ${fmt(OLD)} ended executions under detection (\`bench/prune.ts\`)`,
  '',
  ...machineLines(),
  `- revision ${revision()}; ${fmt(RUNNING)} running executions beating every ${BEAT_EVERY_MS} ms (heartbeat limit ${LIMIT_MS} ms), ${DROPPED} dropped; batches of 1,000 rows`,
  '',
  '| store, server | overshoot p50 ms | p99 ms | max ms | not ended | false positives | rows pruned at drop → at detection |',
  '|---|---|---|---|---|---|---|',
  ...results.flatMap((r) => [
    row(`${r.kind}, not pruning`, r.baseline),
    row(`${r.kind}, pruning`, r.pruning),
  ]),
  '',
  ...results.map(
    (r) =>
      `- ${r.kind}: filled in ${fmt(r.fillMs / 1000, 1)} s; the pruning server deleted ${fmt(r.pruning.prunePerSecond ?? NaN)} executions/s (each with its attempt row), ${fmt(r.wall, 1)} s for its whole scenario.`,
  ),
];
// At the tiny size the run only proves the benchmark still works: its figures are not kept.
if (TINY) console.log(lines.join('\n'));
else writeResult('prune', lines.join('\n'));
