import { constants } from 'node:os';
import type { VigilClient } from './client.js';

export interface ShutdownOptions {
  /** Signals to handle. Default: SIGTERM and SIGINT. */
  signals?: readonly NodeJS.Signals[];
  /**
   * How long to wait for Vigil to take the failures before exiting anyway. Default 5 s: a
   * supervisor usually sends SIGKILL 10 s after SIGTERM, and an execution left running is still
   * caught later by its heartbeat limit.
   */
  timeoutMs?: number;
  /** How the process ends. Default: `process.exit`. */
  exit?: (code: number) => void;
}

/**
 * On SIGTERM/SIGINT: fails this client's runs that have not finished ("runner shutdown
 * (SIGTERM)"), then exits with 128 + the signal's number, as a process killed by it would. A
 * second signal while that is under way exits at once. Without this, a runner stopped by its
 * supervisor leaves its executions running until the watchdog notices the silence.
 *
 * Installing a listener replaces Node's default exit on these signals. Returns a function that
 * removes the handler.
 */
export function installShutdownHandler(
  client: VigilClient,
  options: ShutdownOptions = {},
): () => void {
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const timeoutMs = options.timeoutMs ?? 5_000;
  let isShuttingDown = false;

  const handler = (signal: NodeJS.Signals) => {
    const code = 128 + (constants.signals[signal] ?? 0);
    if (isShuttingDown) return exit(code);
    isShuttingDown = true;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    void Promise.race([client.failRunning(`runner shutdown (${signal})`), deadline]).finally(() => {
      clearTimeout(timer);
      exit(code);
    });
  };
  for (const signal of signals) process.on(signal, handler);
  return () => {
    for (const signal of signals) process.off(signal, handler);
  };
}
