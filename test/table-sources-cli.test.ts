import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';
import { FakeClock } from '../src/runtime/clock.js';
import type { App } from './app-tables-helpers.js';
import { llmTables, openApp } from './app-tables-helpers.js';
import { M, T0, runCli, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => void;
let app: App;
let out: string[];
let err: string[];

beforeEach(async () => {
  ({ dir, cleanup } = tempDir());
  app = await openApp('sqlite', dir);
  out = [];
  err = [];
});
afterEach(async () => {
  await app.close();
  cleanup();
});

/** Runs `vigil ARGS` in-process with vigil.yaml in the test's directory and a fake clock at T0. */
async function vigil(config: unknown, ...args: string[]): Promise<number> {
  writeFileSync(join(dir, 'vigil.yaml'), stringify(config));
  return runCli(args, { dir, clock: new FakeClock(T0), out, err });
}

describe('tables: configuration', () => {
  it('lists every static problem by its key, across sources, in one error', () => {
    const tables = llmTables(app);
    const bad = {
      tables: {
        interactions: {
          ...tables.interactions,
          database: 'mysql://app',
          status: { column: 'state; DROP TABLE x', running: 'running', failed: 'failed' },
          parent: { column: 'workflow_run_id', table: 'runs' },
          onEnd: { set: { 'completed at': 'now' }, reason: { column: 'output', key: 'a.b' } },
        },
        workflow_runs: { ...tables.workflow_runs, table: 'x.y.z', limits: { run: 'soon' } },
      },
    };
    let problems: string[] = [];
    try {
      parseConfig(bad);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      problems = (error as ConfigError).problems;
    }
    const keys = problems.map((p) => p.slice(0, p.indexOf(': ')));
    expect(keys.sort()).toEqual(
      [
        'tables.interactions.database',
        'tables.interactions.status.column',
        'tables.interactions.status.succeeded',
        'tables.interactions.parent.table',
        'tables.interactions.onEnd.set.completed at',
        'tables.interactions.onEnd.reason.key',
        'tables.workflow_runs.table',
        'tables.workflow_runs.limits.run',
      ].sort(),
    );
    expect(problems).toContain(
      'tables.interactions.status.column: expected a column name (letters, digits and _, not starting with a digit), got "state; DROP TABLE x"',
    );
    expect(problems).toContain(
      'tables.interactions.parent.table: expected the name of another entry under tables (workflow_runs), got "runs"',
    );
  });

  it('`vigil serve` with a bad tables: entry fails at start (exit 2) listing every problem', async () => {
    const tables = llmTables(app);
    const code = await vigil(
      {
        tables: {
          ...tables,
          interactions: { ...tables.interactions, id: '1d', startedAt: 'started-at' },
        },
      },
      'serve',
      '--port',
      '0',
    );
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(/tables\.interactions\.id: expected a column name.*got "1d"/);
    expect(err.join('\n')).toMatch(/tables\.interactions\.startedAt: .*got "started-at"/);
    expect(out.join('\n')).not.toMatch(/listening/);
  });
});

describe('vigil sweep with tables:', () => {
  it('sweeps the mapped tables, prints each end and every source it could not sweep (exit 1)', async () => {
    await app.interaction({ id: 7, status: 'running', startedAt: T0 - 20 * M, updatedAt: T0 - M });
    const tables = llmTables(app);
    const config = {
      tables: {
        ...tables,
        broken: { ...tables.workflow_runs, table: 'no_such_table' },
      },
    };

    expect(await vigil(config, 'sweep', '--dry-run')).toBe(1);
    expect(out.join('\n')).toMatch(
      /interactions:7\s+run_timeout\s+fail\s+dry_run\s+ran 20m, limit 15m/,
    );
    expect((await app.rows('interactions'))[0]).toMatchObject({ status: 'running' });

    expect(await vigil(config, 'sweep')).toBe(1);
    const printed = out.join('\n');
    expect(printed).toMatch(/interactions:7\s+run_timeout\s+fail\s+remediated/);
    expect(printed).toMatch(
      /Not swept:\n {2}tables\.broken\.table: table "no_such_table" not found/,
    );
    expect(err.join('\n')).toMatch(/vigil: tables\.broken\.table: /);
    expect((await app.rows('interactions'))[0]).toMatchObject({
      status: 'failed',
      completed_at: T0,
    });

    expect(await vigil(config, 'sweep', '--json')).toBe(1);
    expect(JSON.parse(out.join('\n'))).toMatchObject({
      decisions: [],
      sourceErrors: [{ source: 'broken', key: 'tables.broken.table' }],
    });

    expect(await vigil({ tables }, 'history', '--json')).toBe(0);
    expect(JSON.parse(out.join('\n'))).toMatchObject({
      items: [{ executionId: 'interactions:7', outcome: 'remediated' }],
    });
  });
});
