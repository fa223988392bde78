import type { Timers } from './scheduler.js';
import { realTimers } from './scheduler.js';

export interface Repeating {
  stop(): void;
}

/**
 * Runs `task` now and then `intervalMs` after each run ends. Runs never overlap: a check that takes
 * longer than its interval delays the next one instead of piling up requests on a struggling
 * endpoint. `task` must not throw; a rejection is passed to `onError` and the loop carries on.
 */
export function repeat(
  task: () => Promise<unknown>,
  intervalMs: number,
  onError: (error: unknown) => void,
  timers: Timers = realTimers,
): Repeating {
  let stopped = false;
  let handle: unknown = null;
  const run = async () => {
    handle = null;
    if (stopped) return;
    try {
      await task();
    } catch (error) {
      onError(error);
    }
    if (!stopped) handle = timers.setTimeout(() => void run(), intervalMs);
  };
  void run();
  return {
    stop: () => {
      stopped = true;
      if (handle !== null) timers.clearTimeout(handle);
      handle = null;
    },
  };
}
