import type { z } from 'zod';

/**
 * Turns one of zod's issues into a sentence for people: what was expected and what was found,
 * never the validator's own words ("Invalid input: expected number, received string").
 */
export function describeIssue(issue: z.core.$ZodIssue, raw: unknown, schema: z.ZodType): string {
  const found = valueAt(raw, issue.path);
  const got = `got ${show(found, issue.path)}`;
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => unknownKey(key, keysAt(schema, issue.path))).join('; ');
    case 'invalid_type':
      if (found === undefined) return `required: expected ${article(issue.expected)}, got nothing`;
      return `expected ${article(issue.expected)}, ${got}`;
    case 'too_small':
      if (issue.origin === 'string' && Number(issue.minimum) === 1) {
        return `expected non-empty text, ${got}`;
      }
      return `expected ${bound(issue)}, ${got}`;
    case 'too_big':
      return `expected ${bound(issue)}, ${got}`;
    case 'invalid_value':
      return `expected ${issue.values.length > 1 ? 'one of ' : ''}${issue.values.map((v) => JSON.stringify(v)).join(', ')}, ${got}`;
    case 'invalid_union': {
      if ('options' in issue && Array.isArray(issue.options)) {
        const options = (issue.options as unknown[]).map((o) => JSON.stringify(o)).join(', ');
        return `${found === undefined ? 'required: ' : ''}expected one of ${options}, ${got}`;
      }
      const expected = new Set(expectedTypes(issue.errors.flat()));
      const what = expected.size > 0 ? `expected ${[...expected].map(article).join(' or ')}` : '';
      if (found === undefined) return `required${what ? `: ${what}` : ''}, got nothing`;
      return `${what || 'not valid here'}, ${got}`;
    }
    default:
      break;
  }
  if (isZodDefault(issue.message)) {
    return issue.code === 'invalid_format' && issue.format === 'regex'
      ? `expected text matching ${issue.pattern}, ${got}`
      : `not valid here, ${got}`;
  }
  return issue.message;
}

/** The types the branches of a union expected, through nested unions. */
function expectedTypes(issues: z.core.$ZodIssue[]): string[] {
  return issues.flatMap((inner) => {
    if (inner.code === 'invalid_type') return [inner.expected];
    if (inner.code === 'invalid_union') return expectedTypes(inner.errors.flat());
    return [];
  });
}

/** zod's built-in messages begin this way; ours never do. */
function isZodDefault(message: string): boolean {
  return /^(Invalid|Too (small|big)|Unrecognized)/.test(message);
}

/** A secret is never echoed back into a log: only its length is shown. */
function show(value: unknown, path: PropertyKey[]): string {
  if (value === undefined) return 'nothing';
  const key = String(path.at(-1) ?? '');
  if (typeof value === 'string' && /token|password|secret/i.test(key)) {
    return `${value.length} characters`;
  }
  return JSON.stringify(value) ?? typeof value;
}

const TYPE_WORDS: Record<string, string> = {
  int: 'a whole number',
  number: 'a number',
  string: 'text',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping of keys',
  record: 'a mapping of keys',
};

function article(type: string): string {
  return TYPE_WORDS[type] ?? type;
}

function bound(issue: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig): string {
  const limit = issue.code === 'too_small' ? issue.minimum : issue.maximum;
  const exclusive = issue.inclusive === false;
  const word =
    issue.code === 'too_small'
      ? exclusive
        ? 'more than'
        : 'at least'
      : exclusive
        ? 'less than'
        : 'at most';
  const what =
    issue.origin === 'string'
      ? ' characters'
      : issue.origin === 'array' || issue.origin === 'set'
        ? ` item${Number(limit) === 1 ? '' : 's'}`
        : '';
  return `${word} ${String(limit)}${what}`;
}

function unknownKey(key: string, known: string[]): string {
  const nearest = nearestKey(key, known);
  return `unknown key ${JSON.stringify(key)}${nearest === undefined ? '' : ` (did you mean ${JSON.stringify(nearest)}?)`}`;
}

/**
 * The known key nearest to a misspelt one. At most two edits, and fewer than half the key: a
 * wrong suggestion ("port" for "host") misleads more than none at all, so the bar is kept low.
 */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(key.toLowerCase(), name.toLowerCase());
    if (distance <= 2 && distance < key.length / 2 && (!best || distance < best.distance)) {
      best = { name, distance };
    }
  }
  return best?.name;
}

/** Levenshtein distance: insertions, deletions and substitutions. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const diagonal = previous[j - 1] ?? j - 1;
      const above = previous[j] ?? j;
      const left = current[j - 1] ?? i;
      current[j] = Math.min(above + 1, left + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length] ?? a.length;
}

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  valueType?: z.ZodType;
  element?: z.ZodType;
  options?: z.ZodType[];
}

const defOf = (schema: z.ZodType): Def => schema._zod.def;

/** The schemas a value at `path` may be checked by (several under a union). */
function schemasAt(schema: z.ZodType, path: PropertyKey[]): z.ZodType[] {
  let current = unwrap(schema);
  for (const key of path) {
    current = current.flatMap((candidate) => {
      const def = defOf(candidate);
      const next =
        def.type === 'object'
          ? def.shape?.[String(key)]
          : def.type === 'record'
            ? def.valueType
            : def.type === 'array'
              ? def.element
              : undefined;
      return next ? unwrap(next) : [];
    });
  }
  return current;
}

/** The keys an object at `path` may have. */
function keysAt(schema: z.ZodType, path: PropertyKey[]): string[] {
  return schemasAt(schema, path).flatMap((s) => Object.keys(defOf(s).shape ?? {}));
}

/** Looks through optional, nullable, default, pipe and union wrappers to the object schemas. */
function unwrap(schema: z.ZodType): z.ZodType[] {
  const def = defOf(schema);
  if (def.innerType) return unwrap(def.innerType);
  if (def.type === 'pipe' && def.in) return unwrap(def.in);
  if (def.type === 'union' && def.options) return def.options.flatMap(unwrap);
  return [schema];
}

function valueAt(raw: unknown, path: PropertyKey[]): unknown {
  let value = raw;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}
