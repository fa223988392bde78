/**
 * HTTP health probes, judged purely: whether one answer meets the expectation, and how a run of
 * answers moves a probe between `unknown`, `passing` and `failing`. `now` is an argument.
 */

/** Which HTTP statuses count as healthy: a list of exact codes and/or classes ("2xx"). */
export interface StatusExpectation {
  codes: readonly number[];
  /** Leading digits of accepted classes: 2 for "2xx". */
  classes: readonly number[];
}

/** What the body must hold: a substring, or a regular expression given as `/source/flags`. */
export type BodyExpectation =
  { kind: 'substring'; text: string } | { kind: 'regex'; source: string; flags: string };

export interface Expectation {
  status: StatusExpectation;
  body: BodyExpectation | null;
}

/** The default: any 2xx answer, whatever its body. */
export const DEFAULT_EXPECTATION: Expectation = {
  status: { codes: [], classes: [2] },
  body: null,
};

/** One check's outcome: passed, or failed with a sentence saying why. */
export type CheckResult = { ok: true } | { ok: false; error: string };

/** Whether an HTTP answer meets the expectation, and if not, what was expected and what came. */
export function matchResponse(
  expect: Expectation,
  response: { status: number; body: string },
): CheckResult {
  const { codes, classes } = expect.status;
  const statusOk =
    codes.includes(response.status) || classes.includes(Math.floor(response.status / 100));
  if (!statusOk) {
    return { ok: false, error: `status ${response.status}, expected ${describeStatus(expect)}` };
  }
  const body = expect.body;
  if (body === null) return { ok: true };
  if (body.kind === 'substring') {
    return response.body.includes(body.text)
      ? { ok: true }
      : { ok: false, error: `body does not contain ${JSON.stringify(body.text)}` };
  }
  // Without the g and y flags `test` keeps no state, so one pattern may be reused safely.
  const pattern = new RegExp(body.source, body.flags.replace(/[gy]/g, ''));
  return pattern.test(response.body)
    ? { ok: true }
    : { ok: false, error: `body does not match /${body.source}/${body.flags}` };
}

export function describeStatus(expect: Expectation): string {
  const { codes, classes } = expect.status;
  return [...codes.map(String), ...classes.map((c) => `${c}xx`)].join(' or ');
}

export type ProbeStateName = 'unknown' | 'passing' | 'failing';

/** What Vigil remembers of one probe between checks. */
export interface ProbeState {
  state: ProbeStateName;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  lastCheckAt: number | null;
  lastError: string | null;
  /** When the probe last became failing (for how long it was down on recovery). */
  failingSince: number | null;
}

export const INITIAL_PROBE_STATE: ProbeState = {
  state: 'unknown',
  consecutiveFailures: 0,
  consecutiveSuccesses: 0,
  lastCheckAt: null,
  lastError: null,
  failingSince: null,
};

export interface ProbeThresholds {
  /** Consecutive failed checks before the probe is failing. */
  failures: number;
  /** Consecutive passed checks before a failing probe has recovered. */
  successes: number;
}

/** A change of state worth telling people about; at most one per check. */
export type ProbeTransition =
  | { kind: 'failing'; reason: string; consecutiveFailures: number }
  | { kind: 'recovered'; consecutiveSuccesses: number; failingForMs: number | null };

/**
 * Folds one check into the probe's state. The probe becomes `failing` after `failures`
 * consecutive failed checks and is `failing` until `successes` consecutive passed checks; the
 * transition is reported once, so a probe that keeps failing alerts once, not at every check.
 * Before it has failed, one passed check makes an `unknown` probe `passing` (there is nothing to
 * recover from). Failures short of the threshold leave the state as it was: one lost packet is
 * not an outage.
 */
export function observeProbe(
  previous: ProbeState,
  result: CheckResult,
  thresholds: ProbeThresholds,
  now: number,
): { state: ProbeState; transition: ProbeTransition | null } {
  if (result.ok) {
    const successes = previous.consecutiveSuccesses + 1;
    const base = {
      consecutiveFailures: 0,
      consecutiveSuccesses: successes,
      lastCheckAt: now,
      lastError: null,
    };
    if (previous.state !== 'failing') {
      return { state: { ...base, state: 'passing', failingSince: null }, transition: null };
    }
    if (successes < thresholds.successes) {
      return {
        state: { ...base, state: 'failing', failingSince: previous.failingSince },
        transition: null,
      };
    }
    return {
      state: { ...base, state: 'passing', failingSince: null },
      transition: {
        kind: 'recovered',
        consecutiveSuccesses: successes,
        failingForMs: previous.failingSince === null ? null : now - previous.failingSince,
      },
    };
  }

  const failures = previous.consecutiveFailures + 1;
  const base = {
    consecutiveFailures: failures,
    consecutiveSuccesses: 0,
    lastCheckAt: now,
    lastError: result.error,
  };
  if (previous.state === 'failing') {
    return {
      state: { ...base, state: 'failing', failingSince: previous.failingSince },
      transition: null,
    };
  }
  if (failures < thresholds.failures) {
    return { state: { ...base, state: previous.state, failingSince: null }, transition: null };
  }
  return {
    state: { ...base, state: 'failing', failingSince: now },
    transition: { kind: 'failing', reason: result.error, consecutiveFailures: failures },
  };
}
