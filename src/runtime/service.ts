import { formatDuration } from '../core/duration.js';
import type { ExecutionStore } from '../ports/execution-store.js';
import type { OwnerClient } from '../ports/owner-client.js';
import type { StoreStatus } from '../ports/records.js';
import type { SlotStore } from '../ports/slot-store.js';
import type { Clock, Timers } from '../ports/clock.js';
import type { EngineConfig } from '../ports/engine-config.js';
import type { Source } from '../ports/source.js';
import type { Repeating } from '../shared/periodic.js';
import { repeat } from '../shared/periodic.js';
import { realTimers } from '../shared/timers.js';
import { ClockJumpWatch } from './clock.js';
import { EventBus } from './events.js';
import { Claims } from './claims.js';
import { Ledger } from './ledger.js';
import type { PruneReport } from './retention.js';
import { Pruner } from './retention.js';
import { DeadlineScheduler } from './scheduler.js';
import { Slots } from './slots.js';
import { StoreHealth } from './store-health.js';
import type { SweepResult } from './sweep.js';
import { Sweeper } from './sweep.js';

const REPLICA_PREFIX = 'replica:';
const PRESENCE_EVERY_MS = 5_000;
/** Clocks drift by milliseconds a minute at worst; measuring twice a minute finds a step soon. */
const SKEW_EVERY_MS = 30_000;
/**
 * The clock difference with the database worth a warning. Every replica judges deadlines the
 * others wrote on its own clock, so a replica this far ahead ends work this much early; below it
 * the error is under the second-level precision limits are written in, and NTP keeps healthy
 * hosts within milliseconds, so a warning there would be noise that teaches people to ignore it.
 */
export const CLOCK_SKEW_WARN_MS = 2_000;
/**
 * The first retention pass waits this long after start (or the retention interval, when shorter):
 * a service that restarts often still prunes, and its start (migrations, the first sweep) never
 * competes with a large delete.
 */
const FIRST_PRUNE_AFTER_MS = 60_000;

export interface ServiceOptions {
  store: ExecutionStore;
  config: EngineConfig;
  clock: Clock;
  owners?: OwnerClient | undefined;
  /** Where capacity slots live (Redis); default: a table in the store. */
  slots?: SlotStore | undefined;
  timers?: Timers | undefined;
  /** This replica's name (host:pid); announced in the store while it runs. */
  replica?: string | undefined;
  /** Notices the event loop stalling (off with a fake clock). Default: on. */
  watchEventLoop?: boolean | undefined;
  onError?: ((error: unknown, where: string) => void) | undefined;
  /** Told what deserves a look but is no failure (a clock jump, a clock off the database's). */
  onWarning?: ((message: string) => void) | undefined;
  /** Swept after the ledger (the mapped tables; src/app/ builds them); closed by `stop`. */
  sources?: readonly Source[] | undefined;
}

export interface Health {
  ok: boolean;
  lastSweepAt: number | null;
  lastSweepAgeMs: number | null;
  /** Every store reachable: the database and the slot store. */
  storeReachable: boolean;
  /** Vigil's database, from the last real write's outcome and the file check (SQLite). */
  database: StoreStatus;
  /** Where slots live: Redis (its own status), else the database itself. */
  slots: StoreStatus & { store: 'redis' | 'database' };
  listeningSince: number;
}

/**
 * The engine of a long-running Vigil: the ledger runners report to, the sweeper, the deadline
 * scheduler, and the watchdog's watch on itself (sweep health, and when it was deaf to
 * heartbeats). It is given its adapters (store, slots, owners, sources); src/app/ builds them and
 * the rest of a running Vigil (supervisor, probes, operation lists, notifications) around it.
 */
export class Service {
  readonly events: EventBus;
  readonly ledger: Ledger;
  /** Runners' claims of queued work, waiting for it when asked (`POST /v1/kinds/:kind/claim`). */
  readonly claims: Claims;
  readonly sweeper: Sweeper;
  readonly scheduler: DeadlineScheduler;
  readonly slots: Slots;
  /** The database's health from the last real command's outcome (the ledger's, the sweeps'). */
  readonly storeHealth: StoreHealth;
  /** Deletes what has outlived `retention:`, a batch at a time. */
  readonly pruner: Pruner;
  private pruneTimer: unknown = null;
  private pruneLoop: Repeating | null = null;
  private pruning: Promise<PruneReport> | null = null;
  private readonly startedAt: number;
  private lastSweepAt: number | null = null;
  private lastSuccessAt: number | null = null;
  /**
   * Since when Vigil has been taking heartbeats without a gap. A runner is blamed for silence only
   * while Vigil was listening: starting, a stalled event loop and an unreachable store all move it.
   */
  private listeningSince: number;
  private stallTimer: NodeJS.Timeout | null = null;
  private presenceTimer: NodeJS.Timeout | null = null;
  private skewTimer: NodeJS.Timeout | null = null;
  private readonly sources: readonly Source[];
  private readonly clockWatch: ClockJumpWatch;
  /** This process's clock minus the database's, in ms, at the last measure; null before one. */
  private skewMs: number | null = null;

