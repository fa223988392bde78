/**
 * The small JSON path dialect of HTTP operation lists: `$.data.operations`, `data.operations`,
 * `items[0].state`, `$` for the document itself. Enough to find an array and a field in each item;
 * no wildcards or filters, so a path always names one value.
 */

export type PathSegment = string | number;

const SEGMENT = /^([^.[\]]+)?((?:\[\d+\])*)$/;

/** Parses a path into segments, or says what is wrong with it. */
export function parsePath(
  text: string,
): { ok: true; segments: PathSegment[] } | { ok: false; error: string } {
  const trimmed = text.trim();
  const bad = {
    ok: false as const,
    error: `expected a path like "$.data.operations" or "state.name", got ${JSON.stringify(text)}`,
  };
  if (trimmed === '') return bad;
  const body = trimmed === '$' ? '' : trimmed.replace(/^\$\.?/, '');
  if (body === '') return trimmed.startsWith('$') ? { ok: true, segments: [] } : bad;
  const segments: PathSegment[] = [];
  for (const part of body.split('.')) {
    const match = SEGMENT.exec(part);
    if (!match || part === '') return bad;
    if (match[1] !== undefined) segments.push(match[1]);
    for (const index of (match[2] ?? '').matchAll(/\[(\d+)\]/g)) segments.push(Number(index[1]));
  }
  return { ok: true, segments };
}

/** The value at `segments` in `value`, or undefined when any step is missing. */
export function readPath(value: unknown, segments: readonly PathSegment[]): unknown {
  let current = value;
  for (const segment of segments) {
    if (typeof segment === 'number') {
      if (!Array.isArray(current)) return undefined;
      current = current[segment];
    } else {
      if (current === null || typeof current !== 'object' || Array.isArray(current))
        return undefined;
      if (!Object.hasOwn(current, segment)) return undefined;
      current = (current as Record<string, unknown>)[segment];
    }
  }
  return current;
}
