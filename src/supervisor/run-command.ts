/**
 * A named recovery command (`{run: NAME}`: a cleanup script, a lock removal). It runs in its own
 * process group with a time limit; failing or timing out is a warning and the pipeline goes on,
 * since a cleanup that did not work should not keep the process from being started again.
 */
import type { CommandConfig } from './config.js';
import type { StepOutcome } from './kill.js';
import { exited, orTimeout, spawnCommand, spawned } from './spawn-command.js';

const OUTPUT_KEPT = 2_048;

export async function runCommand(
  name: string,
  command: CommandConfig,
  env: Record<string, string>,
): Promise<StepOutcome> {
  const child = spawnCommand(command.command, {
    cwd: command.cwd,
    env: { ...process.env, ...command.env, ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-OUTPUT_KEPT);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exit = exited(child);
  const launch = await spawned(child);
  if (!launch.ok) {
    return { outcome: 'warned', detail: `${name}: could not start: ${launch.error}`, evidence: {} };
  }
  const result = await orTimeout(exit, command.timeoutMs);
  if (result === 'timeout') {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    return {
      outcome: 'warned',
      detail: `${name}: timed out after ${command.timeoutMs} ms and was killed`,
      evidence: { output },
    };
  }
  const evidence = { exitCode: result.code, signal: result.signal, output };
  if (result.code === 0) return { outcome: 'ok', detail: `${name}: exit code 0`, evidence };
  return {
    outcome: 'warned',
    detail: `${name}: ${result.signal ?? `exit code ${result.code}`}; going on`,
    evidence,
  };
}
