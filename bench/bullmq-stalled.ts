/**
 * What BullMQ's own stall detection does with the timeouts vigil is benchmarked with, on the local
 * Redis (127.0.0.1:6379): lockDuration 2,000 ms, stalledInterval 1,000 ms, maxStalledCount 0.
 *
 * (a) Detection overshoot: a worker process takes JOBS jobs that never finish and is killed with
 *     SIGKILL; a QueueEvents listener here records when each job is reported `stalled`. t0 of each
 *     job is the moment its lock expired, read from Redis (PTTL of the lock key) right after the kill
 *     (= the dead worker's last lock renewal + lockDuration).
 * (b) CPU-bound jobs: BUSY_JOBS jobs that each block the worker's event loop for BUSY_MS (longer
 *     than lockDuration); counts how many complete and how many fail as stalled.
 *
 * In both, a second worker with no processing (autorun off, stalled checker on) stands for the rest
 * of the fleet, so stalls are checked while the worker under test is dead or blocked. Every figure
 * in the output is measured by this run. Queues are unique per run and obliterated at the end.
 *
 * At full size (unless VIGIL_BENCH_PROFILE=0), this process (the QueueEvents listener and the idle
 * checker) runs under the V8 profiler; Redis's own CPU time over the run is read from INFO. Both go
 * beside the figures.
 *
 * Run: redis-cli ping && node --import tsx bench/bullmq-stalled.ts
 * VIGIL_BENCH_SIZE=tiny runs it at a size that only checks it still works.
 */
import { Queue, QueueEvents, Worker } from 'bullmq';
import type { WorkerStart } from './lib/bullmq-worker.js';
import {
  benchSize,
  exited,
  fmt,
  machineLines,
  sleep,
  spawnTs,
  summarize,
  within,
  writeResult,
} from './lib/common.js';
import { profileThisProcess, profiling } from './lib/profile.js';
import { REDIS, requireServices } from './lib/services.js';

const TINY = benchSize() === 'tiny';
const LOCK_DURATION = 2_000;
const STALLED_INTERVAL = 1_000;
const MAX_STALLED_COUNT = 0;
const JOBS = TINY ? 10 : 200;
/** Kill rounds in (a), each with the stalled checker at a different phase. */
const ROUNDS = TINY ? 1 : 5;
/** How long the jobs run (renewing their locks) before the worker is killed. */
const RUN_BEFORE_KILL_MS = TINY ? 1_000 : 2_500;
const DETECT_TIMEOUT_MS = 20_000;
const BUSY_JOBS = TINY ? 1 : 10;
const BUSY_MS = 3_000;
const BUSY_TIMEOUT_MS = 150_000;

const settings = {
  lockDuration: LOCK_DURATION,
  stalledInterval: STALLED_INTERVAL,
  maxStalledCount: MAX_STALLED_COUNT,
};
const connection = { ...REDIS, maxRetriesPerRequest: null };

interface Seen {
  jobId: string;
  receivedAt: number;
  /** Redis time of the event (its stream id). */
  streamAt: number;
  reason?: string;
}

