/**
 * The keys of a mapped table that tie its rows to their owners: `reconcile` (ask each row's owner,
 * through `owners:`, whether it still runs it) and `appSlots` (the app's own capacity slots and
 * queue entries in its own Redis, released when Vigil ends a row).
 */
import * as z from 'zod';
import { isIdentifier } from './identifiers.js';

/** How a mapped table's rows are reconciled against their owners' registries (`owners:`). */
export interface RowReconcile {
  /** The column holding the id the owner knows the row by (default: the table's id column). */
  agentId: string;
}

/** Where a template's placeholder takes its value from. */
export type TemplatePart =
  | { kind: 'text'; text: string }
  | { kind: 'owner' }
  | { kind: 'id' }
  | { kind: 'agentId' }
  | { kind: 'column'; column: string };

/** A key or value template, parsed: `agent:{owner}:slots`, `{row.agent_id}:{id}`. */
export interface Template {
  text: string;
  parts: TemplatePart[];
}

/** One of the app's slots or queue entries, released only while this row still holds it. */
export interface AppSlotRelease {
  /**
   * `key`: a string key holding the row's value (deleted only while it holds it); `set`, `zset`,
   * `hash`: a member (field) removed; `list`: every entry equal to the value removed.
   */
  kind: 'key' | 'set' | 'zset' | 'hash' | 'list';
  key: Template;
  /** The value compared (`key`, `list`), the member (`set`, `zset`) or the field (`hash`). */
  value: Template;
  /** A counter decremented (never below 0) when, and only when, something was removed. */
  decrement: Template | null;
}

export interface AppSlots {
  /** `redis://…` (or `rediss://…`): the app's own Redis. */
  redis: string;
  release: AppSlotRelease[];
}

const PLACEHOLDER = /\{([^{}]*)\}/g;
const TEMPLATE_HELP = 'placeholders {owner}, {id}, {agentId} or {row.COLUMN}';

function parseTemplate(text: string): Template | string {
  const parts: TemplatePart[] = [];
  let last = 0;
  for (const match of text.matchAll(PLACEHOLDER)) {
    if (match.index > last) parts.push({ kind: 'text', text: text.slice(last, match.index) });
    last = match.index + match[0].length;
    const name = match[1] ?? '';
    if (name === 'owner' || name === 'id' || name === 'agentId') parts.push({ kind: name });
    else if (name.startsWith('row.') && isIdentifier(name.slice(4))) {
      parts.push({ kind: 'column', column: name.slice(4) });
    } else return `unknown placeholder {${name}}`;
  }
  if (last < text.length) parts.push({ kind: 'text', text: text.slice(last) });
  if (/[{}]/.test(parts.map((p) => (p.kind === 'text' ? p.text : '')).join(''))) {
    return 'unbalanced { or }';
  }
  return { text, parts };
}

const template = z
  .string()
  .min(1)
  .transform((value, ctx) => {
    const parsed = parseTemplate(value);
    if (typeof parsed === 'string') {
      ctx.addIssue({
        code: 'custom',
        message: `expected a template with ${TEMPLATE_HELP} (${parsed}), got ${JSON.stringify(value)}`,
      });
      return z.NEVER;
    }
    return parsed;
  });

const column = z.string().superRefine((value, ctx) => {
  if (!isIdentifier(value)) {
    ctx.addIssue({
      code: 'custom',
      message: `expected a column name (letters, digits and _, not starting with a digit), got ${JSON.stringify(value)}`,
    });
  }
});

export const reconcileSchema = z.union([
  z.literal(true),
  z.strictObject({ agentId: column.optional() }),
]);

const KINDS = ['key', 'set', 'zset', 'hash', 'list'] as const;
/** The key naming what each kind compares or removes. */
const VALUE_KEY = { key: 'value', set: 'member', zset: 'member', hash: 'field', list: 'value' };

