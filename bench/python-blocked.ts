/**
 * The Python client under CPU-bound work, and a Python runner killed with SIGKILL.
 *
 * 1. False positives: Python runners whose main thread is blocked for 3 s under a 2 s heartbeat
 *    limit, (a) by a pure-Python loop and (b) by one C call that holds the GIL throughout
 *    (`sum(range(n))`), with liveness from the helper process (the default); and, to show why
 *    that is the default, (b) with liveness from a thread. Target: 0 ended with the default.
 * 2. Detection: runners killed with SIGKILL mid-run (heartbeat limit 2 s). For each,
 *    endedAt − (heartbeatAt + limit) and endedAt − the time of the kill. Target: ended
 *    `heartbeat_lost` within the limit + 100 ms at p99.
 *
 * At full size (unless VIGIL_BENCH_PROFILE=0) the server runs under `node --cpu-prof`; the
 * profile's summary goes beside the figures.
 *
 * Run: npm run build && npm run bench -- python-blocked
 * VIGIL_BENCH_SIZE=tiny runs it at a size that only checks it still works.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { ExecutionJson } from './lib/common.js';
import {
  benchDir,
  benchSize,
  call,
  exited,
  fmt,
  machineLines,
  revision,
  root,
  sleep,
  startVigil,
  summarize,
  within,
  writeResult,
} from './lib/common.js';
import { startProfiledVigil, profiling } from './lib/profile.js';
import { bullmqFigures } from './lib/peer.js';
import { PYTHON, requireServices } from './lib/services.js';

const TINY = benchSize() === 'tiny';
const RUNS = TINY ? 1 : 10;
const THREAD_RUNS = TINY ? 1 : 3;
/** Tiny: shorter than the limit, so only the runners' paths are checked, not the outcome. */
const BLOCK_S = TINY ? 1 : 3;
const HEARTBEAT = '2s';
const LIMIT_MS = 2_000;
const KILLED = TINY ? 2 : 30;
/** Killed runners started at a time: 2 cores, and each runner is two interpreters. */
const KILL_BATCH = TINY ? 2 : 10;
const TARGET_MS = 100;
const runnerScript = join(benchDir, 'lib', 'python_runner.py');

/** A Python runner with the client from clients/python; its JSON lines go to `onLine`. */
function runner(args: string[], onLine: (line: Record<string, unknown>) => void): ChildProcess {
  const child = spawn(PYTHON, [runnerScript, ...args], {
    cwd: root,
    env: { ...process.env, PYTHONPATH: join(root, 'clients', 'python') },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let buffered = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.trim()) onLine(JSON.parse(line) as Record<string, unknown>);
    }
  });
  return child;
}

interface Blocked {
  label: string;
  liveness: string;
  runs: number;
  succeeded: number;
  ended: ExecutionJson[];
  blockedS: number[];
  outcomes: string[];
}

async function blocked(url: string, how: 'pure' | 'gil', liveness: string, runs: number) {
  const lines: Record<string, unknown>[] = [];
  const child = runner(
    ['blocked', url, how, liveness, String(runs), String(BLOCK_S), HEARTBEAT],
    (line) => lines.push(line),
  );
  await exited(child, 300_000);
  if (lines.length !== runs) throw new Error(`${how}/${liveness}: ${lines.length} of ${runs} runs`);
  const executions = await Promise.all(
    lines.map(
      async (line) =>
        (await call<ExecutionJson>(url, 'GET', `/v1/executions/${String(line.id)}`)).body,
    ),
  );
  const result: Blocked = {
    label: how === 'pure' ? 'pure-Python loop' : 'one C call holding the GIL (`sum(range(n))`)',
    liveness,
    runs,
    succeeded: executions.filter((e) => e.status === 'succeeded').length,
    ended: executions.filter((e) => e.endedBy === 'watchdog'),
    blockedS: lines.map((line) => Number(line.blocked_s)),
    outcomes: [...new Set(lines.map((line) => String(line.outcome)))],
  };
  console.log(`${result.label}, ${liveness}: ${result.ended.length} of ${runs} ended`);
  return result;
}

