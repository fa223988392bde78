/**
 * Replicas that add capacity: one `vigil serve` against three, on one PostgreSQL (a fresh schema
 * per set) with their slots in Redis, the same load split evenly across the replicas of a set.
 *
 * (a) Batched heartbeats (`POST /v1/heartbeats`, 500 beats a request) over running executions,
 *     autocannon in one load process per replica (bench/lib/load.ts), each beating the executions
 *     registered through its own replica; the same total connections for one and three.
 * (b) Batched registrations (`POST /v1/executions/batch`, 500 items), one load process per replica
 *     (bench/lib/register-load.ts), the same total count and requests in flight. BullMQ's
 *     `addBulk` from one and from three producer processes on the same Redis is the peer.
 * (c) Detection while three replicas share the work: 10,000 executions (heartbeat limit 2 s)
 *     registered through the replicas in turn and beaten every 500 ms through the replica that
 *     registered them (a beater process per replica, bench/lib/beater.ts); 200 of them stop
 *     beating. Overshoot = endedAt − (heartbeatAt + limit); every other execution must still run.
 *
 * For each measurement: the replicas' CPU, the CPU of the PostgreSQL backends serving them (found
 * by their application_name in pg_stat_activity, read from /proc), of every PostgreSQL process,
 * and of the whole machine, so the result says what saturates. Then (a) and (b) on three replicas
 * are repeated under `node --cpu-prof`, one profile per replica.
 *
 * Run: npm run build && node --import tsx bench/replicas.ts
 * VIGIL_BENCH_SIZE=tiny runs it at a size that only checks it still works (prints, writes nothing).
 * VIGIL_BENCH_PARTS=ingest,detection runs only those parts (prints, writes nothing);
 * VIGIL_BENCH_DUMP=/tmp/replicas writes each detection run's raw data (the dropped executions as
 * read back, every replica's sweeps) to /tmp/replicas-N.json.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { BeaterStats } from './lib/beater.js';
import type { ExecutionJson } from './lib/common.js';
import type { LoadJob, LoadResult } from './lib/load.js';
import type { RegisterJob, RegisterResult } from './lib/register-load.js';
import type { CpuShares, ReplicaSet } from './lib/replica-set.js';
import {
  call,
  exited,
  fmt,
  listAll,
  machineLines,
  message,
  metric,
  pool,
  problems,
  revision,
  sleep,
  spawnTs,
  summarize,
  writeResult,
} from './lib/common.js';
import { isType } from './lib/drive.js';
import { summarizeProfile } from './lib/profile.js';
import {
  POSTGRES_URL,
  loadSideBySide,
  shares,
  snapshot,
  startReplicas,
} from './lib/replica-set.js';
import type { EventStream as Stream } from './lib/event-stream.js';
import { subscribe } from './lib/event-stream.js';

const TINY = process.env.VIGIL_BENCH_SIZE === 'tiny';
const PROFILE = process.env.VIGIL_BENCH_PROFILE !== '0' && !TINY;
const SETS = [1, 3] as const;
/** VIGIL_BENCH_PARTS=detection (or ingest, bullmq, profile; comma-separated): only those parts. */
const PARTS = new Set(
  (process.env.VIGIL_BENCH_PARTS ?? 'ingest,bullmq,detection,profile').split(','),
);
const PARTIAL = process.env.VIGIL_BENCH_PARTS !== undefined;
const TARGET_RATIO = 2;
const run = `${Date.now().toString(36)}${process.pid}`;
const YAML = 'sweep:\n  interval: 1s\n';

// (a) heartbeats
const BEAT_EXECUTIONS = TINY ? 3_000 : 30_000;
const BEAT_BATCH = 500;
const BEAT_CONNECTIONS = TINY ? 3 : 12;
const BEAT_SECONDS = TINY ? 2 : 10;
const WARMUP_SECONDS = TINY ? 1 : 3;
// (b) registrations
const REG_COUNT = TINY ? 3_000 : 120_000;
const REG_BATCH = 500;
const REG_IN_FLIGHT = 6;
// (c) detection
const DET_TOTAL = TINY ? 600 : 10_000;
const DET_DROPPED = TINY ? 30 : 200;
const DET_LIMIT_MS = 2_000;
const DET_BEAT_MS = 500;
const DET_CHUNK = 250;
const DET_STEADY_MS = TINY ? 1_000 : 5_000;
const DET_TIMEOUT_MS = 15_000;
const DET_SOAK_MS = TINY ? 1_000 : 3_000;
const TARGET_P99_MS = 100;