const releaseSchema = z
  .strictObject({
    key: template.optional(),
    set: template.optional(),
    zset: template.optional(),
    hash: template.optional(),
    list: template.optional(),
    value: template.optional(),
    member: template.optional(),
    field: template.optional(),
    decrement: template.optional(),
  })
  .transform((entry, ctx): AppSlotRelease => {
    const kinds = KINDS.filter((kind) => entry[kind] !== undefined);
    const [kind] = kinds;
    if (kind === undefined || kinds.length > 1) {
      ctx.addIssue({
        code: 'custom',
        message: `expected exactly one of key, set, zset, hash or list, got ${kinds.length === 0 ? 'none' : kinds.join(' and ')}`,
      });
      return z.NEVER;
    }
    const valueKey = VALUE_KEY[kind] as 'value' | 'member' | 'field';
    const value = entry[valueKey];
    const stray = (['value', 'member', 'field'] as const).filter(
      (other) => other !== valueKey && entry[other] !== undefined,
    );
    if (value === undefined || stray.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: [value === undefined ? valueKey : (stray[0] ?? valueKey)],
        message:
          value === undefined
            ? `a ${kind} entry needs ${valueKey} (the template of what this row holds in it)`
            : `a ${kind} entry takes ${valueKey}, not ${stray.join(' or ')}`,
      });
      return z.NEVER;
    }
    const key = entry[kind];
    if (key === undefined) return z.NEVER;
    return { kind, key, value, decrement: entry.decrement ?? null };
  });

export const appSlotsSchema = z.strictObject({
  redis: z.string().superRefine((value, ctx) => {
    if (!/^rediss?:\/\/.+/.test(value)) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a redis://… URL, got ${JSON.stringify(value)}`,
      });
    }
  }),
  release: z.array(releaseSchema).min(1),
});

/**
 * Checks across a table's keys for `reconcile` and `appSlots`: both name the row's owner through
 * the `owner` column. Reads the raw entry defensively (it may have problems of its own).
 */
export function checkOwnerKeys(raw: unknown, ctx: z.RefinementCtx): void {
  const table = raw as { owner?: unknown; reconcile?: unknown; appSlots?: unknown };
  if (typeof table.owner === 'string') return;
  if (table.reconcile !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['reconcile'],
      message: 'expected owner: the column naming the owner each row runs on, got none',
    });
  }
  const release = (table.appSlots as { release?: unknown } | undefined)?.release;
  const texts = Array.isArray(release) ? JSON.stringify(release) : '';
  if (texts.includes('{owner}')) {
    ctx.addIssue({
      code: 'custom',
      path: ['appSlots', 'release'],
      message: 'uses {owner} but the table maps no owner column (owner:)',
    });
  }
}

/** The `reconcile` key normalized: null when the table is not reconciled. */
export function normalizeReconcile(
  value: z.infer<typeof reconcileSchema> | undefined,
  idColumn: string,
): RowReconcile | null {
  if (value === undefined) return null;
  return { agentId: value === true ? idColumn : (value.agentId ?? idColumn) };
}

/** The row columns the templates read (`{row.COLUMN}`), each once. */
export function templateColumns(slots: AppSlots | null): string[] {
  const columns = new Set<string>();
  for (const entry of slots?.release ?? []) {
    for (const t of [entry.key, entry.value, entry.decrement]) {
      for (const part of t?.parts ?? []) if (part.kind === 'column') columns.add(part.column);
    }
  }
  return [...columns];
}

/** What a row fills a template with. */
export interface TemplateValues {
  owner: string | null;
  id: string;
  agentId: string;
  columns: Readonly<Record<string, unknown>>;
}

/** A template filled in for one row. */
export function fill(t: Template, values: TemplateValues): string {
  return t.parts
    .map((part) => {
      switch (part.kind) {
        case 'text':
          return part.text;
        case 'owner':
          return values.owner ?? '';
        case 'id':
          return values.id;
        case 'agentId':
          return values.agentId;
        case 'column': {
          return columnText(values.columns[part.column]);
        }
      }
    })
    .join('');
}

/** A column's value as text in a key or a value: numbers and ids as they read, dates in ISO-8601. */
export function columnText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') {
    return String(value);
  }
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString();
  return JSON.stringify(value);
}
