/**
 * The load generator of bench/registration.ts, run as its own process so that it does not share an
 * event loop with the parent. Receives one job over IPC, registers `count` executions (or adds
 * `count` BullMQ jobs), and sends back how long that took.
 *
 * vigil-single: POST /v1/executions, `inFlight` connections of autocannon (the load generator of the
 *   heartbeat benchmarks: it costs less CPU per request than node:http, and this machine is shared).
 * vigil-batch:  POST /v1/executions/batch with `batchSize` items, `inFlight` requests at a time.
 * bullmq-single: Queue.add, `inFlight` at a time.  bullmq-batch: Queue.addBulk of `batchSize`.
 */
import { createRequire } from 'node:module';
import { Queue } from 'bullmq';
import { call, pool } from './common.js';
import { serveJob } from './child-job.js';

interface AutocannonRequest {
  method?: string;
  path?: string;
  body?: string;
  headers?: Record<string, string>;
  setupRequest?: (request: AutocannonRequest) => AutocannonRequest;
  onResponse?: (status: number, body: string) => void;
}

type Autocannon = (options: Record<string, unknown>) => Promise<{ errors: number }>;

// autocannon ships no type declarations: load it through require and describe what is used.
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

export interface RegisterJob {
  mode: 'vigil-single' | 'vigil-batch' | 'bullmq-single' | 'bullmq-batch';
  /** Vigil's URL, or the BullMQ queue's name. */
  target: string;
  prefix: string;
  count: number;
  inFlight: number;
  batchSize: number;
}

export interface RegisterResult {
  seconds: number;
  /** Executions registered (or jobs added). */
  registered: number;
  /** Items not registered, with the first few reasons. */
  failed: number;
  reasons: string[];
  /** CPU-seconds this process used while running the job. */
  cpuSeconds: number;
}

const REDIS = { host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null };

/** Every item carries the same small payload in both systems: its number. */
const item = (prefix: string, i: number) => ({
  id: `${prefix}-${i}`,
  kind: 'bench',
  status: 'queued' as const,
  metadata: { n: i },
});

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

async function run(job: RegisterJob): Promise<RegisterResult> {
  const items = Array.from({ length: job.count }, (_, i) => item(job.prefix, i));
  let registered = 0;
  const reasons: string[] = [];
  const fail = (reason: string) => {
    if (reasons.length < 5) reasons.push(reason);
  };
  const queue = job.mode.startsWith('bullmq') ? new Queue(job.target, { connection: REDIS }) : null;
  if (queue) await queue.waitUntilReady();
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  // autocannon ends a run of `amount` requests on its next one-second tick, not at the last
  // answer: the single mode's time ends at its last answer, taken here.
  let lastAnswerAt: number | null = null;
  switch (job.mode) {
    case 'vigil-single': {
      if (!job.target.startsWith('http://127.0.0.1:')) throw new Error(`refusing ${job.target}`);
      const bodies = items.map((body) => JSON.stringify(body));
      let next = 0;
      const result = await autocannon({
        url: job.target,
        connections: job.inFlight,
        amount: job.count,
        timeout: 30,
        requests: [
          {
            method: 'POST',
            path: '/v1/executions',
            headers: { 'content-type': 'application/json' },
            setupRequest: (req: AutocannonRequest) => ({ ...req, body: bodies[next++] ?? '{}' }),
            onResponse: (status: number, body: string) => {
              lastAnswerAt = performance.now();
              if (status === 201) registered++;
              else fail(`HTTP ${status} ${body.slice(0, 200)}`);
            },
          },
        ],
      });
      if (result.errors > 0) fail(`${result.errors} connection errors`);
      break;
    }
    case 'vigil-batch':
      await pool(chunks(items, job.batchSize), job.inFlight, async (executions) => {
        const answer = await call<{ results?: { execution?: unknown; error?: unknown }[] }>(
          job.target,
          'POST',
          '/v1/executions/batch',
          { executions },
        );
        if (answer.status !== 200 || !Array.isArray(answer.body.results)) {
          fail(`HTTP ${answer.status} ${JSON.stringify(answer.body).slice(0, 200)}`);
          return;
        }
        for (const result of answer.body.results) {
          if (result.execution) registered++;
          else fail(JSON.stringify(result.error));
        }
      });
      break;
    case 'bullmq-single':
      await pool(items, job.inFlight, async (data) => {
        await queue!.add('bench', data.metadata, { jobId: data.id });
        registered++;
      });
      break;
    case 'bullmq-batch':
      await pool(chunks(items, job.batchSize), job.inFlight, async (batch) => {
        const added = await queue!.addBulk(
          batch.map((data) => ({ name: 'bench', data: data.metadata, opts: { jobId: data.id } })),
        );
        registered += added.length;
      });
      break;
  }
  const seconds = ((lastAnswerAt ?? performance.now()) - started) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  if (queue) {
    await queue.obliterate({ force: true });
    await queue.close();
  }
  return {
    seconds,
    registered,
    failed: job.count - registered,
    reasons,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
}

serveJob('register-load', run);
