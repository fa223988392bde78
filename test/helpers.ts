import { mkdtempSync, rmSync } from 'node:fs';
import { describe } from 'vitest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../src/config.js';
import { parseConfig } from '../src/config.js';
import type { ProbeFailingEvent, ProbeRecoveredEvent, VigilEvent } from '../src/ports/events.js';
import { EventBus } from '../src/runtime/events.js';
import { FakeClock } from '../src/runtime/clock.js';
import { Ledger } from '../src/runtime/ledger.js';
import { Sweeper } from '../src/runtime/sweep.js';
import { randomUUID } from 'node:crypto';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { runMain } from '../src/cli/main.js';
import type { Clock } from '../src/ports.js';
import type { ExecutionStore } from '../src/ports/execution-store.js';
import { openPostgresStore } from '../src/stores/postgres.js';
import { openSqliteStore } from '../src/stores/sqlite.js';

export const S = 1_000;
export const M = 60_000;
export const H = 60 * M;
export const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

/** An event as a test reads it: any field by name, whatever its type. */
export type RecordedEvent = VigilEvent & Record<string, unknown>;

/** A complete `probe:failing` event, for tests that emit one by hand. */
export function probeFailing(probe: string, at: number, reason = 'HTTP 500'): ProbeFailingEvent {
  const url = `http://probe.test/${probe}`;
  return { type: 'probe:failing', at, probe, url, reason, consecutiveFailures: 1, process: null };
}

/** A complete `probe:recovered` event, for tests that emit one by hand. */
export function probeRecovered(probe: string, at: number): ProbeRecoveredEvent {
  const url = `http://probe.test/${probe}`;
  return { type: 'probe:recovered', at, probe, url, consecutiveSuccesses: 1, failingForMs: null };
}

/** A fresh directory under the system temp dir, removed by `cleanup`. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-test-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The stores every contract suite runs on. */
/**
 * Runs `vigil ARGS` in-process against a SQLite file (and vigil.yaml, if any) in `dir`, as the CLI
 * would; what it prints goes to `out` and `err` (emptied first; they may be one array).
 */
export function runCli(
  args: string[],
  at: {
    dir: string;
    clock: Clock;
    out: string[];
    err: string[];
    env?: Record<string, string> | undefined;
  },
): Promise<number> {
  at.out.length = 0;
  at.err.length = 0;
  return runMain(args, {
    out: (text) => at.out.push(text),
    err: (text) => at.err.push(text),
    env: { VIGIL_DATABASE_URL: `sqlite:${join(at.dir, 'vigil.db')}`, ...at.env },
    cwd: at.dir,
    clock: at.clock,
  });
}

export type StoreKind = 'sqlite' | 'sqlite-generic' | 'postgres';

export const POSTGRES_URL =
  process.env.VIGIL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * Whether PostgreSQL answers. Outside CI a missing server skips its suites with a loud notice;
 * inside CI (CI=true) its absence fails the run.
 */
export async function postgresAvailable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch (error) {
    if (process.env.CI)
      throw new Error(
        `PostgreSQL is required in CI and did not answer at ${POSTGRES_URL}: ${String(error)}`,
      );
    console.warn(
      `\n!!! PostgreSQL did not answer at ${POSTGRES_URL}: its suites are SKIPPED (${String(error)})\n`,
    );
    return false;
  }
}

/** A schema name no other test uses: `vigil_test_` (or `prefix_`) and 12 random hex digits. */
export function schemaName(prefix = 'vigil_test'): string {
  return `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
}

/** A database URL whose connections work in `schema` (what `vigil serve` gets for a replica). */
export function schemaUrl(schema: string, base = POSTGRES_URL): string {
  return `${base}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
}

/** Runs SQL on the test database over a connection of its own, closed afterwards. */
export async function postgresQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** Drops these schemas and all they hold; one that does not exist (any more) is no error. */
export async function dropSchemas(...schemas: string[]): Promise<void> {
  if (schemas.length === 0) return;
  await postgresQuery(schemas.map((s) => `DROP SCHEMA IF EXISTS ${s} CASCADE;`).join(' '));
}

