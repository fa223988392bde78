/** Vigil's public API for programs that embed it. */
export * from './core/index.js';
export type { Config } from './config.js';
export { loadConfig, parseConfig, limitsFor, policyFor } from './config.js';
export * from './errors.js';
export type * from './ports.js';
export { noOwners } from './ports.js';
export { openStore } from './stores/open-store.js';
export { Sweeper } from './runtime/sweep.js';
export type { SweepResult, SweeperOptions } from './runtime/sweep.js';
export { Ledger } from './runtime/ledger.js';
export type { DeadlineAlarm, LedgerOptions } from './runtime/ledger.js';
export { DeadlineScheduler } from './runtime/scheduler.js';
export type { SchedulerOptions } from './runtime/scheduler.js';
export { StoreHealth } from './runtime/store-health.js';
export { EventBus, EVENT_TYPES } from './runtime/events.js';
export type { VigilEvent, EventType } from './runtime/events.js';
export { FakeClock, systemClock } from './runtime/clock.js';
