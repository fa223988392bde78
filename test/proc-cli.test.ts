/**
 * `vigil proc …` in-process through runMain (and, where only a real process shows the defect, the
 * real binary), on a SQLite file, with real supervised processes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../src/runtime/clock.js';
import { openSqliteStore } from '../src/stores/sqlite.js';
import { S, runCli, tempDir } from './helpers.js';
import { runVigil, until } from './process-helpers.js';
import { beatIn, ensureBuilt, isAlive, killGroup, writeBeater } from './supervisor-helpers.js';

let dir: string;
let cleanup: () => void;
let clock: FakeClock;
let out: string[];
let err: string[];

beforeAll(async () => {
  await ensureBuilt();
}, 240_000);
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  clock = new FakeClock(Date.now());
  out = [];
  err = [];
});
afterEach(async () => {
  // Whatever a failed test left running.
  await vigil('proc', 'stop-all');
  cleanup();
});

/** Runs `vigil ARGS` in-process against a SQLite file and vigil.yaml in the test's directory. */
async function vigil(...args: string[]): Promise<number> {
  return runCli(args, { dir, clock, out, err });
}

/** vigil.yaml with processes a and b, each started from the beater script. */
function configure(extra = ''): void {
  const beater = writeBeater(dir);
  const entry = (name: string) => `  ${name}:
    heartbeatFile: ${name}.heartbeat.json
    startupGrace: 1s
    stopGrace: 300ms
    start:
      command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(beater)}]
      window: 300ms
`;
  writeFileSync(join(dir, 'vigil.yaml'), `processes:\n${entry('a')}${entry('b')}${extra}`);
}

async function status(): Promise<Record<string, any>> {
  expect(await vigil('proc', 'status', '--json')).toBe(0);
  const items = JSON.parse(out.join('\n')).items as { name: string }[];
  return Object.fromEntries(items.map((item) => [item.name, item]));
}

