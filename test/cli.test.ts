import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../src/runtime/clock.js';
import { M, T0, runCli, tempDir } from './helpers.js';
import { freePort } from './process-helpers.js';

let dir: string;
let cleanup: () => void;
let clock: FakeClock;
let out: string[];
let err: string[];

beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  clock = new FakeClock(T0);
  out = [];
  err = [];
});
afterEach(() => cleanup());

/** Runs `vigil ARGS` in-process against a SQLite file in the test's directory. */
async function vigil(...args: string[]): Promise<number> {
  return runCli(args, { dir, clock, out, err });
}

/** Every row of every table but the sweep reports, to compare the database before and after. */
function dump(): Record<string, unknown[]> {
  const db = new BetterSqlite3(join(dir, 'vigil.db'), { readonly: true });
  try {
    const tables = ['executions', 'attempts', 'leases'];
    const rows = Object.fromEntries(
      tables.map((t) => [t, db.prepare(`SELECT * FROM ${t} ORDER BY 1, 2`).all()]),
    );
    rows.realRemediations = db.prepare('SELECT * FROM remediations WHERE dry_run = 0').all();
    return rows;
  } finally {
    db.close();
  }
}

describe('vigil sweep', () => {
  it('--dry-run lists the stuck rows and changes nothing', async () => {
    expect(await vigil('register', '--kind', 'embed', '--id', 'stuck-1')).toBe(0);
    expect(await vigil('register', '--kind', 'embed', '--id', 'stuck-2', '--heartbeat', '2m')).toBe(
      0,
    );
    expect(await vigil('register', '--kind', 'embed', '--id', 'fine', '--run', '1h')).toBe(0);
    clock.set(T0 + 20 * M);
    const before = dump();

    expect(await vigil('sweep', '--dry-run')).toBe(0);

    const text = out.join('\n');
    expect(text).toContain('dry run: nothing was changed');
    expect(text).toMatch(/stuck-1\s+run_timeout\s+fail\s+dry_run\s+ran 20m, limit 15m/);
    expect(text).toMatch(
      /stuck-2\s+heartbeat_lost\s+fail\s+dry_run\s+no heartbeat for 20m, limit 2m/,
    );
    expect(text).not.toContain('fine');
    expect(text).toContain('Would remediate 2, skipped 0, failed 0');
    expect(dump()).toEqual(before);
  });

  it('remediates, prints a summary and totals, and --json prints the report', async () => {
    await vigil('register', '--kind', 'embed', '--id', 'stuck-1');
    clock.set(T0 + 20 * M);
    expect(await vigil('sweep', '--json')).toBe(0);
    const report = JSON.parse(out.join('\n'));
    expect(report).toMatchObject({
      dryRun: false,
      examined: 1,
      startedAt: new Date(T0 + 20 * M).toISOString(),
      decisions: [
        {
          executionId: 'stuck-1',
          verdict: 'run_timeout',
          action: 'fail',
          outcome: 'remediated',
          reason: 'ran 20m, limit 15m',
        },
      ],
      counts: { run_timeout: 1, remediated: 1, skipped: 0, failed: 0 },
    });
    expect(await vigil('show', 'stuck-1', '--json')).toBe(0);
    expect(JSON.parse(out.join('\n'))).toMatchObject({
      status: 'failed',
      verdict: 'run_timeout',
      endedBy: 'watchdog',
    });
    expect(await vigil('history', '--json')).toBe(0);
    expect(JSON.parse(out.join('\n')).items).toHaveLength(1);
    expect(await vigil('history', '--verdict', 'heartbeat_lost')).toBe(0);
    expect(out.join('\n')).toContain('no decisions');
  });

  it('exits 1 when a remediation step failed', async () => {
    await vigil('register', '--kind', 'embed', '--id', 'bad');
    const raw = new BetterSqlite3(join(dir, 'vigil.db'));
    raw.exec(
      `CREATE TRIGGER refuse BEFORE UPDATE ON executions BEGIN SELECT RAISE(ABORT, 'no'); END`,
    );
    raw.close();
    clock.set(T0 + 20 * M);
    expect(await vigil('sweep')).toBe(1);
    expect(out.join('\n')).toContain('failed 1');
  });
});

