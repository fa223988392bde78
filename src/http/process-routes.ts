import type { FastifyInstance } from 'fastify';
import type { Vigil } from '../app/vigil.js';
import { processStatusJson } from '../present.js';

/**
 * `GET /v1/processes`: every configured process with what its last check found. Read-only: it
 * shows the state the supervisor persisted (by `vigil serve` or a cron-run `vigil proc check`).
 */
export function registerProcessRoutes(app: FastifyInstance, vigil: Vigil): void {
  app.get('/v1/processes', async (request) => {
    request.caller.mustReadAll();
    const { supervisor } = vigil;
    if (supervisor === null || supervisor.names.length === 0) return { items: [] };
    return { items: (await supervisor.status()).map(processStatusJson) };
  });
}
