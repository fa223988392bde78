/**
 * Heartbeat ingest through the real service: `node bin/vigil.js serve` in one process, autocannon
 * in another, both on this machine (they share its cores).
 *
 * Registers N running executions over the API (heartbeat limit 1 h, so nothing is ended), then
 * drives (a) single beats, POST /v1/executions/:id/heartbeat, cycling over the ids, and
 * (b) batches, POST /v1/heartbeats with BATCH beats per request. Every figure is measured by this
 * run; a run with any non-2xx answer, connection error or lost beat is reported as invalid.
 *
 * Run: npm run build && node --import tsx bench/heartbeat-ingest.ts
 */
import { beatsPerSecond, drive, invalid, pct } from './lib/drive.js';
import {
  call,
  fmt,
  listAll,
  machineLines,
  revision,
  metric,
  problems,
  register,
  startVigil,
  writeResult,
} from './lib/common.js';

const EXECUTIONS = 2_000;
const BATCH = 500;
const WARMUP_SECONDS = 2;
const DURATION_SECONDS = 10;
const SINGLE_CONNECTIONS = 50;
const BATCH_CONNECTIONS = 10;
const TARGET_SINGLE = 5_000;
const TARGET_BATCH = 50_000;
const YAML = 'sweep:\n  interval: 1s\n';

