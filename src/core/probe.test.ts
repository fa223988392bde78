import { describe, expect, it } from 'vitest';
import type { CheckResult, Expectation, ProbeState, ProbeThresholds } from './probe.js';
import { DEFAULT_EXPECTATION, INITIAL_PROBE_STATE, matchResponse, observeProbe } from './probe.js';
import { S, T0 } from './fixtures.js';

describe('matchResponse', () => {
  const expect200or204: Expectation = {
    status: { codes: [200, 204], classes: [] },
    body: null,
  };
  const cases: {
    name: string;
    expect: Expectation;
    status: number;
    body?: string;
    result: CheckResult;
  }[] = [
    { name: 'default: 200 passes', expect: DEFAULT_EXPECTATION, status: 200, result: { ok: true } },
    { name: 'default: 299 passes', expect: DEFAULT_EXPECTATION, status: 299, result: { ok: true } },
    {
      name: 'default: 301 fails',
      expect: DEFAULT_EXPECTATION,
      status: 301,
      result: { ok: false, error: 'status 301, expected 2xx' },
    },
    {
      name: 'default: 500 fails',
      expect: DEFAULT_EXPECTATION,
      status: 500,
      result: { ok: false, error: 'status 500, expected 2xx' },
    },
    { name: 'a listed code passes', expect: expect200or204, status: 204, result: { ok: true } },
    {
      name: 'an unlisted 2xx fails',
      expect: expect200or204,
      status: 201,
      result: { ok: false, error: 'status 201, expected 200 or 204' },
    },
    {
      name: 'substring present',
      expect: { ...DEFAULT_EXPECTATION, body: { kind: 'substring', text: '"ok"' } },
      status: 200,
      body: '{"status":"ok"}',
      result: { ok: true },
    },
    {
      name: 'substring absent',
      expect: { ...DEFAULT_EXPECTATION, body: { kind: 'substring', text: '"ok"' } },
      status: 200,
      body: '{"status":"degraded"}',
      result: { ok: false, error: 'body does not contain "\\"ok\\""' },
    },
    {
      name: 'regex matches, with its flags',
      expect: { ...DEFAULT_EXPECTATION, body: { kind: 'regex', source: 'STATUS.+OK', flags: 'i' } },
      status: 200,
      body: '{"status": "ok"}',
      result: { ok: true },
    },
    {
      name: 'regex does not match',
      expect: { ...DEFAULT_EXPECTATION, body: { kind: 'regex', source: '^up$', flags: '' } },
      status: 200,
      body: 'down',
      result: { ok: false, error: 'body does not match /^up$/' },
    },
    {
      name: 'the status is checked before the body',
      expect: { ...DEFAULT_EXPECTATION, body: { kind: 'substring', text: 'ok' } },
      status: 503,
      body: 'ok',
      result: { ok: false, error: 'status 503, expected 2xx' },
    },
  ];
  it.each(cases)('$name', ({ expect: expectation, status, body, result }) => {
    expect(matchResponse(expectation, { status, body: body ?? '' })).toEqual(result);
  });

  it('a global regex gives the same answer every time (no lastIndex carried over)', () => {
    const expectation: Expectation = {
      ...DEFAULT_EXPECTATION,
      body: { kind: 'regex', source: 'ok', flags: 'g' },
    };
    for (let i = 0; i < 3; i++) {
      expect(matchResponse(expectation, { status: 200, body: 'ok' })).toEqual({ ok: true });
    }
  });
});

describe('observeProbe', () => {
  const thresholds: ProbeThresholds = { failures: 3, successes: 2 };
  const pass: CheckResult = { ok: true };
  const fail: CheckResult = { ok: false, error: 'status 500, expected 2xx' };

  /** Runs a sequence of checks 1 s apart; returns each state and the transitions in order. */
  function run(results: CheckResult[], start: ProbeState = INITIAL_PROBE_STATE) {
    let state = start;
    const states: string[] = [];
    const transitions: { at: number; kind: string; detail: unknown }[] = [];
    results.forEach((result, i) => {
      const now = T0 + i * S;
      const next = observeProbe(state, result, thresholds, now);
      state = next.state;
      states.push(state.state);
      if (next.transition) {
        const { kind, ...detail } = next.transition;
        transitions.push({ at: now, kind, detail });
      }
    });
    return { state, states, transitions };
  }

  it('stays unknown through failures short of the threshold, then fails once', () => {
    const { states, transitions, state } = run([fail, fail, fail, fail, fail, fail]);
    expect(states).toEqual(['unknown', 'unknown', 'failing', 'failing', 'failing', 'failing']);
    expect(transitions).toEqual([
      {
        at: T0 + 2 * S,
        kind: 'failing',
        detail: { reason: 'status 500, expected 2xx', consecutiveFailures: 3 },
      },
    ]);
    expect(state).toMatchObject({
      consecutiveFailures: 6,
      consecutiveSuccesses: 0,
      lastCheckAt: T0 + 5 * S,
      lastError: 'status 500, expected 2xx',
      failingSince: T0 + 2 * S,
    });
  });

  it('one pass makes an unknown probe passing, with no event', () => {
    const { states, transitions } = run([pass]);
    expect(states).toEqual(['passing']);
    expect(transitions).toEqual([]);
  });

  it('a failure between passes resets the count: no alert for flapping below the threshold', () => {
    const { states, transitions } = run([pass, fail, fail, pass, fail, fail, pass]);
    expect(states.every((s) => s === 'passing')).toBe(true);
    expect(transitions).toEqual([]);
  });

  it('recovers after the configured number of consecutive passes, once', () => {
    const { states, transitions, state } = run([
      pass,
      fail,
      fail,
      fail,
      pass,
      fail,
      pass,
      pass,
      pass,
    ]);
    expect(states).toEqual([
      'passing',
      'passing',
      'passing',
      'failing',
      'failing', // one pass of the two needed
      'failing', // a failure resets the passes
      'failing',
      'passing',
      'passing',
    ]);
    expect(transitions.map((t) => [t.kind, t.at])).toEqual([
      ['failing', T0 + 3 * S],
      ['recovered', T0 + 7 * S],
    ]);
    expect(transitions[1]!.detail).toEqual({ consecutiveSuccesses: 2, failingForMs: 4 * S });
    expect(state).toMatchObject({ lastError: null, failingSince: null, consecutiveFailures: 0 });
  });

  it('with failures: 1 and successes: 1 every change of answer is a transition', () => {
    let state = INITIAL_PROBE_STATE;
    const kinds: (string | null)[] = [];
    for (const [i, result] of [fail, pass, fail, pass].entries()) {
      const next = observeProbe(state, result, { failures: 1, successes: 1 }, T0 + i * S);
      state = next.state;
      kinds.push(next.transition?.kind ?? null);
    }
    expect(kinds).toEqual(['failing', 'recovered', 'failing', 'recovered']);
  });
});