/** A queue, its QueueEvents, and the idle stalled checker; `close` obliterates the queue. */
async function setUp(name: string) {
  const queue = new Queue(name, { connection });
  const events = new QueueEvents(name, { connection });
  const errors: string[] = [];
  queue.on('error', (e) => errors.push(`queue: ${e.message}`));
  events.on('error', (e) => errors.push(`queue events: ${e.message}`));
  await within(events.waitUntilReady(), 10_000, 'QueueEvents ready');
  const stalled: Seen[] = [];
  const failed: Seen[] = [];
  const completed: Seen[] = [];
  const at = (id: string) => Number(id.split('-')[0]);
  events.on('stalled', ({ jobId }, id) =>
    stalled.push({ jobId, receivedAt: Date.now(), streamAt: at(id) }),
  );
  events.on('failed', ({ jobId, failedReason }, id) =>
    failed.push({ jobId, receivedAt: Date.now(), streamAt: at(id), reason: failedReason }),
  );
  events.on('completed', ({ jobId }, id) =>
    completed.push({ jobId, receivedAt: Date.now(), streamAt: at(id) }),
  );
  let checker: Worker | null = null;
  let checkerRan = 0;
  return {
    queue,
    stalled,
    failed,
    completed,
    errors,
    checkerRan: () => checkerRan,
    /** Starts the idle worker whose stalled checker stands for the rest of the fleet. */
    async startChecker() {
      checker = new Worker(
        name,
        async () => {
          checkerRan++;
        },
        { connection, autorun: false, ...settings },
      );
      checker.on('error', (e) => errors.push(`checker: ${e.message}`));
      await checker.startStalledCheckTimer();
    },
    async close() {
      await checker?.close(true).catch(() => undefined);
      await events.close().catch(() => undefined);
      await queue
        .obliterate({ force: true })
        .catch((e: Error) => errors.push(`obliterate: ${e.message}`));
      await queue.close().catch(() => undefined);
    },
  };
}

function startWorker(start: Omit<WorkerStart, 'type'>) {
  const child = spawnTs('lib/bullmq-worker.ts');
  const active: { jobId: string; at: number }[] = [];
  const reports: { event: string; jobId?: string; message?: string; at: number }[] = [];
  child.on(
    'message',
    (m: { type: string; jobId: string; at: number; event: string; message?: string }) => {
      if (m.type === 'active') active.push({ jobId: m.jobId, at: m.at });
      else if (m.type === 'worker') reports.push(m);
    },
  );
  child.send({ type: 'start', ...start } satisfies WorkerStart);
  return { child, active, reports };
}

async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > ms) return false;
    await sleep(20);
  }
  return true;
}

type Summary = ReturnType<typeof summarize>;
const row = (label: string, s: Summary) =>
  `| ${label} | ${s.n} | ${fmt(s.min)} | ${fmt(s.p50)} | ${fmt(s.p90)} | ${fmt(s.p99)} | ${fmt(s.max)} |`;

interface Round {
  jobs: number;
  stalled: number;
  failed: number;
  missingLocks: number;
  checkerOffsetMs: number;
  killAt: number;
  lockLeft: number[];
  overshoot: number[];
  overshootStream: number[];
  fromKill: number[];
  errors: string[];
}

/**
 * One round of (a). The stalled checker starts `checkerOffsetMs` after the jobs are active, so
 * rounds cover different phases of the checker's period against the locks' renewal period (all
 * locks of one worker are renewed together, so one round is one phase).
 */
