import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import type { Clock } from '../ports.js';
import { EventBus } from '../runtime/events.js';
import { processStatusJson } from '../supervisor/present.js';
import type { SupervisorOptions } from '../supervisor/supervisor.js';
import { Supervisor } from '../supervisor/supervisor.js';

/**
 * `GET /v1/processes`: every configured process with what its last check found. Read-only: it
 * shows the state the supervisor persisted (by `vigil serve` or a cron-run `vigil proc check`).
 */
export function registerProcessRoutes(
  app: FastifyInstance,
  options: { store: SupervisorOptions['store']; config: Config; clock: Clock },
): void {
  const supervisor = new Supervisor({
    store: options.store,
    processes: options.config.processes,
    clock: options.clock,
    events: new EventBus(),
  });
  app.get('/v1/processes', async (request) => {
    request.caller.mustBeAdmin();
    if (supervisor.names.length === 0) return { items: [] };
    return { items: (await supervisor.status()).map(processStatusJson) };
  });
}
