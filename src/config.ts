import type { Silence } from './core/silence.js';
import { configuredSilences } from './core/silence-input.js';
import { describeIssue } from './shared/config-issues.js';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { quotedKeys } from './shared/yaml-quoted.js';
import * as z from 'zod';
import type { KindPolicy, OwnerPolicy, PolicyConfig } from './core/policy.js';
import type { EngineConfig, SweepSettings } from './ports/engine-config.js';
import { mergeRetry } from './core/policy.js';
import { ConfigError } from './errors.js';
import { checkDatabaseUrl, deepFreeze, nonEmpty } from './shared/config-values.js';
import { interpolateEnv } from './shared/env-interpolation.js';
import type { NotifyConfig } from './notify/config.js';
import { notifySchema, resolveNotify } from './notify/config.js';
import type { DispatchTarget } from './notify/dispatch-config.js';
import { dispatchSchema, resolveDispatch } from './notify/dispatch-config.js';
import { durationSchema as duration, limitsSchema } from './schemas.js';
import type { ProcessConfig } from './supervisor/config.js';
import {
  PROCESS_DEFAULTS,
  processesSchema,
  supervisorSchema,
  toProcessConfigs,
} from './supervisor/config.js';
import { boundedDuration } from './shared/config-schemas.js';
import { resolveRetention, retentionSchema } from './shared/retention-config.js';
import type { ProbeSpec } from './probes/probe-config.js';
import { probesSchema, resolveProbes } from './probes/probe-config.js';
import type { OwnerAgents } from './owners/config.js';
import { ownerAgentFields, resolveOwnerAgents } from './owners/config.js';
import type { HttpListSpec } from './sources/http-list-config.js';
import { httpListsSchema, resolveHttpLists } from './sources/http-list-config.js';
import type { TableSourceConfig } from './sources/table-config.js';
import { normalizeTables, tablesSchema } from './sources/table-config.js';
import type { ScheduleSpec } from './core/schedule-times.js';
import { resolveSchedules, schedulesSchema } from './schedules/config.js';

/** Every default in one place. */
export const DEFAULTS = Object.freeze({
  databaseUrl: 'sqlite:.vigil/vigil.db',
  port: 7070,
  /**
   * Dispatch grace: 60 s covers a queue hand-off and a registry that lags behind the database.
   * Shorter would orphan work that is merely starting (the worse mistake); longer only delays
   * catching a dispatch that never happened.
   */
  dispatchGraceMs: 60_000,
  retry: Object.freeze({ maxAttempts: 1, backoffMs: 10_000, maxBackoffMs: 10 * 60_000 }),
  /** Safety-net sweep period; the service also wakes at the earliest deadline. */
  sweepIntervalMs: 30_000,
  /**
   * Overdue rows judged per page of a sweep: each page's ends are one transaction, then the lease
   * is renewed. 500 ends take tens of milliseconds (bench/RESULTS.md), so heartbeats and API writes
   * queue behind a page only that long, and a replica that dies mid-sweep leaves at most one page
   * to redo. Smaller pages cost more round trips per mass failure; larger ones hold the SQLite
   * write lock (and PostgreSQL row locks) longer, which delays runners' proofs of life — the worse
   * mistake for a watchdog.
   */
  sweepBatchSize: 500,
  /**
   * A sweep holds its lease this long and renews it after every page; a replica that dies
   * mid-sweep blocks the others for at most this long.
   */
  sweepLeaseMs: 60_000,
  /**
   * Failed stops in a row before `execution:escalated` (at least 3 s: 1 s, then 2 s of backoff).
   * One failure is mostly a blip the next try mends, and paging for blips teaches people to ignore
   * pages; more lets work nobody can stop hold its slot longer unnoticed, the worse mistake.
   */
  escalateAfter: 3,
  /**
   * How long an SQLite write waits for another process's lock: 5 s rides out a sweep's or a CLI
   * command's transaction (milliseconds) with a wide margin. Shorter would answer "store
   * unavailable" to runners during an ordinary burst of writes (the worse mistake: runners may
   * stop healthy work over it); longer only delays reporting a lock that is truly stuck.
   */
  sqliteBusyTimeoutMs: 5_000,
});