async function killRound(name: string, checkerOffsetMs: number): Promise<Round> {
  const q = await setUp(name);
  const worker = startWorker({
    queue: name,
    mode: 'forever',
    concurrency: JOBS,
    ...settings,
    busyMs: 0,
    maxRunMs: 60_000,
  });
  try {
    await q.queue.addBulk(
      Array.from({ length: JOBS }, (_, i) => ({
        name: 'forever',
        data: { i },
        opts: { jobId: `job-${i}` },
      })),
    );
    if (!(await waitFor(() => worker.active.length >= JOBS, 20_000))) {
      throw new Error(`only ${worker.active.length} of ${JOBS} jobs became active`);
    }
    await sleep(checkerOffsetMs);
    await q.startChecker();
    await sleep(RUN_BEFORE_KILL_MS);

    const killAt = Date.now();
    worker.child.kill('SIGKILL');
    await exited(worker.child, 5_000);
    // Each lock's expiry, from its remaining TTL (the dead worker can no longer renew it).
    const client = await q.queue.client;
    const expiry = new Map<string, number>();
    let missingLocks = 0;
    await Promise.all(
      Array.from({ length: JOBS }, async (_, i) => {
        const sent = Date.now();
        const ttl = Number(await client.runCommand('pttl', [`bull:${name}:job-${i}:lock`]));
        // Redis answered somewhere between sending and receiving: take the middle.
        if (ttl >= 0) expiry.set(`job-${i}`, (sent + Date.now()) / 2 + ttl);
        else missingLocks++;
      }),
    );

    await waitFor(() => new Set(q.stalled.map((x) => x.jobId)).size >= JOBS, DETECT_TIMEOUT_MS);
    const first = new Map<string, Seen>();
    for (const x of q.stalled) if (!first.has(x.jobId)) first.set(x.jobId, x);
    const seen = [...first.values()].filter((x) => expiry.has(x.jobId));
    return {
      jobs: JOBS,
      stalled: first.size,
      failed: q.failed.length,
      missingLocks,
      checkerOffsetMs,
      killAt,
      lockLeft: [...expiry.values()].map((e) => e - killAt),
      overshoot: seen.map((x) => x.receivedAt - expiry.get(x.jobId)!),
      overshootStream: seen.map((x) => x.streamAt - expiry.get(x.jobId)!),
      fromKill: [...first.values()].map((x) => x.receivedAt - killAt),
      errors: [...q.errors],
    };
  } finally {
    if (worker.child.exitCode === null && worker.child.signalCode === null)
      worker.child.kill('SIGKILL');
    await exited(worker.child, 5_000);
    await q.close();
  }
}

async function killed(run: string): Promise<string[]> {
  const rounds: Round[] = [];
  for (let k = 0; k < ROUNDS; k++) {
    const offset = Math.round((k * STALLED_INTERVAL) / ROUNDS);
    console.log(`(a) round ${k + 1}/${ROUNDS}: checker started ${offset} ms after the jobs`);
    rounds.push(await killRound(`vigil-bench-stalled-${run}-${k + 1}`, offset));
  }
  const flat = (pick: (r: Round) => number[]) => rounds.flatMap(pick);
  const total = ROUNDS * JOBS;
  const stalled = rounds.reduce((n, r) => n + r.stalled, 0);
  const errors = rounds.flatMap((r) => r.errors);
  const missing = rounds.reduce((n, r) => n + r.missingLocks, 0);
  const lockLeft = summarize(flat((r) => r.lockLeft));
  return [
    `### (a) Detection after a worker is killed: ${ROUNDS} rounds of ${JOBS} jobs`,
    '',
    `In each round a worker process (concurrency ${JOBS}) takes ${JOBS} jobs that never finish; the idle checker starts 0–${fmt(STALLED_INTERVAL)} ms after the jobs, to vary its phase from round to round (the worker under test runs its own stalled checker too until it is killed, and BullMQ lets one check per stalledInterval run across all workers), and ${fmt(RUN_BEFORE_KILL_MS)} ms later the worker is killed with SIGKILL. Right after a kill, the locks had ${fmt(lockLeft.min)}–${fmt(lockLeft.max)} ms left (PTTL)${missing > 0 ? `; ${missing} locks were already gone` : ''}.`,
    '',
    '**t0 = the job’s lock expiry** (kill time + the lock’s remaining PTTL read from Redis right after the kill = the dead worker’s last renewal + lockDuration).',
    '',
    '| Detection (`stalled`) | n | Min (ms) | p50 (ms) | p90 (ms) | p99 (ms) | Max (ms) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    row('received by QueueEvents − t0', summarize(flat((r) => r.overshoot))),
    row(
      'Redis time of the `stalled` event (stream id) − t0',
      summarize(flat((r) => r.overshootStream)),
    ),
    row('received − kill time', summarize(flat((r) => r.fromKill))),
    row(
      'received − (kill time + lockDuration)',
      summarize(flat((r) => r.fromKill.map((ms) => ms - LOCK_DURATION))),
    ),
    '',
    'Per round (received − t0; the jobs of one round share one lock phase):',
    '',
    '| Round | Checker offset (ms) | Stalled | Min (ms) | Max (ms) |',
    '| ---: | ---: | ---: | ---: | ---: |',
    ...rounds.map((r, i) => {
      const s = summarize(r.overshoot);
      return `| ${i + 1} | ${r.checkerOffsetMs} | ${r.stalled} / ${r.jobs} | ${fmt(s.min)} | ${fmt(s.max)} |`;
    }),
    '',
    stalled === total
      ? `- All ${fmt(total)} jobs were reported \`stalled\`.`
      : `- **Only ${fmt(stalled)} of ${fmt(total)} jobs were reported \`stalled\`** (each round waits at most ${fmt(DETECT_TIMEOUT_MS)} ms).`,
    `- \`failed\` events: ${rounds.reduce((n, r) => n + r.failed, 0)} (with maxStalledCount 0 a stalled job is moved back to wait marked to fail, and fails when a worker next fetches it; here no worker fetches).`,
    `- Errors: ${errors.length === 0 ? 'none' : errors.slice(0, 3).join('; ')}.`,
    '',
  ];
}

