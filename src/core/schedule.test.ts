import { describe, expect, it } from 'vitest';
import { EARLY_START_MS, MISS_CAP, judgeDueTimes, lateStart } from './schedule.js';

const M = 60_000;
const T0 = 1_767_268_800_000; // 2026-01-01T12:00:00Z
const GRACE = 5 * M;

describe('judgeDueTimes', () => {
  it.each([
    ['a start at the due time', [T0], 'ok'],
    ['a start at the end of the grace', [T0 + GRACE], 'ok'],
    ['a start a minute early (clock skew)', [T0 - EARLY_START_MS], 'ok'],
    ['a start just after the grace', [T0 + GRACE + 1], 'missed'],
    ['a start more than a minute early', [T0 - EARLY_START_MS - 1], 'missed'],
    ['no start', [], 'missed'],
  ] as const)('%s: %s', (_what, starts, state) => {
    const judged = judgeDueTimes([T0], starts, GRACE, null);
    expect(judged?.state).toBe(state);
    expect(judged?.missed).toHaveLength(state === 'missed' ? 1 : 0);
  });

  it('nothing to judge: null', () => {
    expect(judgeDueTimes([], [T0], GRACE, null)).toBeNull();
  });

  it('evidence names the last start seen before the window closed, else the one before', () => {
    const judged = judgeDueTimes([T0, T0 + 60 * M], [T0 + 2 * M], GRACE, T0 - 60 * M);
    expect(judged).toMatchObject({ state: 'missed', onTime: 1, lastStartAt: T0 + 2 * M });
    expect(judged?.missed).toEqual([
      {
        dueAt: T0 + 60 * M,
        graceMs: GRACE,
        lastStartAt: T0 + 2 * M,
        count: 1,
        firstDueAt: T0 + 60 * M,
      },
    ]);
    expect(judgeDueTimes([T0], [], GRACE, T0 - 60 * M)?.missed[0]?.lastStartAt).toBe(T0 - 60 * M);
  });

  it('past the cap, older misses fold into one summarising miss', () => {
    const due = Array.from({ length: MISS_CAP + 5 }, (_, i) => T0 + i * M);
    const judged = judgeDueTimes(due, [], 0, null);
    expect(judged?.missed).toHaveLength(MISS_CAP + 1);
    expect(judged?.missed[0]).toMatchObject({ dueAt: T0 + 4 * M, firstDueAt: T0, count: 5 });
    expect(judged?.missed[1]).toMatchObject({ dueAt: T0 + 5 * M, count: 1 });
    expect(judged?.lastJudgedDueAt).toBe(T0 + (MISS_CAP + 4) * M);
  });
});

describe('lateStart', () => {
  const next = T0 + 60 * M;
  it.each([
    ['after the grace, before the next window', [T0 + 20 * M], T0 + 20 * M],
    ['the first of several', [T0 + 30 * M, T0 + 20 * M], T0 + 20 * M],
    ['within the grace (judged already)', [T0 + M], null],
    ["in the next due time's window: it belongs to that one", [next - EARLY_START_MS], null],
    ['none', [], null],
  ] as const)('%s', (_what, starts, expected) => {
    expect(lateStart(T0, next, GRACE, starts)).toBe(expected);
  });
});
