/**
 * Where the ids are in an owner's registry answer: `running` (an array of ids), `$.running[*].id`
 * (a field of each item of an array), `$[*].id`, or `$` (the answer is the array of ids). Built on
 * the path dialect of HTTP operation lists, plus one `[*]` for "each item".
 */
import { parsePath, readPath } from '../core/json-path.js';
import type { IdsPath } from '../ports/owner-agents.js';

export type { IdsPath } from '../ports/owner-agents.js';

const EXPECTED = 'expected a path to an array of ids like "running" or "$.running[*].id"';

export function parseIdsPath(
  text: unknown,
): { ok: true; path: IdsPath } | { ok: false; error: string } {
  const bad = { ok: false as const, error: `${EXPECTED}, got ${JSON.stringify(text)}` };
  if (typeof text !== 'string') return bad;
  const parts = text.split('[*]');
  if (parts.length > 2) return bad;
  const [arrayText = '', itemText = ''] = parts;
  const array = parsePath(arrayText === '' ? '$' : arrayText);
  if (!array.ok) return bad;
  const rest = itemText.replace(/^\./, '');
  if (rest === '') return { ok: true, path: { text, array: array.segments, item: [] } };
  const item = parsePath(rest);
  if (!item.ok || rest.startsWith('$')) return bad;
  return { ok: true, path: { text, array: array.segments, item: item.segments } };
}

/** The ids at `path` in `document` (numbers as their text), or what is wrong with the answer. */
export function readIds(
  document: unknown,
  path: IdsPath,
): { ok: true; ids: string[] } | { ok: false; error: string } {
  const array = readPath(document, path.array);
  if (!Array.isArray(array)) {
    return {
      ok: false,
      error: `${path.text}: expected an array, got ${array === undefined ? 'nothing' : typeof array}`,
    };
  }
  const ids: string[] = [];
  for (const [i, entry] of array.entries()) {
    const id = readPath(entry, path.item);
    if (typeof id === 'string' && id !== '') ids.push(id);
    else if (typeof id === 'number' && Number.isFinite(id)) ids.push(String(id));
    else {
      return {
        ok: false,
        error: `${path.text}: item ${i} has no id (expected a string or a number, got ${JSON.stringify(id) ?? 'nothing'})`,
      };
    }
  }
  return { ok: true, ids };
}