describe('vigil proc', () => {
  it('start-all, off (sticky through checks), stop-all, start-all: a round trip', async () => {
    configure();
    expect(await vigil('proc', 'start-all')).toBe(0);
    let now = await status();
    expect(now.a).toMatchObject({ enabled: true, gaveUp: false, restarts: 0 });
    const [a1, b1] = [now.a.pid as number, now.b.pid as number];
    expect(isAlive(a1) && isAlive(b1)).toBe(true);
    await until(() => beatIn(join(dir, 'a.heartbeat.json'), a1), { what: 'a to beat' });
    await until(() => beatIn(join(dir, 'b.heartbeat.json'), b1), { what: 'b to beat' });

    expect(await vigil('proc', 'off', 'a')).toBe(0);
    expect(out.join('\n')).toMatch(/^a: ok: kill ok: stopped process group \d+/);
    expect(isAlive(a1)).toBe(false);
    clock.set(Date.now());
    for (let i = 0; i < 3; i++) {
      expect(await vigil('proc', 'check')).toBe(0);
      clock.advance(S);
    }
    now = await status();
    expect(now.a).toMatchObject({ enabled: false, pid: null, verdict: 'stale_pid' });
    expect(now.b).toMatchObject({ enabled: true, pid: b1, verdict: 'healthy' });

    expect(await vigil('proc', 'stop-all')).toBe(0);
    expect(isAlive(b1)).toBe(false);
    now = await status();
    expect([now.a.enabled, now.b.enabled]).toEqual([false, false]);

    expect(await vigil('proc', 'start-all', '--json')).toBe(0);
    expect(JSON.parse(out.join('\n')).items.map((r: any) => [r.name, r.ok])).toEqual([
      ['a', true],
      ['b', true],
    ]);
    now = await status();
    expect([now.a.enabled, now.b.enabled]).toEqual([true, true]);
    expect(isAlive(now.a.pid) && isAlive(now.b.pid)).toBe(true);
    expect([now.a.pid, now.b.pid]).not.toContain(a1);
    expect(await vigil('proc', 'stop-all')).toBe(0);
    expect(isAlive(now.a.pid) || isAlive(now.b.pid)).toBe(false);
  });

  it('check exits 1 when a recovery step failed, and prints each step', async () => {
    writeFileSync(
      join(dir, 'vigil.yaml'),
      `processes:
  crashy:
    heartbeatFile: crashy.json
    unhealthyAfter: 1
    recovery: [kill, {run: cleanup}, start]
    commands:
      cleanup: "echo cleaning; exit 4"
    start: { command: "exit 1", window: 5s }
`,
    );
    expect(await vigil('proc', 'check')).toBe(1);
    const text = out.join('\n');
    expect(text).toMatch(/crashy\s+no_heartbeat\s+recovery_failed/);
    expect(text).toMatch(/crashy run:cleanup: warned \(\d+ ms\) cleanup: exit code 4; going on/);
    expect(text).toMatch(
      /crashy start: failed \(\d+ ms\) exited within 5000 ms of starting \(exit code 1\)/,
    );

    // Backing off: the next check does nothing and succeeds.
    expect(await vigil('proc', 'check', '--json')).toBe(0);
    const [item] = JSON.parse(out.join('\n')).items;
    expect(item).toMatchObject({ name: 'crashy', action: 'none', recovery: null });
    expect(item.why).toMatch(/^backing off/);

    expect(await vigil('proc', 'status', 'crashy')).toBe(0);
    expect(out.join('\n')).toContain('Recent recoveries:');
    expect(out.join('\n')).toMatch(/no_heartbeat {2}failed/);
  });

  it('restart runs the pipeline now; on an "off" process it refuses with exit 1', async () => {
    configure();
    expect(await vigil('proc', 'on', 'a')).toBe(0);
    const first = (await status()).a.pid as number;
    expect(await vigil('proc', 'restart', 'a')).toBe(0);
    const second = await status();
    expect(second.a).toMatchObject({ restarts: 1, nextRestartAt: null });
    expect(second.a.pid).not.toBe(first);
    expect(isAlive(first)).toBe(false);
    expect(isAlive(second.a.pid)).toBe(true);

    expect(await vigil('proc', 'off', 'a')).toBe(0);
    expect(await vigil('proc', 'restart', 'a')).toBe(1);
    expect(out.join('\n')).toContain('a is off: turn it on with "vigil proc on a"');
    killGroup(second.a.pid);
  });

  it('bad configuration and unknown names exit 2, naming the key', async () => {
    writeFileSync(
      join(dir, 'vigil.yaml'),
      `processes:
  web:
    heartbeatFile: web.json
    heartbeat: soon
    start: { command: "" }
    recovery: [kill, restart]
`,
    );
    expect(await vigil('proc', 'check')).toBe(2);
    const text = err.join('\n');
    expect(text).toContain('processes.web.heartbeat: expected a duration');
    expect(text).toContain('processes.web.start.command: expected a shell command line');
    expect(text).toContain(
      'processes.web.recovery.1: expected "kill", "start" or {run: NAME}, got "restart"',
    );

    // Problems across keys are found once every key is valid on its own.
    writeFileSync(
      join(dir, 'vigil.yaml'),
      `processes:
  web:
    heartbeatFile: web.json
    recovery: [kill, {run: nope}, start]
    backoff: { initial: 10s, max: 1s }
`,
    );
    expect(await vigil('proc', 'check')).toBe(2);
    expect(err.join('\n')).toContain(
      'processes.web.recovery.1.run: names no command: expected one of the keys of commands (none defined), got "nope"',
    );
    expect(err.join('\n')).toContain('processes.web.recovery.2: "start" needs start.command');
    expect(err.join('\n')).toContain(
      'processes.web.backoff.max: expected at least backoff.initial',
    );

    configure();
    expect(await vigil('proc', 'off', 'nope')).toBe(2);
    expect(err.join('\n')).toContain('no process named "nope"');
    expect(await vigil('proc', 'off')).toBe(2);
  });

  it('with nothing configured, check and status say so and succeed', async () => {
    expect(await vigil('proc', 'check')).toBe(0);
    expect(out.join('\n')).toContain('no processes configured');
    expect(await vigil('proc', 'status', '--json')).toBe(0);
    expect(JSON.parse(out.join('\n'))).toEqual({ items: [] });
  });

  it('a check skips a process another vigil is acting on (its lease is held)', async () => {
    configure();
    expect(await vigil('proc', 'status')).toBe(0); // creates the database
    const store = openSqliteStore(join(dir, 'vigil.db'));
    try {
      await store.acquireLease('process:a', 'vigil serve elsewhere', clock.now(), 60 * S);
      expect(await vigil('proc', 'check', 'a', '--json')).toBe(0);
      expect(JSON.parse(out.join('\n')).items).toMatchObject([{ name: 'a', action: 'skipped' }]);
      expect((await status()).a).toMatchObject({ lastCheckAt: null });
    } finally {
      await store.releaseLease('process:a', 'vigil serve elsewhere');
      await store.close();
    }
  });
});

