/**
 * The heartbeat-file supervisor example, in one command (npm run example:heartbeat-supervisor).
 *
 * In a fresh directory: imports the supervisor's JSON configuration (watchdog.json) with
 * `vigil proc import --write`, starts two Python services that write their own heartbeat format,
 * and runs `vigil proc check` as cron would. Then ingest is killed with kill -9 (STALE_PID) and
 * mailer hangs (TIMED_OUT); each is recovered by kill → clear_db → start, and the audit shows it.
 * Exits 0 only when every check held; always cleans up what it started.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { parse as parseYaml } from 'yaml';

const here = dirname(fileURLToPath(import.meta.url));
const vigilBin = join(here, '..', '..', 'bin', 'vigil.js');
const work = mkdtempSync(join(tmpdir(), 'vigil-heartbeat-supervisor-'));
const env = { ...process.env, VIGIL_DATABASE_URL: `sqlite:${join(work, 'vigil.db')}` };
const SERVICES = ['ingest', 'mailer'] as const;
type Service = (typeof SERVICES)[number];
/** Long enough for a few cron-like checks on a busy machine; the whole run takes far less. */
const PHASE_LIMIT_MS = 45_000;

const failures: string[] = [];
/** Every process group the example started itself, so a failed run leaves nothing behind. */
const groups: number[] = [];
function expect(what: string, holds: boolean, detail = ''): void {
  console.log(`  ${holds ? 'ok  ' : 'FAIL'} ${what}${detail && !holds ? `: ${detail}` : ''}`);
  if (!holds) failures.push(what);
}

function vigil(...args: string[]): { code: number; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [vigilBin, ...args], {
    cwd: work,
    env,
    encoding: 'utf8',
  });
  return { code: run.status ?? -1, stdout: run.stdout, stderr: run.stderr };
}

interface Check {
  name: Service;
  health: string | null;
  verdict: string | null;
  action: string;
  reason: string;
  recovery: {
    trigger: string;
    steps: { step: string; outcome: string; evidence: { output?: string } }[];
  } | null;
}

/** One `vigil proc check --json`, as the crontab line runs it. */
function cronCheck(): Check[] {
  const run = vigil('proc', 'check', '--json');
  if (run.code !== 0 && run.code !== 1) throw new Error(`vigil proc check: ${run.stderr}`);
  const items = (JSON.parse(run.stdout) as { items: Check[] }).items;
  const line = items.map((c) => `${c.name} ${c.health} → ${c.action}`).join(', ');
  console.log(`  $ vigil proc check   ${line}`);
  return items;
}

/** Checks as cron would (but every ~second) until `done` says the results are what we wait for. */
async function checkUntil(what: string, done: (seen: Check[][]) => boolean): Promise<Check[][]> {
  const seen: Check[][] = [];
  const deadline = Date.now() + PHASE_LIMIT_MS;
  while (Date.now() < deadline) {
    seen.push(cronCheck());
    if (done(seen)) return seen;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  throw new Error(`gave up waiting: ${what}`);
}

const heartbeat = (name: Service): { pid: number; timestamp: number; iteration: number } | null => {
  try {
    const text = readFileSync(join(work, 'heartbeats', `${name}.json`), 'utf8');
    return JSON.parse(text) as { pid: number; timestamp: number; iteration: number };
  } catch {
    return null;
  }
};

/** Whether `pid` runs (a zombie that has not been reaped yet does not). */
const isAlive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX]/s.test(stat);
  } catch {
    return false;
  }
};

const indent = (text: string) => text.trimEnd().replace(/^/gm, '  ') + '\n';

