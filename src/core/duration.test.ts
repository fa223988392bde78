import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration, parseFlagDuration } from './duration.js';

describe('parseDuration', () => {
  it.each([
    [500, 500],
    [0, 0],
    ['500ms', 500],
    ['30s', 30_000],
    ['15m', 900_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['1m30s', 90_000],
    ['1.5s', 1_500],
  ])('%j is %d ms', (input, ms) => {
    expect(parseDuration(input)).toEqual({ ok: true, ms });
  });

  it('refuses text without a unit, saying what to write', () => {
    expect(parseDuration('250')).toEqual({
      ok: false,
      error: 'give a unit: "250s", "250m" (a number without quotes is milliseconds), got "250"',
    });
  });

  it.each([
    [-5],
    [1.5],
    ['abc'],
    ['5 minutes'],
    [''],
    ['-5s'],
    [null],
    [{}],
    [[]],
    [true],
    ['10x'],
  ])('rejects %j, naming what arrived', (input) => {
    const parsed = parseDuration(input);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(/^expected a duration like "30s".*, got /);
  });
});

describe('parseFlagDuration', () => {
  it.each([
    ['5', {}, 'give a unit: 5s, 5m (got "5")'],
    ['0', { positive: true }, 'expected a limit above zero, e.g. 30s or 15m, got "0"'],
    ['0ms', { positive: true }, 'expected a limit above zero, e.g. 30s or 15m, got "0ms"'],
    ['-2m', { positive: true }, 'expected a limit above zero, e.g. 30s or 15m, got "-2m"'],
  ])('refuses %j (%j): %s', (text, options, error) => {
    expect(parseFlagDuration(text, options)).toEqual({ ok: false, error });
  });

  it('reads a duration with its unit', () => {
    expect(parseFlagDuration('90s', { positive: true })).toEqual({ ok: true, ms: 90_000 });
    expect(parseFlagDuration('0s')).toEqual({ ok: true, ms: 0 });
  });
});

describe('formatDuration', () => {
  it.each([
    [850, '850ms'],
    [1_000, '1s'],
    [1_500, '1.5s'],
    [4_003, '4.003s'],
    [59_999, '59.999s'],
    [125_000, '2m 5s'],
    [1_203_000, '20m 3s'],
    [900_000, '15m'],
    [5_400_000, '1h 30m'],
    [3_600_000, '1h'],
    [273_600_000, '3d 4h'],
  ])('%d ms reads as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
