/** The probe and the operations source `vigil probe` watches, from its flags or vigil.yaml. */
import type { z } from 'zod';
import { parseFlagDuration } from '../../core/duration.js';
import { describeIssue } from '../../shared/config-issues.js';
import { BadInputError } from '../../errors.js';
import type { ProbeSpec } from '../../probes/probe-config.js';
import { probeSchema, resolveProbe } from '../../probes/probe-config.js';
import type { HttpListSpec } from '../../sources/http-list-config.js';
import { readableListSchema, resolveHttpList } from '../../sources/http-list-config.js';
import type { CliIo, GlobalOptions } from '../context.js';
import { configFrom } from '../load.js';

export interface ProbeOptions {
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

export interface Specs {
  probes: ProbeSpec[];
  sources: HttpListSpec[];
}

/** One probe (and one operations source) from the flags. */
export function specsFromFlags(url: string, given: ProbeOptions): Specs {
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
export function specsFromConfig(io: CliIo, global: GlobalOptions, given: ProbeOptions): Specs {
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
