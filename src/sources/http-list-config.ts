/**
 * The `operations:` section of vigil.yaml: someone else's HTTP API that lists its operations,
 * name → source. Vigil flags the running ones whose state has not changed for longer than `limit`.
 */
import * as z from 'zod';
import type { PathSegment } from '../core/json-path.js';
import { parsePath } from '../core/json-path.js';
import {
  boundedDuration,
  checked,
  headersSchema,
  httpUrlSchema,
  isHttpUrl,
} from '../shared/config-schemas.js';

export const HTTP_LIST_DEFAULTS = Object.freeze({
  intervalMs: 30_000,
  timeoutMs: 10_000,
  items: '$',
  id: 'id',
  status: 'status',
  running: Object.freeze(['running']),
  cancelMethod: 'POST' as const,
  /**
   * Cancel requests per stuck episode before Vigil stops asking: a cancel endpoint that keeps
   * failing is reported in the audit trail each time, and asking forever would hammer an API that
   * is already in trouble.
   */
  maxCancelAttempts: 3,
});

export type CancelMethod = 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One HTTP operation list, resolved with its defaults. */
export interface HttpListSpec {
  name: string;
  /** The list's URL; without a list, the per-operation URL template (shown in statuses). */
  url: string;
  /** Whether `url` is a list; false when only `operationUrl` and `ids` are configured. */
  isList: boolean;
  /** `GET` one operation's status: a URL template where `{id}` is the id (URL-encoded). */
  operationUrl: string | null;
  /**
   * Only these operations are watched (null: every listed one). With `operationUrl` each is read
   * from its own URL; otherwise they are picked from the list.
   */
  ids: readonly string[] | null;
  /** Where the operation is in a per-operation answer; `$` for the answer itself. */
  item: { text: string; segments: readonly PathSegment[] };
  intervalMs: number;
  timeoutMs: number;
  headers: Readonly<Record<string, string>>;
  /** Where the array of operations is in the answer; `$` for the answer itself. */
  items: { text: string; segments: readonly PathSegment[] };
  /** Fields (paths) in each item. `lastUpdate` null: Vigil times state changes itself. */
  fields: {
    id: { text: string; segments: readonly PathSegment[] };
    status: { text: string; segments: readonly PathSegment[] };
    lastUpdate: { text: string; segments: readonly PathSegment[] } | null;
  };
  /** Status values that mean running. */
  running: readonly string[];
  limitMs: number;
  actions: {
    notify: boolean;
    cancel: { url: string; method: CancelMethod } | null;
  };
}

const pathSchema = checked((value) => {
  if (typeof value !== 'string') {
    return {
      ok: false,
      error: `expected a path like "$.data.operations" or "state.name", got ${JSON.stringify(value)}`,
    };
  }
  const parsed = parsePath(value);
  return parsed.ok ? { ok: true, value: { text: value, segments: parsed.segments } } : parsed;
});

/** A running value or a list of them; numbers are compared as their text. */
const runningSchema = checked((value) => {
  const items = Array.isArray(value) ? value : [value];
  if (
    items.length === 0 ||
    !items.every((v) => (typeof v === 'string' && v !== '') || typeof v === 'number')
  ) {
    return {
      ok: false,
      error: `expected a status value or a list of them, got ${JSON.stringify(value)}`,
    };
  }
  return { ok: true, value: items.map(String) };
});

/** A URL template: `{id}` is replaced by the operation's id (URL-encoded). */
const urlTemplateSchema = checked((value) => {
  if (
    typeof value === 'string' &&
    value.includes('{id}') &&
    isHttpUrl(value.replaceAll('{id}', 'x'))
  ) {
    return { ok: true, value };
  }
  return {
    ok: false,
    error: `expected an http(s) URL template containing {id}, got ${JSON.stringify(value)}`,
  };
});

const idsSchema = z.array(z.union([z.string().min(1), z.number()]).transform(String)).min(1);

export const httpListSchema = z.strictObject({
  url: httpUrlSchema.optional(),
  operationUrl: urlTemplateSchema.optional(),
  ids: idsSchema.optional(),
  item: pathSchema.optional(),
  interval: boundedDuration(100, 86_400_000, '100ms and 24h').optional(),
  timeout: boundedDuration(1, 600_000, '1ms and 10m').optional(),
  headers: headersSchema.optional(),
  items: pathSchema.optional(),
  id: pathSchema.optional(),
  status: pathSchema.optional(),
  lastUpdate: pathSchema.optional(),
  running: runningSchema.optional(),
  limit: boundedDuration(1, 100 * 365 * 86_400_000, '1ms and 100 years'),
  actions: z
    .strictObject({
      notify: z.boolean().optional(),
      cancel: z
        .strictObject({
          url: urlTemplateSchema,
          method: z.enum(['POST', 'PUT', 'PATCH', 'DELETE']).optional(),
        })
        .optional(),
    })
    .optional(),
});

/** A list to read, or one URL per operation and the operations to read from it. */
export const readableListSchema = httpListSchema.superRefine((source, ctx) => {
  if (source.url === undefined && (source.operationUrl === undefined || !source.ids)) {
    ctx.addIssue({
      code: 'custom',
      path: ['url'],
      message:
        'required: expected the list\'s http(s) URL, or "operationUrl" (a URL template with {id}) and "ids"',
    });
  }
});

export const httpListsSchema = z.record(z.string().min(1), readableListSchema);

const path = (text: string) => {
  const parsed = parsePath(text);
  if (!parsed.ok) throw new Error(`bad default path ${text}`);
  return { text, segments: parsed.segments };
};

/** Resolves one validated source with its defaults. */
export function resolveHttpList(
  name: string,
  source: z.infer<typeof httpListSchema>,
): HttpListSpec {
  const url = source.url ?? source.operationUrl;
  if (url === undefined) throw new Error(`operations ${name}: neither a list nor an operation URL`);
  return {
    name,
    url,
    isList: source.url !== undefined,
    operationUrl: source.operationUrl ?? null,
    ids: source.ids ?? null,
    item: source.item ?? path('$'),
    intervalMs: source.interval ?? HTTP_LIST_DEFAULTS.intervalMs,
    timeoutMs: source.timeout ?? HTTP_LIST_DEFAULTS.timeoutMs,
    headers: source.headers ?? {},
    items: source.items ?? path(HTTP_LIST_DEFAULTS.items),
    fields: {
      id: source.id ?? path(HTTP_LIST_DEFAULTS.id),
      status: source.status ?? path(HTTP_LIST_DEFAULTS.status),
      lastUpdate: source.lastUpdate ?? null,
    },
    running: source.running ?? HTTP_LIST_DEFAULTS.running,
    limitMs: source.limit,
    actions: {
      notify: source.actions?.notify ?? true,
      cancel: source.actions?.cancel
        ? {
            url: source.actions.cancel.url,
            method: source.actions.cancel.method ?? HTTP_LIST_DEFAULTS.cancelMethod,
          }
        : null,
    },
  };
}

/** Resolves each validated source with its defaults. */
export function resolveHttpLists(
  raw: z.infer<typeof httpListsSchema> | undefined,
): Record<string, HttpListSpec> {
  return Object.fromEntries(
    Object.entries(raw ?? {}).map(([name, source]) => [name, resolveHttpList(name, source)]),
  );
}

/**
 * Where a source's operations are read from, as statuses, logs and evidence show it: the
 * per-operation URL template when each watched id is read from its own URL, else the list's URL.
 */
export function readFrom(spec: HttpListSpec): string {
  return spec.ids !== null && spec.operationUrl !== null ? spec.operationUrl : spec.url;
}
