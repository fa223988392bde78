import type { FastifyInstance, FastifyRequest } from 'fastify';
import * as z from 'zod';
import type { Execution, JsonValue } from '../core/types.js';
import { BadInputError, VigilError } from '../errors.js';
import { executionJson } from '../present.js';
import type { ParsedNewExecution } from '../runtime/ledger.js';
import { executionNotFound, newExecutionSchema, parseInput } from '../runtime/ledger.js';
import type { Service } from '../runtime/service.js';
import type { ReadStore } from '../ports/read-store.js';
import { parseRegistration } from './registration-input.js';
import { schemas } from './schemas.js';

/** The most registrations one batch may hold. */
export const MAX_BATCH = 1_000;

/** A batch of 1,000 registrations with a little metadata each is well under this. */
const BATCH_BODY_LIMIT = 8 * 1024 * 1024;

type ItemResult =
  { execution: Record<string, JsonValue> } | { error: { code: string; message: string } };

const failed = (error: unknown): ItemResult => {
  if (error instanceof VigilError) return { error: { code: error.code, message: error.message } };
  throw error;
};

/**
 * `POST /v1/executions/batch`: up to 1,000 registrations in one request and one transaction. Each
 * item is judged as `POST /v1/executions` judges its body — the same schema, the same rules for a
 * runner token — and answered in order with its execution or its own error; one bad item never
 * fails the others.
 */
export function registerBatchRoutes(
  app: FastifyInstance,
  service: Service,
  store: Pick<ReadStore, 'ownersOf'>,
): void {
  app.post('/v1/executions/batch', { bodyLimit: BATCH_BODY_LIMIT }, async (request) => {
    const { executions } = parseBatch(request.body);
    const results = new Array<ItemResult | undefined>(executions.length);
    const accepted: { index: number; input: ParsedNewExecution }[] = [];
    executions.forEach((item, index) => {
      try {
        accepted.push({
          index,
          input: parseRegistration(item, `executions.${index}`),
        });
      } catch (error) {
        results[index] = failed(error);
      }
    });
    const allowed = await withinScope(request, store, accepted, results);
    const created = await service.ledger.registerMany(allowed.map((a) => a.input));
    allowed.forEach(({ index }, i) => {
      const outcome = created[i] as Execution | VigilError;
      results[index] =
        outcome instanceof VigilError ? failed(outcome) : { execution: executionJson(outcome) };
    });
    return { results };
  });
}

/** The body's shape; too many items is said with their count, not by echoing them all back. */
function parseBatch(body: unknown): { executions: unknown[] } {
  const items = (body as { executions?: unknown } | null)?.executions;
  if (Array.isArray(items) && items.length > MAX_BATCH) {
    throw new BadInputError([
      `body.executions: expected at most ${MAX_BATCH.toLocaleString('en-US')} items, got ${items.length.toLocaleString('en-US')}`,
    ]);
  }
  return parseInput(schemas.createBatch, body ?? {}, 'body');
}

/**
 * The rules of `POST /v1/executions` for a runner token, per item: an item naming another owner is
 * refused (403), every item gets the runner's owner, and a parentId the runner may not see is that
 * item's 404 — the very answer a missing parent gets. The admin's items pass as they are.
 */
async function withinScope(
  request: FastifyRequest,
  store: Pick<ReadStore, 'ownersOf'>,
  accepted: { index: number; input: ParsedNewExecution }[],
  results: (ItemResult | undefined)[],
): Promise<{ index: number; input: ParsedNewExecution }[]> {
  const { caller } = request;
  if (caller.isAdmin) return accepted;
  const parents = [
    ...new Set(accepted.flatMap(({ input }) => (input.parentId ? [input.parentId] : []))),
  ];
  const owners =
    parents.length === 0 ? new Map<string, string | null>() : await store.ownersOf(parents);
  return accepted.filter(({ index, input }) => {
    try {
      if (input.owner !== undefined && input.owner !== null) {
        caller.mustOwn(input.owner, `executions.${index}: a new execution`);
      }
      input.owner = caller.owner;
      const parent = input.parentId;
      if (parent !== undefined && parent !== null) {
        if (!owners.has(parent) || !caller.canSee(owners.get(parent) ?? null)) {
          throw executionNotFound(parent, `executions.${index}.parentId: `);
        }
      }
      return true;
    } catch (error) {
      results[index] = failed(error);
      return false;
    }
  });
}

/** The batch route in /openapi.json: its body is described with the items' own schema. */
export function batchRoutesOpenApi(
  withBody: (summary: string, schema: z.ZodType, responses: Record<string, string>) => unknown,
  errors: Record<string, string>,
): Record<string, unknown> {
  const body = z.strictObject({
    executions: z.array(newExecutionSchema).min(1).max(MAX_BATCH),
  });
  return {
    '/v1/executions/batch': {
      post: withBody('Register up to 1,000 executions in one request and one transaction', body, {
        '200':
          '{results}: one per item, in order — {execution}, or {error: {code, message}} for that item alone (bad_input, already_exists, forbidden, not_found for a parentId)',
        ...errors,
      }),
    },
  };
}
