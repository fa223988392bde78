/**
 * The peer of a remediation sweep: BullMQ's stalled-job check over `count` active jobs whose locks
 * lapsed, on the local Redis (127.0.0.1:6379). The jobs are taken by hand (`getNextJob`, so no lock
 * is renewed), the first check marks them as possibly stalled, their locks expire, and the second
 * check (timed) moves every one back to wait marked to fail (maxStalledCount 0: "job stalled more
 * than allowable limit", failed when a worker next fetches it) and emits `stalled` for each.
 * A unique queue per run, obliterated after.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Queue, Worker } from 'bullmq';
import { sleep, summarize } from './common.js';

const connection = { host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null };
const LOCK_MS = 1_000;
const CHECK_INTERVAL_MS = 200;

/** The check's p50 over `runs` rounds, in ms, and BullMQ's version. */
export async function bullmqStalled(
  count: number,
  runs: number,
): Promise<{ version: string; n: number; p50: number }> {
  const { version } = (await import('bullmq/package.json', { with: { type: 'json' } })).default as {
    version: string;
  };
  const samples: number[] = [];
  for (let r = 0; r < runs; r++) {
    const name = `vigil-bench-stalled-${randomUUID().slice(0, 8)}`;
    const queue = new Queue(name, { connection });
    const worker = new Worker(name, null, {
      connection,
      autorun: false,
      lockDuration: LOCK_MS,
      stalledInterval: CHECK_INTERVAL_MS,
      maxStalledCount: 0,
    });
    try {
      for (let i = 0; i < count; i += 1_000) {
        await queue.addBulk(
          Array.from({ length: Math.min(1_000, count - i) }, (_, k) => ({
            name: 'job',
            data: { n: i + k },
          })),
        );
      }
      const token = randomUUID();
      for (let i = 0; i < count; i++) {
        if (!(await worker.getNextJob(token, { block: false }))) throw new Error(`no job ${i}`);
      }
      const check = () =>
        (worker as unknown as { moveStalledJobsToWait(): Promise<void> }).moveStalledJobsToWait();
      let stalled = 0;
      worker.on('stalled', () => stalled++);
      // The first check marks every active job as possibly stalled; none is moved yet.
      await check();
      await sleep(LOCK_MS + CHECK_INTERVAL_MS + 100);
      const started = performance.now();
      await check();
      samples.push(performance.now() - started);
      if (stalled !== count) throw new Error(`BullMQ: ${stalled} of ${count} reported stalled`);
      const counts = await queue.getJobCounts('active', 'wait');
      if (counts.active !== 0 || counts.wait !== count)
        throw new Error(`BullMQ after the check: ${JSON.stringify(counts)}`);
    } finally {
      await worker.close();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  }
  return { version, n: samples.length, p50: summarize(samples).p50 };
}
