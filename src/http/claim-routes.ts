import type { FastifyInstance } from 'fastify';
import * as z from 'zod';
import { executionJson } from '../present.js';
import { MAX_CLAIM_WAIT_MS } from '../runtime/claims.js';
import { parseInput } from '../runtime/ledger.js';
import type { Service } from '../runtime/service.js';
import { durationSchema } from '../schemas.js';

const nameSchema = z.string().min(1).max(200);

export const claimSchema = z.strictObject({
  /** Who runs the work: a host, a pod, a worker's name. Logged; answered back. */
  runner: nameSchema,
  /** How long to wait for work when none is due; default 0 (answer at once). */
  wait: durationSchema
    .refine((ms) => ms <= MAX_CLAIM_WAIT_MS, `expected at most ${MAX_CLAIM_WAIT_MS / 1000}s`)
    .optional(),
  /** Claim only this owner's executions (the admin token); a runner token claims its own. */
  owner: nameSchema.optional(),
});

/**
 * `POST /v1/kinds/:kind/claim`: a runner asks for the next queued attempt of a kind whose backoff
 * has ended and gets it already started (running) for itself, or `{execution: null}` once `wait`
 * has passed. A runner token claims only executions of its own owner.
 */
export function registerClaimRoutes(app: FastifyInstance, service: Service): void {
  app.post('/v1/kinds/:kind/claim', async (request) => {
    const kind = parseInput(nameSchema, (request.params as { kind: string }).kind, 'kind');
    const input = parseInput(claimSchema, request.body ?? {}, 'body');
    const { caller } = request;
    if (!caller.isAdmin && input.owner !== undefined) caller.mustOwn(input.owner, 'claiming');
    const owner = caller.isAdmin ? input.owner : (caller.owner ?? undefined);
    // The runner hung up while waiting: claim nothing more for it.
    const gone = new AbortController();
    const onClose = () => gone.abort();
    request.raw.socket.once('close', onClose);
    try {
      const execution = await service.claims.claim({
        kind,
        owner,
        waitMs: input.wait ?? 0,
        signal: gone.signal,
      });
      if (execution) {
        request.log.info(
          { executionId: execution.id, attempt: execution.attempt, runner: input.runner },
          'claimed',
        );
      }
      return { runner: input.runner, execution: execution ? executionJson(execution) : null };
    } finally {
      request.raw.socket.off('close', onClose);
    }
  });
}

/** The OpenAPI path of this route, merged into the document by openapi.ts. */
export function claimRoutesOpenApi(
  withBody: (summary: string, schema: z.ZodType, responses: Record<string, string>) => unknown,
  errors: Record<string, string>,
): Record<string, unknown> {
  return {
    '/v1/kinds/{kind}/claim': {
      post: {
        parameters: [{ name: 'kind', in: 'path', required: true, schema: { type: 'string' } }],
        ...(withBody(
          'Claim the next queued attempt of a kind (started for this runner), waiting up to `wait`',
          claimSchema,
          { '200': '{runner, execution}: the execution now running, or null', ...errors },
        ) as Record<string, unknown>),
      },
    },
  };
}