const pct = (share: number | null | undefined) =>
  share === null || share === undefined ? 'n/a' : `${fmt(share * 100)} %`;

/** Splits `items` into `n` contiguous parts of (nearly) equal size. */
function split<T>(items: readonly T[], n: number): T[][] {
  const size = Math.ceil(items.length / n);
  return Array.from({ length: n }, (_, i) => items.slice(i * size, (i + 1) * size));
}

/** Registers `ids` through `url` as running executions, in batches of 500, 4 in flight. */
async function registerRunning(url: string, ids: string[], limits: Record<string, unknown>) {
  await pool(split(ids, Math.ceil(ids.length / 500)), 4, async (chunk) => {
    const answer = await call<{ results: { execution?: unknown; error?: unknown }[] }>(
      url,
      'POST',
      '/v1/executions/batch',
      { executions: chunk.map((id) => ({ id, kind: 'bench', status: 'running', limits })) },
    );
    const bad = answer.status === 200 ? answer.body.results.find((r) => !r.execution) : answer;
    if (bad) throw new Error(`registering through ${url}: ${JSON.stringify(bad).slice(0, 300)}`);
  });
}

function cpuCells(cpu: CpuShares | null): string {
  if (cpu === null) return '| n/a | n/a | n/a | n/a |';
  const total = cpu.replicas.reduce<number>((a, b) => a + (b ?? 0), 0);
  const each = cpu.replicas.length > 1 ? ` (${cpu.replicas.map((r) => pct(r)).join(' + ')})` : '';
  return `| ${pct(total)}${each} | ${pct(cpu.backends)} | ${pct(cpu.postgres)} | ${pct(cpu.machine)} |`;
}

/** CPU µs per item of the replicas, their PostgreSQL backends and the load processes. */
function perItem(
  m: Measured<unknown>,
): { replicas: number; backends: number; load: number } | null {
  if (m.cpu === null || !(m.perSecond > 0)) return null;
  const replicas = m.cpu.replicas.reduce<number>((a, b) => a + (b ?? 0), 0);
  return {
    replicas: (replicas / m.perSecond) * 1e6,
    backends: (m.cpu.backends / m.perSecond) * 1e6,
    load: (m.loadCpu / m.perSecond) * 1e6,
  };
}

/** The CPU cells of an ingest row, with the load processes' CPU and the CPU each item cost. */
function ingestCpuCells(cpu: CpuShares | null, loadCpu: number, perSecond: number): string {
  if (cpu === null) return `${cpuCells(cpu)} n/a | n/a |`;
  const replicas = cpu.replicas.reduce<number>((a, b) => a + (b ?? 0), 0);
  const us = (share: number) => fmt((share / perSecond) * 1e6, 1);
  return `${cpuCells(cpu)} ${pct(loadCpu)} | ${us(replicas)} / ${us(cpu.backends)} |`;
}

// ---------------------------------------------------------------------------------------------
// (a) and (b): ingest

interface Measured<R> {
  perSecond: number;
  results: R[];
  cpu: CpuShares | null;
  /** CPU-seconds per wall-second of the load processes together. */
  loadCpu: number;
  bad: string[];
}

interface Ingest {
  n: number;
  beats: Measured<LoadResult>;
  regs: Measured<RegisterResult>;
  warnings: { count: number; sample: string[] };
}

