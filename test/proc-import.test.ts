/**
 * `vigil proc import FILE [--write]` in-process: a heartbeat-file supervisor's JSON configuration
 * (test/fixtures/heartbeat-supervisor.json) becomes a `processes:` section that Vigil loads.
 */
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { FakeClock } from '../src/runtime/clock.js';
import { runCli, tempDir } from './helpers.js';

const FIXTURE = join(import.meta.dirname, 'fixtures/heartbeat-supervisor.json');

let dir: string;
let cleanup: () => void;
let out: string[];
let err: string[];

beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  copyFileSync(FIXTURE, join(dir, 'watchdog.json'));
  out = [];
  err = [];
});
afterEach(() => cleanup());

const vigil = (...args: string[]) =>
  runCli(args, { dir, clock: new FakeClock(Date.now()), out, err });

/** Writes the original's config with `change` applied to it. */
function original(change: (config: any) => void): void {
  const config = JSON.parse(readFileSync(FIXTURE, 'utf8'));
  change(config);
  writeFileSync(join(dir, 'watchdog.json'), JSON.stringify(config));
}

describe('vigil proc import', () => {
  it('prints a processes: section that loads, step for step and limit for limit', async () => {
    expect(await vigil('proc', 'import', 'watchdog.json')).toBe(0);
    writeFileSync(join(dir, 'vigil.yaml'), out.join('\n'));
    const config = loadConfig({ cwd: dir, env: {} });
    const byName = Object.fromEntries(config.processes.map((p) => [p.name, p]));
    expect(Object.keys(byName).sort()).toEqual(['mailer', 'my_server']);
    const server = byName.my_server!;
    expect(server).toMatchObject({
      heartbeatFile: '/srv/heartbeats/my_server.json',
      heartbeatMs: 300_000,
      unhealthyAfter: 3,
      heartbeatFormat: {
        name: 'process_key',
        pid: 'pid',
        at: 'timestamp',
        startedAt: null,
        status: 'status',
        seq: 'iteration',
        time: ['epoch-seconds', 'iso'],
        errorStatuses: [],
      },
      recovery: [
        { kind: 'kill' },
        { kind: 'run', name: 'clear_db' },
        { kind: 'run', name: 'clear_email_logs' },
        { kind: 'start' },
      ],
    });
    expect(server.start?.command).toBe('cd /srv/project && python3 -m myapp.main');
    expect(server.commands.clear_db?.command).toBe('/srv/project/scripts/reset_db.sh --force');
    const mailer = byName.mailer!;
    expect(mailer.heartbeatMs).toBe(90_500);
    expect(mailer.heartbeatFile).toBe(join(dir, 'heartbeats/mailer.json'));
    expect(mailer.recovery).toEqual([{ kind: 'kill' }, { kind: 'start' }]);
    // `source` needs bash, which the original's cron set with SHELL=/bin/bash.
    expect(mailer.start?.command).toEqual([
      '/bin/bash',
      '-c',
      'source venv/bin/activate && python3 mailer.py',
    ]);
    expect(out.join('\n')).toContain('# MyServer');
    expect(err.join('\n')).toContain('processes.paused: enabled is false: left out');
    expect(err.join('\n')).toContain('db_path: left out');
  });

  it('--write adds the processes to vigil.yaml and keeps what it had', async () => {
    writeFileSync(join(dir, 'vigil.yaml'), '# ours\nsupervisor:\n  interval: 5s\n');
    expect(await vigil('proc', 'import', 'watchdog.json', '--write')).toBe(0);
    const text = readFileSync(join(dir, 'vigil.yaml'), 'utf8');
    expect(text).toContain('# ours');
    expect(text).toContain('interval: 5s');
    expect(loadConfig({ cwd: dir, env: {} }).processes.map((p) => p.name)).toEqual([
      'my_server',
      'mailer',
    ]);
    // A second import would redefine them: refused, the file unchanged.
    expect(await vigil('proc', 'import', 'watchdog.json', '--write')).toBe(2);
    expect(err.join('\n')).toContain('already has processes named my_server, mailer');
    expect(readFileSync(join(dir, 'vigil.yaml'), 'utf8')).toBe(text);
  });

  it('--write puts vigil.yaml back as it was when the result would not load', async () => {
    const before = 'supervisor:\n  interval: 5s\nnoSuchKey: 1\n';
    writeFileSync(join(dir, 'vigil.yaml'), before);
    expect(await vigil('proc', 'import', 'watchdog.json', '--write')).toBe(2);
    expect(err.join('\n')).toContain('noSuchKey');
    expect(readFileSync(join(dir, 'vigil.yaml'), 'utf8')).toBe(before);
  });

  it.each([
    [
      'an unknown key',
      (c: any) => (c.processes.my_server.restart_delay = 5),
      'processes.my_server.restart_delay: no counterpart in Vigil',
    ],
    [
      'an action that names no command',
      (c: any) => c.processes.my_server.recovery_actions.splice(1, 0, 'flush_cache'),
      'processes.my_server.recovery_actions.1: names no command: expected one of kill, start, clear_db, clear_email_logs, got "flush_cache"',
    ],
    [
      'start without a start command',
      (c: any) => delete c.processes.my_server.commands.start,
      'processes.my_server.recovery_actions.3: "start" needs commands.start',
    ],
    [
      'a start that is not last',
      (c: any) => (c.processes.my_server.recovery_actions = ['kill', 'start', 'clear_db']),
      'processes.my_server.recovery_actions: expected "start" last',
    ],
    [
      'a start command that goes to the background',
      (c: any) => (c.processes.mailer.commands.start = 'python3 mailer.py &'),
      'processes.mailer.commands.start: expected a command that keeps running in the foreground',
    ],
    [
      'a kill command',
      (c: any) => (c.processes.mailer.commands.kill = 'pkill mailer'),
      'processes.mailer.commands.kill: "kill" is built in',
    ],
    [
      'a timeout that is not a number of seconds',
      (c: any) => (c.processes.mailer.timeout_seconds = '5m'),
      'processes.mailer.timeout_seconds: expected a number of seconds above zero, got "5m"',
    ],
    [
      'a name Vigil cannot take',
      (c: any) => (c.processes['my server'] = c.processes.mailer),
      'processes.my server: expected a name of letters, digits',
    ],
  ])('refuses %s with the key, and writes nothing', async (_, change, message) => {
    original(change);
    expect(await vigil('proc', 'import', 'watchdog.json', '--write')).toBe(2);
    expect(err.join('\n')).toContain(message);
    expect(existsSync(join(dir, 'vigil.yaml'))).toBe(false);
  });

  it('refuses a file that is not JSON, naming it', async () => {
    writeFileSync(join(dir, 'watchdog.json'), '{"processes": ');
    expect(await vigil('proc', 'import', 'watchdog.json')).toBe(2);
    expect(err.join('\n')).toContain('FILE: expected JSON in watchdog.json');
    expect(await vigil('proc', 'import', 'missing.json')).toBe(2);
    expect(err.join('\n')).toContain('FILE: cannot read missing.json (ENOENT)');
  });
});

