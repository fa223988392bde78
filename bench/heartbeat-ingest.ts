/**
 * Heartbeat ingest through the real service, on each store: `node bin/vigil.js serve` in one
 * process, autocannon in another, both on this machine (they share its cores).
 *
 * SQLite (WAL, a temporary directory): 2,000 running executions registered over the API
 * (heartbeat limit 1 h, so nothing is ended), then (a) single beats,
 * POST /v1/executions/:id/heartbeat, cycling over the ids, and (b) batches, POST /v1/heartbeats
 * with 500 beats per request, 10 connections.
 *
 * PostgreSQL (127.0.0.1:5432, database `test`, a fresh schema): 20,000 running executions, then
 * (c) batches of 500 over all of them (40 distinct slices, so the 10 connections rarely carry the
 * same rows at once: runners beat their own executions), and (c') the same over the first 2,000
 * (4 slices: concurrent batches carry the same rows and contend for their row locks).
 *
 * Every figure is measured by this run; a run with any non-2xx answer, connection error or lost
 * beat is reported as invalid. Then each row is repeated on a fresh server and database under
 * `node --cpu-prof`, and the profile is summarised beside the figures.
 *
 * Run: npm run build && node --import tsx bench/heartbeat-ingest.ts
 * VIGIL_BENCH_SIZE=tiny runs it at a size that only checks it still works (prints, keeps nothing).
 * VIGIL_BENCH_STORES=postgres (or sqlite) runs one store only (prints, keeps nothing).
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { POSTGRES_BEATS } from '../src/stores/ops/heartbeat.js';
import type { ExtendJob, ExtendResult } from './lib/bullmq-extend.js';
import { beatsPerSecond, drive, invalid, isType, pct, type Measured } from './lib/drive.js';
import { summarizeProfile } from './lib/profile.js';
import {
  benchDir,
  call,
  cpuSeconds,
  exited,
  fmt,
  listAll,
  machineLines,
  message,
  metric,
  pool,
  problems,
  revision,
  spawnTs,
  startVigil,
  writeResult,
} from './lib/common.js';
import { benchSchema } from './lib/bench-schema.js';

const TINY = process.env.VIGIL_BENCH_SIZE === 'tiny';
const PROFILE = process.env.VIGIL_BENCH_PROFILE !== '0' && !TINY;
const ONLY = process.env.VIGIL_BENCH_STORES;
const POSTGRES_URL =
  process.env.VIGIL_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const BATCH = 500;
const WARMUP_SECONDS = TINY ? 1 : 2;
const DURATION_SECONDS = TINY ? 1 : 10;
const PROFILE_SECONDS = 5;
const YAML = 'sweep:\n  interval: 1s\n';
const run = `${Date.now().toString(36)}${process.pid}`;

type Store = 'sqlite' | 'postgres';

/** One measured row: a mode over the first `executions` ids of its store's server. */
interface Case {
  label: string;
  store: Store;
  mode: 'single' | 'batch';
  executions: number;
  connections: number;
  target: number;
  /** How the ids are cycled over, for the table. */
  load: string;
}

const ALL_CASES: Case[] = [
  {
    label: '(a) single `POST /v1/executions/:id/heartbeat`',
    store: 'sqlite',
    mode: 'single',
    executions: TINY ? 1_000 : 2_000,
    connections: 50,
    target: 5_000,
    load: 'cycling over all ids',
  },
  {
    label: `(b) batch \`POST /v1/heartbeats\` × ${BATCH}`,
    store: 'sqlite',
    mode: 'batch',
    executions: TINY ? 1_000 : 2_000,
    connections: 10,
    target: 50_000,
    load: 'fixed slices of 500 ids',
  },
  {
    label: `(c) batch \`POST /v1/heartbeats\` × ${BATCH}`,
    store: 'postgres',
    mode: 'batch',
    executions: TINY ? 2_000 : 20_000,
    connections: 10,
    target: 40_000,
    load: 'fixed slices of 500 ids',
  },
  {
    label: `(c') batch × ${BATCH}, contended (concurrent batches carry the same rows)`,
    store: 'postgres',
    mode: 'batch',
    executions: TINY ? 1_000 : 2_000,
    connections: 10,
    target: 20_000,
    load: 'fixed slices of 500 ids',
  },
];
const CASES = ALL_CASES.filter((c) => ONLY === undefined || c.store === ONLY);

const idsOf = (count: number) =>
  Array.from({ length: count }, (_, i) => `ingest-${String(i).padStart(5, '0')}`);

