/**
 * The loop of `vigil probe`: every probe and operations source checked on its own interval, one
 * line per check and per event, and (with --exit-on-failure or --once) the exit code a container's
 * restart policy acts on.
 */
import type { ProbeSpec } from '../../probes/probe-config.js';
import { ProbeMonitor } from '../../probes/probe-monitor.js';
import { EventBus } from '../../runtime/events.js';
import { repeat } from '../../shared/periodic.js';
import type { Timers } from '../../ports/clock.js';
import type { HttpListSpec } from '../../sources/http-list-config.js';
import { HttpListWatcher } from '../../app/http-list-watcher.js';
import type { CliIo } from '../context.js';
import {
  describeEvent,
  describeOperations,
  describeProbe,
  eventJson,
  operationsJson,
  PROBE_EXIT,
  probeJson,
} from './probe-output.js';

/**
 * Timers that keep the process alive: watching is all this command does (the service's timers are
 * unref'd so that they never hold a process open on their own).
 */
const keepAlive: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface WatchOptions {
  json: boolean;
  /** End with 1 (failing), 2 (stuck) or 3 (internal error) instead of watching on. */
  exitOnFailure: boolean;
  /** Check everything once and exit with the result (a Docker HEALTHCHECK). */
  once: boolean;
}

interface Watchers {
  monitor: ProbeMonitor;
  watcher: HttpListWatcher;
}

function watchers(
  io: CliIo,
  probes: readonly ProbeSpec[],
  sources: readonly HttpListSpec[],
  options: WatchOptions,
): Watchers {
  const events = new EventBus((error) => io.err(`vigil: ${String(error)}`));
  const onError = (error: unknown, where: string) =>
    io.err(`vigil: ${where}: ${error instanceof Error ? error.message : String(error)}`);
  const monitor = new ProbeMonitor({ probes, clock: io.clock, events, onError });
  const watcher = new HttpListWatcher({ sources, clock: io.clock, events, onError });
  events.on((event) =>
    io.out(options.json ? JSON.stringify(eventJson(event)) : describeEvent(event)),
  );
  return { monitor, watcher };
}

/** Checks every probe and source once: 1 if a probe check failed, 2 if an operation is stuck. */
export async function checkOnce(
  io: CliIo,
  probes: readonly ProbeSpec[],
  sources: readonly HttpListSpec[],
  options: WatchOptions,
): Promise<number> {
  const { monitor, watcher } = watchers(io, probes, sources, options);
  const probeResults = await Promise.all(
    probes.map(async (spec) => {
      const status = await monitor.check(spec.name);
      io.out(options.json ? JSON.stringify(probeJson(status)) : describeProbe(status, spec));
      return status.lastError === null;
    }),
  );
  const sourceResults = await Promise.all(
    sources.map(async (spec) => {
      const check = await watcher.check(spec.name);
      io.out(options.json ? JSON.stringify(operationsJson(check)) : describeOperations(check));
      return check.verdicts.some((v) => v.stuck);
    }),
  );
  if (probeResults.includes(false)) return PROBE_EXIT.failing;
  if (sourceResults.includes(true)) return PROBE_EXIT.stuck;
  return PROBE_EXIT.healthy;
}

/** Runs the checks until a signal, or with --exit-on-failure until failing, stuck or broken. */
export function watch(
  io: CliIo,
  probes: readonly ProbeSpec[],
  sources: readonly HttpListSpec[],
  options: WatchOptions,
): Promise<number> {
  const { monitor, watcher } = watchers(io, probes, sources, options);
  const { json, exitOnFailure } = options;
  return new Promise<number>((resolve) => {
    const loops: { stop(): void }[] = [];
    let finished = false;
    const finish = (code: number) => {
      if (finished) return;
      finished = true;
      for (const loop of loops) loop.stop();
      process.off('SIGTERM', interrupted);
      process.off('SIGINT', interrupted);
      resolve(code);
    };
    const interrupted = () => finish(PROBE_EXIT.healthy);
    process.on('SIGTERM', interrupted);
    process.on('SIGINT', interrupted);
    // A check that throws is a fault of the watchdog (an HTTP failure is a failed check instead).
    const broken = (where: string) => (error: unknown) => {
      io.err(
        `vigil: ${where}: internal error: ${error instanceof Error ? error.message : String(error)}`,
      );
      if (exitOnFailure) finish(PROBE_EXIT.watchdogFailed);
    };
    for (const spec of probes) {
      loops.push(
        repeat(
          async () => {
            const status = await monitor.check(spec.name);
            io.out(json ? JSON.stringify(probeJson(status)) : describeProbe(status, spec));
            if (exitOnFailure && status.state === 'failing') finish(PROBE_EXIT.failing);
          },
          spec.intervalMs,
          broken(`probe ${spec.name}`),
          keepAlive,
        ),
      );
    }
    for (const spec of sources) {
      loops.push(
        repeat(
          async () => {
            const check = await watcher.check(spec.name);
            io.out(json ? JSON.stringify(operationsJson(check)) : describeOperations(check));
            if (exitOnFailure && check.verdicts.some((v) => v.stuck)) finish(PROBE_EXIT.stuck);
          },
          spec.intervalMs,
          broken(`operations ${spec.name}`),
          keepAlive,
        ),
      );
    }
  });
}