describe('bad input and bad stores', () => {
  it.each([
    [
      ['register', '--kind', 'x', '--run', '-5'],
      /^vigil: --run: expected a limit above zero, e.g. 30s or 15m, got "-5"$/,
    ],
    [
      ['register', '--kind', 'x', '--heartbeat', 'soon'],
      /^vigil: --heartbeat: expected a duration.*got "soon"$/,
    ],
    [['register'], /required option '--kind <kind>'/],
    [
      ['ls', '--status', 'stuck'],
      /--status: expected one of queued, running, succeeded, failed, cancelled, dead, got "stuck"/,
    ],
    [['history', '--since', 'yesterday'], /--since: expected a duration/],
    [['history', '--verdict', 'slow'], /--verdict: expected one of healthy, in_grace/],
    [['register', '--kind', 'x', '--metadata', '{nope'], /--metadata: expected JSON/],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ])('vigil %j exits 2 naming what is wrong', async (args, message) => {
    expect(await vigil(...args)).toBe(2);
    expect(err.join('\n')).toMatch(message);
    expect(err.join('\n')).not.toMatch(/\n\s+at /);
  });

  it('a bad configuration exits 2 listing every problem with its key', async () => {
    writeFileSync(
      join(dir, 'vigil.yaml'),
      'defaults:\n  limits:\n    run: -5\n    heartbeats: 2m\nkinds:\n  embed:\n    retry:\n      maxAttempts: zero\nport: 99999\n',
    );
    expect(await vigil('sweep')).toBe(2);
    const text = err.join('\n');
    expect(text).toContain('defaults.limits.run: expected a limit above zero');
    expect(text).toContain('defaults.limits: unknown key "heartbeats"');
    expect(text).toMatch(/kinds\.embed\.retry\.maxAttempts: .*got "zero"/);
    expect(text).toMatch(/port: .*got 99999/);
  });

  it('a corrupt database file exits 3 with a clear message, not a stack trace', async () => {
    writeFileSync(join(dir, 'vigil.db'), 'this is not a database, just some text '.repeat(200));
    expect(await vigil('sweep')).toBe(3);
    expect(err.join('\n')).toMatch(
      /store unavailable: .*vigil\.db: the file is not a SQLite database/,
    );
    expect(err.join('\n')).not.toMatch(/\n\s+at /);
  });

  it('a database locked by another process exits 3', async () => {
    await vigil('migrate');
    writeFileSync(join(dir, 'vigil.yaml'), 'sqlite:\n  busyTimeout: 50ms\n');
    const holder = new BetterSqlite3(join(dir, 'vigil.db'));
    holder.exec('BEGIN EXCLUSIVE');
    try {
      expect(await vigil('sweep')).toBe(3);
      expect(err.join('\n')).toMatch(
        /store unavailable: .*locked by another process \(SQLITE_BUSY\)/,
      );
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
  });

  it('migrate applies the schema once', async () => {
    expect(await vigil('migrate')).toBe(0);
    expect(out.join('\n')).toMatch(/applied 0001_ledger/);
    expect(await vigil('migrate')).toBe(0);
    expect(out.join('\n')).toMatch(/schema already up to date/);
  });
});

describe('the ledger from the command line', () => {
  it('a cron job registers its run, beats, and completes it', async () => {
    expect(
      await vigil('register', '--kind', 'nightly-backup', '--run', '2h', '--heartbeat', '10m'),
    ).toBe(0);
    const id = out[0]!;
    expect(await vigil('beat', id, '--progress', 'tables: 3/10')).toBe(0);
    expect(await vigil('complete', id, '--result', '{"tables":10}')).toBe(0);
    expect(await vigil('show', id, '--json')).toBe(0);
    expect(JSON.parse(out.join('\n'))).toMatchObject({
      kind: 'nightly-backup',
      status: 'succeeded',
      endedBy: 'runner',
      result: { tables: 10 },
      progress: 'tables: 3/10',
      limits: { run: 7_200_000, heartbeat: 600_000, progress: null, queue: null },
    });
    expect(await vigil('ls', '--status', 'succeeded')).toBe(0);
    expect(out.join('\n')).toContain(id);
  });

  it('a late completion exits 1 and says it was kept', async () => {
    await vigil('register', '--kind', 'x', '--id', 'late', '--run', '1m');
    clock.set(T0 + 2 * M);
    await vigil('sweep');
    expect(await vigil('complete', 'late')).toBe(1);
    expect(err.join('\n')).toMatch(
      /had already ended \(failed: ran 2m, limit 1m\); this report is kept as its late result/,
    );
  });
});

describe('a slot store that cannot be reached at start', () => {
  it('vigil serve and vigil sweep exit 3 naming the Redis URL, without hanging', async () => {
    // A port nothing listens on: a real refused connection.
    const closed = await freePort();
    for (const command of [['serve', '--port', '0'], ['sweep']]) {
      const code = await runCli(command, {
        dir,
        clock,
        out,
        err,
        env: { VIGIL_REDIS_URL: `redis://127.0.0.1:${closed}` },
      });
      expect(code).toBe(3);
      expect(err.join('\n')).toMatch(
        new RegExp(`slot store unavailable: redis://127\\.0\\.0\\.1:${closed}: .*ECONNREFUSED`),
      );
    }
  });
});
