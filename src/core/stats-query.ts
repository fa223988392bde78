import { parseDuration } from './duration.js';
import { parseIsoWithZone, toIso } from './iso-time.js';

/** What `stats` may group by: a column of the audit, or a label (`label:team`). */
export type StatsKey = 'kind' | 'owner' | 'source' | 'verdict' | { label: string };

const COLUMNS = ['kind', 'owner', 'source', 'verdict'] as const;
/** A label name as configured (a column name) or a metadata key: no quotes, no path syntax. */
const LABEL = /^[A-Za-z_][A-Za-z0-9_-]{0,99}$/;
/** More keys than this make groups nobody can read, and a wider query for nothing. */
export const MAX_STATS_KEYS = 4;
/** Groups returned by default, and at most: a "most often" list is read, not paged. */
export const DEFAULT_STATS_LIMIT = 10;
export const MAX_STATS_LIMIT = 500;

/**
 * Parses `kind,owner,label:team` into keys, or an error sentence saying what was expected and
 * what arrived. A key given twice is refused: it would only repeat a column.
 */
export function parseStatsBy(
  text: string,
): { ok: true; keys: StatsKey[] } | { ok: false; error: string } {
  const expected = `kind, owner, source, verdict or label:NAME, separated by commas`;
  const parts = text.split(',').map((part) => part.trim());
  if (parts.length > MAX_STATS_KEYS) {
    return {
      ok: false,
      error: `expected at most ${MAX_STATS_KEYS} keys, got ${parts.length} in ${JSON.stringify(text)}`,
    };
  }
  const keys: StatsKey[] = [];
  const seen = new Set<string>();
  for (const part of parts) {
    let key: StatsKey;
    if ((COLUMNS as readonly string[]).includes(part)) key = part as (typeof COLUMNS)[number];
    else if (part.startsWith('label:') && LABEL.test(part.slice('label:'.length))) {
      key = { label: part.slice('label:'.length) };
    } else return { ok: false, error: `expected ${expected}, got ${JSON.stringify(part)}` };
    if (seen.has(part)) return { ok: false, error: `expected each key once, got ${part} twice` };
    seen.add(part);
    keys.push(key);
  }
  return { ok: true, keys };
}

/** A key as `--by` spells it. */
export const statsKeyName = (key: StatsKey): string =>
  typeof key === 'string' ? key : `label:${key.label}`;

/** The window `stats` covers, as given: a span back from now, or moments (ISO times). */
export interface StatsWindowInput {
  since?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
}

/** The default window: the last day. */
export const DEFAULT_STATS_SINCE = '24h';

/**
 * Resolves a window at `now`: `since` (a duration back from now, like "24h", or an ISO time) or
 * `from`, and `to` (default now). Errors name the field (`since`, `from`, `to`) and say what was
 * expected and what arrived.
 */
export function statsWindow(
  input: StatsWindowInput,
  now: number,
): { ok: true; from: number; to: number } | { ok: false; field: string; error: string } {
  if (input.since !== undefined && input.from !== undefined) {
    return { ok: false, field: 'since', error: 'expected since or from, not both' };
  }
  const to = input.to === undefined ? now : isoTime(input.to);
  if (to === null) {
    return {
      ok: false,
      field: 'to',
      error: `expected an ISO time with its zone (2026-01-01T00:00:00Z), got ${JSON.stringify(input.to)}`,
    };
  }
  let from: number | null;
  let field = 'from';
  if (input.from !== undefined) from = isoTime(input.from);
  else {
    field = 'since';
    const since = input.since ?? DEFAULT_STATS_SINCE;
    const duration = parseDuration(since);
    from = duration.ok ? now - duration.ms : isoTime(since);
    if (from === null) {
      return {
        ok: false,
        field,
        error: `expected a duration like "24h" or an ISO time with its zone, got ${JSON.stringify(since)}`,
      };
    }
  }
  if (from === null) {
    return {
      ok: false,
      field,
      error: `expected an ISO time with its zone (2026-01-01T00:00:00Z), got ${JSON.stringify(input.from)}`,
    };
  }
  if (from >= to) {
    return {
      ok: false,
      field,
      error: `expected a moment before ${toIso(to)}, got ${toIso(from)}`,
    };
  }
  return { ok: true, from, to };
}

const isoTime = (text: string): number | null => parseIsoWithZone(text) ?? null;
