import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import { runVigil } from './process-helpers.js';

let dir: string;
let cleanup: () => void;

beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(() => cleanup());

/** The real binary in the test's directory, on a SQLite file there unless `env` says otherwise. */
const vigil = (args: string[], env: Record<string, string | undefined> = {}) =>
  runVigil(args, { cwd: dir, env: { VIGIL_DATABASE_URL: `sqlite:${dir}/vigil.db`, ...env } });

/** The help line of one option, with its wrapped continuation lines. */
function optionHelp(help: string, flag: string): string {
  const lines = help.split('\n');
  const at = lines.findIndex((line) => line.trimStart().startsWith(flag));
  expect(at, `${flag} in:\n${help}`).toBeGreaterThanOrEqual(0);
  const rest = lines.slice(at + 1);
  const end = rest.findIndex((line) => !/^\s{10,}\S/.test(line));
  return [lines[at]!, ...rest.slice(0, end < 0 ? rest.length : end)].join(' ');
}

describe('--help', () => {
  it('history --help states the default of --since once', async () => {
    const { code, stdout } = await vigil(['history', '--help']);
    expect(code).toBe(0);
    expect(optionHelp(stdout, '--since').match(/default/g)).toHaveLength(1);
  });

  it('exec --help keeps every line within 80 columns, sentences unbroken', async () => {
    const { code, stdout } = await vigil(['exec', '--help']);
    expect(code).toBe(0);
    for (const line of stdout.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
    expect(stdout).toContain('When Vigil ends the execution (run limit, cancel), the group gets');
  });

  it('register --help marks --kind as required', async () => {
    const { stdout } = await vigil(['register', '--help']);
    expect(optionHelp(stdout, '--kind')).toContain('(required)');
  });

  it('ls --help describes --kind and --owner', async () => {
    const { stdout } = await vigil(['ls', '--help']);
    expect(optionHelp(stdout, '--kind')).toMatch(/--kind <kind>\s+\S+/);
    expect(optionHelp(stdout, '--owner')).toMatch(/--owner <owner>\s+\S+/);
  });
});

describe('durations on the command line', () => {
  it.each([
    [['exec', '--timeout', '5', '--', 'true'], '--timeout: give a unit: 5s, 5m (got "5")'],
    [['exec', '--heartbeat', '0s', '--', 'true'], '--heartbeat: expected a limit above zero'],
    [['register', '--kind', 'x', '--heartbeat', '0'], '--heartbeat: expected a limit above zero'],
    [['register', '--kind', 'x', '--run', '90'], '--run: give a unit: 90s, 90m'],
    [['register', '--kind', 'x', '--queue', '-1m'], '--queue: expected a limit above zero'],
    [['history', '--since', '24'], '--since: give a unit: 24s, 24m'],
    [['probe', 'http://127.0.0.1:9/', '--interval', '10'], '--interval: give a unit: 10s, 10m'],
  ])('vigil %j exits 2: %s', async (args, message) => {
    const { code, stderr } = await vigil(args);
    expect(stderr).toContain(`vigil: ${message}`);
    expect(code).toBe(2);
  });

  it('a limit of zero in the configuration exits 2 naming its key', async () => {
    writeFileSync(join(dir, 'vigil.yaml'), 'kinds:\n  embed:\n    limits:\n      heartbeat: 0\n');
    const { code, stderr } = await vigil(['ls']);
    expect(stderr).toMatch(/kinds\.embed\.limits\.heartbeat: expected a limit above zero.*got 0/);
    expect(code).toBe(2);
  });
});

describe('configuration errors', () => {
  it('say what was expected and what was found, and suggest the key meant', async () => {
    writeFileSync(
      join(dir, 'vigil.yaml'),
      [
        'port: "abc"',
        'sweep:',
        '  interval: 30ms',
        '  batchSize: 0',
        'defaults:',
        '  limits:',
        '    hearbeat: 2m',
        'kinds:',
        '  embed:',
        '    retry: { maxAttempts: 1.5 }',
        'auth:',
        '  runners: [{ owner: a, token: not-long-enough }]',
        'tables:',
        '  jobs:',
        '    database: sqlite:jobs.db',
        '    table: jobs',
        '    id: id',
        '    startedAt: started_at',
        '    status: { column: state, running: r, failed: f }',
        'swep: {}',
        '',
      ].join('\n'),
    );
    const { code, stderr } = await vigil(['sweep']);
    expect(code).toBe(2);
    for (const line of [
      '- port: expected a number, got "abc"',
      '- sweep.interval: expected a duration between 100ms and 24h, got "30ms"',
      '- sweep.batchSize: expected at least 1, got 0',
      '- defaults.limits: unknown key "hearbeat" (did you mean "heartbeat"?)',
      '- kinds.embed.retry.maxAttempts: expected a whole number, got 1.5',
      '- auth.runners.0.token: expected at least 16 characters, got 15 characters',
      '- tables.jobs.status.succeeded: required: expected text or a number or a list, got nothing',
      '- (top level): unknown key "swep" (did you mean "sweep"?)',
    ]) {
      expect(stderr).toContain(line);
    }
    expect(stderr).not.toMatch(/Invalid input|Too small|received|not-long-enough/);
  });

  it('on the command line name the flag, not the field', async () => {
    const { code, stderr } = await vigil(['register', '--kind', 'x', '--parent', '']);
    expect(stderr).toContain('vigil: --parent: expected non-empty text, got ""');
    expect(code).toBe(2);
  });
});