const retrySchema = z.strictObject({
  maxAttempts: z.number().int().min(1).optional(),
  backoff: duration.optional(),
  maxBackoff: duration.optional(),
});

const fileSchema = z.strictObject({
  database: z.string().optional(),
  port: z.number().int().min(0).max(65_535).optional(),
  host: z.string().min(1).optional(),
  auth: z
    .strictObject({
      runners: z
        .array(z.strictObject({ owner: z.string().min(1), token: z.string().min(16) }))
        .optional(),
      viewers: z
        .array(z.strictObject({ name: z.string().min(1), token: z.string().min(16) }))
        .optional(),
    })
    .optional(),
  sqlite: z.strictObject({ busyTimeout: duration.optional() }).optional(),
  redis: z
    .strictObject({
      url: z
        .string()
        .regex(/^rediss?:\/\/.+/, 'expected "redis://…" or "rediss://…"')
        .optional(),
      keyPrefix: z.string().min(1).max(100).optional(),
    })
    .optional(),
  defaults: z
    .strictObject({
      limits: limitsSchema.optional(),
      dispatchGrace: duration.optional(),
      retry: retrySchema.optional(),
    })
    .optional(),
  kinds: z
    .record(
      z.string(),
      z.strictObject({
        limits: limitsSchema.optional(),
        dispatchGrace: duration.optional(),
        retry: retrySchema.optional(),
        dispatch: dispatchSchema.optional(),
      }),
    )
    .optional(),
  owners: z
    .record(
      z.string(),
      z.strictObject({
        limits: limitsSchema.optional(),
        dispatchGrace: duration.optional(),
        ...ownerAgentFields,
      }),
    )
    .optional(),
  sweep: z
    .strictObject({
      interval: boundedDuration(100, 86_400_000, '100ms and 24h').optional(),
      batchSize: z.number().int().min(1).max(10_000).optional(),
      lease: boundedDuration(1_000, 3_600_000, '1s and 1h').optional(),
      escalateAfter: z.number().int().min(1).optional(),
      reconcileInterval: duration
        .refine((ms) => ms >= 100 && ms <= 86_400_000, 'expected between 100ms and 24h')
        .optional(),
    })
    .optional(),
  retention: retentionSchema.optional(),
  processes: processesSchema.optional(),
  supervisor: supervisorSchema.optional(),
  probes: probesSchema.optional(),
  operations: httpListsSchema.optional(),
  tables: tablesSchema.optional(),
  schedules: schedulesSchema.optional(),
  notify: notifySchema.optional(),
  /** Maintenance windows and silences known in advance (docs/silences.md). */
  silences: z.array(z.unknown()).optional(),
});

type FileConfig = z.infer<typeof fileSchema>;

export { limitsFor, policyFor } from './core/policy.js';

/** The configuration, parsed once at start and frozen. */
export interface Config extends EngineConfig {
  /** Where it came from: a file path, or "defaults". */
  source: string;
  databaseUrl: string;
  port: number;
  /** Where `vigil serve` listens: 127.0.0.1 unless tokens are configured (then all interfaces). */
  host: string;
  /** The admin token (VIGIL_TOKEN): may do anything. */
  token: string | null;
  /** Runner tokens, each bound to one owner: may only touch that owner's executions. */
  runnerTokens: readonly { owner: string; token: string }[];
  /** Viewer tokens: may read everything (dashboard, lists, audit, stats, events), write nothing. */
  viewerTokens: readonly { name: string; token: string }[];
  /** Capacity slots: in Redis when a URL is set, else in a table of the store. */
  redis: { url: string | null; keyPrefix: string };
  sqliteBusyTimeoutMs: number;
  defaults: PolicyConfig['defaults'];
  kinds: Readonly<Record<string, KindPolicy>>;
  owners: Readonly<Record<string, OwnerPolicy>>;
  /** Owners' registries and stop endpoints, the breaker and unknown-owner alerts (src/owners/). */
  ownerAgents: OwnerAgents;
  sweep: SweepSettings;
  /** Supervised processes (`processes:`), in the order of the file. */
  processes: readonly ProcessConfig[];
  supervisor: { intervalMs: number };
  /** HTTP health probes, by name (src/probes/probe-config.ts). */
  probes: Readonly<Record<string, ProbeSpec>>;
  /** HTTP operation lists, by name (src/sources/http-list-config.ts). */
  operations: Readonly<Record<string, HttpListSpec>>;
  /** Other apps' tables Vigil watches by configuration alone (`tables:`), by name. */
  tables: Readonly<Record<string, TableSourceConfig>>;
  /** Work that must start on a cron or a period (`schedules:`), by name (src/schedules/). */
  schedules: Readonly<Record<string, ScheduleSpec>>;
  /** Notification channels and routes (`notify:`); null when not configured. */
  notify: NotifyConfig | null;
  /** Dispatch webhooks by kind (`kinds.<kind>.dispatch`): where queued attempts are sent. */
  dispatch: Readonly<Record<string, DispatchTarget>>;
  /** The windows of `silences:` (ids `config-1`, …), beside those kept in the store. */
  silences: readonly Silence[];
}

