import { createHash } from 'node:crypto';
import { chmodSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import { runVigil } from './process-helpers.js';

let dir: string;
let cleanup: () => void;

beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(() => cleanup());

/** The real binary in the test's directory, on a SQLite file there. */
const vigil = (args: string[]) =>
  runVigil(args, { cwd: dir, env: { VIGIL_DATABASE_URL: `sqlite:${dir}/vigil.db` } });

/** The database file's bytes and modification time: any write changes one of them. */
const fingerprint = () => {
  const file = join(dir, 'vigil.db');
  return {
    sha: createHash('sha256').update(readFileSync(file)).digest('hex'),
    mtimeMs: statSync(file).mtimeMs,
  };
};

/** Three executions past a 1ms limit, ended by a sweep of another `vigil` process. */
async function stuckExecutions(): Promise<void> {
  const register = async (...args: string[]) =>
    expect((await vigil(['register', ...args])).code).toBe(0);
  await register('--kind', 'backup', '--id', 'b1', '--owner', 'host-a', '--run', '1ms');
  await register('--kind', 'backup', '--id', 'b2', '--owner', 'host-b', '--run', '1ms');
  await register(
    '--kind',
    'embed',
    '--id',
    'e1',
    '--heartbeat',
    '1ms',
    '--metadata',
    '{"team":"ml"}',
  );
  const sweep = await vigil(['sweep', '--json']);
  expect(sweep.code).toBe(0);
  expect(JSON.parse(sweep.stdout)).toMatchObject({ counts: { remediated: 3 } });
}

describe('vigil stats', () => {
  it('reads a read-only file another vigil wrote, groups it, and writes nothing', async () => {
    await stuckExecutions();
    // A file in rollback-journal mode: opening it for writing would turn it to WAL, a write.
    const raw = new BetterSqlite3(join(dir, 'vigil.db'));
    raw.pragma('journal_mode = DELETE');
    raw.close();
    chmodSync(join(dir, 'vigil.db'), 0o444);
    const before = fingerprint();

    const text = await vigil(['stats']);
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    const lines = text.stdout.split('\n');
    expect(lines[0]).toMatch(/^KIND\s+STUCK\s+ENDED\s+RETRIED\s+DEAD\s+LEFT\s+FAILED\s+RAN/);
    expect(lines[1]).toMatch(/^backup\s+2\s+2\s+0\s+0\s+0\s+0\s+.*run_timeout 2$/);
    expect(lines[2]).toMatch(/^embed\s+1\s+1\s+.*heartbeat_lost 1$/);
    expect(text.stdout).toMatch(/\n3 stuck from \S+ to \S+\s*$/);

    const json = await vigil(['stats', '--by', 'owner,label:team', '--limit', '2', '--json']);
    expect(json.code).toBe(0);
    const answer = JSON.parse(json.stdout);
    expect(answer).toMatchObject({ by: ['owner', 'label:team'], totalStuck: 3, totalGroups: 3 });
    expect(answer.groups).toHaveLength(2);
    expect(answer.groups.map((g: { key: unknown }) => g.key)).toEqual([
      { owner: 'host-a', 'label:team': null },
      { owner: 'host-b', 'label:team': null },
    ]);
    expect(answer.groups[0].ranMs.max).toBeGreaterThan(0);

    const none = await vigil([
      'stats',
      '--from',
      '2020-01-01T00:00:00Z',
      '--to',
      '2020-01-02T00:00:00Z',
    ]);
    expect(none.stdout).toBe(
      'no stuck executions from 2020-01-01T00:00:00.000Z to 2020-01-02T00:00:00.000Z\n',
    );
    expect(fingerprint()).toEqual(before);
  });

  it.each([
    [['--by', 'colour'], '--by: expected kind, owner, source, verdict or label:NAME'],
    [
      ['--since', '5'],
      '--since: expected a duration like "24h" or an ISO time with its zone, got "5"',
    ],
    [['--limit', '0'], '--limit: expected a whole number 1-500, got "0"'],
    [['--from', 'monday'], '--from: expected an ISO time with its zone'],
  ])('refuses %j with exit code 2, naming the flag', async (args, message) => {
    const { code, stderr } = await vigil(['stats', ...args]);
    expect(stderr).toContain(message);
    expect(code).toBe(2);
  });

  it('on a database at an older schema it says so and does not migrate it', async () => {
    expect((await vigil(['migrate'])).code).toBe(0);
    const raw = new BetterSqlite3(join(dir, 'vigil.db'));
    raw.prepare(`DELETE FROM kysely_migration WHERE name = '0007_audit_labels'`).run();
    raw.close();
    const before = fingerprint();
    const { code, stderr } = await vigil(['stats']);
    expect(stderr).toContain(
      'the database schema is older than this version of Vigil (missing 0007_audit_labels); run "vigil migrate" to bring it up to date (ls, show, history and stats never change the database)',
    );
    expect(code).toBe(3);
    expect(fingerprint()).toEqual(before);
  });
});
