/**
 * Reads someone else's list of operations over HTTP and extracts each one's id, status and
 * last-update time. Every way the answer can be unusable (unreachable, an error status, not JSON,
 * no array where the path points) is reported as `unknown` with its reason: Vigil does not act on
 * an answer it cannot read.
 */
import type { OperationObservation } from '../core/operations.js';
import { httpRequest } from '../shared/http-request.js';
import type { HttpListSpec } from './http-list-config.js';
import { readPath } from '../core/json-path.js';

/** 16 MiB: a list of tens of thousands of operations, and no more. */
const MAX_LIST_BYTES = 16 * 1024 * 1024;

export type ListRead =
  | {
      kind: 'ok';
      operations: OperationObservation[];
      /** Items that could not be read, each with why ("item 3: no id at "id""). */
      skipped: string[];
    }
  | { kind: 'unknown'; reason: string };

/**
 * Reads the operations of a source: one `GET` per watched id when it has an operation URL and
 * ids, otherwise its list (only the watched ids, when it has some).
 */
export async function readOperations(spec: HttpListSpec): Promise<ListRead> {
  if (spec.ids !== null && spec.operationUrl !== null) {
    return readEach(spec, spec.operationUrl, spec.ids);
  }
  const read = await readHttpList(spec);
  if (read.kind === 'unknown' || spec.ids === null) return read;
  const wanted = new Set(spec.ids);
  const listed = new Set(read.operations.map((o) => o.id));
  return {
    kind: 'ok',
    operations: read.operations.filter((o) => wanted.has(o.id)),
    skipped: [
      ...read.skipped,
      ...spec.ids.filter((id) => !listed.has(id)).map((id) => `${id}: not listed`),
    ],
  };
}

/**
 * Reads each operation from its own URL. An operation the API does not know (404) is skipped with
 * the reason; any other unusable answer makes the whole read unknown, so nothing is judged on a
 * partial view of an API in trouble.
 */
async function readEach(
  spec: HttpListSpec,
  template: string,
  ids: readonly string[],
): Promise<ListRead> {
  const answers = await Promise.all(
    ids.map(async (id) => {
      const url = template.replaceAll('{id}', encodeURIComponent(id));
      return { id, url, answer: await getJson(url, spec) };
    }),
  );
  const operations: OperationObservation[] = [];
  const skipped: string[] = [];
  for (const { id, url, answer } of answers) {
    if (answer.kind === 'missing') {
      skipped.push(`${id}: HTTP 404 from ${url}`);
      continue;
    }
    if (answer.kind === 'unknown') return answer;
    const item = readPath(answer.document, spec.item.segments);
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      return {
        kind: 'unknown',
        reason: `malformed answer from ${url}: ${spec.item.text} is ${describe(item)}, expected an object`,
      };
    }
    const read = readItem(item, id, id, spec);
    if (read.kind === 'ok') operations.push(read.operation);
    else skipped.push(read.reason);
  }
  return { kind: 'ok', operations, skipped };
}

type JsonAnswer =
  { kind: 'ok'; document: unknown } | { kind: 'missing' } | { kind: 'unknown'; reason: string };

async function getJson(url: string, spec: HttpListSpec): Promise<JsonAnswer> {
  const answer = await httpRequest(url, {
    headers: { accept: 'application/json', ...spec.headers },
    timeoutMs: spec.timeoutMs,
    maxBodyBytes: MAX_LIST_BYTES,
  });
  if (answer.kind === 'error') return { kind: 'unknown', reason: answer.error };
  if (answer.status === 404) return { kind: 'missing' };
  if (answer.status < 200 || answer.status > 299) {
    return { kind: 'unknown', reason: `HTTP ${answer.status} from ${url}` };
  }
  try {
    return { kind: 'ok', document: JSON.parse(answer.body) };
  } catch (error) {
    return { kind: 'unknown', reason: `malformed JSON from ${url}: ${(error as Error).message}` };
  }
}

