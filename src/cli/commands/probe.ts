import type { Command } from 'commander';
import type { z } from 'zod';
import { formatDuration, parseFlagDuration } from '../../core/duration.js';
import { describeIssue } from '../../shared/config-issues.js';
import { BadInputError } from '../../errors.js';
import { iso } from '../../present.js';
import type { ProbeSpec } from '../../probes/probe-config.js';
import { probeSchema, resolveProbe } from '../../probes/probe-config.js';
import { ProbeMonitor } from '../../probes/probe-monitor.js';
import type { VigilEvent } from '../../runtime/events.js';
import { EventBus } from '../../runtime/events.js';
import { repeat } from '../../shared/periodic.js';
import type { Timers } from '../../ports/clock.js';
import type { HttpListSpec } from '../../sources/http-list-config.js';
import { httpListSchema, resolveHttpList } from '../../sources/http-list-config.js';
import type { SourceCheck } from '../../app/http-list-watcher.js';
import { HttpListWatcher } from '../../app/http-list-watcher.js';
import type { ProbeStatus } from '../../probes/probe-monitor.js';
import type { CliIo } from '../context.js';

/**
 * Timers that keep the process alive: watching is all this command does (the service's timers are
 * unref'd so that they never hold a process open on their own).
 */
const keepAlive: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** `vigil probe --exit-on-failure` exit codes (docs/api.md). */
export const PROBE_EXIT = { failing: 1, stuck: 2 } as const;

interface ProbeOptions {
  interval?: string;
  timeout?: string;
  failures?: string;
  successes?: string;
  expectStatus?: string;
  expectBody?: string;
  exitOnFailure?: boolean;
  json?: boolean;
  operations?: string;
  items?: string;
  id?: string;
  status?: string;
  lastUpdate?: string;
  running?: string;
  limit?: string;
}

export function probeCommand(program: Command, io: CliIo, done: (code: number) => void): void {
  program
    .command('probe')
    .description(
      'watch a health endpoint (and optionally a list of operations) until interrupted; with --exit-on-failure exit 1 when it is failing, 2 when an operation is stuck',
    )
    .argument('<url>', 'the health endpoint (http:// or https://)')
    .option('--interval <duration>', 'time between checks (default 10s)')
    .option('--timeout <duration>', 'longest wait for an answer (default 5s, at most the interval)')
    .option(
      '--failures <n>',
      'consecutive failed checks before the endpoint is failing (default 3)',
    )
    .option('--successes <n>', 'consecutive passed checks to recover (default 1)')
    .option(
      '--expect-status <codes>',
      'accepted statuses, comma-separated: 200,204 or 2xx (default 2xx)',
    )
    .option('--expect-body <text>', 'a substring the body must contain, or /regex/flags')
    .option(
      '--exit-on-failure',
      'exit 1 when the endpoint is failing, 2 when an operation is stuck',
    )
    .option('--json', 'print one JSON object per check and per event')
    .option('--operations <url>', 'also watch this list of operations for stuck ones')
    .option(
      '--items <path>',
      'where the array is in the answer, e.g. $.data.operations (default $)',
    )
    .option('--id <field>', 'id field of each operation (default id)')
    .option('--status <field>', 'status field of each operation (default status)')
    .option('--last-update <field>', 'last-update field: ISO time or epoch s/ms (default: none)')
    .option(
      '--running <values>',
      'status values meaning running, comma-separated (default running)',
    )
    .option('--limit <duration>', 'longest time a running operation may go without a state change')
    .action(async (url: string, given: ProbeOptions) => {
      const problems: string[] = [];
      const options = withDurationsChecked(given, problems);
      const probe = probeSpecFrom(url, options, problems);
      const operations =
        options.operations === undefined ? null : operationsSpecFrom(options, problems);
      if (!probe || problems.length > 0) throw new BadInputError([...new Set(problems)]);
      done(await watch(io, probe, operations, options));
    });
}