async function waitFor(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + PHASE_LIMIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function main(): Promise<void> {
  for (const file of ['watchdog.json', 'service.py', 'clear_db.py']) {
    copyFileSync(join(here, file), join(work, file));
  }
  console.log(`Working in ${work}\n\n1. Import the supervisor's configuration`);
  const imported = vigil('proc', 'import', 'watchdog.json', '--write');
  process.stdout.write(indent(imported.stderr));
  expect('vigil proc import --write exits 0', imported.code === 0, imported.stderr);
  const written: unknown = parseYaml(readFileSync(join(work, 'vigil.yaml'), 'utf8'));
  const shipped: unknown = parseYaml(readFileSync(join(here, 'vigil.yaml'), 'utf8'));
  expect(
    'the import is the vigil.yaml shipped with the example',
    isDeepStrictEqual(written, shipped),
  );

  console.log('\n2. The services run as they did, writing their own heartbeats');
  const started: ChildProcess[] = SERVICES.map((name) =>
    spawn('python3', ['service.py', name], { cwd: work, detached: true, stdio: 'ignore' }),
  );
  for (const child of started) {
    child.unref();
    if (child.pid !== undefined) groups.push(child.pid);
  }
  await waitFor('the first heartbeats', () => SERVICES.every((name) => heartbeat(name) !== null));
  const [first] = await checkUntil('both HEALTHY', (seen) =>
    seen.at(-1)!.every((c) => c.health === 'HEALTHY'),
  ).then((seen) => seen.slice(-1));
  expect(
    'both services HEALTHY',
    first!.every((c) => c.health === 'HEALTHY'),
  );
  const old = { ingest: heartbeat('ingest')!.pid, mailer: heartbeat('mailer')!.pid };

  console.log(`\n3. kill -9 ingest (pid ${old.ingest}); mailer (pid ${old.mailer}) hangs`);
  process.kill(old.ingest, 'SIGKILL');
  writeFileSync(join(work, 'state', 'mailer.hang'), String(old.mailer));
  const recoveredBy = (seen: Check[][], name: Service) =>
    seen.flat().find((c) => c.name === name && c.action === 'recovered');
  const seen = await checkUntil('both recovered', (all) =>
    SERVICES.every((name) => recoveredBy(all, name) !== undefined),
  );
  const healthOf = (name: Service) => seen.flat().filter((c) => c.name === name);
  expect(
    'ingest judged STALE_PID',
    healthOf('ingest').some((c) => c.health === 'STALE_PID'),
  );
  expect(
    'mailer judged TIMED_OUT',
    healthOf('mailer').some((c) => c.health === 'TIMED_OUT'),
  );
  for (const [name, trigger] of [
    ['ingest', 'stale_pid'],
    ['mailer', 'timed_out'],
  ] as const) {
    const recovery = recoveredBy(seen, name)!.recovery!;
    const steps = recovery.steps.map((s) => `${s.step}:${s.outcome}`).join(' → ');
    // A process killed with kill -9 is already gone: its kill step has nothing left to stop.
    const kill = name === 'ingest' ? 'kill:skipped' : 'kill:ok';
    expect(
      `${name} recovered by ${kill} → clear_db → start after ${trigger}`,
      recovery.trigger === trigger && steps === `${kill} → run:clear_db:ok → start:ok`,
      `${recovery.trigger}: ${steps}`,
    );
    const clear = recovery.steps.find((s) => s.step === 'run:clear_db');
    expect(
      `${name}'s clear_db removed the old run's lock (its output is in the audit)`,
      String(clear?.evidence?.output).includes(`removed the lock of pid ${old[name]}`),
      JSON.stringify(clear?.evidence),
    );
  }
  expect('the hung mailer was killed', !isAlive(old.mailer));

  console.log('\n4. The new runs beat, and the next check finds them HEALTHY');
  await waitFor('heartbeats from the new runs', () =>
    SERVICES.every((name) => heartbeat(name) !== null && heartbeat(name)!.pid !== old[name]),
  );
  const after = (
    await checkUntil('both HEALTHY again', (all) =>
      all.at(-1)!.every((c) => c.health === 'HEALTHY'),
    )
  ).at(-1)!;
  expect(
    'both services HEALTHY again',
    after.every((c) => c.health === 'HEALTHY'),
  );

  console.log('\n5. The audit: vigil proc status ingest / mailer');
  for (const name of SERVICES) {
    const status = vigil('proc', 'status', name);
    process.stdout.write(indent(status.stdout));
    expect(
      `the audit of ${name} shows its recovery step by step`,
      /run:clear_db: ok/.test(status.stdout) && /start: ok/.test(status.stdout),
    );
  }
  const cleared = readFileSync(join(work, 'state', 'clear_db.log'), 'utf8')
    .trim()
    .split('\n');
  expect('clear_db ran once per recovery', cleared.length === 2, cleared.join('; '));
}

async function cleanUp(): Promise<void> {
  const stopped = vigil('proc', 'stop-all');
  if (stopped.code !== 0) console.log(stopped.stdout, stopped.stderr);
  for (const pgid of groups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (existsSync(work)) rmSync(work, { recursive: true, force: true });
}

try {
  await main();
} catch (error) {
  failures.push((error as Error).message);
  console.log(`  FAIL ${(error as Error).message}`);
} finally {
  await cleanUp();
}
console.log(
  failures.length === 0
    ? '\nEvery check held.'
    : `\n${failures.length} check(s) failed:\n${failures.map((f) => `  - ${f}`).join('\n')}`,
);
process.exit(failures.length === 0 ? 0 : 1);
