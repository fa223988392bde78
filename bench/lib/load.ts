/**
 * The load generator of bench/heartbeat-ingest.ts, run as its own process so that it does not
 * share an event loop with the parent. Receives one job over IPC, runs autocannon (programmatic
 * API) against vigil on 127.0.0.1, and sends back a summary.
 *
 * single: POST /v1/executions/:id/heartbeat {attempt: 1}, cycling over the ids.
 * batch:  POST /v1/heartbeats {beats: [...]} with `batchSize` beats, cycling over slices of the ids.
 */
import { createRequire } from 'node:module';
import { serveJob } from './child-job.js';

export interface LoadJob {
  url: string;
  mode: 'single' | 'batch';
  ids: string[];
  connections: number;
  durationSeconds: number;
  batchSize: number;
}

export interface LoadResult {
  mode: 'single' | 'batch';
  durationSeconds: number;
  ok2xx: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  /** Beats the server answered as lost (batch: entries of `lost`; single: 409s). */
  lostBeats: number;
  /** Beats the server answered as ok (batch: entries of `ok`; single: 200s). */
  okBeats: number;
  latency: { p50: number; p90: number; p99: number; max: number; mean: number };
  requestsPerSecond: { mean: number; min: number; max: number };
  /** CPU-seconds this process used while running the job. */
  cpuSeconds: number;
}

interface AutocannonRequest {
  method?: string;
  path?: string;
  body?: string;
  headers?: Record<string, string>;
  setupRequest?: (request: AutocannonRequest) => AutocannonRequest;
  onResponse?: (status: number, body: string) => void;
}

interface Histogram {
  average: number;
  mean: number;
  min: number;
  max: number;
  p50: number;
  p90: number;
  p99: number;
}

interface AutocannonResult {
  duration: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  '2xx': number;
  latency: Histogram;
  requests: Histogram;
  statusCodeStats: Record<string, { count: number }>;
}

type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;

// autocannon ships no type declarations: load it through require and describe what is used.
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

async function run(job: LoadJob): Promise<LoadResult> {
  const cpuStart = process.cpuUsage();
  if (!job.url.startsWith('http://127.0.0.1:')) throw new Error(`refusing to load ${job.url}`);
  let lostBeats = 0;
  let okBeats = 0;
  let request: AutocannonRequest;
  if (job.mode === 'single') {
    const paths = job.ids.map((id) => `/v1/executions/${encodeURIComponent(id)}/heartbeat`);
    let next = 0;
    request = {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ attempt: 1 }),
      setupRequest: (req) => ({ ...req, path: paths[next++ % paths.length]! }),
      onResponse: (status) => {
        if (status === 200) okBeats++;
        else if (status === 409) lostBeats++;
      },
    };
  } else {
    const bodies: string[] = [];
    for (let i = 0; i + job.batchSize <= job.ids.length; i += job.batchSize) {
      const beats = job.ids.slice(i, i + job.batchSize).map((id) => ({ id, attempt: 1 }));
      bodies.push(JSON.stringify({ beats }));
    }
    if (bodies.length === 0) throw new Error('fewer ids than one batch');
    let next = 0;
    request = {
      method: 'POST',
      path: '/v1/heartbeats',
      headers: { 'content-type': 'application/json' },
      setupRequest: (req) => ({ ...req, body: bodies[next++ % bodies.length]! }),
      onResponse: (status, body) => {
        if (status !== 200) return;
        try {
          const parsed = JSON.parse(body) as { ok: unknown[]; lost: unknown[] };
          okBeats += parsed.ok.length;
          lostBeats += parsed.lost.length;
        } catch {
          lostBeats += job.batchSize;
        }
      },
    };
  }
  const result = await autocannon({
    url: job.url,
    connections: job.connections,
    duration: job.durationSeconds,
    timeout: 10,
    requests: [request],
  });
  const statusCodes: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) {
    statusCodes[code] = Number(count);
  }
  const cpu = process.cpuUsage(cpuStart);
  return {
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    mode: job.mode,
    durationSeconds: result.duration,
    ok2xx: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
    lostBeats,
    okBeats,
    latency: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
      mean: result.latency.mean ?? result.latency.average,
    },
    requestsPerSecond: {
      mean: result.requests.mean ?? result.requests.average,
      min: result.requests.min,
      max: result.requests.max,
    },
  };
}

serveJob('load', run);
