import { describe, expect, it } from 'vitest';
import { detectionTimes } from './detection.js';
import { parseStatsBy, statsWindow } from './stats-query.js';

/** 2026-01-02T00:00:00Z */
const NOW = 1767312000000;
const H = 3_600_000;

describe('parseStatsBy', () => {
  it.each([
    ['kind', ['kind']],
    ['kind, owner', ['kind', 'owner']],
    ['source,verdict,label:actor_id', ['source', 'verdict', { label: 'actor_id' }]],
  ])('reads %j', (text, keys) => {
    expect(parseStatsBy(text)).toEqual({ ok: true, keys });
  });

  it.each([
    [
      'colour',
      'expected kind, owner, source, verdict or label:NAME, separated by commas, got "colour"',
    ],
    ['label:', 'got "label:"'],
    ["label:a'b", `got "label:a'b"`],
    ['', 'got ""'],
    ['kind,owner,kind', 'expected each key once, got kind twice'],
    ['kind,owner,source,verdict,label:x', 'expected at most 4 keys, got 5'],
  ])('refuses %j', (text, error) => {
    const parsed = parseStatsBy(text);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.error).toContain(error);
  });
});

describe('statsWindow', () => {
  it.each([
    [{}, { from: NOW - 24 * H, to: NOW }],
    [{ since: '7d' }, { from: NOW - 7 * 24 * H, to: NOW }],
    [{ since: '2026-01-01T12:00:00Z' }, { from: NOW - 12 * H, to: NOW }],
    [
      { from: '2026-01-01T00:00:00Z', to: '2026-01-01T06:00:00+02:00' },
      { from: NOW - 24 * H, to: NOW - 20 * H },
    ],
  ])('resolves %j', (input, window) => {
    expect(statsWindow(input, NOW)).toEqual({ ok: true, ...window });
  });

  it.each([
    [
      { since: '5' },
      'since',
      'expected a duration like "24h" or an ISO time with its zone, got "5"',
    ],
    [{ since: '1h', from: '2026-01-01T00:00:00Z' }, 'since', 'expected since or from, not both'],
    [{ from: '2026-01-01' }, 'from', 'expected an ISO time with its zone'],
    [{ to: 'now' }, 'to', 'expected an ISO time with its zone'],
    [
      { since: '2026-01-03T00:00:00Z' },
      'since',
      'expected a moment before 2026-01-02T00:00:00.000Z',
    ],
  ])('refuses %j naming %s', (input, field, error) => {
    const window = statsWindow(input, NOW);
    expect(window).toMatchObject({ ok: false, field });
    expect(!window.ok && window.error).toContain(error);
  });
});

describe('detectionTimes', () => {
  it.each([
    // A crossed limit: the run since its start, the lateness since its deadline.
    [
      { startedAt: NOW - 3 * H, deadlineAt: NOW - H, now: NOW },
      NOW + 5,
      { ranMs: 3 * H, lateMs: H },
    ],
    // An orphan: its age, and how far past the dispatch grace.
    [{ ageMs: 90_000, graceMs: 60_000 }, NOW, { ranMs: 90_000, lateMs: 30_000 }],
    // Older evidence without a start: a run limit's elapsed time is the run.
    [
      { limit: 'run', elapsedMs: 20_000, deadlineAt: NOW - 5_000 },
      NOW,
      { ranMs: 20_000, lateMs: 5_000 },
    ],
    [{ limit: 'heartbeat', elapsedMs: 20_000 }, NOW, { ranMs: null, lateMs: null }],
    // A clock stepped back counts as no time, never negative.
    [{ startedAt: NOW + 1_000, deadlineAt: NOW + 500 }, NOW, { ranMs: 0, lateMs: 0 }],
    [{ startedAt: 'yesterday' }, NOW, { ranMs: null, lateMs: null }],
  ])('reads %j at %d', (evidence, at, times) => {
    expect(detectionTimes(evidence, at)).toEqual(times);
  });
});