describe('heartbeatFormat in vigil.yaml', () => {
  const load = (format: string) => {
    writeFileSync(
      join(dir, 'vigil.yaml'),
      `processes:\n  web:\n    heartbeatFile: web.json\n    heartbeatFormat: ${format}\n`,
    );
    return () => loadConfig({ cwd: dir, env: {} });
  };

  it.each([
    [
      '{time: [epoch-seconds, epoch-millis]}',
      'processes.web.heartbeatFormat.time: expected at most one of epoch-seconds and epoch-millis',
    ],
    [
      '{time: unix}',
      'processes.web.heartbeatFormat.time: expected one of iso, epoch-seconds, epoch-millis or a list of them, got "unix"',
    ],
    [
      '{startedAt: 5}',
      'processes.web.heartbeatFormat.startedAt: expected a key of the heartbeat JSON or false',
    ],
    ['{status: false, errorStatuses: [down]}', 'expected no errorStatuses when status is false'],
    ['{pid: false}', 'processes.web.heartbeatFormat.pid'],
    ['{beat: at}', 'beat'],
  ])('refuses %s, naming the key', (format, message) => {
    expect(load(format)).toThrow(message);
  });

  it("leaves out nothing it is not told to: the rest is Vigil's own format", () => {
    const [web] = load('{at: timestamp, time: epoch-millis}')().processes;
    expect(web!.heartbeatFormat).toEqual({
      name: 'name',
      pid: 'pid',
      at: 'timestamp',
      startedAt: 'startedAt',
      status: 'status',
      seq: 'seq',
      time: ['epoch-millis'],
      errorStatuses: null,
    });
  });
});
