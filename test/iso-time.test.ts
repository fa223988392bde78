import { describe, expect, it } from 'vitest';
import { parseIsoWithZone, toIso } from '../src/core/iso-time.js';

// The Date global is the reference here; the core itself may not use it.
describe('toIso and parseIsoWithZone agree with Date', () => {
  it.each([0, 951_782_400_000, 1_767_268_800_123, 4_102_444_799_999, -86_400_001])('%i', (ms) => {
    expect(toIso(ms)).toBe(new Date(ms).toISOString());
    expect(parseIsoWithZone(toIso(ms))).toBe(ms);
  });

  it.each([
    ['2026-01-01T13:00:00+01:00', Date.UTC(2026, 0, 1, 12)],
    ['2026-01-01T06:30-0530', Date.UTC(2026, 0, 1, 12)],
    ['2024-02-29T00:00:00.5Z', Date.UTC(2024, 1, 29, 0, 0, 0, 500)],
    ['2026-01-01T12:00:00', undefined],
    ['2026-02-30T00:00:00Z', undefined],
    ['2026-01-01T24:00:00Z', undefined],
    ['2026-01-01', undefined],
    ['yesterday', undefined],
  ])('%s', (text, expected) => {
    expect(parseIsoWithZone(text)).toBe(expected);
  });
});