describe('vigil proc (the real binary)', () => {
  /** Process `a`: started from the beater, which beats once with `status` and ignores SIGTERM. */
  function configureHung(status: string): string {
    const beater = writeBeater(dir);
    writeFileSync(
      join(dir, 'vigil.yaml'),
      `processes:
  a:
    heartbeatFile: a.heartbeat.json
    unhealthyAfter: 1
    stopGrace: 300ms
    start:
      command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(beater)}]
      window: 300ms
      env: { IGNORE_TERM: "1", BEAT_STATUS: ${JSON.stringify(status)} }
`,
    );
    return join(dir, 'a.heartbeat.json');
  }

  const binary = (...args: string[]) =>
    runVigil(args, { cwd: dir, env: { VIGIL_DATABASE_URL: `sqlite:${join(dir, 'vigil.db')}` } });

  /** Starts `a` and waits for its beat; its pid. */
  async function startA(file: string): Promise<number> {
    expect(await vigil('proc', 'on', 'a')).toBe(0);
    const pid = (await status()).a.pid as number;
    await until(() => beatIn(file, pid), { what: 'a to beat' });
    return pid;
  }

  async function heldLeases(): Promise<{ name: string; holder: string }[]> {
    const store = openSqliteStore(join(dir, 'vigil.db'));
    try {
      return await store.listLeases('process:', Date.now());
    } finally {
      await store.close();
    }
  }

  it('off stops a live process that ignores SIGTERM: exit 0, output, "off" saved, lease released', async () => {
    const pid = await startA(configureHung('ok'));

    const run = await binary('proc', 'off', 'a');
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^a: ok: kill ok: stopped process group \d+/);
    expect(isAlive(pid)).toBe(false);
    expect((await status()).a).toMatchObject({ enabled: false, pid: null });
    expect(await heldLeases()).toEqual([]);
  });

  it('check from cron kills a hung process that ignores SIGTERM, starts it again and audits it', async () => {
    const file = configureHung('error');
    const pid = await startA(file);

    const run = await binary('proc', 'check', '--json');
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const [item] = JSON.parse(run.stdout).items;
    expect(item).toMatchObject({ name: 'a', verdict: 'error_status', action: 'recovered' });
    expect(item.recovery.steps.map((s: any) => [s.step, s.outcome])).toEqual([
      ['kill', 'ok'],
      ['start', 'ok'],
    ]);
    expect(isAlive(pid)).toBe(false);
    const now = (await status()).a;
    expect(now).toMatchObject({ enabled: true, restarts: 1 });
    expect(now.pid).not.toBe(pid);
    expect(isAlive(now.pid)).toBe(true);
    expect(await heldLeases()).toEqual([]);
    expect(await vigil('proc', 'status', 'a')).toBe(0);
    expect(out.join('\n')).toMatch(/error_status {2}ok/);
  });
});