async function readHttpList(spec: HttpListSpec): Promise<ListRead> {
  const answer = await httpRequest(spec.url, {
    headers: { accept: 'application/json', ...spec.headers },
    timeoutMs: spec.timeoutMs,
    maxBodyBytes: MAX_LIST_BYTES,
  });
  if (answer.kind === 'error') return { kind: 'unknown', reason: answer.error };
  if (answer.status < 200 || answer.status > 299) {
    return { kind: 'unknown', reason: `HTTP ${answer.status} from ${spec.url}` };
  }
  let document: unknown;
  try {
    document = JSON.parse(answer.body);
  } catch (error) {
    return { kind: 'unknown', reason: `malformed JSON: ${(error as Error).message}` };
  }
  const items = readPath(document, spec.items.segments);
  if (!Array.isArray(items)) {
    return {
      kind: 'unknown',
      reason: `malformed answer: ${spec.items.text} is ${describe(items)}, expected an array`,
    };
  }
  return extractOperations(items, spec);
}

/** Each item's id, status and last update; items missing one are skipped with the reason. */
export function extractOperations(items: unknown[], spec: HttpListSpec): ListRead {
  const operations: OperationObservation[] = [];
  const skipped: string[] = [];
  const seen = new Set<string>();
  items.forEach((item, index) => {
    const where = `item ${index}`;
    const id = scalar(readPath(item, spec.fields.id.segments));
    if (id === null) {
      skipped.push(`${where}: no id at ${JSON.stringify(spec.fields.id.text)}`);
      return;
    }
    if (seen.has(id)) {
      skipped.push(`${where}: id ${JSON.stringify(id)} listed twice`);
      return;
    }
    const read = readItem(item, id, `${where} (${id})`, spec);
    if (read.kind === 'skip') {
      skipped.push(read.reason);
      return;
    }
    seen.add(id);
    operations.push(read.operation);
  });
  return { kind: 'ok', operations, skipped };
}

/** One operation's status and last update, or why it cannot be judged. */
function readItem(
  item: unknown,
  id: string,
  where: string,
  spec: HttpListSpec,
): { kind: 'ok'; operation: OperationObservation } | { kind: 'skip'; reason: string } {
  const status = scalar(readPath(item, spec.fields.status.segments));
  if (status === null) {
    return {
      kind: 'skip',
      reason: `${where}: no status at ${JSON.stringify(spec.fields.status.text)}`,
    };
  }
  let lastUpdateAt: number | null = null;
  if (spec.fields.lastUpdate !== null) {
    const raw = readPath(item, spec.fields.lastUpdate.segments);
    if (raw !== undefined && raw !== null) {
      lastUpdateAt = parseTime(raw);
      if (lastUpdateAt === null) {
        return {
          kind: 'skip',
          reason: `${where}: ${JSON.stringify(spec.fields.lastUpdate.text)} is ${JSON.stringify(raw)}, expected an ISO time or epoch seconds/milliseconds`,
        };
      }
    }
  }
  return { kind: 'ok', operation: { id, status, lastUpdateAt } };
}

/**
 * An ISO-8601 time, or an epoch number (or numeric string) in seconds or milliseconds. Below 1e11
 * it is seconds: as milliseconds that would be before 1973, as seconds it is before the year 5138.
 * An ISO time without a zone is read as UTC, like every time in Vigil.
 */
export function parseTime(value: unknown): number | null {
  if (typeof value === 'number' || (typeof value === 'string' && /^\d+(\.\d+)?$/.test(value))) {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) return null;
    return Math.round(n < 1e11 ? n * 1_000 : n);
  }
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}/.test(value)) return null;
  const normalized = value.replace(' ', 'T');
  const hasZone = /(Z|[+-]\d{2}:?\d{2})$/i.test(normalized);
  const at = Date.parse(normalized.includes('T') && !hasZone ? `${normalized}Z` : normalized);
  return Number.isNaN(at) ? null : at;
}

function scalar(value: unknown): string | null {
  if (typeof value === 'string') return value === '' ? null : value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return null;
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
