import type { Timers } from '../ports/clock.js';

/**
 * Node's own timers, unref'd: a pending check or sweep never keeps a finished command alive (the
 * process exits when its real work is done, and `vigil serve` stays up through its server).
 */
export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