async function busy(run: string): Promise<string[]> {
  const name = `vigil-bench-busy-${run}`;
  const q = await setUp(name);
  let worker: ReturnType<typeof startWorker> | null = null;
  try {
    await q.queue.addBulk(
      Array.from({ length: BUSY_JOBS }, (_, i) => ({
        name: 'busy',
        data: { i },
        opts: { jobId: `busy-${i}` },
      })),
    );
    await q.startChecker();
    const started = Date.now();
    worker = startWorker({
      queue: name,
      mode: 'busy',
      concurrency: 1,
      ...settings,
      busyMs: BUSY_MS,
      maxRunMs: BUSY_TIMEOUT_MS + 30_000,
    });
    const finals = () => new Set([...q.failed, ...q.completed].map((s) => s.jobId)).size;
    const all = await waitFor(() => finals() >= BUSY_JOBS, BUSY_TIMEOUT_MS);
    const elapsed = Date.now() - started;

    const states = new Map<string, number>();
    const reasons = new Map<string, number>();
    for (let i = 0; i < BUSY_JOBS; i++) {
      const job = await q.queue.getJob(`busy-${i}`);
      const state = job ? await job.getState() : 'missing';
      states.set(state, (states.get(state) ?? 0) + 1);
      if (job?.failedReason)
        reasons.set(job.failedReason, (reasons.get(job.failedReason) ?? 0) + 1);
    }
    const workerErrors = new Map<string, number>();
    for (const r of worker.reports.filter((r) => r.event === 'error')) {
      const text = (r.message ?? '').replace(/busy-\d+/g, '<id>');
      workerErrors.set(text, (workerErrors.get(text) ?? 0) + 1);
    }
    const list = (m: Map<string, number>) =>
      m.size === 0 ? 'none' : [...m].map(([k, n]) => `${n} × “${k}”`).join(', ');
    const stalledJobs = new Set(q.stalled.map((s) => s.jobId)).size;
    const completed = new Set(q.completed.map((s) => s.jobId)).size;
    const failed = new Set(q.failed.map((s) => s.jobId)).size;

    return [
      `### (b) CPU-bound jobs: ${BUSY_JOBS} jobs that block the event loop for ${fmt(BUSY_MS)} ms`,
      '',
      `One worker process, concurrency 1; each job busy-loops ${fmt(BUSY_MS)} ms (lockDuration ${fmt(LOCK_DURATION)} ms) and would then return a result. Finished in ${fmt(elapsed)} ms.`,
      '',
      '| Jobs | Completed | Failed | Reported `stalled` (jobs / events) | Processor runs |',
      '| ---: | ---: | ---: | ---: | ---: |',
      `| ${BUSY_JOBS} | ${completed} | ${failed} | ${stalledJobs} / ${q.stalled.length} | ${worker.active.length} |`,
      '',
      all ? '' : `- **Not every job finished within ${fmt(BUSY_TIMEOUT_MS)} ms.**`,
      `- Final states: ${list(states)}. Failure reasons: ${list(reasons)}.`,
      `- The worker's own \`error\` events: ${list(workerErrors)}.`,
      `- Jobs the idle checker processed: ${q.checkerRan()} (expected 0). Other errors: ${q.errors.length === 0 ? 'none' : q.errors.slice(0, 3).join('; ')}.`,
      '',
    ].filter((line, i, lines) => !(line === '' && lines[i - 1] === ''));
  } finally {
    if (worker && worker.child.exitCode === null && worker.child.signalCode === null) {
      worker.child.kill('SIGKILL');
    }
    if (worker) await exited(worker.child, 5_000);
    await q.close();
  }
}

