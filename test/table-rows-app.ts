import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { POSTGRES_URL, dropSchemas, schemaName } from './helpers.js';

/**
 * An app whose `jobs` rows carry what per-row limits and re-queues read: the actor type, a
 * timeout column, the agent and schedule (tables of their own with timeouts), an attempt count,
 * the runner's claim and a "not before" column. PostgreSQL: a fresh schema; SQLite: a file.
 */
export interface JobsApp {
  dialect: 'postgres' | 'sqlite';
  url: string;
  table: (name: string) => string;
  sql: (text: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;
  /** `$n` on PostgreSQL, `?` on SQLite. */
  p: (n: number) => string;
  at: (ms: number) => unknown;
  job: (row: JobRow) => Promise<void>;
  /** Every job, times as epoch ms and JSON parsed, by id. */
  jobs: () => Promise<Record<string, Record<string, unknown>>>;
  /** A write from another connection: how the app's runner changes a row meanwhile. */
  otherWrite: (text: string, params?: unknown[]) => Promise<void>;
  close: () => Promise<void>;
}

export interface JobRow {
  id: number;
  status?: string;
  startedAt: number;
  updatedAt?: number | null;
  actor?: string | null;
  timeoutMs?: number | null;
  agent?: number | null;
  schedule?: number | null;
  attempts?: number;
  runner?: string | null;
}

const COLUMNS = `job_id, status, actor_type, timeout_ms, agent_id, schedule_id, started_at, updated_at, attempts, runner_id`;

export async function openJobsApp(dialect: 'postgres' | 'sqlite', dir: string): Promise<JobsApp> {
  const values = (row: JobRow, at: (ms: number) => unknown) => [
    row.id,
    row.status ?? 'running',
    row.actor ?? null,
    row.timeoutMs ?? null,
    row.agent ?? null,
    row.schedule ?? null,
    at(row.startedAt),
    row.updatedAt == null ? null : at(row.updatedAt),
    row.attempts ?? 0,
    row.runner === undefined ? 'runner-1' : row.runner,
  ];
  const normalise = (rows: Record<string, unknown>[]) =>
    Object.fromEntries(
      rows.map((row) => [
        String(row.job_id as number),
        Object.fromEntries(
          Object.entries(row).map(([k, v]) => [
            k,
            v instanceof Date
              ? v.getTime()
              : typeof v === 'string' && /_at$/.test(k)
                ? Date.parse(v)
                : k === 'output' && typeof v === 'string'
                  ? JSON.parse(v)
                  : typeof v === 'string' && /^\d+$/.test(v) && k !== 'runner_id'
                    ? Number(v)
                    : v,
          ]),
        ),
      ]),
    );

  if (dialect === 'postgres') {
    const schema = schemaName('jobs_test');
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 3 });
    const sql = async (text: string, params: unknown[] = []) =>
      (await pool.query(text.replaceAll('{schema}', schema), params)).rows as Record<
        string,
        unknown
      >[];
    await sql(`CREATE SCHEMA ${schema}`);
    await sql(
      `CREATE TABLE ${schema}.agents (agent_id bigint PRIMARY KEY, status text, timeout integer, started_at timestamptz, updated_at timestamptz)`,
    );
    await sql(
      `CREATE TABLE ${schema}.schedules (schedule_id bigint PRIMARY KEY, status text, timeout_seconds integer, started_at timestamptz, updated_at timestamptz)`,
    );
    await sql(`CREATE SEQUENCE ${schema}.counter`);
    await sql(`CREATE TABLE ${schema}.jobs (
        job_id bigint PRIMARY KEY, status text NOT NULL, actor_type text, timeout_ms bigint,
        agent_id bigint, schedule_id bigint, started_at timestamptz NOT NULL,
        updated_at timestamptz, completed_at timestamptz, attempts integer NOT NULL DEFAULT 0,
        runner_id text, available_at timestamptz, output jsonb)`);
    const at = (ms: number) => new Date(ms);
    return {
      dialect,
      url: POSTGRES_URL,
      table: (name) => `${schema}.${name}`,
      sql,
      p: (n) => `$${n}`,
      at,
      job: async (row) => {
        await sql(
          `INSERT INTO ${schema}.jobs (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
          values(row, at),
        );
      },
      jobs: async () => normalise(await sql(`SELECT * FROM ${schema}.jobs ORDER BY job_id`)),
      otherWrite: async (text, params = []) => {
        const client = new pg.Client({ connectionString: POSTGRES_URL });
        await client.connect();
        try {
          await client.query(text.replaceAll('{schema}', schema), params);
        } finally {
          await client.end();
        }
      },
      close: async () => {
        await pool.end();
        await dropSchemas(schema);
      },
    };
  }

  const path = join(dir, 'jobs.db');
  const db = new BetterSqlite3(path);
  db.pragma('journal_mode = WAL');
  db.exec(`CREATE TABLE agents (agent_id INTEGER PRIMARY KEY, status TEXT, timeout INTEGER, started_at TEXT, updated_at TEXT);
    CREATE TABLE schedules (schedule_id INTEGER PRIMARY KEY, status TEXT, timeout_seconds INTEGER, started_at TEXT, updated_at TEXT);
    CREATE TABLE jobs (
      job_id INTEGER PRIMARY KEY, status TEXT NOT NULL, actor_type TEXT, timeout_ms INTEGER,
      agent_id INTEGER, schedule_id INTEGER, started_at TEXT NOT NULL, updated_at TEXT,
      completed_at TEXT, attempts INTEGER NOT NULL DEFAULT 0, runner_id TEXT,
      available_at TEXT, output TEXT)`);
  const sql = async (text: string, params: unknown[] = []) => {
    const statement = db.prepare(text.replaceAll('{schema}.', ''));
    return statement.reader
      ? (statement.all(...params) as Record<string, unknown>[])
      : (statement.run(...params), []);
  };
  const at = (ms: number) => new Date(ms).toISOString();
  return {
    dialect,
    url: `sqlite:${path}`,
    table: (name) => name,
    sql,
    p: () => '?',
    at,
    job: async (row) => {
      await sql(
        `INSERT INTO jobs (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        values(row, at),
      );
    },
    jobs: async () => normalise(await sql(`SELECT * FROM jobs ORDER BY job_id`)),
    otherWrite: async (text, params = []) => {
      const other = new BetterSqlite3(path);
      try {
        other.prepare(text.replaceAll('{schema}.', '')).run(...params);
      } finally {
        other.close();
      }
    },
    close: async () => {
      db.close();
    },
  };
}

/** The `jobs` entry: runs 15m by default, beats every 2m; `extra` adds the per-row keys. */
export function jobsTable(app: JobsApp, extra: Record<string, unknown> = {}) {
  return {
    jobs: {
      database: app.url,
      table: app.table('jobs'),
      id: 'job_id',
      status: {
        column: 'status',
        running: 'running',
        failed: 'failed',
        succeeded: 'completed',
        queued: ['pending'],
        cancelled: ['dead_letter'],
      },
      startedAt: 'started_at',
      heartbeatAt: 'updated_at',
      limits: { run: '15m' },
      onEnd: { set: { completed_at: 'now' }, reason: { column: 'output', key: 'error' } },
      ...extra,
    },
  };
}
