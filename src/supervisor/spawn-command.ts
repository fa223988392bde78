import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { spawn } from 'node:child_process';
import type { CommandLine } from './config.js';

/** A shell line runs through /bin/sh -c; an array runs as is, with no shell in between. */
export function spawnCommand(command: CommandLine, options: SpawnOptions): ChildProcess {
  return typeof command === 'string'
    ? spawn('/bin/sh', ['-c', command], options)
    : spawn(command[0] ?? '', command.slice(1), options);
}

/** Settles when the child has started ('spawn') or could not be started ('error'). */
export function spawned(child: ChildProcess): Promise<{ ok: true } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    child.once('spawn', () => resolve({ ok: true }));
    child.once('error', (error: NodeJS.ErrnoException) =>
      resolve({ ok: false, error: `${error.code ?? 'error'}: ${error.message}` }),
    );
  });
}

/** Settles when the child exits. */
export function exited(
  child: ChildProcess,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/**
 * A promise that settles after `ms` of real time. Its timer keeps the process alive on purpose: a
 * step under way (waiting for a killed process to go) may have nothing else to wait on, and a CLI
 * whose event loop empties mid-step exits with code 13, leaving its work and its lease half done.
 */
export function delay(ms: number): Promise<'timeout'> {
  return new Promise((resolve) => setTimeout(() => resolve('timeout'), ms));
}

/**
 * `promise`'s value, or 'timeout' once `ms` have passed first. The timer is cleared as soon as the
 * race is settled, so a step that ended early keeps no process (a CLI, a stopping service) alive.
 */
export async function orTimeout<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
