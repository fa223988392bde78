/** What `stats` may group by: a column of the audit, or a label (`label:team`). */
export type StatsKey = 'kind' | 'owner' | 'source' | 'verdict' | { label: string };

const COLUMNS = ['kind', 'owner', 'source', 'verdict'] as const;
/** A label name as configured (a column name) or a metadata key: no quotes, no path syntax. */
const LABEL = /^[A-Za-z_][A-Za-z0-9_-]{0,99}$/;
/** More keys than this make groups nobody can read, and a wider query for nothing. */
export const MAX_STATS_KEYS = 4;

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