/** A fresh database of `store` for one server: its environment and how to drop it. */
async function database(
  store: Store,
  name: string,
): Promise<{
  env: Record<string, string>;
  drop: () => Promise<void>;
  /** PostgreSQL: CPU-seconds used so far by each backend serving this server, by process id. */
  backends?: () => Promise<Map<number, number>>;
  /** PostgreSQL: how the heartbeat statement runs on this database, rolled back. */
  explain?: (ids: string[]) => Promise<string[]>;
}> {
  if (store === 'sqlite') return { env: {}, drop: async () => undefined };
  const { schema, admin, env, drop } = await benchSchema(`beats_${run}`, name, {
    tagConnections: true,
  });
  return {
    env,
    drop,
    backends: async () => {
      const { rows } = await admin.query<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE application_name = $1',
        [schema],
      );
      return new Map(rows.map((r) => [r.pid, cpuSeconds(r.pid) ?? 0]));
    },
    explain: async (ids) => {
      await admin.query(`BEGIN; SET LOCAL search_path = ${schema}`);
      try {
        const plan = await admin.query<{ 'QUERY PLAN': string }>(
          `EXPLAIN (ANALYZE, BUFFERS, WAL, COSTS OFF) ${POSTGRES_BEATS}`,
          [Date.now(), ids, ids.map(() => 1), ids.map(() => false), ids.map(() => null)],
        );
        const table = await admin.query<{ upd: string; hot: string }>(
          `SELECT n_tup_upd AS upd, n_tup_hot_upd AS hot FROM pg_stat_user_tables
           WHERE schemaname = $1 AND relname = 'executions'`,
          [schema],
        );
        const indexes = await admin.query<{ name: string }>(
          `SELECT indexname AS name FROM pg_indexes WHERE schemaname = $1 AND tablename = 'executions'`,
          [schema],
        );
        const t = table.rows[0];
        return [
          `Rows updated in \`executions\` during the runs: ${t ? fmt(Number(t.upd)) : '?'}, of which HOT (no index entries written): ${t ? fmt(Number(t.hot)) : '?'}. Indexes on \`executions\`: ${indexes.rows.map((r) => `\`${r.name}\``).join(', ')}.`,
          '',
          `One batch of ${fmt(ids.length)} beats, \`EXPLAIN (ANALYZE, BUFFERS, WAL)\` of the statement the store runs (src/stores/ops/heartbeat.ts), rolled back:`,
          '',
          '```',
          ...plan.rows.map((r) => r['QUERY PLAN']),
          '```',
        ];
      } finally {
        await admin.query('ROLLBACK');
      }
    },
  };
}

/** Registers `ids` as running executions (heartbeat limit 1 h) in batches of 500, 4 in flight. */
async function registerAll(url: string, ids: string[]): Promise<void> {
  const slices: string[][] = [];
  for (let i = 0; i < ids.length; i += BATCH) slices.push(ids.slice(i, i + BATCH));
  await pool(slices, 4, async (slice) => {
    const answer = await call<{ results: { error?: unknown }[] }>(
      url,
      'POST',
      '/v1/executions/batch',
      {
        executions: slice.map((id) => ({
          id,
          kind: 'bench',
          status: 'running',
          limits: { heartbeat: '1h', run: null, progress: null },
        })),
      },
    );
    const failed = answer.body.results?.filter((r) => r.error !== undefined) ?? [];
    if (answer.status !== 200 || failed.length > 0) {
      throw new Error(`registering: HTTP ${answer.status} ${JSON.stringify(failed[0] ?? answer)}`);
    }
  });
}

/** A server on a fresh database of `store`, with `count` running executions; under --cpu-prof in `profileDir`. */
async function serve(store: Store, name: string, count: number, profileDir?: string) {
  const db = await database(store, name);
  const previous = process.env.VIGIL_BENCH_NODE_ARGS;
  if (profileDir) process.env.VIGIL_BENCH_NODE_ARGS = `--cpu-prof --cpu-prof-dir=${profileDir}`;
  const vigil = await startVigil(YAML, db.env).catch(async (error: unknown) => {
    await db.drop();
    throw error;
  });
  if (previous === undefined) delete process.env.VIGIL_BENCH_NODE_ARGS;
  else process.env.VIGIL_BENCH_NODE_ARGS = previous;
  const ids = idsOf(count);
  const started = performance.now();
  try {
    await registerAll(vigil.url, ids);
  } catch (error) {
    await vigil.stop();
    await db.drop();
    throw error;
  }
  const registerMs = performance.now() - started;
  return {
    vigil,
    ids,
    registerMs,
    explain: db.explain,
    backends: db.backends,
    stop: async () => {
      await vigil.stop();
      await db.drop();
    },
  };
}