async function ingest(n: number, set: ReplicaSet, prefix: string): Promise<Ingest> {
  const ids = Array.from({ length: BEAT_EXECUTIONS }, (_, i) => `${prefix}-beat-${i}`);
  const parts = split(ids, n);
  await Promise.all(
    set.replicas.map((r, i) =>
      registerRunning(r.url, parts[i]!, { heartbeat: '1h', run: null, progress: null }),
    ),
  );
  const beatJobs = (seconds: number): LoadJob[] =>
    set.replicas.map((r, i) => ({
      url: r.url,
      mode: 'batch',
      ids: parts[i]!,
      connections: BEAT_CONNECTIONS / n,
      durationSeconds: seconds,
      batchSize: BEAT_BATCH,
    }));
  await loadSideBySide<LoadJob, LoadResult>(null, 'lib/load.ts', beatJobs(WARMUP_SECONDS), 60_000);
  const beats = await loadSideBySide<LoadJob, LoadResult>(
    set,
    'lib/load.ts',
    beatJobs(BEAT_SECONDS),
    (BEAT_SECONDS + 60) * 1000,
  );
  const beatBad = beats.results.flatMap((r, i) => {
    const why: string[] = [];
    if (r.non2xx > 0) why.push(`${r.non2xx} non-2xx answers (${JSON.stringify(r.statusCodes)})`);
    if (r.errors > 0) why.push(`${r.errors} connection errors`);
    if (r.lostBeats > 0) why.push(`${r.lostBeats} beats answered as lost`);
    return why.map((w) => `replica ${i + 1}: ${w}`);
  });

  const regJobs: RegisterJob[] = set.replicas.map((r, i) => ({
    mode: 'vigil-batch',
    target: r.url,
    prefix: `${prefix}-reg-${i}`,
    count: REG_COUNT / n,
    inFlight: REG_IN_FLIGHT / n,
    batchSize: REG_BATCH,
  }));
  const regs = await loadSideBySide<RegisterJob, RegisterResult>(
    set,
    'lib/register-load.ts',
    regJobs,
    600_000,
  );
  const regBad = regs.results.flatMap((r, i) =>
    r.failed > 0 ? [`replica ${i + 1}: ${r.failed} not registered (${r.reasons.join(' / ')})`] : [],
  );
  return {
    n,
    beats: {
      perSecond: beats.results.reduce(
        (sum, r) => sum + (r.okBeats > 0 ? (r.ok2xx * BEAT_BATCH) / r.durationSeconds : 0),
        0,
      ),
      results: beats.results,
      cpu: beats.cpu,
      loadCpu: beats.results.reduce((sum, r) => sum + r.cpuSeconds / r.durationSeconds, 0),
      bad: beatBad,
    },
    regs: {
      perSecond:
        regs.results.reduce((sum, r) => sum + r.registered, 0) /
        Math.max(...regs.results.map((r) => r.seconds)),
      results: regs.results,
      cpu: regs.cpu,
      loadCpu: regs.results.reduce((sum, r) => sum + r.cpuSeconds / r.seconds, 0),
      bad: regBad,
    },
    warnings: problems(set.replicas.flatMap((r) => r.logLines())),
  };
}

async function measureIngest(n: number): Promise<Ingest> {
  console.log(`\ningest through ${n} replica(s)`);
  const set = await startReplicas(n, `vigil_bench_rep_${run}_in${n}`, YAML);
  try {
    return await ingest(n, set, `in${n}`);
  } finally {
    await set.stop();
  }
}

/** BullMQ addBulk of the same count from `n` producer processes (one queue each), one Redis. */
async function bullmq(n: number): Promise<number> {
  const jobs: RegisterJob[] = Array.from({ length: n }, (_, i) => ({
    mode: 'bullmq-batch',
    target: `vigil-bench-rep-${run}-${n}-${i}`,
    prefix: `bull-${n}-${i}`,
    count: REG_COUNT / n,
    inFlight: REG_IN_FLIGHT / n,
    batchSize: REG_BATCH,
  }));
  const { results } = await loadSideBySide<RegisterJob, RegisterResult>(
    null,
    'lib/register-load.ts',
    jobs,
    600_000,
  );
  return (
    results.reduce((sum, r) => sum + r.registered, 0) / Math.max(...results.map((r) => r.seconds))
  );
}

