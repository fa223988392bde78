/**
 * False positives under CPU-bound work: SDK runners whose main thread is blocked for 3 s under a
 * 2 s heartbeat limit (the same settings as BullMQ's lockDuration 2 s in bench/bullmq-stalled.ts).
 * Liveness is beaten from the SDK's worker thread, so none should be ended.
 *
 * At full size (unless VIGIL_BENCH_PROFILE=0) the server runs under `node --cpu-prof`; the
 * profile's summary goes beside the figures.
 *
 * Run: npm run build && node --import tsx bench/sdk-blocked.ts
 * VIGIL_BENCH_SIZE=tiny runs it at a size that only checks it still works.
 */
import {
  benchSize,
  call,
  exited,
  fmt,
  machineLines,
  revision,
  spawnTs,
  startVigil,
  writeResult,
} from './lib/common.js';
import type { ExecutionJson } from './lib/common.js';
import { bullmqFigures } from './lib/peer.js';
import { startProfiledVigil, profiling } from './lib/profile.js';

const TINY = benchSize() === 'tiny';
const RUNS = TINY ? 1 : 10;
/** Tiny: shorter than the limit, so only the runner's path is checked, not the outcome. */
const BLOCK_MS = TINY ? 1_000 : 3_000;
const HEARTBEAT = '2s';
const YAML = 'sweep:\n  interval: 1s\n';

const peer = bullmqFigures();
const profiled = profiling() ? await startProfiledVigil(YAML) : null;
const vigil = profiled?.vigil ?? (await startVigil(YAML));
let lines: string[];
try {
  const started = Date.now();
  const runner = spawnTs('lib/sdk-blocked-runner.ts', [
    vigil.url,
    String(RUNS),
    String(BLOCK_MS),
    HEARTBEAT,
  ]);
  const outcomes: { id: string; outcome: string }[] = [];
  runner.on('message', (msg: { id?: string; outcome?: string }) => {
    if (msg.id) outcomes.push({ id: msg.id, outcome: msg.outcome ?? '?' });
  });
  await exited(runner, 120_000);
  if (outcomes.length !== RUNS)
    throw new Error(`expected ${RUNS} outcomes, got ${outcomes.length}`);
  const elapsed = Date.now() - started;
  const executions: ExecutionJson[] = [];
  for (const { id } of outcomes) {
    const answer = await call<ExecutionJson>(vigil.url, 'GET', `/v1/executions/${id}`);
    executions.push(answer.body);
  }
  const succeeded = executions.filter((e) => e.status === 'succeeded').length;
  const ended = executions.filter((e) => e.endedBy === 'watchdog');
  lines = [
    '## SDK runners blocked by CPU-bound work (`bench/sdk-blocked.ts`)',
    '',
    ...machineLines(),
    `- Vigil: ${revision()}; \`vigil serve\` on SQLite, \`sweep: { interval: 1s }\``,
    `- ${RUNS} executions run one after another in one runner process through \`client.run()\` (the SDK from dist/), each blocking the main thread with a ${fmt(BLOCK_MS)} ms busy loop; heartbeat limit ${HEARTBEAT} (as BullMQ's lockDuration in bench/bullmq-stalled.ts). Finished in ${fmt(elapsed)} ms.`,
    '',
    '| Runs | Succeeded | Ended by the watchdog (false positives) | Target |',
    '| ---: | ---: | ---: | --- |',
    `| ${RUNS} | ${succeeded} | **${ended.length}** | 0 — ${ended.length === 0 && succeeded === RUNS ? 'met' : '**missed**'} |`,
    '',
    ...(ended.length > 0 ? ended.map((e) => `- ${e.id}: ${e.verdict}: ${e.reason}`) : []),
    `- Runner outcomes: ${[...new Set(outcomes.map((o) => o.outcome))].join(', ')}.`,
    peer
      ? `- Peer: BullMQ with the same 2 s limit (lockDuration 2 s) failed ${peer.busyFailed} of ${peer.busyJobs} jobs that block its event loop for 3 s as stalled, in bench/results/bullmq-stalled.md of ${peer.date} (not this run); Vigil ended ${ended.length} of ${RUNS}.`
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
    'The server of this run was under `node --cpu-prof` throughout; self time per frame and per area, as shares of the time it was not idle.',
    '',
    ...profiled.summary('`vigil serve` during the runs above'),
  );
writeResult('sdk-blocked', lines.join('\n'));
