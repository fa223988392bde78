/**
 * A recovery pipeline: the configured steps in order (`kill`, `{run: NAME}`, `start`), each timed
 * and recorded. A failed kill stops the pipeline (starting a second copy beside a process that
 * would not die is worse than waiting); a failed named command only warns.
 */
import type { Clock } from '../ports.js';
import type { RecoveryStepRecord } from '../ports/process-store.js';
import type { ProcessConfig, RecoveryStep } from './config.js';
import type { Identity, StepOutcome } from './kill.js';
import { killProcess } from './kill.js';
import { runCommand } from './run-command.js';
import { startProcess } from './start.js';

export interface PipelineResult {
  outcome: 'ok' | 'failed';
  steps: RecoveryStepRecord[];
  /** The process the `start` step started, when it ran and worked. */
  started: { pid: number; pidStartedAt: number } | null;
  /** Whether a `kill` step confirmed the old process gone. */
  killed: boolean;
}

export interface PipelineContext {
  clock: Clock;
  /** The process its heartbeat names, when its identity was verified. */
  heartbeat: Identity | null;
  /** The process Vigil started last, as persisted. */
  started: Identity | null;
  /** Called before each step: renews the lease that keeps other checkers away. */
  beforeStep?: () => Promise<void>;
}

const label = (step: RecoveryStep): string =>
  step.kind === 'run' ? `run:${step.name}` : step.kind;

export async function runPipeline(
  config: ProcessConfig,
  steps: readonly RecoveryStep[],
  context: PipelineContext,
): Promise<PipelineResult> {
  const { clock } = context;
  const records: RecoveryStepRecord[] = [];
  let started: PipelineResult['started'] = null;
  let killed = false;
  let stopReason: string | null = null;
  for (const step of steps) {
    const startedAt = clock.now();
    const realStart = Date.now();
    if (stopReason !== null) {
      records.push({
        step: label(step),
        outcome: 'skipped',
        startedAt,
        ms: 0,
        detail: stopReason,
        evidence: {},
      });
      continue;
    }
    await context.beforeStep?.();
    let outcome: StepOutcome;
    if (step.kind === 'kill') {
      outcome = await killProcess(context.heartbeat, context.started, {
        stopGraceMs: config.stopGraceMs,
        confirmMs: config.timeoutMs,
      });
      if (outcome.outcome === 'failed') {
        stopReason = 'not run: the old process may still be running';
      } else killed = true;
    } else if (step.kind === 'run') {
      const command = config.commands[step.name];
      outcome = command
        ? await runCommand(step.name, command, {
            VIGIL_PROCESS_NAME: config.name,
            VIGIL_HEARTBEAT_FILE: config.heartbeatFile,
          })
        : { outcome: 'warned', detail: `no command named ${step.name}`, evidence: {} };
    } else {
      const result = await startProcess(config, startedAt);
      outcome = result;
      if (result.pid !== null && result.pidStartedAt !== null) {
        started = { pid: result.pid, pidStartedAt: result.pidStartedAt };
      }
    }
    // Durations are real time: the fake clock of a test does not move while a process exits.
    records.push({ step: label(step), startedAt, ms: Date.now() - realStart, ...outcome });
  }
  return {
    outcome: records.some((r) => r.outcome === 'failed') ? 'failed' : 'ok',
    steps: records,
    started,
    killed,
  };
}