async function main(): Promise<string> {
  const measured = revision();
  const vigil = await startVigil(YAML);
  try {
    const ids = Array.from(
      { length: EXECUTIONS },
      (_, i) => `ingest-${String(i).padStart(5, '0')}`,
    );
    const registerStarted = performance.now();
    await register(vigil.url, ids, { heartbeat: '1h', run: null, progress: null });
    const registerMs = performance.now() - registerStarted;
    console.log(`registered ${EXECUTIONS} executions in ${fmt(registerMs)} ms`);

    const base = { ids, batchSize: BATCH };
    console.log(`warm-up: ${WARMUP_SECONDS} s single, ${WARMUP_SECONDS} s batch`);
    await drive(vigil.url, vigil.pid, {
      ...base,
      mode: 'single',
      connections: SINGLE_CONNECTIONS,
      durationSeconds: WARMUP_SECONDS,
    });
    await drive(vigil.url, vigil.pid, {
      ...base,
      mode: 'batch',
      connections: BATCH_CONNECTIONS,
      durationSeconds: WARMUP_SECONDS,
    });
    const metricsBefore = await call<string>(vigil.url, 'GET', '/metrics');

    console.log(`(a) single beats: ${DURATION_SECONDS} s, ${SINGLE_CONNECTIONS} connections`);
    const single = await drive(vigil.url, vigil.pid, {
      ...base,
      mode: 'single',
      connections: SINGLE_CONNECTIONS,
      durationSeconds: DURATION_SECONDS,
    });
    console.log(`(b) batches of ${BATCH}: ${DURATION_SECONDS} s, ${BATCH_CONNECTIONS} connections`);
    const batch = await drive(vigil.url, vigil.pid, {
      ...base,
      mode: 'batch',
      connections: BATCH_CONNECTIONS,
      durationSeconds: DURATION_SECONDS,
    });

    // Cross-checks through the API: the server counted the beats, and nothing was ended.
    const metricsAfter = await call<string>(vigil.url, 'GET', '/metrics');
    const serverOk =
      metric(metricsAfter.body, 'vigil_heartbeats_total', 'outcome="ok"') -
      metric(metricsBefore.body, 'vigil_heartbeats_total', 'outcome="ok"');
    const serverLost =
      metric(metricsAfter.body, 'vigil_heartbeats_total', 'outcome="lost"') -
      metric(metricsBefore.body, 'vigil_heartbeats_total', 'outcome="lost"');
    const running = (await listAll(vigil.url, 'running')).length;
    const health = await call<{ status: string }>(vigil.url, 'GET', '/healthz');
    const logs = problems(vigil.logLines());

    const rows = [single, batch].map((m) => {
      const r = m.result;
      const target = m.beatsPerRequest === 1 ? TARGET_SINGLE : TARGET_BATCH;
      const rate = beatsPerSecond(m);
      const bad = invalid(m);
      const verdict = bad.length > 0 ? '**invalid**' : rate >= target ? 'met' : '**missed**';
      return {
        line: `| ${m.beatsPerRequest === 1 ? '(a) single `POST /v1/executions/:id/heartbeat`' : `(b) batch \`POST /v1/heartbeats\` × ${m.beatsPerRequest}`} | ${m.connections} | ${fmt(r.durationSeconds, 1)} | ${fmt(r.ok2xx)} | ${fmt(r.ok2xx / r.durationSeconds)} | **${fmt(rate)}** | ≥ ${fmt(target)} — ${verdict} | ${fmt(r.latency.p50, 1)} | ${fmt(r.latency.p99, 1)} | ${fmt(r.latency.max)} | ${r.non2xx} | ${r.errors} | ${pct(m.serverCpu)} | ${pct(m.loadCpu)} |`,
        bad,
        rate,
        target,
        label: m.beatsPerRequest === 1 ? '(a) single beats' : '(b) batched beats',
      };
    });

    const clientOk = single.result.okBeats + batch.result.okBeats;
    const notes: string[] = [];
    for (const row of rows) {
      if (row.bad.length > 0) {
        notes.push(`- **${row.label}: the figure is invalid**: ${row.bad.join('; ')}.`);
      } else if (row.rate < row.target) {
        notes.push(
          `- **${row.label}: target missed**: ${fmt(row.rate)} beats/s measured, target ≥ ${fmt(row.target)} beats/s (${fmt((row.rate / row.target) * 100)} % of it).`,
        );
      } else {
        notes.push(`- ${row.label}: target met (${fmt(row.rate)} ≥ ${fmt(row.target)} beats/s).`);
      }
    }
    notes.push(
      `- Beats the server counted as accepted during (a)+(b) (\`vigil_heartbeats_total{outcome="ok"}\`): ${fmt(serverOk)}; beats the load generator saw accepted: ${fmt(clientOk)} (the server also counts answers to requests still in flight when autocannon stopped); lost: ${fmt(serverLost)}.`,
      `- After the runs: ${fmt(running)} of ${fmt(EXECUTIONS)} executions still running${running === EXECUTIONS ? '' : ' — **some were ended during the benchmark**'}; \`/healthz\` answered ${health.status} ${health.body.status}.`,
      `- Server output at warn or above (incl. Node warnings): ${logs.count}${logs.sample.length > 0 ? ` — ${logs.sample.map((s) => `\`${s}\``).join(', ')}` : ''}.`,
      `- The load generator and the server share the machine's cores; CPU columns are CPU-seconds per wall-second of each process (100 % = one core) during the measured run.`,
    );

    return [
      '## Heartbeat ingest over HTTP (`bench/heartbeat-ingest.ts`)',
      '',
      ...machineLines(),
      `- Vigil: ${measured}`,
      `- Server: \`node bin/vigil.js serve --port 0\`, SQLite store (WAL) in a temporary directory, no tokens, \`sweep: { interval: 1s }\``,
      `- Data: ${fmt(EXECUTIONS)} running executions registered over the API in ${fmt(registerMs)} ms (heartbeat limit 1 h, no run limit); every beat is \`{attempt: 1}\` for one of them`,
      `- Load: autocannon 8 (programmatic API) in a separate Node process, pipelining 1; ${WARMUP_SECONDS} s warm-up of each mode (not counted), then ${DURATION_SECONDS} s per mode; single beats cycle over all ${fmt(EXECUTIONS)} ids; batches cycle over ${EXECUTIONS / BATCH} fixed slices of ${BATCH} ids`,
      '',
      '| Mode | Conns | Seconds | 2xx requests | Requests/s | Beats/s | Target | p50 (ms) | p99 (ms) | Max (ms) | Non-2xx | Errors | Server CPU | Load-gen CPU |',
      '| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...rows.map((r) => r.line),
      '',
      'Beats/s = 2xx requests × beats per request ÷ measured seconds. Latency is autocannon’s per-request latency (2xx answers only).',
      '',
      ...notes,
      '',
    ].join('\n');
  } finally {
    await vigil.stop();
  }
}

writeResult('heartbeat-ingest', await main());