const isExtended = isType<{ type: 'result'; result: ExtendResult }>('result');

/**
 * The peer, BullMQ: a worker's lock renewal (`extendLocks`, one script call for many active jobs)
 * over as many jobs as the row has executions, in calls of the same size, as many in flight.
 */
async function bullmq(c: Case): Promise<ExtendResult> {
  const child = spawnTs('lib/bullmq-extend.ts');
  try {
    await message(child, isType('ready'), 30_000, 'BullMQ load start');
    const answer = message(child, isExtended, 600_000, 'BullMQ extendLocks');
    child.send({
      queue: `vigil-bench-beats-${run}-${c.executions}`,
      jobs: c.executions,
      batchSize: BATCH,
      inFlight: c.connections,
      seconds: DURATION_SECONDS,
    } satisfies ExtendJob);
    return (await answer).result;
  } finally {
    await exited(child, 30_000);
  }
}

const jobOf = (c: Case, ids: string[], durationSeconds: number) => ({
  ids: ids.slice(0, c.executions),
  batchSize: BATCH,
  mode: c.mode,
  connections: c.connections,
  durationSeconds,
});

interface StoreRun {
  store: Store;
  executions: number;
  registerMs: number;
  rows: { c: Case; m: Measured; pgCpu: number | null }[];
  serverOk: number;
  serverLost: number;
  running: number;
  health: string;
  logs: { count: number; sample: string[] };
  explained: string[];
}

async function measureStore(store: Store, cases: Case[]): Promise<StoreRun> {
  const executions = Math.max(...cases.map((c) => c.executions));
  const server = await serve(store, 'main', executions);
  const { vigil, ids } = server;
  try {
    console.log(`${store}: registered ${fmt(executions)} in ${fmt(server.registerMs)} ms`);
    for (const c of cases) {
      console.log(`${store}: warm-up ${c.label}, ${WARMUP_SECONDS} s`);
      await drive(vigil.url, vigil.pid, jobOf(c, ids, WARMUP_SECONDS));
    }
    const metricsBefore = await call<string>(vigil.url, 'GET', '/metrics');
    const rows: StoreRun['rows'] = [];
    for (const c of cases) {
      console.log(`${store}: ${c.label}, ${DURATION_SECONDS} s`);
      const before = await server.backends?.();
      const m = await drive(vigil.url, vigil.pid, jobOf(c, ids, DURATION_SECONDS));
      const after = await server.backends?.();
      let pgCpu: number | null = null;
      if (before && after) {
        pgCpu = 0;
        for (const [pid, seconds] of after) pgCpu += seconds - (before.get(pid) ?? 0);
        pgCpu /= m.result.durationSeconds;
      }
      rows.push({ c, m, pgCpu });
    }
    // Cross-checks through the API: the server counted the beats, and nothing was ended.
    const after = await call<string>(vigil.url, 'GET', '/metrics');
    const counted = (outcome: string) =>
      metric(after.body, 'vigil_heartbeats_total', `outcome="${outcome}"`) -
      metric(metricsBefore.body, 'vigil_heartbeats_total', `outcome="${outcome}"`);
    const health = await call<{ status: string }>(vigil.url, 'GET', '/healthz');
    const logs = problems(vigil.logLines());
    const explained = server.explain ? await server.explain(ids.slice(0, BATCH)) : [];
    return {
      store,
      executions,
      registerMs: server.registerMs,
      rows,
      serverOk: counted('ok'),
      serverLost: counted('lost'),
      running: (await listAll(vigil.url, 'running')).length,
      health: `${health.status} ${health.body.status}`,
      logs,
      explained,
    };
  } finally {
    await server.stop();
  }
}

