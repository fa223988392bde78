import type { FastifyInstance } from 'fastify';
import { iso } from '../present.js';
import type { Vigil } from '../app/vigil.js';

/** Read-only status of HTTP probes and operation lists, for the dashboard. Admin only. */
export async function registerProbeRoutes(app: FastifyInstance, vigil: Vigil): Promise<void> {
  app.get('/v1/probes', async (request) => {
    request.caller.mustReadAll();
    return {
      items: vigil.watchers.probes.status().map((p) => ({
        name: p.name,
        url: p.url,
        state: p.state,
        consecutiveFailures: p.consecutiveFailures,
        consecutiveSuccesses: p.consecutiveSuccesses,
        lastCheckAt: iso(p.lastCheckAt),
        lastError: p.lastError,
      })),
    };
  });

  app.get('/v1/operations', async (request) => {
    request.caller.mustReadAll();
    const { items, sources } = vigil.watchers.operations.status();
    return {
      items: items.map((o) => ({
        source: o.source,
        id: o.id,
        status: o.status,
        lastUpdateAt: iso(o.lastUpdateAt),
        stuck: o.stuck,
        stuckForMs: o.stuckForMs,
      })),
      // Beside the items: whether each list could be read at its last check, and why not.
      sources: sources.map((s) => ({
        name: s.name,
        url: s.url,
        state: s.state,
        lastCheckAt: iso(s.lastCheckAt),
        lastError: s.lastError,
        skipped: s.skipped,
      })),
    };
  });
}

/** The OpenAPI paths of these routes, merged into the document by openapi.ts. */
export function probeRoutesOpenApi(): Record<string, unknown> {
  const responses = (description: string) => ({
    '200': { description },
    '401': { description: 'missing or invalid token' },
    '403': { description: 'not allowed for this token' },
  });
  return {
    '/v1/probes': {
      get: {
        summary: 'HTTP probes and their state',
        responses: responses(
          '{items: [{name, url, state, consecutiveFailures, consecutiveSuccesses, lastCheckAt, lastError}]}',
        ),
      },
    },
    '/v1/operations': {
      get: {
        summary: 'Operations of the configured HTTP operation lists',
        responses: responses(
          '{items: [{source, id, status, lastUpdateAt, stuck, stuckForMs}], sources: [{name, url, state, lastCheckAt, lastError, skipped}]}',
        ),
      },
    },
  };
}
