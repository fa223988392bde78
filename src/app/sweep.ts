import type { Config } from '../config.js';
import type { ExecutionStore } from '../ports/execution-store.js';
import type { Clock } from '../ports/clock.js';
import { EventBus } from '../runtime/events.js';
import { ScheduleWatch } from '../runtime/schedule-watch.js';
import { Slots } from '../runtime/slots.js';
import type { SweepResult } from '../runtime/sweep.js';
import { Sweeper } from '../runtime/sweep.js';
import { gateReader } from '../runtime/gate.js';
import { apiScheduleSpecs } from './schedules.js';
import { openAdapters } from './adapters.js';

export interface OneSweepOptions {
  store: ExecutionStore;
  config: Config;
  clock: Clock;
  dryRun: boolean;
  /** Where relative paths of mapped tables' SQLite files start. */
  cwd: string;
  /** A source that could not be swept (or only partly). */
  warn: (message: string) => void;
  onError: (error: unknown, where: string) => void;
}

/**
 * One sweep with everything a configuration names (cron mode, `vigil sweep`): slots, owners,
 * mapped tables, schedules and notifications, closed again afterwards. What the sweep found goes to the
 * outbox and is delivered once now; anything a receiver refused waits there for the next run (or
 * `vigil serve`).
 */
export async function sweepOnce(options: OneSweepOptions): Promise<SweepResult> {
  const { store, config, clock } = options;
  const events = new EventBus();
  // What the configuration does not name is not loaded (a sweep from cron starts sooner):
  // notifications only with `notify:`, mapped tables and their database drivers only with `tables:`.
  const notify = config.notify && (await import('../notify/index.js'));
  const notifications =
    config.notify &&
    notify &&
    new notify.Notifications({
      events,
      store,
      config: config.notify,
      clock,
      deliver: false,
      onError: options.onError,
      silences: gateReader(store, config.silences),
    });
  const adapters = await openAdapters(config, store);
  const tables = Object.keys(config.tables).length > 0 && (await import('./sources.js'));
  const sources = tables ? tables.sourcesFor(config, options.cwd) : [];
  const tableStarts = tables
    ? (await import('./table-starts.js')).tableStartsFor(config, options.cwd)
    : undefined;
  const sweeper = new Sweeper({
    store,
    clock,
    config,
    events,
    slots: new Slots(store, adapters.slots, clock),
    sources,
    owners: adapters.owners,
    warn: options.warn,
  });
  try {
    const result = await sweeper.sweep({ dryRun: options.dryRun });
    // Cron mode judges the schedules' due times too (a dry run changes nothing, so it does not).
    if (!options.dryRun) {
      await new ScheduleWatch({
        specs: Object.values(config.schedules),
        apiSpecs: apiScheduleSpecs(config, store.schedules(), options.onError),
        tableStarts: tableStarts?.read,
        store: store.schedules(),
        clock,
        events,
        lease: (name, holder, now, ttlMs) => store.acquireLease(name, holder, now, ttlMs),
        maxWaitMs: config.sweep.intervalMs,
        onError: options.onError,
      }).pass();
    }
    if (notifications) {
      await notifications.router.flush();
      await notifications.worker.runOnce();
    }
    return result;
  } finally {
    await Promise.all([
      notifications?.stop(),
      adapters.close(),
      tableStarts?.close(),
      ...sources.map((source) => source.close()),
    ]);
  }
}
