import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Config } from '../config.js';
import type { Clock } from '../ports.js';
import type { ExecutionStore } from '../ports/execution-store.js';
import type { EventSink } from '../ports/events.js';
import type { Timers } from '../ports/clock.js';
import { HttpListWatcher, storeAudit } from './http-list-watcher.js';
import { ProbeMonitor } from '../probes/probe-monitor.js';
import { gateReader } from '../runtime/gate.js';

/** The HTTP probes and operation lists `vigil serve` runs, each on its own interval. */
export interface Watchers {
  probes: ProbeMonitor;
  operations: HttpListWatcher;
  start(timers?: Timers): void;
  stop(): void;
  /** Waits for the checks under way, so a cancel and its audit are not cut off by a shutdown. */
  settle(): Promise<void>;
}

export function createWatchers(options: {
  config: Config;
  store: ExecutionStore;
  clock: Clock;
  events: EventSink;
  onError: (error: unknown, where: string) => void;
}): Watchers {
  const { config, store, clock, events, onError } = options;
  const holder = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const probes = new ProbeMonitor({ probes: Object.values(config.probes), clock, events, onError });
  const operations = new HttpListWatcher({
    sources: Object.values(config.operations),
    clock,
    events,
    audit: storeAudit(store),
    lease: (name, now, ttlMs) => store.acquireLease(name, holder, now, ttlMs),
    onError,
    gate: gateReader(store, config.silences),
  });
  return {
    probes,
    operations,
    start: (timers) => {
      probes.start(timers);
      operations.start(timers);
    },
    stop: () => {
      probes.stop();
      operations.stop();
    },
    settle: async () => {
      await Promise.all([probes.settle(), operations.settle()]);
    },
  };
}
