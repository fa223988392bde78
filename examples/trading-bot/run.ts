/**
 * The trading bot's watchdog, in one command (npm run example:trading-bot): starts the bot
 * (bot.py), then runs `vigil probe` with examples/trading-bot/vigil.yaml and the bot's WATCHDOG_*
 * environment as its container would, and checks the exit codes its Docker restart policy relied
 * on: 2 for a zombie operation, 1 after WATCHDOG_MAX_FAILURES failed health checks once the bot is
 * killed with `kill -9`, 3 for a broken watchdog configuration, 0 while all is well. Exits 0 only
 * when every check held.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const VIGIL = join(here, '..', '..', 'bin', 'vigil.js');
const CONFIG = join(here, 'vigil.yaml');
const children: ChildProcess[] = [];
const failures: string[] = [];

function check(ok: boolean, what: string): void {
  console.log(`${ok ? 'ok  ' : 'FAIL'}  ${what}`);
  if (!ok) failures.push(what);
}

/** A child process whose output is collected (and echoed with a prefix). */
function start(command: string, args: string[], env: Record<string, string>, prefix: string) {
  const child = spawn(command, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    for (const line of chunk.toString().trimEnd().split('\n')) console.log(`${prefix} ${line}`);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return { child, exited, output: () => output };
}

async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** `vigil probe` as the watchdog container runs it. */
function watchdog(env: Record<string, string>, name: string, ...args: string[]) {
  console.log(
    `\n$ vigil probe --config examples/trading-bot/vigil.yaml ${args.join(' ')}   (${name})`,
  );
  return start(process.execPath, [VIGIL, 'probe', '--config', CONFIG, ...args], env, `  [${name}]`);
}

async function main(): Promise<void> {
  const bot = start('python3', [join(here, 'bot.py'), '0'], {}, '  [bot]');
  await until(() => /listening on \d+/.test(bot.output()), 'the bot to listen');
  const port = /listening on (\d+)/.exec(bot.output())![1]!;
  const api = `http://127.0.0.1:${port}`;
  // The old watchdog's variables, in seconds; fast here so the example takes seconds.
  const env = {
    MEDUSA_API_URL: api,
    WATCHDOG_CHECK_INTERVAL: '0.2',
    WATCHDOG_REQUEST_TIMEOUT: '0.2',
    WATCHDOG_MAX_FAILURES: '3',
    WATCHDOG_STUCK_THRESHOLD: '2',
  };

  const healthy = await watchdog(env, 'healthcheck', '--once').exited;
  check(healthy === 0, `a healthy bot: vigil probe --once exits 0 (got ${healthy})`);

  // A strategy loop hangs: op_zombie stays RUNNING but its state stops moving.
  await fetch(`${api}/operations/op_zombie/freeze`, { method: 'POST' });
  console.log(
    '\n$ curl -X POST /operations/op_zombie/freeze   (op_zombie stops updating its state)',
  );
  const live = watchdog(env, 'watch op_live', '--exit-on-failure', '--operation-id', 'op_live');
  const zombie = watchdog(env, 'watch all', '--exit-on-failure');
  const zombieExit = await zombie.exited;
  check(zombieExit === 2, `a zombie operation: vigil probe exits 2 (got ${zombieExit})`);
  check(
    /! execution:stuck: medusa:op_zombie: RUNNING with no state change for [\d.]+s, limit 2s/.test(
      zombie.output(),
    ),
    'the zombie is named in the log: execution:stuck medusa:op_zombie',
  );
  check(!zombie.output().includes('medusa:op_live'), 'the live operation is not reported');
  check(live.child.exitCode === null, 'the watchdog of op_live alone keeps running');

  // The bot dies without a word.
  console.log(`\n$ kill -9 ${bot.child.pid}   (the bot)`);
  bot.child.kill('SIGKILL');
  const deadExit = await live.exited;
  check(deadExit === 1, `the bot killed: vigil probe exits 1 (got ${deadExit})`);
  check(
    /\(3 failed in a row, failing after 3\)/.test(live.output()) &&
      (live.output().match(/! probe:failing/g) ?? []).length === 1,
    'exit at the WATCHDOG_MAX_FAILURES=3rd failed check in a row, with one probe:failing',
  );

  const broken = watchdog(
    { ...env, WATCHDOG_MAX_FAILURES: 'three' },
    'broken',
    '--exit-on-failure',
  );
  const brokenExit = await broken.exited;
  check(
    brokenExit === 3,
    `a broken watchdog configuration: vigil probe exits 3 (got ${brokenExit})`,
  );
  check(
    broken.output().includes('probes.bot.failures: expected a number, got "three"'),
    'the broken value is named: probes.bot.failures',
  );
}

try {
  await main();
} catch (error) {
  failures.push(String(error));
  console.error(error);
} finally {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
console.log(
  failures.length === 0
    ? '\nEvery check held.'
    : `\n${failures.length} check(s) failed:\n${failures.map((f) => `  - ${f}`).join('\n')}`,
);
process.exit(failures.length === 0 ? 0 : 1);