  constructor(private readonly options: ServiceOptions) {
    const { store, config, clock } = options;
    const onError = options.onError ?? (() => undefined);
    this.events = new EventBus((error) => onError(error, 'event listener'));
    this.startedAt = clock.now();
    this.listeningSince = this.startedAt;
    this.clockWatch = new ClockJumpWatch(clock);
    // Heartbeats written while the database was down were not heard: listening starts again.
    this.storeHealth = new StoreHealth(() => {
      this.listeningSince = clock.now();
    });
    this.slots = new Slots(store, options.slots ?? store.localSlots(), clock);
    this.sources = options.sources ?? [];
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
      clockJumps: () => this.clockWatch.jumps(),
    });
    this.pruner = new Pruner({
      store,
      settings: config.retention,
      clock,
      holder: options.replica ?? `service:${String(process.pid)}`,
    });
    this.scheduler = new DeadlineScheduler({
      store,
      clock,
      // Reconciliation runs within sweeps: wake for it when it is due more often than the interval.
      intervalMs: Math.min(config.sweep.intervalMs, config.sweep.reconcileIntervalMs),
      sweep: () => this.sweep({ dryRun: false }),
      onError: (error) => onError(error, 'scheduled sweep'),
      timers: options.timers,
    });
    this.ledger = new Ledger(store, config, clock, {
      events: this.events,
      alarm: this.scheduler,
      health: this.storeHealth,
      afterEnd: (id, attempt) => {
        this.slots
          .releaseFor([{ id, attempt }])
          .catch((error: unknown) => onError(error, 'slot release'));
      },
      afterQueue: (kind) => this.claims.wake(kind),
    });
    this.claims = new Claims((scope) => this.ledger.claim(scope), clock, options.timers);
  }

  start(): void {
    this.scheduler.start();
    const timers = this.options.timers ?? realTimers;
    const onError = this.options.onError ?? (() => undefined);
    this.pruneTimer = timers.setTimeout(
      () => {
        this.pruneTimer = null;
        this.pruneLoop = repeat(
          () => this.prune(),
          this.options.config.retention.intervalMs,
          (error) => onError(error, 'retention'),
          timers,
        );
      },
      Math.min(FIRST_PRUNE_AFTER_MS, this.options.config.retention.intervalMs),
    );
    if (this.options.watchEventLoop ?? true) this.watchEventLoop();
    void this.measureClockSkew();
    this.skewTimer = setInterval(() => void this.measureClockSkew(), SKEW_EVERY_MS);
    this.skewTimer.unref();
    if (this.options.replica !== undefined) {
      void this.announce();
      this.presenceTimer = setInterval(() => void this.announce(), PRESENCE_EVERY_MS);
      this.presenceTimer.unref();
    }
  }

  /**
   * The replicas running on this store: each holds a `replica:NAME` lease, renewed every 5 s and
   * expiring 15 s after its last renewal (so a killed replica disappears within 15 s).
   */
  async replicas(): Promise<string[]> {
    const live = await this.options.store.listLeases(REPLICA_PREFIX, this.options.clock.now());
    return live.map((lease) => lease.holder);
  }

  /** Renews this replica's presence lease. */
  async announce(): Promise<void> {
    const { store, clock, replica } = this.options;
    if (replica === undefined) return;
    await store
      .acquireLease(`${REPLICA_PREFIX}${replica}`, replica, clock.now(), 3 * PRESENCE_EVERY_MS)
      .catch(() => undefined);
  }

  /**
   * One retention pass (`vigil prune`, and every `retention.interval` while serving). A pass asked
   * for while one is under way here joins it: both would hold the same lease (one holder per
   * process), and the first to end would release it under the other.
   */
  prune(dryRun = false): Promise<PruneReport> {
    if (dryRun) return this.pruner.pass(true);
    if (this.pruning) return this.pruning;
    const run = this.pruner.pass(false).finally(() => {
      if (this.pruning === run) this.pruning = null;
    });
    this.pruning = run;
    return run;
  }

  /** Whether a retention pass is under way in this process. */
  get pruneUnderWay(): boolean {
    return this.pruning !== null;
  }

  /** After `stop`: resolves when a retention pass under way has finished its batch. */
  async settle(): Promise<void> {
    await this.pruning?.catch(() => undefined);
  }

  stop(): void {
    if (this.pruneTimer !== null) (this.options.timers ?? realTimers).clearTimeout(this.pruneTimer);
    this.pruneTimer = null;
    this.pruneLoop?.stop();
    this.pruneLoop = null;
    this.pruner.stop();
    if (this.presenceTimer) clearInterval(this.presenceTimer);
    this.presenceTimer = null;
    if (this.skewTimer) clearInterval(this.skewTimer);
    this.skewTimer = null;
    if (this.options.replica !== undefined) {
      void this.options.store
        .releaseLease(`${REPLICA_PREFIX}${this.options.replica}`, this.options.replica)
        .catch(() => undefined);
    }
    this.scheduler.stop();
    if (this.stallTimer) clearInterval(this.stallTimer);
    this.stallTimer = null;
    for (const source of this.sources) void source.close().catch(() => undefined);
  }

  /** One sweep, recorded for /healthz. Errors propagate after being recorded. */
  async sweep(options: { dryRun: boolean }): Promise<SweepResult> {
    const { clock } = this.options;
    this.noticeClockJump();
    try {
      const result = await this.sweeper.sweep(options);
      this.storeHealth.up();
      if (result.kind === 'completed' && !options.dryRun) {
        this.lastSweepAt = result.report.finishedAt;
        this.lastSuccessAt = result.report.finishedAt;
      } else if (result.kind === 'skipped') {
        // Another replica (or the CLI) is sweeping: the watchdog as a whole is alive.
        this.lastSuccessAt = clock.now();
      }
      return result;
    } catch (error) {
      this.storeHealth.down(error);
      throw error;
    }
  }

  /** The database's status: its last command's outcome, and whether its file is still its own. */
  private database(): StoreStatus {
    try {
      this.options.store.assertIntact?.();
    } catch (error) {
      return { up: false, error: error instanceof Error ? error.message : String(error) };
    }
    return this.storeHealth.status();
  }

  /**
   * Healthy while a sweep has succeeded within three intervals (counting from start before the
   * first sweep): one slow or failed sweep is not an outage, three missed ones are.
   */
  health(): Health {
    const now = this.options.clock.now();
    const since = this.lastSuccessAt ?? this.startedAt;
    const database = this.database();
    const own = this.slots.slotStore.status?.();
    const slots = own
      ? { ...own, store: 'redis' as const }
      : { ...database, store: 'database' as const };
    const storeReachable = database.up && slots.up;
    return {
      ok: storeReachable && now - since <= 3 * this.options.config.sweep.intervalMs,
      lastSweepAt: this.lastSweepAt,
      lastSweepAgeMs: this.lastSweepAt === null ? null : now - this.lastSweepAt,
      storeReachable,
      database,
      slots,
      listeningSince: this.listeningSince,
    };
  }

  /**
   * This process's clock minus the database's (ms), measured now and kept for the metric; 0 on
   * SQLite, whose clock is this process's own. A warning when it passes CLOCK_SKEW_WARN_MS.
   */
  async measureClockSkew(): Promise<number | null> {
    const { clock, store } = this.options;
    try {
      const before = clock.now();
      const database = await store.databaseTime();
      const after = clock.now();
      const wasSkewed = Math.abs(this.skewMs ?? 0) > CLOCK_SKEW_WARN_MS;
      // Read halfway through the round trip: the query's own latency is no skew.
      this.skewMs = database === null ? 0 : Math.round((before + after) / 2 - database);
      if (Math.abs(this.skewMs) > CLOCK_SKEW_WARN_MS && !wasSkewed) {
        this.warn(
          `this clock is ${formatDuration(Math.abs(this.skewMs))} ${this.skewMs > 0 ? 'ahead of' : 'behind'} the database's (warning past ${formatDuration(CLOCK_SKEW_WARN_MS)}): deadlines written by other replicas are judged off by as much; check NTP on this host`,
        );
      }
    } catch {
      // An unreachable store is reported by the sweeps; the last measure stands.
    }
    return this.skewMs;
  }

  /** The last measured clock skew with the database (ms), or null before the first measure. */
  clockSkew(): number | null {
    return this.skewMs;
  }

  /**
   * A forward step of the wall clock (wall time advanced more than monotonic time) is handled as
   * a stalled loop: the runners' silence over it is not theirs, and deadlines counted from before
   * it move by its length (see `effectiveDeadlines`).
   */
  private noticeClockJump(): void {
    const jump = this.clockWatch.observe();
    if (jump === null) return;
    this.listeningSince = Math.max(this.listeningSince, jump.to);
    this.warn(
      `the wall clock jumped forward ${formatDuration(jump.to - jump.from)} (from ${new Date(jump.from).toISOString()} to ${new Date(jump.to).toISOString()}); deadlines counted from before it move by as much`,
    );
  }

  private warn(message: string): void {
    this.options.onWarning?.(message);
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
      this.noticeClockJump();
    }, period);
    this.stallTimer.unref();
  }
}
