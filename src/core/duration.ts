const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;

const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;

/** The longest duration accepted: 100 years, so every deadline stays a valid date. */
export const MAX_DURATION_MS = 100 * 365 * UNIT_MS.d;

/**
 * Parses a duration: a non-negative integer of milliseconds, or a string with its unit such as
 * `"500ms"`, `"30s"`, `"15m"`, `"2h"`, `"1d"` or a combination (`"1m30s"`); text without a unit
 * is refused. Returns milliseconds, or an error sentence saying what was expected and what arrived.
 */
export function parseDuration(
  input: unknown,
): { ok: true; ms: number } | { ok: false; error: string } {
  const expected = 'a duration like "30s", "15m", "2h" or a number of milliseconds';
  if (typeof input === 'number') {
    if (Number.isInteger(input) && input >= 0 && input <= MAX_DURATION_MS)
      return { ok: true, ms: input };
    return { ok: false, error: `expected ${expected} (at most 100 years), got ${String(input)}` };
  }
  if (typeof input !== 'string') {
    return { ok: false, error: `expected ${expected}, got ${describe(input)}` };
  }
  const text = input.trim();
  // Text is read with its unit: "5" could mean 5 ms or 5 s, so it is refused rather than guessed.
  if (/^\d+(\.\d+)?$/.test(text))
    return {
      ok: false,
      error: `give a unit: "${text}s", "${text}m" (a number without quotes is milliseconds), got ${JSON.stringify(input)}`,
    };
  let total = 0;
  let consumed = 0;
  PART.lastIndex = 0;
  for (let match = PART.exec(text); match; match = PART.exec(text)) {
    total += Number(match[1]) * UNIT_MS[match[2] as Unit];
    consumed = PART.lastIndex;
  }
  if (text.length === 0 || consumed !== text.length || !(total <= MAX_DURATION_MS)) {
    return { ok: false, error: `expected ${expected}, got ${JSON.stringify(input)}` };
  }
  return { ok: true, ms: Math.round(total) };
}

/**
 * Parses a duration typed on the command line. Unlike a file or a request, a flag must carry its
 * unit: `--timeout 5` read as 5 milliseconds kills the command at once, and read as 5 seconds
 * surprises whoever meant minutes, so a bare number is refused rather than guessed. With
 * `positive`, zero and negative durations are refused too (a limit of zero is overdue at once).
 */
export function parseFlagDuration(
  text: string,
  { positive = false }: { positive?: boolean } = {},
): { ok: true; ms: number } | { ok: false; error: string } {
  const given = text.trim();
  const found = JSON.stringify(text);
  const notPositive = `expected a limit above zero, e.g. 30s or 15m, got ${found}`;
  if (positive && given.startsWith('-')) return { ok: false, error: notPositive };
  if (/^\d+(\.\d+)?$/.test(given)) {
    if (positive && Number(given) === 0) return { ok: false, error: notPositive };
    return { ok: false, error: `give a unit: ${given}s, ${given}m (got ${found})` };
  }
  const parsed = parseDuration(text);
  if (!parsed.ok)
    return { ok: false, error: `expected a duration like 30s, 15m or 2h, got ${found}` };
  if (positive && parsed.ms === 0) return { ok: false, error: notPositive };
  return parsed;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value) ?? ''}`;
}

/**
 * Formats milliseconds for people: `"850ms"`, `"1.5s"`, `"2m 5s"`, `"1h 30m"`, `"3d 4h"`. From a
 * minute up it keeps the two most significant units, as much precision as a reason sentence needs.
 */
export function formatDuration(ms: number): string {
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms < 1_000) return `${Math.floor(ms)}ms`;
  // Under a minute, keep the milliseconds: "ran 4.003s, limit 4s" must not read as "ran 4s".
  if (ms < 60_000) return `${Number((Math.floor(ms) / 1_000).toFixed(3))}s`;
  const units: [Unit, number][] = [
    ['d', UNIT_MS.d],
    ['h', UNIT_MS.h],
    ['m', UNIT_MS.m],
    ['s', UNIT_MS.s],
  ];
  const parts: string[] = [];
  let rest = Math.floor(ms / 1_000) * 1_000;
  for (const [unit, size] of units) {
    const count = Math.floor(rest / size);
    rest -= count * size;
    if (count > 0 || parts.length > 0) parts.push(`${count}${unit}`);
    if (parts.length === 2) break;
  }
  return parts.filter((part) => !part.startsWith('0')).join(' ');
}