/** Redis's CPU seconds so far (user + system, from INFO cpu). */
async function redisCpu(queue: Queue): Promise<number> {
  const info = await (await queue.client).info();
  const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? NaN);
  return field('used_cpu_user') + field('used_cpu_sys');
}

async function main(): Promise<string> {
  await requireServices('bullmq-stalled', ['redis']);
  const run = `${Date.now()}-${process.pid}`;
  const probe = new Queue(`vigil-bench-version-${run}`, { connection });
  const cpuBefore = await redisCpu(probe);
  const started = Date.now();
  const measure = async () => ({ a: await killed(run), b: await busy(run) });
  let profile: string[] = [];
  let measured: { a: string[]; b: string[] };
  if (!profiling()) measured = await measure();
  else
    ({ result: measured, summary: profile } = await profileThisProcess(
      'This process: the QueueEvents listener and the idle stalled checker (and the benchmark)',
      measure,
    ));
  const redisCpuSeconds = (await redisCpu(probe)) - cpuBefore;
  const wall = (Date.now() - started) / 1000;
  const { a, b } = measured;
  const info = await (await probe.client).info();
  await probe.obliterate({ force: true });
  await probe.close();
  const redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  const { version } = (await import('bullmq/package.json', { with: { type: 'json' } })).default as {
    version: string;
  };
  return [
    '## BullMQ stall detection (`bench/bullmq-stalled.ts`)',
    '',
    ...machineLines(),
    `- BullMQ ${version}, Redis ${redisVersion} on 127.0.0.1:6379; workers in child processes`,
    `- Settings: lockDuration ${fmt(LOCK_DURATION)} ms (renewed every ${fmt(LOCK_DURATION / 2)} ms, BullMQ's default lockDuration / 2), stalledInterval ${fmt(STALLED_INTERVAL)} ms, **maxStalledCount ${MAX_STALLED_COUNT}** (a job whose lock lapses once is failed, not retried — like vigil's default of one attempt)`,
    '- A second worker with autorun off and its stalled checker on (`startStalledCheckTimer`) stands for the rest of the fleet; it never processes a job. Unique queue names per run; both queues are obliterated at the end.',
    '- Percentiles are nearest-rank.',
    '',
    ...a,
    ...b,
    '### Where the time goes',
    '',
    `Redis (the server here) used ${fmt(redisCpuSeconds, 2)} CPU-seconds over the ${fmt(wall, 1)} s of (a) and (b) (\`used_cpu_user\` + \`used_cpu_sys\` from INFO; Redis is shared with whatever else uses it on this machine).`,
    ...(profile.length > 0
      ? [
          '',
          'This process under the V8 profiler (node:inspector) for the whole of (a) and (b): self time per frame and per area, as shares of the time it was not idle. The worker processes are not profiled (the one in (a) is killed; the one in (b) spends its time in its busy loop).',
          '',
          ...profile,
        ]
      : []),
  ].join('\n');
}

writeResult('bullmq-stalled', await main());
// BullMQ's connections may keep timers alive for a while; everything is closed and written.
process.exit(0);
