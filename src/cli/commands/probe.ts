import type { Command } from 'commander';
import type { z } from 'zod';
import { parseFlagDuration } from '../../core/duration.js';
import { describeIssue } from '../../shared/config-issues.js';
import { BadInputError } from '../../errors.js';
import type { ProbeSpec } from '../../probes/probe-config.js';
import { probeSchema, resolveProbe } from '../../probes/probe-config.js';
import type { HttpListSpec } from '../../sources/http-list-config.js';
import { readableListSchema, resolveHttpList } from '../../sources/http-list-config.js';
import type { CliIo, GlobalOptions } from '../context.js';
import { configFrom } from '../context.js';
import { checkOnce, watch } from './probe-watch.js';

export { PROBE_EXIT } from './probe-watch.js';

interface ProbeOptions {
  interval?: string;
  timeout?: string;
  failures?: string;
  successes?: string;
  expectStatus?: string;
  expectBody?: string;
  exitOnFailure?: boolean;
  once?: boolean;
  json?: boolean;
  operations?: string;
  operationUrl?: string;
  operationId: string[];
  items?: string;
  id?: string;
  status?: string;
  lastUpdate?: string;
  running?: string;
  limit?: string;
}

/** Flags that describe a probe or a list on the command line; with vigil.yaml they are its keys. */
const SPEC_FLAGS = {
  interval: '--interval',
  timeout: '--timeout',
  failures: '--failures',
  successes: '--successes',
  expectStatus: '--expect-status',
  expectBody: '--expect-body',
  operations: '--operations',
  operationUrl: '--operation-url',
  items: '--items',
  id: '--id',
  status: '--status',
  lastUpdate: '--last-update',
  running: '--running',
  limit: '--limit',
} as const;

const collect = (value: string, previous: string[]) => [...previous, value];

export function probeCommand(program: Command, io: CliIo, done: (code: number) => void): void {
  program
    .command('probe')
    .description(
      'watch a health endpoint and operations (from the flags, or probes: and operations: in vigil.yaml); with --exit-on-failure exit 1 when failing, 2 when an operation is stuck, 3 when the watchdog itself fails',
    )
    .argument('[url]', 'the health endpoint (http:// or https://); without it, vigil.yaml is read')
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
      'exit 1 when the endpoint is failing, 2 when an operation is stuck, 3 on an internal error',
    )
    .option('--once', 'check everything once and exit: 0 healthy, 1 failing, 2 stuck')
    .option('--json', 'print one JSON object per check and per event')
    .option('--operations <url>', 'also watch this list of operations for stuck ones')
    .option(
      '--operation-url <template>',
      'read each operation from its own URL, {id} being its id (with --operation-id)',
    )
    .option(
      '--operation-id <id>',
      'watch only this operation (repeatable)',
      collect,
      [] as string[],
    )
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
    .action(async (url: string | undefined, given: ProbeOptions, command: Command) => {
      const { probes, sources } =
        url === undefined
          ? specsFromConfig(io, command.optsWithGlobals<GlobalOptions>(), given)
          : specsFromFlags(url, given);
      const options = {
        json: given.json ?? false,
        exitOnFailure: given.exitOnFailure ?? false,
        once: given.once ?? false,
      };
      done(
        options.once
          ? await checkOnce(io, probes, sources, options)
          : await watch(io, probes, sources, options),
      );
    });
}

interface Specs {
  probes: ProbeSpec[];
  sources: HttpListSpec[];
}

/** One probe (and one operations source) from the flags. */
function specsFromFlags(url: string, given: ProbeOptions): Specs {
  const problems: string[] = [];
  const options = withDurationsChecked(given, problems);
  const probe = probeSpecFrom(url, options, problems);
  const hasOperations = options.operations !== undefined || options.operationUrl !== undefined;
  if (options.operationUrl !== undefined && options.operationId.length === 0) {
    problems.push('--operation-url: expected --operation-id (the operations to read from it)');
  }
  if (!hasOperations && options.operationId.length > 0) {
    problems.push('--operation-id: expected --operations or --operation-url');
  }
  const source = hasOperations ? operationsSpecFrom(options, problems) : null;
  if (!probe || problems.length > 0) throw new BadInputError([...new Set(problems)]);
  return { probes: [probe], sources: source ? [source] : [] };
}

/**
 * Every probe and operations source of vigil.yaml; --operation-id narrows each source to those
 * operations. Flags that describe a probe belong to the file then, and are refused.
 */
function specsFromConfig(io: CliIo, global: GlobalOptions, given: ProbeOptions): Specs {
  const misplaced = Object.entries(SPEC_FLAGS)
    .filter(([key]) => given[key as keyof typeof SPEC_FLAGS] !== undefined)
    .map(
      ([, flag]) =>
        `${flag}: only with a URL argument; without one, probes and operations are read from vigil.yaml`,
    );
  if (misplaced.length > 0) throw new BadInputError(misplaced);
  const config = configFrom(io, global);
  const probes = Object.values(config.probes);
  let sources = Object.values(config.operations);
  if (probes.length === 0 && sources.length === 0) {
    throw new BadInputError([
      `${config.source}: expected "probes:" or "operations:" to watch (or a URL argument), got neither`,
    ]);
  }
  if (given.operationId.length > 0) {
    if (sources.length === 0) {
      throw new BadInputError([`--operation-id: expected "operations:" in ${config.source}`]);
    }
    sources = sources.map((source) => ({ ...source, ids: [...given.operationId] }));
  }
  return { probes, sources };
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
    operationUrl: options.operationUrl,
    ids: options.operationId.length > 0 ? options.operationId : undefined,
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
  const parsed = parseFlags(readableListSchema, raw, problems, {
    url: '--operations',
    operationUrl: '--operation-url',
    ids: '--operation-id',
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