/** (a) and (b) again on three replicas under --cpu-prof: one profile summary per replica. */
async function profileThree(): Promise<string[]> {
  const n = 3;
  const dirs = Array.from({ length: n }, () => mkdtempSync(join(tmpdir(), 'vigil-prof-')));
  const out: string[] = [];
  try {
    const set = await startReplicas(
      n,
      `vigil_bench_rep_${run}_prof`,
      YAML,
      (i) => `--cpu-prof --cpu-prof-dir=${dirs[i]!}`,
    );
    try {
      await ingest(n, set, 'prof');
    } finally {
      await set.stop();
    }
    for (let i = 0; i < n; i++) {
      const dir = dirs[i]!;
      const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
      if (file) out.push(...summarizeProfile(join(dir, file), `Replica ${i + 1} of ${n}`, 8));
      else out.push(`#### Replica ${i + 1} of ${n}`, '', 'No profile was written.', '');
    }
  } finally {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// (c) detection while the replicas share the work

/**
 * From a replica's `sweep:completed` events after `since`: its longest sweep, and the overdue rows
 * its sweeps judged but left alone (`skipped`: the compare-and-set found the row changed, e.g. a
 * beat landed between the read and the end).
 */
function sweepsAfter(stream: Stream, since: number): { longestSweepMs: number; fenced: number } {
  const completed = stream.events.filter(
    (e) => e.type === 'sweep:completed' && e.receivedAt >= since,
  );
  return {
    longestSweepMs: Math.max(0, ...completed.map((e) => Number(e.data.durationMs) || 0)),
    fenced: completed.reduce(
      (sum, e) => sum + (Number((e.data.counts as Record<string, unknown>).skipped) || 0),
      0,
    ),
  };
}

interface Detection {
  n: number;
  ended: number;
  stillRunning: number;
  overshoot: ReturnType<typeof summarize>;
  /** Still-beating executions no longer running (those never beaten apart). */
  falsePositives: number;
  /** Executions ended before their first beat landed (setup, not detection). */
  neverBeaten: number;
  /** Beats answered lost although sent within the limit after an accepted one. */
  lostSentInTime: number;
  steadyCpu: CpuShares;
  /** Per replica: sweeps run, and dropped executions it ended. */
  perReplica: {
    sweeps: number;
    remediated: number;
    stalls: number;
    longestSweepMs: number;
    fenced: number;
  }[];
  beaterErrors: string[];
  warnings: { count: number; sample: string[] };
}

async function detection(n: number): Promise<Detection> {
  console.log(`\ndetection with ${n} replica(s): ${DET_TOTAL} executions, ${DET_DROPPED} dropped`);
  const set = await startReplicas(n, `vigil_bench_rep_${run}_det${n}`, YAML);
  const beaters = set.replicas.map(() => spawnTs('lib/beater.ts'));
  const streams: Stream[] = [];
  try {
    for (const r of set.replicas) streams.push(await subscribe(r.url));
    beaters.forEach((b, i) =>
      b.send({
        type: 'start',
        url: set.replicas[i]!.url,
        intervalMs: DET_BEAT_MS,
        batchSize: 500,
        concurrency: 4,
        maxRunMs: 180_000,
      }),
    );
    // Every beater up and running before the first execution is registered: a beater still
    // starting would leave its first chunk unbeaten past the limit (setup, not detection).
    await Promise.all(
      beaters.map((b) => {
        const ready = message(b, isType('added'), 30_000, 'beater start');
        b.send({ type: 'add', ids: [] });
        return ready;
      }),
    );
    const ids = Array.from({ length: DET_TOTAL }, (_, i) => `det-${String(i).padStart(5, '0')}`);
    // Chunks go to the replicas in turn; each is beaten through the replica that registered it.
    const home = new Map<string, number>();
    for (let c = 0; c * DET_CHUNK < DET_TOTAL; c++) {
      const chunk = ids.slice(c * DET_CHUNK, (c + 1) * DET_CHUNK);
      const i = c % n;
      await registerRunning(set.replicas[i]!.url, chunk, {
        heartbeat: DET_LIMIT_MS,
        run: null,
        progress: null,
      });
      for (const id of chunk) home.set(id, i);
      const added = message(beaters[i]!, isType('added'), 30_000, 'beater add');
      beaters[i]!.send({ type: 'add', ids: chunk });
      await added;
    }
    const before = snapshot(set);
    await sleep(DET_STEADY_MS);
    const steadyCpu = await shares(set, before, snapshot(set));

    const metricsBefore = await Promise.all(
      set.replicas.map((r) => call<string>(r.url, 'GET', '/metrics')),
    );
    const stride = DET_TOTAL / DET_DROPPED;
    const droppedIds = ids.filter((_, i) => i % stride === stride - 1);
    const dropped = new Set(droppedIds);
    const droppedAt = Date.now();
    await Promise.all(
      beaters.map((b, i) => {
        const ack = message(b, isType('dropped'), 10_000, 'beater drop');
        b.send({ type: 'drop', ids: droppedIds.filter((id) => home.get(id) === i) });
        return ack;
      }),
    );
    // Wait (bounded) until every dropped execution has ended, asking once a second.
    // Each replica's `listeningSince` (/healthz): it moves when its event loop stalls for more than
    // a second, and its sweeps then give silent executions a full limit after it.
    const listening = set.replicas.map(() => new Set<number>());
    const noteListening = async () => {
      await Promise.all(
        set.replicas.map(async (r, i) => {
          const answer = await call<{ listeningSince?: number }>(r.url, 'GET', '/healthz');
          const since = answer.body.listeningSince;
          if (typeof since === 'number' && since >= droppedAt - DET_LIMIT_MS)
            listening[i]!.add(since);
        }),
      );
    };
    // Wait (bounded) until every dropped execution has ended: any replica's event stream says so
    // at once; once a second the ones no stream has reported are asked for.
    const done = new Set<string>();
    const waitStarted = Date.now();
    let lastPoll = waitStarted;
    while (Date.now() - waitStarted < DET_TIMEOUT_MS && done.size < DET_DROPPED) {
      for (const stream of streams)
        for (const e of stream.events)
          if (e.type === 'execution:remediated') done.add(String(e.data.executionId));
      if (Date.now() - lastPoll >= 1_000) {
        lastPoll = Date.now();
        await noteListening();
        await pool(
          droppedIds.filter((id) => !done.has(id)),
          16,
          async (id) => {
            const answer = await call<ExecutionJson>(
              set.replicas[0]!.url,
              'GET',
              `/v1/executions/${id}`,
            );
            if (answer.status === 200 && answer.body.endedAt !== null) done.add(id);
          },
        );
      }
      await sleep(50);
    }
    await sleep(DET_SOAK_MS);
    await noteListening();
    const ended = new Map<string, ExecutionJson>();
    await pool(droppedIds, 16, async (id) => {
      const answer = await call<ExecutionJson>(set.replicas[0]!.url, 'GET', `/v1/executions/${id}`);
      if (answer.status === 200 && answer.body.endedAt !== null) ended.set(id, answer.body);
    });
    const running = new Set((await listAll(set.replicas[0]!.url, 'running')).map((e) => e.id));
    const metricsAfter = await Promise.all(
      set.replicas.map((r) => call<string>(r.url, 'GET', '/metrics')),
    );
    const stats = await Promise.all(
      beaters.map((b) => {
        const answer = message(
          b,
          isType<{ type: 'stats'; stats: BeaterStats }>('stats'),
          15_000,
          'beater stats',
        );
        b.send({ type: 'stop' });
        return answer.then((a) => a.stats);
      }),
    );
    // Ended before their first beat landed (the beater reached them more than a limit after they
    // were registered: setup on a busy machine, not detection): counted apart.
    const neverBeaten = new Set(
      stats.flatMap((s) =>
        s.unexpectedLost.filter((l) => l.previousOkAt === null).map((l) => l.id),
      ),
    );
    const lost = [...ended.values()].filter(
      (e) => e.verdict === 'heartbeat_lost' && e.heartbeatAt !== null,
    );
    const overshoot = lost.map(
      (e) => Date.parse(e.endedAt!) - (Date.parse(e.heartbeatAt!) + DET_LIMIT_MS),
    );
    if (process.env.VIGIL_BENCH_DUMP) {
      writeFileSync(
        `${process.env.VIGIL_BENCH_DUMP}-${n}.json`,
        JSON.stringify({
          dropped: [...ended.values()],
          sweeps: streams.map((s) => s.events.filter((e) => e.type === 'sweep:completed')),
          remediated: streams.map((s) =>
            s.events
              .filter((e) => e.type === 'execution:remediated')
              .map((e) => [e.data.executionId, e.receivedAt]),
          ),
        }),
      );
    }
    const sweeps = (i: number) =>
      metric(metricsAfter[i]!.body, 'vigil_sweep_duration_seconds_count', 'dry_run="false"') -
      metric(metricsBefore[i]!.body, 'vigil_sweep_duration_seconds_count', 'dry_run="false"');
    return {
      n,
      ended: lost.length,
      stillRunning: droppedIds.filter((id) => running.has(id)).length,
      overshoot: summarize(overshoot),
      falsePositives: ids.filter(
        (id) => !dropped.has(id) && !running.has(id) && !neverBeaten.has(id),
      ).length,
      neverBeaten: neverBeaten.size,
      lostSentInTime: stats
        .flatMap((s) => s.unexpectedLost)
        .filter((l) => l.previousOkAt !== null && l.sentAt - l.previousOkAt <= DET_LIMIT_MS).length,
      steadyCpu,
      perReplica: set.replicas.map((_, i) => ({
        sweeps: sweeps(i),
        stalls: listening[i]!.size,
        ...sweepsAfter(streams[i]!, droppedAt),
        remediated: streams[i]!.events.filter(
          (e) => e.type === 'execution:remediated' && dropped.has(String(e.data.executionId)),
        ).length,
      })),
      beaterErrors: stats.flatMap((s) => (s.firstError ? [s.firstError] : [])),
      warnings: problems(set.replicas.flatMap((r) => r.logLines())),
    };
  } finally {
    for (const s of streams) s.close();
    for (const b of beaters) if (b.exitCode === null) b.kill('SIGTERM');
    await Promise.all(beaters.map((b) => exited(b, 10_000)));
    await set.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// The report

function ingestRows(results: Ingest[], bull: Map<number, number>): string[] {
  const one = results.find((r) => r.n === 1);
  if (!one) return [];
  const rows: string[] = [];
  for (const r of results) {
    const ratio = (x: number, base: number) => (r.n === 1 ? '1.00 ×' : `**${fmt(x / base, 2)} ×**`);
    rows.push(
      `| (a) batched heartbeats | ${r.n} | ${BEAT_CONNECTIONS / r.n} connections each | **${fmt(r.beats.perSecond)}** beats/s | ${ratio(r.beats.perSecond, one.beats.perSecond)} | — ${ingestCpuCells(r.beats.cpu, r.beats.loadCpu, r.beats.perSecond)}`,
      `| (b) batched registrations | ${r.n} | ${REG_IN_FLIGHT / r.n} in flight each | **${fmt(r.regs.perSecond)}** /s | ${ratio(r.regs.perSecond, one.regs.perSecond)} | ${fmt(bull.get(r.n) ?? NaN)} jobs/s (Vigil ÷ BullMQ ${fmt(r.regs.perSecond / (bull.get(r.n) ?? NaN), 2)} ×) ${ingestCpuCells(r.regs.cpu, r.regs.loadCpu, r.regs.perSecond)}`,
    );
  }
  return rows;
}

function verdicts(results: Ingest[], det: Detection[]): string[] {
  const one = results.find((r) => r.n === 1);
  const three = results.find((r) => r.n === 3);
  const lines: string[] = [];
  const pairs =
    !one || !three
      ? []
      : [
          ['batched heartbeats', one.beats, three.beats] as const,
          ['batched registrations', one.regs, three.regs] as const,
        ];
  for (const [what, a, b] of pairs) {
    const ratio = b.perSecond / a.perSecond;
    lines.push(
      `- Target: three replicas ≥ ${TARGET_RATIO} × one for ${what}: ${ratio >= TARGET_RATIO ? '**met**' : '**not met**'} (${fmt(b.perSecond)} against ${fmt(a.perSecond)}, ${fmt(ratio, 2)} ×).`,
    );
    const cost = perItem(b);
    if (cost !== null) {
      const cores = cpus().length;
      const total = cost.replicas + cost.backends + cost.load;
      const ceiling = (cores * 1e6) / total;
      lines.push(
        `  - What caps it on this machine: with three replicas one ${what === 'batched heartbeats' ? 'beat' : 'registration'} cost ${fmt(cost.replicas, 1)} µs of the replicas' CPU, ${fmt(cost.backends, 1)} µs of their PostgreSQL backends' and ${fmt(cost.load, 1)} µs of the load processes', ${fmt(total, 1)} µs in all: the machine's ${cores} cores could not carry more than ${fmt(ceiling)} /s of it even if nothing else ran on them, against the ${fmt(TARGET_RATIO * a.perSecond)} /s that ${TARGET_RATIO} × one replica asks for${ceiling < TARGET_RATIO * a.perSecond ? ' — out of reach here whatever the replicas do' : ''}. One replica's own CPU per item (${fmt(perItem(a)?.replicas ?? NaN, 1)} µs) would let one replica alone carry ${fmt(1e6 / (perItem(a)?.replicas ?? NaN))} /s on a core of its own: ${(perItem(a)?.replicas ?? 0) < (perItem(a)?.backends ?? 0) ? 'PostgreSQL, not the replica, spends the most per item' : 'the replica spends more per item than PostgreSQL'}.`,
      );
    }
  }
  for (const d of det) {
    const ok =
      d.ended === DET_DROPPED &&
      d.overshoot.p99 <= TARGET_P99_MS &&
      d.falsePositives === 0 &&
      d.lostSentInTime === 0;
    lines.push(
      `- Target with ${d.n} replica${d.n > 1 ? 's' : ''}: detection p99 ≤ ${TARGET_P99_MS} ms and 0 false positives: ${ok ? '**met**' : '**not met**'} (p99 ${fmt(d.overshoot.p99)} ms, ${d.ended} of ${DET_DROPPED} ended \`heartbeat_lost\`, ${d.falsePositives} false positives).`,
    );
  }
  return lines;
}

async function main(): Promise<string> {
  const measured = revision();
  const results: Ingest[] = [];
  if (PARTS.has('ingest')) for (const n of SETS) results.push(await measureIngest(n));
  const bull = new Map<number, number>();
  if (PARTS.has('bullmq')) for (const n of SETS) bull.set(n, await bullmq(n));
  const det: Detection[] = [];
  if (PARTS.has('detection')) for (const n of SETS) det.push(await detection(n));
  const profiles = PROFILE && PARTS.has('profile') ? await profileThree() : [];
  const { version } = (await import('bullmq/package.json', { with: { type: 'json' } })).default as {
    version: string;
  };

  const notes: string[] = [];
  for (const r of results) {
    for (const bad of [...r.beats.bad, ...r.regs.bad]) notes.push(`- ${r.n} replica(s): ${bad}`);
    for (const [what, m] of [
      ['batched heartbeats', r.beats],
      ['batched registrations', r.regs],
    ] as const) {
      // PostgreSQL serves other users too: their share of it is a share these figures lacked.
      const others = m.cpu === null ? 0 : m.cpu.postgres - m.cpu.backends;
      if (others > 0.25)
        notes.push(
          `- **${r.n} replica(s), ${what}: other users of PostgreSQL took ${pct(others)} of a core during the window** (all PostgreSQL processes ${pct(m.cpu?.postgres)} against ${pct(m.cpu?.backends)} for the replicas' backends): this figure, and any ratio built on it, says as much about them as about Vigil.`,
        );
    }
    if (r.warnings.count > 0)
      notes.push(
        `- ${r.n} replica(s): ${r.warnings.count} server lines at warn or above: ${r.warnings.sample.join(' / ')}`,
      );
  }
  const detRow = (d: Detection) =>
    `| ${d.n} | ${d.ended} / ${DET_DROPPED} | ${fmt(d.overshoot.p50)} | ${fmt(d.overshoot.p90)} | ${fmt(d.overshoot.p99)} | ${fmt(d.overshoot.max)} | ${d.falsePositives}${d.neverBeaten > 0 ? ` (${d.neverBeaten} never beaten apart)` : ''} | ${d.perReplica.map((p) => `${fmt(p.sweeps)} / ${p.remediated} / ${fmt(p.longestSweepMs)} ms / ${p.fenced} / ${p.stalls}`).join(' · ')} ${cpuCells(d.steadyCpu)}`;
  for (const d of det) {
    if (d.stillRunning > 0)
      notes.push(`- detection, ${d.n}: ${d.stillRunning} dropped executions still running`);
    if (d.neverBeaten > 0)
      notes.push(
        `- detection, ${d.n}: ${d.neverBeaten} executions were ended before their first beat landed (the beater reached them more than ${fmt(DET_LIMIT_MS)} ms after their registration: setup on a busy machine; not counted as false positives, since they never beat in time)`,
      );
    if (d.lostSentInTime > 0)
      notes.push(
        `- detection, ${d.n}: **${d.lostSentInTime} beats sent within the limit after an accepted one were answered lost**`,
      );
    if (d.beaterErrors.length > 0)
      notes.push(`- detection, ${d.n}: beater: ${d.beaterErrors.join(' / ')}`);
    if (d.warnings.count > 0)
      notes.push(
        `- detection, ${d.n}: ${d.warnings.count} server lines at warn or above: ${d.warnings.sample.join(' / ')}`,
      );
  }
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  const pgVersion = (await admin.query<{ v: string }>('SELECT version() AS v')).rows[0]!.v.split(
    ',',
  )[0];
  await admin.end();

  return [
    '## Replicas that add capacity (`bench/replicas.ts`)',
    '',
    ...machineLines(),
    `- Vigil: ${measured}`,
    `- Servers: \`node bin/vigil.js serve --port 0\` × 1 or × 3 on one ${pgVersion} (127.0.0.1:5432, default settings, a fresh schema per set, each replica's pool of 10 connections), slots in Redis on 127.0.0.1:6379 (\`VIGIL_REDIS_URL\`), no tokens, \`sweep: { interval: 1s }\`. The machine's cores are shared by the replicas, PostgreSQL, Redis and the load processes.`,
    `- Load: one load process per replica, each talking only to its own replica, all started before the first request and sent their jobs at once; the same total for one replica and for three. (a) ${fmt(BEAT_EXECUTIONS)} running executions (heartbeat limit 1 h) registered through the replicas in equal parts, then autocannon \`POST /v1/heartbeats\` × ${BEAT_BATCH} beats over each replica's own executions, ${BEAT_CONNECTIONS} connections in all, ${WARMUP_SECONDS} s warm-up then ${BEAT_SECONDS} s measured. (b) ${fmt(REG_COUNT)} queued executions in all, \`POST /v1/executions/batch\` × ${REG_BATCH}, ${REG_IN_FLIGHT} requests in flight in all.`,
    `- Peer: BullMQ ${version} \`Queue.addBulk\` × ${REG_BATCH} of the same count from one producer process and from three (a queue each, ${REG_IN_FLIGHT} in flight in all) on the same Redis. BullMQ has no batched-heartbeat call to compare (a)with: its workers renew their own locks.`,
    '',
    '| Measure | Replicas | Load | Aggregate | vs one replica | BullMQ (same split) | Replicas CPU | Their PG backends CPU | All PG CPU | Machine busy | Load processes CPU | CPU µs per item: replicas / their PG backends |',
    '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...ingestRows(results, bull),
    '',
    'CPU columns: CPU-seconds per wall-second over the measured window (100 % = one core) of each replica, of the PostgreSQL backends serving them (their `application_name` in `pg_stat_activity`, CPU from `/proc/PID/stat`), of every PostgreSQL process (other users of the server included); Machine busy is the share of all cores busy (`/proc/stat`, 100 % = every core); the load processes’ own CPU as they measured it. CPU µs per item: the replicas’ and their backends’ CPU-seconds per beat or registration, which depends far less on the machine’s load than the rates do: what one more item costs each side.',
    '',
    ...(det.length === 0
      ? []
      : [
          `### (c) Detection while the replicas share the work: ${fmt(DET_TOTAL)} executions beating every ${DET_BEAT_MS} ms (limit ${fmt(DET_LIMIT_MS)} ms), ${DET_DROPPED} stop`,
          '',
          'Executions registered through the replicas in turn (chunks of 250) and each beaten through the replica that registered it (a beater process per replica). Overshoot = `endedAt` − (`heartbeatAt` + limit), as Vigil recorded them. False positives: executions still beating that are no longer running after the drop and a soak. CPU over the steady state before the drop. Per replica, after the drop: its longest sweep, and the overdue rows its sweeps judged but left alone (`skipped`: the compare-and-set found the row changed — a beat landed between the read and the end, as happens when beats arrive late). Times a replica stopped listening: distinct values of its `listeningSince` (`/healthz`, read once a second from a limit before the drop to the end of the soak), which moves when its event loop stalls for more than a second; its sweeps then give a silent execution one full limit after it (docs/design.md, “The watchdog watches itself”).',
          '',
          '| Replicas | Ended `heartbeat_lost` | p50 (ms) | p90 (ms) | p99 (ms) | Max (ms) | False positives | Per replica: sweeps / dropped it ended / its longest sweep / rows its sweeps left alone / times it stopped listening | Replicas CPU | Their PG backends CPU | All PG CPU | Machine busy |',
          '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |',
          ...det.map(detRow),
          '',
        ]),
    ...verdicts(results, det),
    ...(notes.length > 0 ? ['', ...notes] : []),
    ...(profiles.length > 0
      ? [
          '',
          '### Where each of three replicas spends its time',
          '',
          '(a) and (b) repeated on a fresh set of three replicas under `node --cpu-prof`; self time per area and frame, as shares of the time each replica was not idle.',
          '',
          ...profiles,
        ]
      : []),
  ].join('\n');
}

const markdown = await main();
// A tiny run only checks that the benchmark still works, a partial one is for a closer look: their
// figures are not kept.
if (TINY || PARTIAL) console.log(markdown);
else writeResult('replicas', markdown);
// BullMQ's connections may keep timers alive for a while; everything is closed and written.
process.exit(0);
