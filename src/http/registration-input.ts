import type { ParsedNewExecution } from '../runtime/ledger.js';
import { newExecutionSchema, parseInput } from '../runtime/ledger.js';
import { limitsSchema } from '../schemas.js';

const KEYS = new Set(['id', 'kind', 'owner', 'parentId', 'status', 'limits', 'metadata']);
const ID = /^[A-Za-z0-9._:@/-]+$/;
const CONTROL = /\p{Cc}/u;
/** Deeper metadata than this is left to the schema, which says how deep is too deep. */
const MAX_DEPTH = 64;

const isId = (value: unknown) =>
  value === undefined ||
  (typeof value === 'string' && value.length >= 1 && value.length <= 200 && ID.test(value));
const isName = (value: unknown) =>
  typeof value === 'string' && value.length >= 1 && value.length <= 200 && !CONTROL.test(value);
const isPlainObject = (value: object) => Object.getPrototypeOf(value) === Object.prototype;

/** A JSON value as `jsonSchema` accepts it: finite numbers, plain objects, arrays. */
function isJson(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object': {
      if (value === null) return true;
      if (depth > MAX_DEPTH) return false;
      if (Array.isArray(value)) return value.every((item) => isJson(item, depth + 1));
      return isMetadata(value, depth);
    }
    default:
      return false;
  }
}

function isMetadata(value: object, depth: number): boolean {
  if (!isPlainObject(value)) return false;
  for (const key of Object.keys(value)) {
    // The schema's records leave a "__proto__" key out: such a body goes to the schema.
    if (key === '__proto__') return false;
    if (!isJson((value as Record<string, unknown>)[key], depth + 1)) return false;
  }
  return true;
}

/**
 * A registration as `newExecutionSchema` parses it, checked by hand for what the schema would
 * accept as it is — the shape nearly every request has — since the schema costs more than the rest
 * of a registration's checks. Anything else (a wrong field, or a shape this check does not
 * know) goes through the schema itself, which accepts it or says what is wrong in its own words:
 * the answers are the schema's either way.
 */
export function parseRegistration(input: unknown, prefix: string): ParsedNewExecution {
  return quick(input) ?? parseInput(newExecutionSchema, input, prefix);
}

function quick(input: unknown): ParsedNewExecution | undefined {
  if (typeof input !== 'object' || input === null || !isPlainObject(input)) return undefined;
  const item = input as Record<string, unknown>;
  for (const key of Object.keys(item)) if (!KEYS.has(key)) return undefined;
  const { id, kind, owner, parentId, status, limits, metadata } = item;
  if (!isId(id) || !isName(kind)) return undefined;
  if (owner !== undefined && owner !== null && !isName(owner)) return undefined;
  if (parentId !== undefined && parentId !== null && !isName(parentId)) return undefined;
  if (status !== undefined && status !== 'queued' && status !== 'running') return undefined;
  if (metadata !== undefined) {
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata))
      return undefined;
    if (!isMetadata(metadata, 0)) return undefined;
  }
  const parsed: ParsedNewExecution = { kind: kind as string };
  if (id !== undefined) parsed.id = id as string;
  if (owner !== undefined) parsed.owner = owner as string | null;
  if (parentId !== undefined) parsed.parentId = parentId as string | null;
  if (status !== undefined) parsed.status = status;
  if (limits !== undefined) {
    const own = limitsSchema.safeParse(limits);
    if (!own.success) return undefined;
    parsed.limits = own.data;
  }
  if (metadata !== undefined) parsed.metadata = metadata as ParsedNewExecution['metadata'];
  return parsed;
}