const CONFIG_FILES = ['vigil.yaml', 'vigil.yml', 'vigil.json'];

export interface LoadConfigOptions {
  /** An explicit `--config` path; otherwise vigil.yaml / vigil.yml / vigil.json in `cwd`. */
  path?: string | undefined;
  cwd?: string | undefined;
  env?: Record<string, string | undefined>;
  /** The database URL given on the command line (`--db`): overrides the environment and file. */
  databaseUrl?: string | undefined;
}

/**
 * Reads the configuration file (if any) and the environment, which overrides it. Throws a
 * ConfigError listing every problem, each naming its key, what was expected and what was found.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  let source = 'defaults';
  let raw: unknown = {};
  const path =
    options.path !== undefined
      ? resolve(cwd, options.path)
      : CONFIG_FILES.map((name) => resolve(cwd, name)).find((file) => existsSync(file));
  let quoted: ReadonlySet<string> = new Set();
  if (path !== undefined) {
    source = path;
    ({ raw, quoted } = readConfigFile(path));
  }
  return parseConfig(raw ?? {}, env, source, { databaseUrl: options.databaseUrl, quoted });
}

function readConfigFile(path: string): { raw: unknown; quoted: ReadonlySet<string> } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([
      `${path}: cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    ]);
  }
  try {
    if (path.endsWith('.json')) return { raw: JSON.parse(text), quoted: new Set() };
    const document = parseDocument(text);
    const [first] = document.errors;
    if (first) throw new Error(first.message);
    return { raw: document.toJS(), quoted: quotedKeys(document.contents) };
  } catch (error) {
    throw new ConfigError([
      `${path}: not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(error as Error).message}`,
    ]);
  }
}

/**
 * Validates a parsed configuration object: expands `${VAR}` references from `env` in every value,
 * then applies the environment overrides (VIGIL_*).
 */