/**
 * The duration flags must carry a unit and be above zero; one that does not is reported here
 * (naming the flag) and left out, so the schema does not report it a second time.
 */
function withDurationsChecked(options: ProbeOptions, problems: string[]): ProbeOptions {
  const checked = { ...options };
  for (const name of ['interval', 'timeout', 'limit'] as const) {
    const text = options[name];
    if (text === undefined) continue;
    const parsed = parseFlagDuration(text, { positive: true });
    if (parsed.ok) continue;
    problems.push(`--${name}: ${parsed.error}`);
    delete checked[name];
  }
  return checked;
}

/** Runs the checks until a signal, or with --exit-on-failure until failing (1) or stuck (2). */
async function watch(
  io: CliIo,
  probe: ProbeSpec,
  operations: HttpListSpec | null,
  options: ProbeOptions,
): Promise<number> {
  const events = new EventBus((error) => io.err(`vigil: ${String(error)}`));
  const onError = (error: unknown, where: string) =>
    io.err(`vigil: ${where}: ${error instanceof Error ? error.message : String(error)}`);
  const monitor = new ProbeMonitor({ probes: [probe], clock: io.clock, events, onError });
  const watcher =
    operations === null
      ? null
      : new HttpListWatcher({ sources: [operations], clock: io.clock, events, onError });
  const json = options.json ?? false;
  events.on((event) => io.out(json ? JSON.stringify(eventJson(event)) : describeEvent(event)));

  return new Promise<number>((resolve) => {
    const loops: { stop(): void }[] = [];
    const finish = (code: number) => {
      for (const loop of loops) loop.stop();
      process.off('SIGTERM', interrupted);
      process.off('SIGINT', interrupted);
      resolve(code);
    };
    const interrupted = () => finish(0);
    process.on('SIGTERM', interrupted);
    process.on('SIGINT', interrupted);
    loops.push(
      repeat(
        async () => {
          const status = await monitor.check(probe.name);
          io.out(json ? JSON.stringify(probeJson(status)) : describeProbe(status, probe));
          if (options.exitOnFailure && status.state === 'failing') finish(PROBE_EXIT.failing);
        },
        probe.intervalMs,
        (error) => onError(error, 'probe'),
        keepAlive,
      ),
    );
    if (watcher && operations) {
      loops.push(
        repeat(
          async () => {
            const check = await watcher.check(operations.name);
            io.out(json ? JSON.stringify(operationsJson(check)) : describeOperations(check));
            if (options.exitOnFailure && check.verdicts.some((v) => v.stuck)) {
              finish(PROBE_EXIT.stuck);
            }
          },
          operations.intervalMs,
          (error) => onError(error, 'operations'),
          keepAlive,
        ),
      );
    }
  });
}

/** Builds the probe from the flags with the same schema as vigil.yaml, errors naming the flag. */
function probeSpecFrom(url: string, options: ProbeOptions, problems: string[]): ProbeSpec | null {
  const raw = {
    url,
    interval: options.interval,
    timeout: options.timeout,
    failures: count(options.failures),
    successes: count(options.successes),
    expect: {
      status: options.expectStatus?.split(',').map((s) => s.trim()),
      body: options.expectBody,
    },
  };
  const parsed = parseFlags(probeSchema, raw, problems, {
    url: 'URL',
    interval: '--interval',
    timeout: '--timeout',
    failures: '--failures',
    successes: '--successes',
    'expect.status': '--expect-status',
    'expect.body': '--expect-body',
  });
  return parsed && resolveProbe('probe', parsed);
}

function operationsSpecFrom(options: ProbeOptions, problems: string[]): HttpListSpec | null {
  const raw = {
    url: options.operations,
    interval: options.interval,
    timeout: options.timeout,
    items: options.items,
    id: options.id,
    status: options.status,
    lastUpdate: options.lastUpdate,
    running: options.running?.split(',').map((s) => s.trim()),
    limit: options.limit,
    actions: { notify: true },
  };
  const parsed = parseFlags(httpListSchema, raw, problems, {
    url: '--operations',
    interval: '--interval',
    timeout: '--timeout',
    items: '--items',
    id: '--id',
    status: '--status',
    lastUpdate: '--last-update',
    running: '--running',
    limit: '--limit',
  });
  return parsed && resolveHttpList('operations', parsed);
}