interface Killed {
  id: string;
  killedAt: number;
}

/** Starts one killable runner, waits until its run is going, kills it with SIGKILL. */
async function killOne(url: string): Promise<Killed> {
  let resolveId: (id: string) => void = () => undefined;
  const started = new Promise<string>((resolve) => (resolveId = resolve));
  const child = runner(['killable', url, HEARTBEAT], (line) => resolveId(String(line.id)));
  const id = await within(started, 60_000, 'a killable runner to start');
  // At a random point of the beat cadence, not right after the first beat.
  await sleep(200 + Math.random() * 1_000);
  const killedAt = Date.now();
  child.kill('SIGKILL');
  await exited(child, 10_000);
  return { id, killedAt };
}

async function endedExecution(url: string, id: string): Promise<ExecutionJson> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { body } = await call<ExecutionJson>(url, 'GET', `/v1/executions/${id}`);
    if (body.status !== 'running') return body;
    if (Date.now() > deadline) throw new Error(`${id} still running 30 s after its kill`);
    await sleep(50);
  }
}

await requireServices('python-blocked', ['python']);
const YAML = 'sweep:\n  interval: 1s\n';
const peer = bullmqFigures();
const profiled = profiling() ? await startProfiledVigil(YAML) : null;
const vigil = profiled?.vigil ?? (await startVigil(YAML));
let lines: string[];
try {
  const started = Date.now();
  const cases = [
    () => blocked(vigil.url, 'pure', 'process', RUNS),
    () => blocked(vigil.url, 'gil', 'process', RUNS),
    () => blocked(vigil.url, 'pure', 'thread', THREAD_RUNS),
    () => blocked(vigil.url, 'gil', 'thread', THREAD_RUNS),
  ];
  const killAll = async (): Promise<Killed[]> => {
    const kills: Killed[] = [];
    for (let i = 0; i < KILLED; i += KILL_BATCH) {
      const batch = Array.from({ length: Math.min(KILL_BATCH, KILLED - i) }, () =>
        killOne(vigil.url),
      );
      kills.push(...(await Promise.all(batch)));
    }
    return kills;
  };
  // One runner at a time, so each has the machine to itself, then the kills; a tiny run only
  // checks that each still works, so it runs them all side by side.
  const results: Blocked[] = [];
  let kills: Killed[];
  let blockedMs = 0;
  if (TINY) {
    const blocking = Promise.all(cases.map((run) => run())).then((done) => {
      blockedMs = Date.now() - started;
      return done;
    });
    const [done, killed] = await Promise.all([blocking, killAll()]);
    results.push(...done);
    kills = killed;
  } else {
    for (const run of cases) results.push(await run());
    blockedMs = Date.now() - started;
    kills = await killAll();
  }
  const ended = await Promise.all(
    kills.map(async (k) => ({ ...k, execution: await endedExecution(vigil.url, k.id) })),
  );
  const lost = ended.filter((e) => e.execution.verdict === 'heartbeat_lost');
  const overshoot = summarize(
    lost.map(
      (e) => Date.parse(e.execution.endedAt!) - Date.parse(e.execution.heartbeatAt!) - LIMIT_MS,
    ),
  );
  const sinceKill = summarize(lost.map((e) => Date.parse(e.execution.endedAt!) - e.killedAt));
  const beatsAfterKill = lost.filter(
    (e) => Date.parse(e.execution.heartbeatAt!) > e.killedAt,
  ).length;

  const row = (r: Blocked) => {
    const target =
      r.liveness === 'process'
        ? `0 — ${r.ended.length === 0 ? 'met' : '**missed**'}`
        : 'none (shows why the helper process is the default)';
    return `| ${r.label} | ${r.liveness} | ${r.runs} | ${fmt(Math.min(...r.blockedS) * 1000)}–${fmt(Math.max(...r.blockedS) * 1000)} | ${r.succeeded} | **${r.ended.length}** | ${target} |`;
  };
  const pct = (s: ReturnType<typeof summarize>) =>
    `${fmt(s.min)} | ${fmt(s.p50)} | ${fmt(s.p90)} | ${fmt(s.p99)} | ${fmt(s.max)}`;
  const met = lost.length === KILLED && sinceKill.p99 <= LIMIT_MS + TARGET_MS;
  lines = [
    '## Python runners: blocked main thread, and SIGKILL (`bench/python-blocked.ts`)',
    '',
    ...machineLines(),
    `- Vigil: ${revision()}; \`vigil serve\` on SQLite, \`sweep: { interval: 1s }\`; Python client from clients/python (${PYTHON})`,
    `- Blocked: each runner process runs its executions one after another through \`with client.run(...)\`, each blocking the main thread for ${BLOCK_S} s; heartbeat limit ${HEARTBEAT}. Took ${fmt(blockedMs)} ms.`,
    '',
    '| Main thread blocked by | Liveness from | Runs | Blocked (ms) | Succeeded | Ended by the watchdog | Target |',
    '| --- | --- | ---: | ---: | ---: | ---: | --- |',
    ...results.map(row),
    '',
    ...results.flatMap((r) =>
      r.ended.map((e) => `- ${r.label}, ${r.liveness}: ${e.id} ${e.verdict}: ${e.reason}`),
    ),
    `- Runner outcomes: ${[...new Set(results.flatMap((r) => r.outcomes))].join('; ')}.`,
    '',
    `- SIGKILL: ${KILLED} runner processes (${KILL_BATCH} at a time), each with one run (heartbeat limit ${HEARTBEAT}, liveness from the helper process), killed with SIGKILL 200–1,200 ms after its run started. Nearest-rank percentiles.`,
    '',
    '| SIGKILL → ended | n | Min (ms) | p50 (ms) | p90 (ms) | p99 (ms) | Max (ms) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    `| \`endedAt\` − kill | ${sinceKill.n} | ${pct(sinceKill)} |`,
    `| \`endedAt\` − (\`heartbeatAt\` + limit) | ${overshoot.n} | ${pct(overshoot)} |`,
    '',
    `- Ended \`heartbeat_lost\`: ${lost.length} of ${KILLED}${
      lost.length < KILLED
        ? ` (others: ${ended
            .filter((e) => e.execution.verdict !== 'heartbeat_lost')
            .map((e) => e.execution.verdict)
            .join(', ')})`
        : ''
    }; beats recorded after the kill (a beat in flight when it came): ${beatsAfterKill}.`,
    `- Target: ended within the limit + ${TARGET_MS} ms of the kill at p99 (≤ ${fmt(LIMIT_MS + TARGET_MS)} ms): ${met ? '**met**' : '**missed**'} (p99 ${fmt(sinceKill.p99)} ms).`,
    peer
      ? `- Peer: BullMQ with the same 2 s limit (lockDuration 2 s, stalledInterval 1 s) reported a SIGKILLed worker's jobs \`stalled\` ${fmt(peer.killP50)} ms (p50) / ${fmt(peer.killP99)} ms (p99) after the kill, in bench/results/bullmq-stalled.md of ${peer.date} (not this run). Vigil ÷ BullMQ, kill → ended: ${fmt(sinceKill.p50 / peer.killP50, 2)} × at p50, ${fmt(sinceKill.p99 / peer.killP99, 2)} × at p99.`
      : '- Peer: no figures in bench/results/bullmq-stalled.md (run bench/bullmq-stalled.ts).',
  ];
} finally {
  await vigil.stop();
}
if (profiled)
  lines.push(
    '',
    '### Where the server spends its time',
    '',
    'The server of this run was under `node --cpu-prof` throughout (the blocked runners, then the SIGKILLs); self time per frame and per area, as shares of the time it was not idle.',
    '',
    ...profiled.summary('`vigil serve` during the runs above'),
  );
writeResult('python-blocked', lines.join('\n'));