export const REDIS_URL = process.env.VIGIL_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Whether Redis answers; the same rule as PostgreSQL (skipped loudly outside CI, required in CI). */
export async function redisAvailable(): Promise<boolean> {
  const { createClient } = await import('redis');
  const client = createClient({
    url: REDIS_URL,
    socket: { connectTimeout: 2_000, reconnectStrategy: false },
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    await client.close();
    return true;
  } catch (error) {
    if (process.env.CI)
      throw new Error(
        `Redis is required in CI and did not answer at ${REDIS_URL}: ${String(error)}`,
      );
    console.warn(
      `\n!!! Redis did not answer at ${REDIS_URL}: its suites are SKIPPED (${String(error)})\n`,
    );
    return false;
  }
}

/** Deletes every Redis key under `prefix`: tests remove what they create. */
export async function dropRedisKeys(prefix: string): Promise<void> {
  const { createClient } = await import('redis');
  const client = createClient({ url: REDIS_URL });
  await client.connect();
  try {
    const keys = await client.keys(`${prefix}*`);
    if (keys.length > 0) await client.del(keys);
  } finally {
    await client.close();
  }
}

/** Every store kind a contract suite runs on; see `describeEach` for the ones whose service is down. */
export function storeKinds(): StoreKind[] {
  return ['sqlite', 'sqlite-generic', 'postgres'];
}

let postgresUp: Promise<boolean> | undefined;

/** Whether a store kind's service answers, asked once per test file. */
export async function storeAvailable(kind: StoreKind): Promise<boolean> {
  if (kind !== 'postgres') return true;
  postgresUp ??= postgresAvailable();
  return postgresUp;
}

/**
 * `describe.each(kinds)(title, body)`, where a kind whose service does not answer is declared
 * skipped: the report counts its tests as skipped instead of leaving them out, so an absent
 * service never reads as a pass. `%s` in the title is the kind.
 */
export async function describeEach<K extends StoreKind>(
  kinds: readonly K[],
  title: string,
  body: (kind: K) => void,
): Promise<void> {
  for (const kind of kinds)
    describe.skipIf(!(await storeAvailable(kind)))(title.replaceAll('%s', kind), () => body(kind));
}

export interface Harness {
  kind: StoreKind;
  dir: string;
  store: ExecutionStore;
  clock: FakeClock;
  config: Config;
  events: RecordedEvent[];
  bus: EventBus;
  ledger: Ledger;
  sweeper: Sweeper;
  /** A second connection to the same database, as another process or replica would have. */
  openAnother: () => ExecutionStore;
  /** Makes the database itself refuse any update of this execution (a real failure, by trigger). */
  refuseUpdatesOf: (id: string) => Promise<void>;
  close: () => Promise<void>;
}

/** A real database (a SQLite file, or a fresh PostgreSQL schema), a fake clock at T0, the runtime. */
export async function harness(kind: StoreKind, rawConfig: unknown = {}): Promise<Harness> {
  const { dir, cleanup } = tempDir();
  const dbPath = join(dir, 'vigil.db');
  const schema = schemaName();
  const open = (): ExecutionStore =>
    kind === 'postgres'
      ? openPostgresStore(POSTGRES_URL, { schema, poolSize: 4 })
      : openSqliteStore(dbPath, { genericWrites: kind === 'sqlite-generic' });
  const store = open();
  await store.migrate();
  const clock = new FakeClock(T0);
  const config = parseConfig(rawConfig);
  const events: RecordedEvent[] = [];
  const bus = new EventBus();
  bus.on((event) => events.push(event as RecordedEvent));
  const sql = async (text: string) => {
    if (kind === 'postgres') {
      await postgresQuery(`SET search_path = ${schema}; ${text}`);
    } else {
      const raw = new BetterSqlite3(dbPath);
      raw.exec(text);
      raw.close();
    }
  };
  return {
    kind,
    dir,
    store,
    clock,
    config,
    events,
    bus,
    ledger: new Ledger(store, config, clock, { events: bus }),
    sweeper: new Sweeper({ store, clock, config, events: bus }),
    openAnother: open,
    refuseUpdatesOf: (id) =>
      kind === 'postgres'
        ? sql(`CREATE FUNCTION refuse() RETURNS trigger AS $$
                 BEGIN IF OLD.id = '${id}' THEN RAISE EXCEPTION 'refused by a trigger'; END IF; RETURN NEW; END
               $$ LANGUAGE plpgsql;
               CREATE TRIGGER refuse BEFORE UPDATE ON executions FOR EACH ROW EXECUTE FUNCTION refuse();`)
        : sql(`CREATE TRIGGER refuse BEFORE UPDATE ON executions WHEN OLD.id = '${id}'
               BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END`),
    close: async () => {
      await store.close();
      if (kind === 'postgres') await dropSchemas(schema);
      cleanup();
    },
  };
}