/** Validates flags with a vigil.yaml schema; problems are added naming the flag, not the key. */
function parseFlags<T extends z.ZodType>(
  schema: T,
  raw: Record<string, unknown>,
  problems: string[],
  flags: Record<string, string>,
): z.infer<T> | null {
  // Flags not given are left out, so the schema's defaults apply.
  const defined = JSON.parse(JSON.stringify(raw)) as Record<string, unknown>;
  const parsed = schema.safeParse(defined);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) {
    const key = issue.path.join('.');
    problems.push(`${flags[key] ?? key}: ${describeIssue(issue, defined, schema)}`);
  }
  return null;
}

/** A count flag as a number when it looks like one, so the schema can say what is wrong. */
function count(value: string | undefined): number | string | undefined {
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : value;
}

function probeJson(status: ProbeStatus) {
  return {
    type: 'probe',
    at: iso(status.lastCheckAt),
    url: status.url,
    state: status.state,
    ok: status.lastError === null,
    error: status.lastError,
    consecutiveFailures: status.consecutiveFailures,
    consecutiveSuccesses: status.consecutiveSuccesses,
  };
}

function describeProbe(status: ProbeStatus, spec: ProbeSpec): string {
  const at = iso(status.lastCheckAt) ?? '-';
  if (status.lastError === null) return `${at}  ${status.state}  ${status.url}: ok`;
  return `${at}  ${status.state}  ${status.url}: ${status.lastError} (${status.consecutiveFailures} failed in a row, failing after ${spec.failures})`;
}

function operationsJson(check: SourceCheck) {
  return {
    type: 'operations',
    at: iso(check.source.lastCheckAt),
    url: check.source.url,
    state: check.source.state,
    reason: check.source.lastError,
    items: check.verdicts.map((v) => ({
      id: v.id,
      status: v.status,
      lastUpdateAt: iso(v.lastUpdateAt),
      stuck: v.stuck,
      stuckForMs: v.stuckForMs,
      reason: v.reason,
    })),
    skipped: check.source.skipped,
  };
}

function describeOperations(check: SourceCheck): string {
  const at = iso(check.source.lastCheckAt) ?? '-';
  const { source } = check;
  if (source.state === 'unknown') {
    return `${at}  unknown  ${source.url}: ${source.lastError ?? ''} (no action taken)`;
  }
  const stuck = check.verdicts.filter((v) => v.stuck);
  const lines = [
    `${at}  ${stuck.length > 0 ? 'stuck' : 'ok'}  ${source.url}: ${check.verdicts.length} listed, ${stuck.length} stuck`,
    ...stuck.map((v) => `  ${v.id}: ${v.reason}`),
    ...source.skipped.map((s) => `  skipped ${s}`),
  ];
  return lines.join('\n');
}

function eventJson(event: VigilEvent) {
  return { ...event, type: 'event', event: event.type, at: iso(event.at) };
}

function describeEvent(event: VigilEvent): string {
  switch (event.type) {
    case 'probe:failing':
      return `! ${event.type}: ${event.url}: ${event.reason}`;
    case 'probe:recovered': {
      const down =
        event.failingForMs !== null ? ` after ${formatDuration(event.failingForMs)}` : '';
      return `! ${event.type}: ${event.url}${down}`;
    }
    case 'execution:stuck':
      if ('operationId' in event) {
        return `! ${event.type}: ${event.source}:${event.operationId}: ${event.reason}`;
      }
      return `! ${event.type}: ${event.executionId}: ${event.reason}`;
    default:
      return `! ${event.type}`;
  }
}
