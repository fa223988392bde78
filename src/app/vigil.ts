/**
 * The composition root: the one place that knows every part. It builds, from the parsed
 * configuration, the engine (src/runtime/) and the adapters around it (sources, supervisor,
 * probes, operation lists, owner client, slot store, notifications), and wires them together.
 */
import type { ServiceOptions } from '../runtime/service.js';
import type { Config } from '../config.js';
import { Dispatches } from '../notify/dispatch.js';
import { Notifications } from '../notify/index.js';
import type { Source } from '../ports/source.js';
import { Service } from '../runtime/service.js';
import { ScheduleWatch } from '../runtime/schedule-watch.js';
import { Supervisor } from '../supervisor/supervisor.js';
import { heldRecovery } from '../supervisor/process-gate.js';
import { gateReader } from '../runtime/gate.js';
import { apiScheduleSpecs } from './schedules.js';
import { tableStartsFor } from './table-starts.js';
import { sourcesFor } from './sources.js';
import type { Watchers } from './watchers.js';
import { createWatchers } from './watchers.js';

export interface VigilOptions extends Omit<ServiceOptions, 'config' | 'sources'> {
  config: Config;
  /** Swept after the ledger. Default: the mapped tables of `config.tables`. */
  sources?: readonly Source[] | undefined;
  /** Where relative paths of mapped tables' SQLite files start. Default: the process's cwd. */
  cwd?: string | undefined;
  /**
   * Routes events to the channels of `notify:` and delivers them, and sends the dispatch webhooks
   * of `kinds.<kind>.dispatch` (`vigil serve`). Default: off.
   */
  notify?: boolean | undefined;
}

/**
 * A running Vigil: the engine (`service`) and what runs beside it. `start` starts them all;
 * `stop` stops their timers at once, and `settle` waits for the work under way (a process check,
 * a probe, a notification) so the store can then be closed.
 */
export class Vigil {
  readonly service: Service;
  /** Checks the supervised processes of `processes:`; null when none are configured. */
  readonly supervisor: Supervisor | null;
  /** HTTP probes and operation lists. */
  readonly watchers: Watchers;
  /** Null unless asked for (`notify`) and `notify:` is configured. */
  readonly notifications: Notifications | null;
  /** Dispatch webhooks; null unless asked for (`notify`) and a kind has `dispatch`. */
  readonly dispatches: Dispatches | null;
  /** Judges the due times of `schedules:` and of the schedules defined through the API. */
  readonly schedules: ScheduleWatch;
  private readonly tableStarts: ReturnType<typeof tableStartsFor>;

  constructor(private readonly options: VigilOptions) {
    const { store, config, clock } = options;
    const onError = options.onError ?? (() => undefined);
    this.service = new Service({
      store,
      config,
      clock,
      owners: options.owners,
      slots: options.slots,
      timers: options.timers,
      replica: options.replica,
      watchEventLoop: options.watchEventLoop,
      onError,
      onWarning: options.onWarning,
      sources: options.sources ?? sourcesFor(config, options.cwd),
    });
    const events = this.service.events;
    this.supervisor =
      config.processes.length > 0
        ? new Supervisor({
            store,
            processes: config.processes,
            clock,
            events,
            gate: gateReader(store, config.silences),
          })
        : null;
    this.watchers = createWatchers({ config, store, clock, events, onError });
    this.tableStarts = tableStartsFor(config, options.cwd);
    this.schedules = new ScheduleWatch({
      specs: Object.values(config.schedules),
      apiSpecs: apiScheduleSpecs(config, store.schedules(), onError),
      tableStarts: this.tableStarts.read,
      store: store.schedules(),
      clock,
      events,
      lease: (name, holder, now, ttlMs) => store.acquireLease(name, holder, now, ttlMs),
      maxWaitMs: config.sweep.intervalMs,
      onError,
    });
    // A probe linked to a supervised process (`probes.X.process`) runs its recovery pipeline once
    // per transition to failing (never on every failed check).
    const supervisor = this.supervisor;
    if (supervisor) {
      const gate = gateReader(store, config.silences);
      this.watchers.probes.processHook = {
        onFailing: async (name) => {
          // A recovery like the supervisor's own: a maintenance window or the pause holds it back.
          if ((await heldRecovery(gate, name, 'probe_failing', clock.now())) !== null) return;
          await supervisor.restart(name);
        },
      };
    }
    // Listening to the bus before the first sweep, so nothing it emits is missed; delivering from
    // `start` on.
    this.notifications =
      options.notify && config.notify
        ? new Notifications({
            events,
            store,
            config: config.notify,
            clock,
            onError,
            deliver: false,
            silences: gateReader(store, config.silences),
          })
        : null;
    this.dispatches =
      options.notify && Object.keys(config.dispatch).length > 0
        ? new Dispatches({
            outbox: store.outbox(),
            targets: config.dispatch,
            current: (id) => store.get(id),
            clock,
            timers: options.timers,
            onError,
          })
        : null;
  }

  start(): void {
    this.notifications?.worker.start();
    this.dispatches?.start();
    this.service.start();
    this.watchers.start(this.options.timers);
    this.schedules.start(this.options.timers);
    this.supervisor?.start(this.options.config.supervisor.intervalMs, (error) =>
      (this.options.onError ?? (() => undefined))(error, 'process check'),
    );
  }

  stop(): void {
    this.service.stop();
    void this.supervisor?.stop();
    this.watchers.stop();
    this.schedules.stop();
  }

  /** After `stop`: resolves when the checks and deliveries under way have finished. */
  async settle(): Promise<void> {
    await this.supervisor?.stop(); // a check under way finishes before the store closes
    await this.watchers.settle();
    await this.schedules.settle();
    await this.tableStarts.close();
    await this.notifications?.stop();
    await this.dispatches?.stop();
    await this.service.settle();
  }
}
