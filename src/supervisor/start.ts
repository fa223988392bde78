/**
 * The `start` step: the process is started detached, in its own process group (so a later `kill`
 * takes its children too), with its output appended to a log file. It fails when the process
 * cannot be spawned or exits within the start window.
 */
import { closeSync, mkdirSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { JsonValue } from '../core/types.js';
import type { ProcessConfig } from './config.js';
import type { StepOutcome } from './kill.js';
import { processStartTime } from '../shared/proc.js';
import { exited, orTimeout, spawnCommand, spawned } from './spawn-command.js';

export type StartOutcome = StepOutcome & { pid: number | null; pidStartedAt: number | null };

export async function startProcess(config: ProcessConfig, at: number): Promise<StartOutcome> {
  const start = config.start;
  const failed = (detail: string, evidence: Record<string, JsonValue> = {}): StartOutcome => ({
    outcome: 'failed',
    detail,
    evidence,
    pid: null,
    pidStartedAt: null,
  });
  if (start === null) return failed('no start command configured');
  let log: number;
  try {
    mkdirSync(dirname(start.log), { recursive: true });
    log = openSync(start.log, 'a');
    writeSync(log, `--- vigil: starting ${config.name} at ${new Date(at).toISOString()}\n`);
  } catch (error) {
    return failed(`cannot open the log ${start.log}: ${(error as Error).message}`);
  }
  const logStart = statSync(start.log).size;
  const child = spawnCommand(start.command, {
    cwd: start.cwd,
    env: {
      ...process.env,
      ...start.env,
      VIGIL_PROCESS_NAME: config.name,
      VIGIL_HEARTBEAT_FILE: config.heartbeatFile,
    },
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const exit = exited(child);
  const launch = await spawned(child);
  if (!launch.ok)
    return failed(`could not start: ${launch.error}`, { command: commandJson(config) });
  const pid = child.pid ?? null;
  const early = await orTimeout(exit, start.windowMs);
  if (early !== 'timeout') {
    return failed(
      `exited within ${start.windowMs} ms of starting (${early.signal ?? `exit code ${early.code}`})`,
      {
        pid,
        exitCode: early.code,
        signal: early.signal,
        log: start.log,
        logTail: tail(start.log, logStart),
      },
    );
  }
  // The process runs on its own: Vigil (or a cron-run `vigil proc check`) may exit before it.
  child.unref();
  const pidStartedAt = pid === null ? null : processStartTime(pid);
  if (pid === null || pidStartedAt === null) {
    return failed('the process vanished right after its start window', { pid });
  }
  return {
    outcome: 'ok',
    detail: `started pid ${pid}`,
    evidence: { pid, pidStartedAt: new Date(pidStartedAt).toISOString(), log: start.log },
    pid,
    pidStartedAt,
  };
}

const commandJson = (config: ProcessConfig): JsonValue =>
  config.start === null
    ? null
    : typeof config.start.command === 'string'
      ? config.start.command
      : [...config.start.command];

/** The last 2 KiB the process wrote to its log since `from`: why it died, usually. */
function tail(file: string, from: number): string {
  try {
    const size = statSync(file).size;
    const start = Math.max(from, size - 2_048);
    const buffer = Buffer.alloc(size - start);
    const fd = openSync(file, 'r');
    try {
      readSync(fd, buffer, 0, buffer.length, start);
    } finally {
      closeSync(fd);
    }
    return buffer.toString('utf8');
  } catch {
    return '';
  }
}
