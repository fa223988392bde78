/**
 * A BullMQ worker process for bench/bullmq-stalled.ts, on the local Redis (127.0.0.1:6379).
 * Receives its settings over IPC and reports what happens to its jobs:
 *
 *   → {type: 'start', queue, mode, concurrency, lockDuration, stalledInterval, maxStalledCount, busyMs}
 *   ← {type: 'active', jobId, at}        a processor started
 *   ← {type: 'worker', event, jobId?, message?, at}   the worker's own completed / failed / error / stalled
 *
 * mode 'forever': the processor never returns (the parent kills this process).
 * mode 'busy': the processor blocks the event loop for `busyMs`, then returns.
 *
 * Bounded: exits on its own after `maxRunMs`.
 */
import { Worker } from 'bullmq';

export interface WorkerStart {
  type: 'start';
  queue: string;
  mode: 'forever' | 'busy';
  concurrency: number;
  lockDuration: number;
  stalledInterval: number;
  maxStalledCount: number;
  busyMs: number;
  maxRunMs: number;
}

const send = (m: Record<string, unknown>) => {
  if (process.connected) process.send!(m);
};

const giveUp = setTimeout(() => process.exit(2), 30_000);

process.once('message', (start: WorkerStart) => {
  clearTimeout(giveUp);
  setTimeout(() => process.exit(3), start.maxRunMs).unref();
  const worker = new Worker(
    start.queue,
    async (job) => {
      send({ type: 'active', jobId: job.id, at: Date.now() });
      if (start.mode === 'forever') return new Promise<never>(() => undefined);
      const until = Date.now() + start.busyMs;
      // Blocks this process's event loop: no lock renewal, no stalled check, nothing else runs.
      while (Date.now() < until) {
        // busy
      }
      return { busyMs: start.busyMs };
    },
    {
      connection: { host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null },
      concurrency: start.concurrency,
      lockDuration: start.lockDuration,
      stalledInterval: start.stalledInterval,
      maxStalledCount: start.maxStalledCount,
    },
  );
  worker.on('completed', (job) =>
    send({ type: 'worker', event: 'completed', jobId: job.id, at: Date.now() }),
  );
  worker.on('failed', (job, error) =>
    send({
      type: 'worker',
      event: 'failed',
      jobId: job?.id,
      message: error.message,
      at: Date.now(),
    }),
  );
  worker.on('stalled', (jobId) =>
    send({ type: 'worker', event: 'stalled', jobId, at: Date.now() }),
  );
  worker.on('error', (error) =>
    send({ type: 'worker', event: 'error', message: error.message, at: Date.now() }),
  );
  process.once('SIGTERM', () => {
    void worker.close(true).finally(() => process.exit(0));
  });
});
