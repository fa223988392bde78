/**
 * The `processes:` section of vigil.yaml: each supervised process, its heartbeat file, its limits
 * and its recovery pipeline. Validated with every problem named by key
 * (`processes.web.start.command: …`).
 */
import { isAbsolute, resolve } from 'node:path';
import * as z from 'zod';
import { durationSchema as duration } from '../schemas.js';
import type { HeartbeatFormat } from '../core/heartbeat-format.js';
import { heartbeatFormatSchema, toHeartbeatFormat } from './heartbeat-format-config.js';

/** Every default of a supervised process, in one place. */
export const PROCESS_DEFAULTS = Object.freeze({
  /** The longest silence of a heartbeat before the process is `timed_out`. */
  heartbeatMs: 30_000,
  /**
   * Unhealthy checks in a row before recovery: 2, so one torn read or one slow beat never
   * restarts a working process (the worse mistake); each further one delays recovery by a check.
   */
  unhealthyAfter: 2,
  /**
   * How long a process Vigil started has before its first heartbeat is required: 30 s covers a
   * typical service's start-up; too short and a slow start is killed in a loop.
   */
  startupGraceMs: 30_000,
  /** Default time limit of each recovery step (named commands, waiting for a kill). */
  timeoutMs: 30_000,
  /**
   * Between SIGTERM and SIGKILL: 5 s lets a service flush and exit cleanly; a process that has
   * stopped working is not worth waiting for much longer.
   */
  stopGraceMs: 5_000,
  /** A start fails when the process exits within this window. */
  startWindowMs: 1_000,
  backoff: Object.freeze({ initialMs: 1_000, maxMs: 5 * 60_000, resetAfterMs: 10 * 60_000 }),
  /** Restarts without a stable period (backoff.resetAfter) before Vigil gives up. */
  giveUpAfter: 5,
  /** How often `vigil serve` checks its processes. */
  supervisorIntervalMs: 10_000,
});

/** A command: a shell line (run by /bin/sh -c) or an argv array (run as is). */
export type CommandLine = string | readonly string[];

export interface CommandConfig {
  command: CommandLine;
  cwd: string | undefined;
  env: Readonly<Record<string, string>>;
  timeoutMs: number;
}

export type RecoveryStep = { kind: 'kill' } | { kind: 'start' } | { kind: 'run'; name: string };

export interface ProcessConfig {
  name: string;
  heartbeatFile: string;
  /** The keys and time forms of the heartbeat file (default Vigil's own format). */
  heartbeatFormat: HeartbeatFormat;
  heartbeatMs: number;
  timeoutMs: number;
  unhealthyAfter: number;
  startupGraceMs: number;
  stopGraceMs: number;
  start: {
    command: CommandLine;
    cwd: string | undefined;
    env: Readonly<Record<string, string>>;
    /** Where the process's stdout and stderr go (appended). */
    log: string;
    windowMs: number;
  } | null;
  recovery: readonly RecoveryStep[];
  commands: Readonly<Record<string, CommandConfig>>;
  backoff: { initialMs: number; maxMs: number; resetAfterMs: number };
  giveUpAfter: number;
}

const commandLine = z.unknown().transform((value, ctx): CommandLine => {
  if (typeof value === 'string' && value.trim() !== '') return value;
  if (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((part) => typeof part === 'string') &&
    value[0] !== ''
  ) {
    return value;
  }
  ctx.addIssue({
    code: 'custom',
    message: `expected a shell command line or a non-empty array of strings, got ${JSON.stringify(value) ?? 'nothing'}`,
  });
  return z.NEVER;
});

const envSchema = z.record(z.string(), z.string());
const positiveDuration = duration.refine((ms) => ms > 0, 'expected a duration above zero');

const stepSchema = z.unknown().transform((value, ctx): RecoveryStep => {
  if (value === 'kill' || value === 'start') return { kind: value };
  if (
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    Object.keys(value).length === 1 &&
    typeof (value as { run?: unknown }).run === 'string'
  ) {
    return { kind: 'run', name: (value as { run: string }).run };
  }
  ctx.addIssue({
    code: 'custom',
    message: `expected "kill", "start" or {run: NAME}, got ${JSON.stringify(value) ?? 'nothing'}`,
  });
  return z.NEVER;
});

