import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';
import { renderTemplate, parseTemplate } from '../src/sources/table-template.js';

const base = {
  database: 'sqlite:app.db',
  table: 'jobs',
  id: 'job_id',
  status: { column: 'status', running: 'running', failed: 'failed', succeeded: 'completed' },
  startedAt: 'started_at',
};

function problemsOf(entry: Record<string, unknown>): string[] {
  try {
    parseConfig({ tables: { jobs: { ...base, ...entry } } });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  return [];
}

describe('per-row keys of a tables: entry, checked at start', () => {
  it('accepts the three forms of rowLimits, joins, a template, requeue and deadLetter', () => {
    const config = parseConfig({
      tables: {
        jobs: {
          ...base,
          joins: [
            { table: 'schedules', as: 's', on: { schedule_id: 'schedule_id' } },
            { table: 'app.agents', as: 'a', on: { agent_id: 's.agent_id' } },
          ],
          rowLimits: {
            run: { sql: 'COALESCE(s.timeout_seconds, a.timeout, 900)' },
            heartbeat: { column: 'actor_type', values: { ai_model: '2m', script: null } },
          },
          onEnd: { reason: { column: 'output', key: 'error', text: 'watchdog: {verdict}' } },
          requeue: {
            status: 'pending',
            attempts: { column: 'attempts', max: 3 },
            backoff: { initial: '30s' },
          },
          deadLetter: { status: 'dead_letter' },
        },
      },
    });
    const jobs = config.tables.jobs;
    expect(jobs?.rowLimits).toEqual({
      run: { kind: 'sql', sql: 'COALESCE(s.timeout_seconds, a.timeout, 900)', unit: 's' },
      heartbeat: {
        kind: 'byValue',
        column: 'actor_type',
        values: { ai_model: 120_000, script: null },
      },
    });
    expect(jobs?.requeue).toMatchObject({
      attempts: { column: 'attempts', max: 3, increment: true },
      backoff: { initialMs: 30_000, maxMs: 300_000 },
      availableAt: null,
    });
    expect(jobs?.deadLetter).toMatchObject({ status: 'dead_letter', reason: null });
  });

  it('refuses bad shapes, each with its key, what was expected and what was got', () => {
    const problems = problemsOf({
      joins: [{ table: 'agents', as: 'a', on: { agent_id: 'x.agent_id' } }],
      rowLimits: {
        run: { sql: 'COALESCE(a.timeout, 900); DELETE FROM jobs' },
        heartbeat: { column: 'timeout', unit: 'hours' },
      },
      onEnd: { reason: { column: 'output', text: 'watchdog: {verdikt}' } },
      deadLetter: { status: 'dead_letter' },
    });
    const keys = problems.map((p) => p.slice(0, p.indexOf(': ')));
    expect(keys.sort()).toEqual(
      [
        'tables.jobs.joins.0.on.agent_id',
        'tables.jobs.rowLimits.run.sql',
        'tables.jobs.rowLimits.heartbeat',
        'tables.jobs.onEnd.reason.text',
        'tables.jobs.deadLetter',
      ].sort(),
    );
    expect(problems).toContain(
      'tables.jobs.onEnd.reason.text: unknown placeholder {verdikt}: expected one of {verdict}, {reason}, {elapsed}, {limit}, {id}, {source}, {table}, {attempt}, {action}, {now}, {row.COLUMN}',
    );
  });

  it.each([
    ['a statement separator', '1; DROP TABLE jobs', 'without ";" or comments'],
    ['a comment', 'a.timeout -- rest', 'without ";" or comments'],
    ['a parenthesis closing the SELECT', '1) FROM jobs WHERE (1 = 1', 'balanced parentheses'],
    ['a write', '(SELECT 1 FROM jobs FOR UPDATE) + (DELETE)', 'read-only expression'],
  ])('refuses a rowLimits expression with %s', (_what, sql, expected) => {
    const problems = problemsOf({ rowLimits: { run: { sql } } });
    expect(problems).toEqual([expect.stringContaining(expected)]);
    expect(problems[0]).toMatch(/^tables\.jobs\.rowLimits\.run/);
  });

  it('refuses a requeue that writes a column twice, or the status column', () => {
    const problems = problemsOf({
      requeue: {
        status: 'pending',
        attempts: { column: 'attempts', max: 3 },
        set: { attempts: 0, status: 'x' },
      },
    });
    expect(problems.sort()).toEqual(
      [
        'tables.jobs.requeue.attempts.column: attempts is also written by requeue.set: a column can be written once',
        'tables.jobs.requeue.set.status: Vigil writes the status column itself; use requeue.status for the status',
      ].sort(),
    );
  });

  it('refuses a re-queue status Vigil judges as running, and fewer than two attempts', () => {
    const problems = problemsOf({
      requeue: { status: 'running', attempts: { column: 'attempts', max: 1 } },
    });
    expect(problems.map((p) => p.slice(0, p.indexOf(': '))).sort()).toEqual([
      'tables.jobs.requeue.attempts.max',
      'tables.jobs.requeue.status',
    ]);
  });
});

describe('end text templates', () => {
  it('fills placeholders and column values in, braces doubled stay literal', () => {
    const template = parseTemplate('{{x}} {verdict} {row.actor} {row.missing}');
    if ('error' in template) throw new Error(template.error);
    const fields = {
      verdict: 'run_timeout',
      reason: '',
      elapsed: '',
      limit: '',
      id: '',
      source: '',
      table: '',
      attempt: '',
      action: '',
      now: '',
    };
    expect(renderTemplate(template, fields, { actor: 'script', missing: null })).toBe(
      '{x} run_timeout script null',
    );
  });

  it.each([
    ['{verdict', 'never closed'],
    ['a } b', 'closes no placeholder'],
    ['{row.bad-name}', 'expected {row.COLUMN}'],
  ])('refuses %j', (source, expected) => {
    const parsed = parseTemplate(source);
    expect('error' in parsed && parsed.error).toContain(expected);
  });
});
