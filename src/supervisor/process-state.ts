/**
 * What the supervisor knows of one process, as plain functions: its heartbeat file read and judged,
 * the identity of the process Vigil started, and its state after a recovery pipeline ran.
 */
import { readFileSync } from 'node:fs';
import type { HeartbeatRead, ProcessJudgement } from '../core/process-health.js';
import { IDENTITY_TOLERANCE_MS, judgeProcess, parseHeartbeat } from '../core/process-health.js';
import type { SupervisionEvent, SupervisionState } from '../core/process-supervision.js';
import type { ProcessEvent } from '../ports/events.js';
import { initialSupervision } from '../core/process-supervision.js';
import type { ProcessState } from '../ports/process-store.js';
import { isRunning, processInfo, processStartTime } from '../shared/proc.js';
import type { ProcessConfig } from './config.js';
import type { Identity } from './kill.js';
import type { PipelineResult } from './pipeline.js';

/** Reads a heartbeat file; never throws. */
export function readHeartbeatFile(file: string): HeartbeatRead {
  try {
    const text = readFileSync(file, 'utf8');
    // A heartbeat is a hundred bytes; anything this large is not one (and is not worth parsing).
    if (text.length > 65_536) return { kind: 'unreadable', error: 'larger than 64 KiB' };
    return { kind: 'text', text };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'unreadable', error: `${code ?? 'error'}: ${(error as Error).message}` };
  }
}

/** Reads the file and asks the OS about the pid it names, then judges. */
export function observeProcess(
  config: ProcessConfig,
  startedByVigilAt: number | null,
  now: number,
): ProcessJudgement {
  const read = readHeartbeatFile(config.heartbeatFile);
  const parsed = read.kind === 'text' ? parseHeartbeat(read.text, config.heartbeatFormat) : null;
  const pidStartedAt = parsed?.ok ? processStartTime(parsed.beat.pid) : null;
  return judgeProcess(
    { read, pidStartedAt },
    {
      name: config.name,
      heartbeatMs: config.heartbeatMs,
      startupGraceMs: config.startupGraceMs,
      format: config.heartbeatFormat,
    },
    startedByVigilAt,
    now,
  );
}

/** The longest a recovery of this process can take, with a margin. */
export function leaseTtl(config: ProcessConfig): number {
  const commands = Object.values(config.commands).reduce((sum, c) => sum + c.timeoutMs, 0);
  return config.stopGraceMs + config.timeoutMs + commands + (config.start?.windowMs ?? 0) + 30_000;
}

/** The state once a pipeline ran: who runs now, and whether it counts as a restart. */
export function withPipeline(
  state: ProcessState,
  pipeline: PipelineResult,
  config: ProcessConfig,
  now: number,
): ProcessState {
  const next = { ...state };
  if (pipeline.killed) {
    next.pid = null;
    next.pidStartedAt = null;
  }
  if (pipeline.started) {
    next.pid = pipeline.started.pid;
    next.pidStartedAt = pipeline.started.pidStartedAt;
    next.startedAt = now;
  }
  const isKillOnly = !config.recovery.some((s) => s.kind === 'start');
  if (pipeline.started !== null || (isKillOnly && pipeline.killed)) next.restarts += 1;
  return next;
}

/**
 * A process Vigil did not start (or whose starter was a shell that has exited) is known from its
 * heartbeat once its identity is verified, so a later kill can reach it even if the file goes.
 */
export function adoptHeartbeatPid(
  state: ProcessState,
  judgement: ProcessJudgement,
): Partial<ProcessState> {
  if (!judgement.isIdentityVerified || judgement.beat?.startedAt == null) return {};
  if (state.pid !== null && isStartedAlive(state)) return {};
  return { pid: judgement.beat.pid, pidStartedAt: judgement.beat.startedAt };
}

export function startedIdentity(state: ProcessState): Identity | null {
  return state.pid !== null && state.pidStartedAt !== null
    ? { pid: state.pid, startedAt: state.pidStartedAt, source: 'started by vigil' }
    : null;
}

/** Whether the process Vigil started (by pid and OS start time) still runs. */
export function isStartedAlive(state: ProcessState): boolean {
  if (state.pid === null || state.pidStartedAt === null) return false;
  const info = processInfo(state.pid);
  return isRunning(info) && Math.abs(info.startedAt - state.pidStartedAt) <= IDENTITY_TOLERANCE_MS;
}

/** A process never checked before. */
export function freshProcessState(name: string): ProcessState {
  const initial: SupervisionState = initialSupervision();
  return {
    ...initial,
    name,
    pid: null,
    pidStartedAt: null,
    startedAt: null,
    verdict: null,
    reason: null,
    evidence: {},
    restarts: 0,
    lastCheckAt: null,
  };
}

/** The event each supervision transition is announced as. */
export const EVENT_TYPE: Record<SupervisionEvent, ProcessEvent['type']> = {
  unhealthy: 'process:unhealthy',
  recovered: 'process:recovered',
  gave_up: 'process:gave-up',
};