const processSchema = z
  .strictObject({
    heartbeatFile: z.string().min(1),
    heartbeatFormat: heartbeatFormatSchema.optional(),
    heartbeat: positiveDuration.optional(),
    timeout: positiveDuration.optional(),
    unhealthyAfter: z.number().int().min(1).max(100).optional(),
    startupGrace: duration.optional(),
    stopGrace: duration.optional(),
    start: z
      .strictObject({
        command: commandLine,
        cwd: z.string().min(1).optional(),
        env: envSchema.optional(),
        log: z.string().min(1).optional(),
        window: duration
          .refine((ms) => ms <= 60_000, 'expected at most 1m: a start waits this long')
          .optional(),
      })
      .optional(),
    recovery: z.array(stepSchema).min(1).optional(),
    commands: z
      .record(
        z.string(),
        // A bare command line is short for {command: …}.
        z.preprocess(
          (value) =>
            typeof value === 'string' || Array.isArray(value) ? { command: value } : value,
          z.strictObject({
            command: commandLine,
            cwd: z.string().min(1).optional(),
            env: envSchema.optional(),
            timeout: positiveDuration.optional(),
          }),
        ),
      )
      .optional(),
    backoff: z
      .strictObject({
        initial: positiveDuration.optional(),
        max: positiveDuration.optional(),
        resetAfter: duration.optional(),
      })
      .optional(),
    giveUpAfter: z.number().int().min(1).max(1_000).optional(),
  })
  .superRefine((entry, ctx) => {
    const steps = entry.recovery ?? [];
    steps.forEach((step, i) => {
      if (step.kind === 'run' && !(step.name in (entry.commands ?? {}))) {
        ctx.addIssue({
          code: 'custom',
          path: ['recovery', i, 'run'],
          message: `names no command: expected one of the keys of commands (${Object.keys(entry.commands ?? {}).join(', ') || 'none defined'}), got ${JSON.stringify(step.name)}`,
        });
      }
      if (step.kind === 'start' && entry.start === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['recovery', i],
          message: '"start" needs start.command to be set',
        });
      }
    });
    const { backoff } = entry;
    if (
      backoff?.initial !== undefined &&
      backoff.max !== undefined &&
      backoff.max < backoff.initial
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['backoff', 'max'],
        message: `expected at least backoff.initial (${backoff.initial} ms), got ${backoff.max} ms`,
      });
    }
  });

/** `processes:` in vigil.yaml: name → process. */
export const processesSchema = z.record(
  z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'expected a name of letters, digits, _ . -'),
  processSchema,
);

/** `supervisor:` in vigil.yaml: how `vigil serve` runs the checks. */
export const supervisorSchema = z.strictObject({
  interval: duration
    .refine((ms) => ms >= 100 && ms <= 3_600_000, 'expected between 100ms and 1h')
    .optional(),
});

/**
 * The validated entries as ProcessConfig. Relative paths are taken from `baseDir` (the directory
 * of vigil.yaml) when there is one, so a configuration means the same from any working directory.
 */
export function toProcessConfigs(
  raw: z.infer<typeof processesSchema> | undefined,
  baseDir: string | undefined,
): ProcessConfig[] {
  const path = (p: string) => (baseDir === undefined || isAbsolute(p) ? p : resolve(baseDir, p));
  const optionalPath = (p: string | undefined) => (p === undefined ? undefined : path(p));
  return Object.entries(raw ?? {}).map(([name, entry]) => {
    const heartbeatFile = path(entry.heartbeatFile);
    const timeoutMs = entry.timeout ?? PROCESS_DEFAULTS.timeoutMs;
    const commands: Record<string, CommandConfig> = {};
    for (const [commandName, command] of Object.entries(entry.commands ?? {})) {
      commands[commandName] = {
        command: command.command,
        cwd: optionalPath(command.cwd),
        env: command.env ?? {},
        timeoutMs: command.timeout ?? timeoutMs,
      };
    }
    const start = entry.start
      ? {
          command: entry.start.command,
          cwd: optionalPath(entry.start.cwd),
          env: entry.start.env ?? {},
          log: path(entry.start.log ?? `${heartbeatFile}.log`),
          windowMs: entry.start.window ?? PROCESS_DEFAULTS.startWindowMs,
        }
      : null;
    const recovery: RecoveryStep[] =
      entry.recovery ?? (start ? [{ kind: 'kill' }, { kind: 'start' }] : [{ kind: 'kill' }]);
    return {
      name,
      heartbeatFile,
      heartbeatFormat: toHeartbeatFormat(entry.heartbeatFormat),
      heartbeatMs: entry.heartbeat ?? PROCESS_DEFAULTS.heartbeatMs,
      timeoutMs,
      unhealthyAfter: entry.unhealthyAfter ?? PROCESS_DEFAULTS.unhealthyAfter,
      startupGraceMs: entry.startupGrace ?? PROCESS_DEFAULTS.startupGraceMs,
      stopGraceMs: entry.stopGrace ?? PROCESS_DEFAULTS.stopGraceMs,
      start,
      recovery,
      commands,
      backoff: {
        initialMs: entry.backoff?.initial ?? PROCESS_DEFAULTS.backoff.initialMs,
        maxMs: Math.max(
          entry.backoff?.max ?? PROCESS_DEFAULTS.backoff.maxMs,
          entry.backoff?.initial ?? PROCESS_DEFAULTS.backoff.initialMs,
        ),
        resetAfterMs: entry.backoff?.resetAfter ?? PROCESS_DEFAULTS.backoff.resetAfterMs,
      },
      giveUpAfter: entry.giveUpAfter ?? PROCESS_DEFAULTS.giveUpAfter,
    };
  });
}