export function parseConfig(
  written: unknown,
  env: Record<string, string | undefined> = {},
  source = 'defaults',
  flags: { databaseUrl?: string | undefined; quoted?: ReadonlySet<string> | undefined } = {},
): Config {
  const problems: string[] = [];
  const raw = interpolateEnv(written, env, problems, flags.quoted);
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      problems.push(
        `${issue.path.length > 0 ? issue.path.join('.') : '(top level)'}: ${describeIssue(issue, raw, fileSchema)}`,
      );
    }
  }
  const file: FileConfig = parsed.success ? parsed.data : {};

  let port = file.port ?? DEFAULTS.port;
  if (env.VIGIL_PORT !== undefined && env.VIGIL_PORT !== '') {
    const fromEnv = Number(env.VIGIL_PORT);
    if (!Number.isInteger(fromEnv) || fromEnv < 0 || fromEnv > 65_535) {
      problems.push(
        `VIGIL_PORT: expected a port number 0-65535, got ${JSON.stringify(env.VIGIL_PORT)}`,
      );
    } else {
      port = fromEnv;
    }
  }
  const databaseUrl =
    nonEmpty(flags.databaseUrl) ??
    nonEmpty(env.VIGIL_DATABASE_URL) ??
    file.database ??
    DEFAULTS.databaseUrl;
  const databaseProblem = checkDatabaseUrl(databaseUrl);
  if (databaseProblem) {
    const from = nonEmpty(flags.databaseUrl)
      ? '--db'
      : nonEmpty(env.VIGIL_DATABASE_URL)
        ? 'VIGIL_DATABASE_URL'
        : 'database';
    problems.push(`${from}: ${databaseProblem}`);
  }
  for (const [name, probe] of Object.entries(file.probes ?? {})) {
    if (probe.process !== undefined && !(probe.process in (file.processes ?? {}))) {
      problems.push(
        `probes.${name}.process: expected the name of a process under "processes:", got ${JSON.stringify(probe.process)}`,
      );
    }
  }
  const notify = resolveNotify(file.notify, env, problems);
  const dispatch = resolveDispatch(file.kinds ?? {}, env, problems);
  const ownerAgents = resolveOwnerAgents(file.owners, problems);
  const silences = configuredSilences(file.silences, problems);
  const tables = normalizeTables(file.tables);
  const schedules = resolveSchedules(file.schedules, problems, tables);
  if (problems.length > 0) throw new ConfigError(problems, source);

  const token = nonEmpty(env.VIGIL_TOKEN) ?? null;
  const runnerTokens = file.auth?.runners ?? [];
  const viewerTokens = file.auth?.viewers ?? [];
  const retry = mergeRetry({ ...DEFAULTS.retry }, file.defaults?.retry);
  const kinds: Record<string, KindPolicy> = {};
  for (const [name, kind] of Object.entries(file.kinds ?? {})) {
    kinds[name] = {
      limits: kind.limits ?? {},
      dispatchGraceMs: kind.dispatchGrace,
      retry: kind.retry,
    };
  }
  const owners: Config['owners'] = Object.fromEntries(
    Object.entries(file.owners ?? {}).map(([name, owner]) => [
      name,
      { limits: owner.limits ?? {}, dispatchGraceMs: owner.dispatchGrace },
    ]),
  );
  return deepFreeze({
    source,
    databaseUrl,
    port,
    host:
      nonEmpty(env.VIGIL_HOST) ??
      file.host ??
      (token || runnerTokens.length > 0 || viewerTokens.length > 0 ? '0.0.0.0' : '127.0.0.1'),
    token,
    runnerTokens,
    viewerTokens,
    redis: {
      url: nonEmpty(env.VIGIL_REDIS_URL) ?? file.redis?.url ?? null,
      keyPrefix: file.redis?.keyPrefix ?? 'vigil:slot:',
    },
    sqliteBusyTimeoutMs: file.sqlite?.busyTimeout ?? DEFAULTS.sqliteBusyTimeoutMs,
    defaults: {
      limits: file.defaults?.limits ?? {},
      dispatchGraceMs: file.defaults?.dispatchGrace ?? DEFAULTS.dispatchGraceMs,
      retry,
    },
    kinds,
    owners,
    ownerAgents,
    sweep: {
      intervalMs: file.sweep?.interval ?? DEFAULTS.sweepIntervalMs,
      batchSize: file.sweep?.batchSize ?? DEFAULTS.sweepBatchSize,
      leaseMs: file.sweep?.lease ?? DEFAULTS.sweepLeaseMs,
      escalateAfter: file.sweep?.escalateAfter ?? DEFAULTS.escalateAfter,
      reconcileIntervalMs:
        file.sweep?.reconcileInterval ?? file.sweep?.interval ?? DEFAULTS.sweepIntervalMs,
    },
    retention: resolveRetention(file.retention),
    processes: toProcessConfigs(
      file.processes,
      source === 'defaults' ? undefined : dirname(source),
    ),
    supervisor: {
      intervalMs: file.supervisor?.interval ?? PROCESS_DEFAULTS.supervisorIntervalMs,
    },
    probes: resolveProbes(file.probes),
    operations: resolveHttpLists(file.operations),
    tables,
    schedules,
    notify,
    dispatch,
    silences,
  });
}
