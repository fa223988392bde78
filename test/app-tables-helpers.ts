import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { POSTGRES_URL, dropSchemas, schemaName } from './helpers.js';

export type AppDialect = 'postgres' | 'sqlite';

/**
 * Another app's database, as an LLM workflow runner has it: `interactions` rows that
 * belong to `workflow_runs`. On PostgreSQL a fresh schema in the test database; on SQLite a file.
 */
export interface App {
  dialect: AppDialect;
  /** The URL a `tables:` entry points at. */
  url: string;
  /** The table name to configure (schema-qualified on PostgreSQL). */
  table: (name: string) => string;
  sql: (text: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;
  /** A time parameter in the form this dialect's time columns take. */
  at: (ms: number) => unknown;
  interaction: (row: InteractionRow) => Promise<void>;
  run: (row: { id: number; status: string; startedAt: number }) => Promise<void>;
  /** Every row of a table, times as epoch ms and JSON parsed, by id. */
  rows: (name: 'interactions' | 'workflow_runs') => Promise<Record<string, unknown>[]>;
  /** A second, independent connection's write: how another process of the app changes a row. */
  otherWrite: (text: string, params?: unknown[]) => Promise<void>;
  close: () => Promise<void>;
}

export interface InteractionRow {
  id: number;
  status: string;
  startedAt: number;
  updatedAt?: number | null;
  run?: number | null;
  actor?: string;
  output?: Record<string, unknown> | null;
}

export async function openApp(dialect: AppDialect, dir: string): Promise<App> {
  if (dialect === 'postgres') return openPostgresApp();
  return openSqliteApp(join(dir, 'app.db'));
}

async function openPostgresApp(): Promise<App> {
  const schema = schemaName('app_test');
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 3 });
  const sql = async (text: string, params: unknown[] = []) =>
    (await pool.query(text, params)).rows as Record<string, unknown>[];
  await sql(`CREATE SCHEMA ${schema}`);
  await sql(`CREATE TABLE ${schema}.workflow_runs (
      workflow_run_id bigint PRIMARY KEY,
      status text NOT NULL,
      started_at timestamptz,
      completed_at timestamptz)`);
  await sql(`CREATE TABLE ${schema}.interactions (
      interaction_id bigint PRIMARY KEY,
      conversation_id text,
      actor_id text,
      workflow_run_id bigint REFERENCES ${schema}.workflow_runs,
      status text NOT NULL,
      started_at timestamptz NOT NULL,
      updated_at timestamptz,
      completed_at timestamptz,
      output jsonb)`);
  const table = (name: string) => `${schema}.${name}`;
  const at = (ms: number) => new Date(ms);
  return {
    dialect: 'postgres',
    url: POSTGRES_URL,
    table,
    sql,
    at,
    interaction: async (row) => {
      await sql(
        `INSERT INTO ${table('interactions')} (interaction_id, conversation_id, actor_id, workflow_run_id, status, started_at, updated_at, output)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [
          row.id,
          `conv-${row.id}`,
          row.actor ?? 'agent-a',
          row.run ?? null,
          row.status,
          at(row.startedAt),
          row.updatedAt == null ? null : at(row.updatedAt),
          row.output == null ? null : JSON.stringify(row.output),
        ],
      );
    },
    run: async (row) => {
      await sql(
        `INSERT INTO ${table('workflow_runs')} (workflow_run_id, status, started_at) VALUES ($1, $2, $3)`,
        [row.id, row.status, at(row.startedAt)],
      );
    },
    rows: async (name) => {
      const id = name === 'interactions' ? 'interaction_id' : 'workflow_run_id';
      const rows = await sql(`SELECT * FROM ${table(name)} ORDER BY ${id}`);
      return rows.map((row) =>
        Object.fromEntries(
          Object.entries(row).map(([k, v]) => [
            k,
            v instanceof Date
              ? v.getTime()
              : typeof v === 'string' && /^\d+$/.test(v)
                ? Number(v)
                : v,
          ]),
        ),
      );
    },
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

async function openSqliteApp(path: string): Promise<App> {
  const db = new BetterSqlite3(path);
  db.pragma('journal_mode = WAL');
  db.exec(`CREATE TABLE workflow_runs (
      workflow_run_id INTEGER PRIMARY KEY,
      status TEXT NOT NULL,
      started_at TEXT,
      completed_at TEXT);
    CREATE TABLE interactions (
      interaction_id INTEGER PRIMARY KEY,
      conversation_id TEXT,
      actor_id TEXT,
      workflow_run_id INTEGER REFERENCES workflow_runs,
      status TEXT NOT NULL,
      started_at TEXT NOT NULL,
      updated_at TEXT,
      completed_at TEXT,
      output TEXT)`);
  const sql = async (text: string, params: unknown[] = []) => {
    const statement = db.prepare(text);
    return statement.reader
      ? (statement.all(...params) as Record<string, unknown>[])
      : (statement.run(...params), []);
  };
  const at = (ms: number) => new Date(ms).toISOString();
  return {
    dialect: 'sqlite',
    url: `sqlite:${path}`,
    table: (name) => name,
    sql,
    at,
    interaction: async (row) => {
      await sql(
        `INSERT INTO interactions (interaction_id, conversation_id, actor_id, workflow_run_id, status, started_at, updated_at, output)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          row.id,
          `conv-${row.id}`,
          row.actor ?? 'agent-a',
          row.run ?? null,
          row.status,
          at(row.startedAt),
          row.updatedAt == null ? null : at(row.updatedAt),
          row.output == null ? null : JSON.stringify(row.output),
        ],
      );
    },
    run: async (row) => {
      await sql(
        `INSERT INTO workflow_runs (workflow_run_id, status, started_at) VALUES (?, ?, ?)`,
        [row.id, row.status, at(row.startedAt)],
      );
    },
    rows: async (name) => {
      const id = name === 'interactions' ? 'interaction_id' : 'workflow_run_id';
      const rows = await sql(`SELECT * FROM ${name} ORDER BY ${id}`);
      return rows.map((row) =>
        Object.fromEntries(
          Object.entries(row).map(([k, v]) => [
            k,
            typeof v === 'string' && /_at$/.test(k)
              ? Date.parse(v)
              : k === 'output' && typeof v === 'string'
                ? JSON.parse(v)
                : v,
          ]),
        ),
      );
    },
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

/** The `tables:` configuration of the LLM workflow app, as a user would write it. */
export function llmTables(app: App, overrides: Record<string, unknown> = {}) {
  return {
    interactions: {
      database: app.url,
      table: app.table('interactions'),
      id: 'interaction_id',
      status: { column: 'status', running: 'running', failed: 'failed', succeeded: 'completed' },
      startedAt: 'started_at',
      heartbeatAt: 'updated_at',
      owner: 'actor_id',
      parent: { column: 'workflow_run_id', table: 'workflow_runs' },
      limits: { run: '15m', heartbeat: '2m' },
      onEnd: { set: { completed_at: 'now' }, reason: { column: 'output', key: 'error' } },
    },
    workflow_runs: {
      database: app.url,
      table: app.table('workflow_runs'),
      id: 'workflow_run_id',
      status: { column: 'status', running: 'running', failed: 'failed', succeeded: 'completed' },
      startedAt: 'started_at',
      limits: { run: '1h' },
      onEnd: { set: { completed_at: 'now' } },
    },
    ...overrides,
  };
}
