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

export async function readHttpList(spec: HttpListSpec): Promise<ListRead> {
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
    const status = scalar(readPath(item, spec.fields.status.segments));
    if (status === null) {
      skipped.push(`${where} (${id}): no status at ${JSON.stringify(spec.fields.status.text)}`);
      return;
    }
    let lastUpdateAt: number | null = null;
    if (spec.fields.lastUpdate !== null) {
      const raw = readPath(item, spec.fields.lastUpdate.segments);
      if (raw !== undefined && raw !== null) {
        lastUpdateAt = parseTime(raw);
        if (lastUpdateAt === null) {
          skipped.push(
            `${where} (${id}): ${JSON.stringify(spec.fields.lastUpdate.text)} is ${JSON.stringify(raw)}, expected an ISO time or epoch seconds/milliseconds`,
          );
          return;
        }
      }
    }
    seen.add(id);
    operations.push({ id, status, lastUpdateAt });
  });
  return { kind: 'ok', operations, skipped };
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