/** The case repeated on a fresh server and database under --cpu-prof: its summary lines. */
async function profileOf(c: Case, index: number): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-prof-'));
  const title = `${c.store}, ${c.label}, over ${fmt(c.executions)} executions`;
  try {
    const server = await serve(c.store, `prof${index}`, c.executions, dir);
    try {
      await drive(server.vigil.url, server.vigil.pid, jobOf(c, server.ids, PROFILE_SECONDS));
    } finally {
      await server.stop();
    }
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    return file
      ? summarizeProfile(join(dir, file), title)
      : [`#### ${title}`, '', 'No profile was written.', ''];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function verdict(c: Case, m: Measured): string {
  const bad = invalid(m);
  if (bad.length > 0) return '**invalid**';
  return beatsPerSecond(m) >= c.target ? 'met' : '**missed**';
}

function row(c: Case, m: Measured, pgCpu: number | null, peer?: ExtendResult): string {
  const r = m.result;
  const rate = beatsPerSecond(m);
  const peerRate = peer ? peer.extended / peer.seconds : null;
  const versus =
    peerRate === null
      ? '— | —'
      : `${fmt(peerRate)}${peer?.failed ? ` (**${fmt(peer.failed)} failed**)` : ''} | ${fmt(rate / peerRate, 2)} ×`;
  const perBeat = (share: number | null) =>
    share === null || rate === 0 ? 'n/a' : fmt((share * 1e6) / rate, 1);
  return `| ${c.store} | ${c.label} | ${fmt(c.executions)} | ${m.connections} | ${fmt(r.durationSeconds, 1)} | ${fmt(r.ok2xx)} | ${fmt(r.ok2xx / r.durationSeconds)} | **${fmt(beatsPerSecond(m))}** | ≥ ${fmt(c.target)} — ${verdict(c, m)} | ${fmt(r.latency.p50, 1)} | ${fmt(r.latency.p99, 1)} | ${fmt(r.latency.max)} | ${r.non2xx} | ${r.errors} | ${pct(m.serverCpu)} | ${perBeat(m.serverCpu)} | ${pct(pgCpu)} | ${perBeat(pgCpu)} | ${pct(m.loadCpu)} | ${versus} |`;
}

function notesOf(runs: StoreRun[]): string[] {
  const notes: string[] = [];
  for (const s of runs) {
    for (const { c, m } of s.rows) {
      const bad = invalid(m);
      const rate = beatsPerSecond(m);
      const name = `${s.store} ${c.label.split(' ')[0]}`;
      if (bad.length > 0) notes.push(`- **${name}: the figure is invalid**: ${bad.join('; ')}.`);
      else if (rate < c.target)
        notes.push(
          `- **${name}: target missed**: ${fmt(rate)} beats/s measured, target ≥ ${fmt(c.target)} beats/s (${fmt((rate / c.target) * 100)} % of it).`,
        );
      else notes.push(`- ${name}: target met (${fmt(rate)} ≥ ${fmt(c.target)} beats/s).`);
    }
    const clientOk = s.rows.reduce((sum, { m }) => sum + m.result.okBeats, 0);
    notes.push(
      `- ${s.store}: beats the server counted as accepted during the measured runs (\`vigil_heartbeats_total{outcome="ok"}\`): ${fmt(s.serverOk)}; beats the load generator saw accepted: ${fmt(clientOk)} (the server also counts answers to requests still in flight when autocannon stopped); lost: ${fmt(s.serverLost)}. After the runs: ${fmt(s.running)} of ${fmt(s.executions)} executions still running${s.running === s.executions ? '' : ' — **some were ended during the benchmark**'}; \`/healthz\` answered ${s.health}; server output at warn or above (incl. Node warnings): ${s.logs.count}${s.logs.sample.length > 0 ? ` — ${s.logs.sample.map((x) => `\`${x}\``).join(', ')}` : ''}.`,
    );
  }
  return notes;
}

async function main(): Promise<string> {
  const measured = revision();
  const runs: StoreRun[] = [];
  for (const store of ['sqlite', 'postgres'] as const) {
    const cases = CASES.filter((c) => c.store === store);
    if (cases.length > 0) runs.push(await measureStore(store, cases));
  }
  const peers = new Map<number, ExtendResult>();
  for (const c of CASES) {
    if (c.mode !== 'batch' || peers.has(c.executions)) continue;
    console.log(`BullMQ extendLocks over ${fmt(c.executions)} jobs, ${DURATION_SECONDS} s`);
    peers.set(c.executions, await bullmq(c));
  }
  const profiles: string[] = [];
  if (PROFILE) {
    for (const [i, c] of CASES.entries()) {
      console.log(`profile: ${c.store} ${c.label}, ${PROFILE_SECONDS} s`);
      profiles.push(...(await profileOf(c, i)));
    }
  }
  const { version: bullmqVersion } = (
    await import('bullmq/package.json', { with: { type: 'json' } })
  ).default as { version: string };
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  const postgresVersion = (await admin.query<{ v: string }>('SELECT version() AS v')).rows[0]!.v;
  await admin.end();

  return [
    '## Heartbeat ingest over HTTP (`bench/heartbeat-ingest.ts`)',
    '',
    ...machineLines(),
    `- Vigil: ${measured}`,
    `- Server: \`node bin/vigil.js serve --port 0\`, no tokens, \`sweep: { interval: 1s }\`; SQLite (WAL) in a temporary directory, or ${postgresVersion.split(',')[0]} on 127.0.0.1 (default settings, a fresh schema, Vigil's default pool of 10 connections)`,
    `- Data: per store, running executions registered over the API (\`POST /v1/executions/batch\`, heartbeat limit 1 h, no run limit): ${runs.map((s) => `${s.store} ${fmt(s.executions)} in ${fmt(s.registerMs)} ms`).join(', ')}; every beat is \`{attempt: 1}\` for one of them`,
    `- Load: autocannon 8 (programmatic API) in a separate Node process, pipelining 1; ${WARMUP_SECONDS} s warm-up of each row (not counted), then ${DURATION_SECONDS} s per row; single beats cycle over all the row's ids; batches cycle over the row's fixed slices of ${BATCH} ids (2,000 ids: 4 slices, so the 10 connections send the same rows at once; 20,000 ids: 40 slices)`,
    '',
    '| Store | Mode | Executions | Conns | Seconds | 2xx requests | Requests/s | Beats/s | Target | p50 (ms) | p99 (ms) | Max (ms) | Non-2xx | Errors | Server CPU | Server µs/beat | PostgreSQL CPU | PostgreSQL µs/beat | Load-gen CPU | BullMQ locks renewed/s | Vigil ÷ BullMQ |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...runs.flatMap((s) =>
      s.rows.map(({ c, m, pgCpu }) =>
        row(c, m, pgCpu, c.mode === 'batch' ? peers.get(c.executions) : undefined),
      ),
    ),
    '',
    'Beats/s = 2xx requests × beats per request ÷ measured seconds. Latency is autocannon’s per-request latency (2xx answers only). CPU columns are CPU-seconds per wall-second (100 % = one core) during the measured run: of the server process, of the PostgreSQL backends serving it (found by their `application_name`; PostgreSQL’s WAL writer, checkpointer and background writer are not counted), and of the load generator; µs/beat is that CPU time per accepted beat (less sensitive to what else runs on the machine than beats/s); the load generator, the server and PostgreSQL share the machine’s cores (see the load average above).',
    `Peer: BullMQ ${bullmqVersion} on Redis 127.0.0.1:6379, in its own process: the lock renewal a worker runs for its active jobs (\`extendLocks\`, one script call per ${BATCH} jobs: check each lock's token, extend the lock, clear the job from the stalled set), ${DURATION_SECONDS} s over as many active jobs as the row has executions (added with \`addBulk\`, taken with \`Worker.getNextJob\`, each with its own token), cycling over fixed slices of ${BATCH} with as many calls in flight as the row has connections; no HTTP server in between. Single beats have no peer here.`,
    '',
    ...notesOf(runs),
    ...runs.flatMap((s) =>
      s.explained.length > 0
        ? ['', `### Where ${s.store} spends its time`, '', ...s.explained]
        : [],
    ),
    ...(profiles.length > 0
      ? [
          '',
          '### Where the server spends its time',
          '',
          `Each row repeated for ${PROFILE_SECONDS} s (no warm-up) on a fresh server and database under \`node --cpu-prof\`; self time per frame and per area, as shares of the time the server was not idle. Time PostgreSQL spends is not in it: on PostgreSQL the server is mostly idle, waiting for its statements.`,
          '',
          ...profiles,
        ]
      : []),
    '',
  ].join('\n');
}

/**
 * The figures from before a change, recorded once under a "### Before:" heading at the end of the
 * result file: kept when the file is rewritten, so the comparison stays beside the new figures.
 */
function keptBefore(): string {
  try {
    const text = readFileSync(join(benchDir, 'results', 'heartbeat-ingest.md'), 'utf8');
    const at = text.indexOf('\n### Before:');
    return at < 0 ? '' : `\n${text.slice(at).trimEnd()}`;
  } catch {
    return '';
  }
}

const markdown = await main();
// A tiny or partial run only checks that the benchmark still works: its figures are not kept.
if (TINY || ONLY !== undefined) console.log(markdown);
else writeResult('heartbeat-ingest', markdown.trimEnd() + keptBefore());
