import type { Config } from '../config.js';
import type { Clock, ExecutionStore, OwnerClient, SlotStore } from '../ports.js';
import type { Source } from '../sources/index.js';
import { sourcesFor } from '../sources/index.js';
import { EventBus } from './events.js';
import { Ledger } from './ledger.js';
import type { Timers } from './scheduler.js';
import { DeadlineScheduler } from './scheduler.js';
import { Slots } from './slots.js';
import type { SweepResult } from './sweep.js';
import { Sweeper } from './sweep.js';

export interface ServiceOptions {
  store: ExecutionStore;
  config: Config;
  clock: Clock;
  owners?: OwnerClient | undefined;
  /** Where capacity slots live (Redis); default: a table in the store. */
  slots?: SlotStore | undefined;
  timers?: Timers | undefined;
  /** Notices the event loop stalling (off with a fake clock). Default: on. */
  watchEventLoop?: boolean | undefined;
  onError?: ((error: unknown, where: string) => void) | undefined;
  /** Swept after the ledger. Default: the mapped tables of `config.tables`. */
  sources?: readonly Source[] | undefined;
}

export interface Health {
  ok: boolean;
  lastSweepAt: number | null;
  lastSweepAgeMs: number | null;
  storeReachable: boolean;
  listeningSince: number;
}

/**
 * A long-running Vigil: the ledger runners report to, the sweeper, the deadline scheduler, and the
 * watchdog's watch on itself (sweep health, and when it was deaf to heartbeats).
 */
export class Service {
  readonly events: EventBus;
  readonly ledger: Ledger;
  readonly sweeper: Sweeper;
  readonly scheduler: DeadlineScheduler;
  readonly slots: Slots;
  private readonly startedAt: number;
  private lastSweepAt: number | null = null;
  private lastSuccessAt: number | null = null;
  private storeReachable = true;
  /**
   * Since when Vigil has been taking heartbeats without a gap. A runner is blamed for silence only
   * while Vigil was listening: starting, a stalled event loop and an unreachable store all move it.
   */
  private listeningSince: number;
  private stallTimer: NodeJS.Timeout | null = null;
  private readonly sources: readonly Source[];

  constructor(private readonly options: ServiceOptions) {
    const { store, config, clock } = options;
    const onError = options.onError ?? (() => undefined);
    this.events = new EventBus((error) => onError(error, 'event listener'));
    this.startedAt = clock.now();
    this.listeningSince = this.startedAt;
    this.slots = new Slots(store, options.slots ?? store.localSlots(), clock);
    this.ledger = new Ledger(store, config, clock, this.events, (id, attempt) => {
      this.slots
        .releaseFor([{ id, attempt }])
        .catch((error: unknown) => onError(error, 'slot release'));
    });
    this.sources = options.sources ?? sourcesFor(config);
    this.sweeper = new Sweeper({
      slots: this.slots,
      sources: this.sources,
      warn: (message) => onError(new Error(message), 'mapped table'),
      store,
      clock,
      config,
      events: this.events,
      owners: options.owners,
      listeningSince: () => this.listeningSince,
    });
    this.scheduler = new DeadlineScheduler({
      store,
      clock,
      intervalMs: config.sweep.intervalMs,
      sweep: () => this.sweep({ dryRun: false }),
      onError: (error) => onError(error, 'scheduled sweep'),
      timers: options.timers,
    });
  }

  start(): void {
    this.scheduler.start();
    if (this.options.watchEventLoop ?? true) this.watchEventLoop();
  }

  stop(): void {
    this.scheduler.stop();
    if (this.stallTimer) clearInterval(this.stallTimer);
    this.stallTimer = null;
    for (const source of this.sources) void source.close().catch(() => undefined);
  }

  /** One sweep, recorded for /healthz. Errors propagate after being recorded. */
  async sweep(options: { dryRun: boolean }): Promise<SweepResult> {
    const { clock } = this.options;
    try {
      const result = await this.sweeper.sweep(options);
      this.storeUp();
      if (result.kind === 'completed' && !options.dryRun) {
        this.lastSweepAt = result.report.finishedAt;
        this.lastSuccessAt = result.report.finishedAt;
      } else if (result.kind === 'skipped') {
        // Another replica (or the CLI) is sweeping: the watchdog as a whole is alive.
        this.lastSuccessAt = clock.now();
      }
      return result;
    } catch (error) {
      this.storeDown();
      throw error;
    }
  }

  /** Tells the service a write failed (store down) or worked again. */
  storeDown(): void {
    this.storeReachable = false;
  }

  storeUp(): void {
    if (!this.storeReachable) this.listeningSince = this.options.clock.now();
    this.storeReachable = true;
  }

  /**
   * Healthy while a sweep has succeeded within three intervals (counting from start before the
   * first sweep): one slow or failed sweep is not an outage, three missed ones are.
   */
  health(): Health {
    const now = this.options.clock.now();
    const since = this.lastSuccessAt ?? this.startedAt;
    return {
      ok: this.storeReachable && now - since <= 3 * this.options.config.sweep.intervalMs,
      lastSweepAt: this.lastSweepAt,
      lastSweepAgeMs: this.lastSweepAt === null ? null : now - this.lastSweepAt,
      storeReachable: this.storeReachable,
      listeningSince: this.listeningSince,
    };
  }

  /**
   * A timer that should tick every 250 ms; when it ticks a second late, the event loop was
   * blocked and heartbeats were not being read, so the silence of that gap is not the runners'.
   */
  private watchEventLoop(): void {
    const period = 250;
    let last = Date.now();
    this.stallTimer = setInterval(() => {
      const now = Date.now();
      if (now - last > period + 1_000) this.listeningSince = this.options.clock.now();
      last = now;
    }, period);
    this.stallTimer.unref();
  }
}
