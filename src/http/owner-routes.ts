import type { FastifyInstance } from 'fastify';
import type { ReadStore } from '../ports/read-store.js';
import { iso } from '../present.js';
import type { Service } from '../runtime/service.js';

/**
 * `GET /v1/owners`: each owner with a registry, whether it answered at its last check, its unknown
 * count and breaker, and how many executions Vigil has running on it. Admin only.
 */
export function registerOwnerRoutes(
  app: FastifyInstance,
  options: { service: Service; store: Pick<ReadStore, 'countOpenByOwner'> },
): void {
  app.get('/v1/owners', async (request) => {
    request.caller.mustReadAll();
    const owners = options.service.sweeper.ownerWatch.status();
    const running =
      owners.length === 0
        ? new Map<string, number>()
        : await options.store.countOpenByOwner(owners.map((o) => o.name));
    return {
      items: owners.map((o) => ({
        name: o.name,
        reachable: o.reachable,
        lastCheckedAt: iso(o.lastCheckedAt),
        consecutiveUnknown: o.consecutiveUnknown,
        breaker: o.breaker,
        running: running.get(o.name) ?? 0,
        // Beside the contract's fields: why, and what the registry itself last listed.
        breakerReason: o.breakerReason,
        listed: o.listed,
        lastError: o.lastError,
      })),
    };
  });
}

/** The OpenAPI path of this route, merged into the document by openapi.ts. */
export function ownerRoutesOpenApi(): Record<string, unknown> {
  return {
    '/v1/owners': {
      get: {
        summary: 'Owners with a registry: reachability, unknown count, breaker, running executions',
        responses: {
          '200': {
            description:
              '{items: [{name, reachable, lastCheckedAt, consecutiveUnknown, breaker, running, breakerReason, listed, lastError}]}',
          },
          '401': { description: 'missing or invalid token' },
          '403': { description: 'not allowed for this token' },
        },
      },
    },
  };
}
