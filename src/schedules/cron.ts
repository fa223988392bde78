import { Cron } from 'croner';
import type { DueTimes, Timing } from '../core/schedule-times.js';
import { everyTimes } from '../core/schedule-times.js';

/**
 * Builds the due times of a timing, or says why it cannot: an invalid expression or an unknown
 * time zone ("expected …, got …").
 *
 * Cron times follow croner's documented daylight-saving behaviour (Vixie cron's): a fixed-time
 * job (one value in seconds, minutes and hours, e.g. `30 2 * * *`) whose time falls in a
 * spring-forward gap is due at the first valid time after the gap, the same day; one whose time
 * occurs twice (fall back) is due once, at the first occurrence. An interval job (`*\/5 * * * *`,
 * or a list or range of hours) skips times in a gap and is due at both occurrences of a repeated
 * time.
 */
export function dueTimes(
  timing: Timing,
): { ok: true; times: DueTimes } | { ok: false; error: string } {
  if (timing.kind === 'every') {
    if (!Number.isInteger(timing.everyMs) || timing.everyMs <= 0) {
      return { ok: false, error: `expected a positive period, got ${String(timing.everyMs)}` };
    }
    return { ok: true, times: everyTimes(timing.everyMs) };
  }
  if (!isTimeZone(timing.tz)) {
    return {
      ok: false,
      error: `expected an IANA time zone like "Europe/Berlin" or "UTC", got ${JSON.stringify(timing.tz)}`,
    };
  }
  let cron: Cron;
  try {
    cron = new Cron(timing.cron, { timezone: timing.tz, paused: true });
  } catch (error) {
    return {
      ok: false,
      error: `expected a cron expression like "*/5 * * * *", got ${JSON.stringify(timing.cron)} (${(error as Error).message})`,
    };
  }
  return {
    ok: true,
    times: {
      next: (after) => cron.nextRun(new Date(after))?.getTime() ?? null,
      previous: (at) => cron.previousRuns(1, new Date(at + 1))[0]?.getTime() ?? null,
    },
  };
}

function isTimeZone(tz: string): boolean {
  if (tz === '') return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
