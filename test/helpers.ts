import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../src/config.js';
import { parseConfig } from '../src/config.js';
import type { VigilEvent } from '../src/runtime/events.js';
import { EventBus } from '../src/runtime/events.js';
import { FakeClock } from '../src/runtime/clock.js';
import { Ledger } from '../src/runtime/ledger.js';
import { Sweeper } from '../src/runtime/sweep.js';
import type { SqlStore } from '../src/stores/sql-store.js';
import { openSqliteStore } from '../src/stores/sqlite.js';

export const S = 1_000;
export const M = 60_000;
export const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

/** A fresh directory under the system temp dir, removed by `cleanup`. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-test-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Harness {
  dir: string;
  dbPath: string;
  store: SqlStore;
  clock: FakeClock;
  config: Config;
  events: VigilEvent[];
  bus: EventBus;
  ledger: Ledger;
  sweeper: Sweeper;
  close: () => Promise<void>;
}

/**
 * A real SQLite file in a temp dir, a fake clock at T0, and the runtime wired on top;
 * `genericWrites` picks the query-builder write paths over the prepared ones.
 */
export async function sqliteHarness(
  genericWrites: boolean,
  rawConfig: unknown = {},
): Promise<Harness> {
  const { dir, cleanup } = tempDir();
  const dbPath = join(dir, 'vigil.db');
  const store = openSqliteStore(dbPath, { genericWrites });
  await store.migrate();
  const clock = new FakeClock(T0);
  const config = parseConfig(rawConfig);
  const events: VigilEvent[] = [];
  const bus = new EventBus();
  bus.on((event) => events.push(event));
  return {
    dir,
    dbPath,
    store,
    clock,
    config,
    events,
    bus,
    ledger: new Ledger(store, config, clock, bus),
    sweeper: new Sweeper({ store, clock, config, events: bus }),
    close: async () => {
      await store.close();
      cleanup();
    },
  };
}
