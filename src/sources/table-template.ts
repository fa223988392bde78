/**
 * The text Vigil writes into a row it ends, as a template: `{verdict}`, `{elapsed}`, `{limit}`,
 * `{row.actor_type}`, … Parsed once at start (an unknown placeholder is refused there), filled in
 * at each write. `{{` and `}}` stand for literal braces.
 */
import { isIdentifier } from './identifiers.js';

/** The placeholders every template may use, and what they stand for (docs/tables.md lists them). */
export const PLACEHOLDERS = [
  'verdict',
  'reason',
  'elapsed',
  'limit',
  'id',
  'source',
  'table',
  'attempt',
  'action',
  'now',
] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

export type TemplatePart =
  | { kind: 'text'; text: string }
  | { kind: 'field'; name: Placeholder }
  | { kind: 'column'; column: string };

export interface Template {
  source: string;
  parts: TemplatePart[];
  /** The row's columns the template reads (`{row.NAME}`), in order of first use. */
  columns: string[];
}

/** Today's text, kept as the default: `vigil: run_timeout: ran 20m 3s, limit 15m`. */
export const DEFAULT_TEMPLATE = 'vigil: {verdict}: {reason}';

/** Parses a template, or returns the sentence saying what is wrong with it. */
export function parseTemplate(source: string): Template | { error: string } {
  const parts: TemplatePart[] = [];
  const columns: string[] = [];
  let text = '';
  let at = 0;
  while (at < source.length) {
    const char = source[at];
    if ((char === '{' || char === '}') && source[at + 1] === char) {
      text += char;
      at += 2;
      continue;
    }
    if (char === '}') {
      return { error: `a "}" at position ${at} closes no placeholder (write "}}" for a brace)` };
    }
    if (char !== '{') {
      text += char;
      at += 1;
      continue;
    }
    const end = source.indexOf('}', at);
    if (end < 0) return { error: `the "{" at position ${at} is never closed` };
    const name = source.slice(at + 1, end).trim();
    if (text) parts.push({ kind: 'text', text });
    text = '';
    if (name.startsWith('row.')) {
      const column = name.slice('row.'.length);
      if (!isIdentifier(column)) {
        return { error: `expected {row.COLUMN} with a column name, got {${name}}` };
      }
      parts.push({ kind: 'column', column });
      if (!columns.includes(column)) columns.push(column);
    } else if ((PLACEHOLDERS as readonly string[]).includes(name)) {
      parts.push({ kind: 'field', name: name as Placeholder });
    } else {
      const known = [...PLACEHOLDERS, 'row.COLUMN'].map((p) => `{${p}}`).join(', ');
      return { error: `unknown placeholder {${name}}: expected one of ${known}` };
    }
    at = end + 1;
  }
  if (text) parts.push({ kind: 'text', text });
  return { source, parts, columns };
}

/** Fills a template in; a column value that is NULL reads `null`, an object its JSON. */
export function renderTemplate(
  template: Template,
  fields: Record<Placeholder, string>,
  columns: Readonly<Record<string, unknown>>,
): string {
  return template.parts
    .map((part) => {
      if (part.kind === 'text') return part.text;
      if (part.kind === 'field') return fields[part.name];
      const value = columns[part.column];
      if (value === null || value === undefined) return 'null';
      if (value instanceof Date) return value.toISOString();
      if (typeof value === 'string') return value;
      if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') {
        return String(value);
      }
      return JSON.stringify(value) ?? '';
    })
    .join('');
}
