import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { formatDuration } from '../../core/duration.js';
import type { VigilEvent } from '../../runtime/events.js';
import type { CliIo } from '../context.js';

/** One simulated runner: how it behaves, in a few words a newcomer can follow. */
interface Scenario {
  id: string;
  story: string;
  limits: Record<string, string>;
  /** The runner's behaviour, in the child: finishes after `finishAfterMs`, or stops progressing. */
  finishAfterMs: number | null;
  progress: boolean;
  killAfterMs?: number;
}

const SCENARIOS: Scenario[] = [
  {
    id: 'invoice-41',
    story: 'finishes after 2s',
    limits: { heartbeat: '1500ms', run: '10s' },
    finishAfterMs: 2_000,
    progress: true,
  },
  {
    id: 'invoice-42',
    story: 'finishes after 3s',
    limits: { heartbeat: '1500ms', run: '10s' },
    finishAfterMs: 3_000,
    progress: true,
  },
  {
    id: 'embed-7',
    story: 'is killed with SIGKILL after 2s (like an OOM kill)',
    limits: { heartbeat: '1500ms', run: '10s' },
    finishAfterMs: null,
    progress: true,
    killAfterMs: 2_000,
  },
  {
    id: 'scrape-9',
    story: 'hangs: alive and beating, but makes no progress after 1s',
    limits: { heartbeat: '1500ms', progress: '2s', run: '10s' },
    finishAfterMs: null,
    progress: false,
  },
  {
    id: 'report-3',
    story: 'overruns its 4s run limit (healthy, just too slow)',
    limits: { heartbeat: '1500ms', run: '4s' },
    finishAfterMs: null,
    progress: true,
  },
];

/** What a runner prints once its execution is registered: its story's clock starts then. */
const REGISTERED = 'registered';

/** The runner program, run with `node -e`: plain HTTP, as any language could do it. */
const RUNNER = `
const [url, id, limits, finishAfter, progress] = process.argv.slice(1);
const post = (path, body) => fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
await post('/v1/executions', { id, kind: 'demo', limits: JSON.parse(limits) });
const started = Date.now();
console.log('${REGISTERED}');
let step = 0;
const beat = setInterval(async () => {
  step++;
  const moving = progress === 'true' || Date.now() - started < 1000;
  const res = await post('/v1/executions/' + id + '/heartbeat', moving ? { attempt: 1, progress: 'step ' + step } : { attempt: 1 });
  if (res.status === 409) {
    const body = await res.json();
    console.log('told to stop: ' + body.reason);
    process.exit(0);
  }
}, 300);
if (finishAfter !== 'null') {
  setTimeout(async () => {
    clearInterval(beat);
    await post('/v1/executions/' + id + '/complete', { attempt: 1, result: { steps: step } });
    process.exit(0);
  }, Number(finishAfter));
}
`;

export function demoCommand(program: Command, io: CliIo): void {
  program
    .command('demo')
    .description(
      'a live demonstration on a throw-away database: five runners, three of them get stuck',
    )
    .option('--port <n>', 'port for the demo service (default: a free one)')
    .action(async (options: { port?: string }) => {
      const [{ parseConfig }, { startServer }, { openSqliteStore }] = await Promise.all([
        import('../../config.js'),
        import('../../http/server.js'),
        import('../../stores/sqlite.js'),
      ]);
      const dir = mkdtempSync(join(tmpdir(), 'vigil-demo-'));
      const store = openSqliteStore(join(dir, 'vigil.db'));
      const children: ChildProcess[] = [];
      try {
        await store.migrate();
        const config = parseConfig(
          { sweep: { interval: '5s' } },
          { VIGIL_PORT: options.port ?? '0' },
        );
        const server = await startServer({ store, config, clock: io.clock });
        const t0 = Date.now();
        const say = (text: string) =>
          io.out(`+${((Date.now() - t0) / 1000).toFixed(1).padStart(4)}s  ${text}`);

        io.out(`Vigil demo: a throw-away service at ${server.url} (database ${dir})`);
        io.out(
          `Watch it live: curl -N ${server.url}/v1/events   ·   API: ${server.url}/v1/executions`,
        );
        io.out('');
        io.out(
          'Five runners start. Each heartbeats every 300ms; Vigil ends any that stops (limit 1.5s).',
        );
        for (const s of SCENARIOS) io.out(`  ${s.id.padEnd(11)} ${s.story}`);
        io.out('');

        const settled = new Set<string>();
        let finished = false;
        server.service.events.on((event: VigilEvent) => narrate(event, say, settled));
        for (const s of SCENARIOS) {
          const child = spawn(
            process.execPath,
            [
              '--input-type=module',
              '-e',
              RUNNER,
              server.url,
              s.id,
              JSON.stringify(s.limits),
              String(s.finishAfterMs),
              String(s.progress),
            ],
            { stdio: ['ignore', 'pipe', 'inherit'] },
          );
          children.push(child);
          // A kill is timed from the runner's registration, not its spawn: on a busy machine a
          // runner can take seconds to start, and one killed before it registered has no story.
          createInterface({ input: child.stdout }).on('line', (line) => {
            if (line !== REGISTERED) say(`${s.id}: runner ${line.trim()}`);
            else if (s.killAfterMs !== undefined) {
              setTimeout(() => {
                say(`${s.id}: kill -9 ${child.pid} (the runner dies without a word)`);
                child.kill('SIGKILL');
              }, s.killAfterMs).unref();
            }
          });
          child.on('exit', (code, signal) => {
            if (s.finishAfterMs !== null && code === 0) {
              settled.add(s.id);
              say(`${s.id}: runner finished and reported success`);
            } else if (signal && !finished) say(`${s.id}: runner process is gone (${signal})`);
          });
        }

        const deadline = Date.now() + 45_000;
        while (settled.size < SCENARIOS.length && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        finished = true;
        io.out('');
        io.out('Where they ended (GET /v1/executions):');
        const { items } = await store.list({ limit: 10 });
        for (const e of items.reverse()) {
          io.out(
            `  ${e.id.padEnd(11)} ${e.status.padEnd(10)} ${(e.verdict ?? '-').padEnd(15)} ${e.reason ?? (e.result === null ? '' : `result ${JSON.stringify(e.result)}`)}`,
          );
        }
        io.out('');
        io.out(
          'Every decision is audited with its evidence: `vigil history` against a real database,',
        );
        io.out('or GET /v1/remediations on a running `vigil serve`.');
        await server.close();
      } finally {
        for (const child of children) child.kill('SIGKILL');
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
}

function narrate(event: VigilEvent, say: (text: string) => void, settled: Set<string>): void {
  switch (event.type) {
    case 'execution:stuck':
      if ('executionId' in event) {
        say(`Vigil: ${event.executionId} is stuck: ${event.verdict} (${event.reason})`);
      }
      break;
    case 'execution:remediated':
      settled.add(event.executionId);
      say(
        `Vigil: ${event.executionId} ended as ${event.status} with verdict ${event.verdict}; audited`,
      );
      break;
    case 'sweep:completed':
      if (event.counts.remediated)
        say(
          `Vigil: sweep done in ${formatDuration(event.durationMs)}: ${event.counts.remediated} remediated`,
        );
      break;
    default:
      break;
  }
}
