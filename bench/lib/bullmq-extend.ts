/**
 * The peer of batched heartbeats in bench/heartbeat-ingest.ts, run as its own process: BullMQ's
 * lock renewal, what a worker does for its active jobs to show they are alive (one `extendLocks`
 * script call for many jobs: check each lock's token, extend it, clear the job from the stalled
 * set). Receives one job over IPC:
 *
 *   adds `jobs` jobs to a fresh queue (`addBulk`), moves each to active with its own lock token
 *   (`Worker.getNextJob`, as a worker takes jobs), then renews those locks for `seconds` in calls
 *   of `batchSize` jobs, `inFlight` calls at a time, cycling over fixed slices of the jobs as the
 *   Vigil load does over ids; obliterates the queue after.
 */
import { Queue, Worker } from 'bullmq';
import { serveJob } from './child-job.js';

export interface ExtendJob {
  queue: string;
  jobs: number;
  batchSize: number;
  inFlight: number;
  seconds: number;
}

export interface ExtendResult {
  seconds: number;
  calls: number;
  extended: number;
  failed: number;
  cpuSeconds: number;
}

const REDIS = { host: '127.0.0.1', port: 6379 };
const LOCK_MS = 3_600_000;

/** What the worker's lock manager calls; not part of BullMQ's public surface. */
interface Scripts {
  extendLocks(jobIds: string[], tokens: string[], duration: number): Promise<string[]>;
}

async function run(job: ExtendJob): Promise<ExtendResult> {
  const queue = new Queue(job.queue, { connection: REDIS });
  const worker = new Worker(job.queue, null, {
    connection: REDIS,
    autorun: false,
    lockDuration: LOCK_MS,
  });
  try {
    await queue.waitUntilReady();
    await worker.waitUntilReady();
    for (let i = 0; i < job.jobs; i += 1_000) {
      const count = Math.min(1_000, job.jobs - i);
      await queue.addBulk(
        Array.from({ length: count }, (_, k) => ({
          name: 'bench',
          data: { n: i + k },
          opts: { jobId: `job-${String(i + k).padStart(5, '0')}` },
        })),
      );
    }
    const ids: string[] = [];
    const tokens: string[] = [];
    for (let i = 0; i < job.jobs; i++) {
      const token = `token-${i}`;
      const taken = (await worker.getNextJob(token)) as { id?: string } | undefined;
      if (!taken?.id) throw new Error(`only ${i} of ${job.jobs} jobs could be taken`);
      ids.push(taken.id);
      tokens.push(token);
    }
    const slices: { ids: string[]; tokens: string[] }[] = [];
    for (let i = 0; i + job.batchSize <= ids.length; i += job.batchSize) {
      slices.push({
        ids: ids.slice(i, i + job.batchSize),
        tokens: tokens.slice(i, i + job.batchSize),
      });
    }
    const scripts = (worker as unknown as { scripts: Scripts }).scripts;
    let next = 0;
    let calls = 0;
    let extended = 0;
    let failed = 0;
    const cpuStart = process.cpuUsage();
    const started = performance.now();
    const until = started + job.seconds * 1_000;
    await Promise.all(
      Array.from({ length: job.inFlight }, async () => {
        while (performance.now() < until) {
          const slice = slices[next++ % slices.length]!;
          const missed = await scripts.extendLocks(slice.ids, slice.tokens, LOCK_MS);
          calls++;
          extended += slice.ids.length - missed.length;
          failed += missed.length;
        }
      }),
    );
    const seconds = (performance.now() - started) / 1_000;
    const cpu = process.cpuUsage(cpuStart);
    return { seconds, calls, extended, failed, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
  } finally {
    await worker.close(true);
    await queue.obliterate({ force: true });
    await queue.close();
  }
}

serveJob('bullmq-extend', run);
