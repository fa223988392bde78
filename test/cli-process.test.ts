import { spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { POSTGRES_URL, postgresAvailable, tempDir } from './helpers.js';
import { runVigil } from './process-helpers.js';

const postgresUp = await postgresAvailable();

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

  it('demo --help states its default once', async () => {
    const { stdout } = await vigil(['demo', '--help']);
    expect(optionHelp(stdout, '--port')).not.toMatch(/default.*default/);
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
  ])('vigil %j exits 2: %s', async (args, message) => {
    const { code, stderr } = await vigil(args);
    expect(stderr).toContain(`vigil: ${message}`);
    expect(code).toBe(2);
  });

  // `vigil probe` is a container's health check: its own failure exits 3, apart from 1 (failing)
  // and 2 (an operation stuck).
  it('vigil probe with a duration without unit exits 3 ("the watchdog itself failed")', async () => {
    const { code, stderr } = await vigil(['probe', 'http://127.0.0.1:9/', '--interval', '10']);
    expect(stderr).toContain('vigil: --interval: give a unit: 10s, 10m');
    expect(code).toBe(3);
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

describe('read-only commands', () => {
  /** The database file's bytes and modification time: any write changes one of them. */
  const fingerprint = () => {
    const file = join(dir, 'vigil.db');
    return {
      sha: createHash('sha256').update(readFileSync(file)).digest('hex'),
      mtimeMs: statSync(file).mtimeMs,
    };
  };

  it('ls, show and history read a read-only file at the current schema and write nothing', async () => {
    expect((await vigil(['register', '--kind', 'backup', '--id', 'b1', '--run', '1h'])).code).toBe(
      0,
    );
    // A file in rollback-journal mode: opening it for writing would turn it to WAL, a write.
    const raw = new BetterSqlite3(join(dir, 'vigil.db'));
    raw.pragma('journal_mode = DELETE');
    raw.close();
    chmodSync(join(dir, 'vigil.db'), 0o444);
    const before = fingerprint();

    const ls = await vigil(['ls']);
    expect(ls.stderr).toBe('');
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/b1\s+backup/);
    const show = await vigil(['show', 'b1']);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/status:\s+running/);
    const history = await vigil(['history']);
    expect(history.code).toBe(0);
    expect(history.stdout).toContain('no decisions in the last 24h');

    expect(fingerprint()).toEqual(before);
  });

  // Root may write anything: a directory nobody may write is played by an immutable one (root
  // cannot create files in it either), where the file system allows it.
  const immutable = (path: string, on: boolean) =>
    spawnSync('chattr', [on ? '+i' : '-i', path]).status === 0;
  const canFreeze = (() => {
    const { dir: probe, cleanup: remove } = tempDir();
    const ok = immutable(probe, true) && immutable(probe, false);
    remove();
    return ok;
  })();

  it.runIf(canFreeze)(
    'they read a WAL database in a directory they may not write (no -shm beside it)',
    async () => {
      expect(
        (await vigil(['register', '--kind', 'backup', '--id', 'b1', '--run', '1h'])).code,
      ).toBe(0);
      expect(existsSync(join(dir, 'vigil.db-shm'))).toBe(false);
      const before = fingerprint();
      expect(immutable(dir, true)).toBe(true);
      try {
        const ls = await vigil(['ls']);
        expect(ls.stderr).toBe('');
        expect(ls.code).toBe(0);
        expect(ls.stdout).toMatch(/b1\s+backup/);
        expect((await vigil(['show', 'b1'])).code).toBe(0);
        expect((await vigil(['history'])).code).toBe(0);
      } finally {
        immutable(dir, false);
      }
      expect(fingerprint()).toEqual(before);
      expect(existsSync(join(dir, 'vigil.db-shm'))).toBe(false);
    },
  );

  it('on a database at an older schema they say so and change nothing', async () => {
    expect((await vigil(['migrate'])).code).toBe(0);
    const raw = new BetterSqlite3(join(dir, 'vigil.db'));
    raw.prepare(`DELETE FROM kysely_migration WHERE name = '0004_processes'`).run();
    raw.close();
    const before = fingerprint();

    for (const args of [['ls'], ['show', 'x'], ['history']]) {
      const { code, stderr } = await vigil(args);
      expect(stderr.trim()).toBe(
        `vigil: store unavailable: sqlite:${dir}/vigil.db: the database schema is older than this version of Vigil (missing 0004_processes); run "vigil migrate" to bring it up to date (ls, show, history and stats never change the database)`,
      );
      expect(code).toBe(3);
    }
    expect(fingerprint()).toEqual(before);
  });
});

describe('a database that cannot be opened', () => {
  it('a SQLite path in a missing directory exits 3 naming it, creating nothing', async () => {
    const url = `sqlite:${dir}/no/such/dir/v.db`;
    const { code, stderr } = await vigil(['ls', '--db', url]);
    expect(stderr.trim()).toBe(
      `vigil: store unavailable: ${url}: the directory ${dir}/no/such/dir does not exist (create it first)`,
    );
    expect(code).toBe(3);
    expect(existsSync(join(dir, 'no'))).toBe(false);
  });

  it('the default path has its directory created', async () => {
    const { code } = await vigil(['ls'], { VIGIL_DATABASE_URL: undefined });
    expect(code).toBe(0);
    expect(existsSync(join(dir, '.vigil', 'vigil.db'))).toBe(true);
  });

  it.each([
    [['--db', 'mysql://x'], {}, '--db: expected "sqlite:PATH" or "postgres://…", got "mysql://x"'],
    [[], { VIGIL_DATABASE_URL: 'mysql://x' }, 'VIGIL_DATABASE_URL: expected "sqlite:PATH"'],
    [
      ['--db', 'postgres://u:secret@db.example:port/x'],
      {},
      '--db: expected a URL like "postgres://user@host:5432/database", got "postgres://u:***@db.example:port/x"',
    ],
  ])('a malformed URL (%j %j) exits 2 naming where it came from', async (args, env, message) => {
    const { code, stderr } = await vigil(['ls', ...args], env);
    expect(stderr).toContain(`- ${message}`);
    expect(stderr).not.toContain('secret');
    expect(code).toBe(2);
  });

  describe.skipIf(!postgresUp)('PostgreSQL', () => {
    const suffix = randomUUID().replaceAll('-', '').slice(0, 12);
    const missingDb = new URL(POSTGRES_URL);
    missingDb.pathname = `/vigil_no_such_db_${suffix}`;
    const missingRole = new URL(POSTGRES_URL);
    missingRole.username = `no_such_role_${suffix}`;

    it.each([
      [missingDb.href, `database "vigil_no_such_db_${suffix}" does not exist (3D000)`],
      [missingRole.href, `role "no_such_role_${suffix}" does not exist (28000)`],
    ])('%s exits 3 with one line', async (url, why) => {
      const { code, stderr } = await vigil(['ls', '--db', url]);
      expect(stderr).toBe(`vigil: store unavailable: ${url}: ${why}\n`);
      expect(code).toBe(3);
    });
  });
});
