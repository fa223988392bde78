import type { ServerResponse } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import Fastify from 'fastify';
import * as z from 'zod';
import type { Vigil } from '../app/vigil.js';
import { storeError } from '../app/store.js';
import type { Config } from '../config.js';
import type { Execution } from '../core/types.js';
import { executionJson } from '../present.js';
import type { ErrorCode } from '../errors.js';
import { VigilError, isVigilError } from '../errors.js';
import type { Clock } from '../ports.js';
import type { ExecutionStore } from '../ports/execution-store.js';
import type { Caller } from './auth.js';
import { authenticate, refuseViewerWrites } from './auth.js';
import { registerBatchRoutes } from './batch-routes.js';
import { registerClaimRoutes } from './claim-routes.js';
import { ownerScope } from './event-scope.js';
import { registerDashboard } from './dashboard.js';
import { Metrics } from './metrics.js';
import { registerNotificationRoutes } from './notifications.js';
import { registerOwnerRoutes } from './owner-routes.js';
import { openApiDocument } from './openapi.js';
import { registerProcessRoutes } from './process-routes.js';
import { registerRoutes } from './routes.js';
import { registerSilenceRoutes } from './silence-routes.js';
import { registerProbeRoutes } from './probe-routes.js';
import { registerScheduleRoutes } from './schedule-routes.js';
import { streamEvents } from './sse.js';
import { registerStatsRoutes } from './stats-routes.js';
import { registerRetentionRoutes } from './retention-routes.js';
import { registerSummaryRoutes } from './summary-routes.js';

export interface AppOptions {
  /** The running Vigil the routes serve (src/app/vigil.ts). */
  vigil: Vigil;
  store: ExecutionStore;
  config: Config;
  clock: Clock;
  /** A pino logger configuration, or false for none (tests). */
  logger?: boolean | object;
  /** Labels every metric with this replica's name. */
  replica?: string;
  /** The built dashboard (default: dist/web). */
  webRoot?: string | undefined;
}

/** Error codes → HTTP statuses, in one place. */
const STATUS_BY_CODE: Record<ErrorCode, number> = {
  bad_input: 400,
  bad_config: 500,
  not_found: 404,
  already_exists: 409,
  already_ended: 409,
  lost_ownership: 409,
  invalid_transition: 409,
  sweep_in_progress: 409,
  slot_taken: 409,
  store_unavailable: 503,
  unauthorized: 401,
  forbidden: 403,
};

/** The largest request body accepted; a batch of 1,000 beats is about 60 KiB. */
export const BODY_LIMIT = 1024 * 1024;

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller;
  }
}

/** Builds the HTTP app without binding a port, so tests can `inject` requests. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: BODY_LIMIT,
    // Long ids reach the route and are refused there with a message naming the field.
    routerOptions: { maxParamLength: 1_000 },
    frameworkErrors: (error, _request, reply) => {
      void (reply as FastifyReply)
        .status(400)
        .send({ error: { code: 'bad_input', message: `url: ${error.message}` } });
    },
  });
  const { vigil } = options;
  const parts = { ...options, service: vigil.service };
  const metrics = new Metrics(options);
  app.decorateRequest('caller', null as unknown as Caller);

  app.setErrorHandler((error: FastifyError, request, reply) =>
    sendError(error, request, reply, options),
  );
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({
      error: {
        code: 'not_found',
        message: `no route ${request.method} ${request.url.split('?')[0]}`,
      },
    }),
  );
  app.addHook('onRequest', async (request) => {
    request.caller = authenticate(request, options.config);
    refuseViewerWrites(request, request.caller);
  });

  app.get('/healthz', async (_request, reply) => {
    const health = vigil.service.health();
    // Observe-only is not unhealthy; null when the store cannot say (it is reported down then).
    const paused = await options.store
      .silences()
      .pauseState()
      .then((state) => state !== null)
      .catch(() => null);
    return reply.status(health.ok ? 200 : 503).send({
      status: health.ok ? 'ok' : 'unhealthy',
      lastSweepAt: health.lastSweepAt === null ? null : new Date(health.lastSweepAt).toISOString(),
      lastSweepAgeMs: health.lastSweepAgeMs,
      storeReachable: health.storeReachable,
      database: health.database,
      slots: health.slots,
      paused,
    });
  });
  app.get('/metrics', async (request, reply) => {
    request.caller.mustReadAll();
    return reply.type(metrics.contentType).send(await metrics.render());
  });
  app.get('/openapi.json', async () => openApiDocument());
  // Any valid token may ask what it may do: the dashboard shows a viewer no control it would refuse.
  app.get('/v1/whoami', async (request) => ({
    role: request.caller.role,
    owner: request.caller.owner,
  }));
  const streams = new Set<ServerResponse>();
  app.get('/v1/events', (request, reply) => {
    const { caller } = request;
    // The admin and viewers see every event; a runner only those about its owner's executions.
    const filter = caller.owner === null ? undefined : ownerScope(caller.owner, options.store);
    streamEvents(request, reply, vigil.service.events, streams, filter);
  });
  app.addHook('preClose', async () => {
    vigil.service.claims.close();
    for (const raw of streams) raw.end();
  });
  await registerRoutes(app, { ...parts, metrics });
  registerBatchRoutes(app, vigil.service, options.store);
  registerClaimRoutes(app, vigil.service);
  registerProcessRoutes(app, vigil);
  await registerProbeRoutes(app, vigil);
  registerNotificationRoutes(app, options);
  registerOwnerRoutes(app, parts);
  registerSummaryRoutes(app, options);
  registerStatsRoutes(app, options);
  registerRetentionRoutes(app, vigil.service);
  registerSilenceRoutes(app, options);
  registerScheduleRoutes(app, options);
  registerDashboard(app, options.webRoot);
  return app;
}

function isSlotStoreError(error: VigilError): boolean {
  return (error.details as { store?: unknown } | undefined)?.store === 'slots';
}

function sendError(
  error: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
  options: AppOptions,
) {
  const known = toVigilError(error);
  if (known) {
    // The slot store (Redis) reports its own status; only the database's failures are the service's.
    if (known.code === 'store_unavailable' && !isSlotStoreError(known))
      options.vigil.service.ledger.health.down(known);
    const extra: Record<string, unknown> = {
      ...(known.details && typeof known.details === 'object' ? known.details : {}),
    };
    if (extra.execution) extra.execution = executionJson(extra.execution as Execution);
    return reply
      .status(STATUS_BY_CODE[known.code])
      .send({ ...extra, error: { code: known.code, message: known.message } });
  }
  request.log.error({ err: error }, 'unexpected error');
  return reply
    .status(500)
    .send({ error: { code: 'internal', message: 'internal error; see the server log' } });
}

/** Maps framework, validation and driver errors to Vigil's error codes. */
function toVigilError(error: unknown): VigilError | undefined {
  if (isVigilError(error)) return error;
  // JSON nested so deeply that validating it overflows the stack.
  if (error instanceof RangeError && /call stack/i.test(error.message)) {
    return new VigilError('bad_input', 'body: JSON nested too deeply');
  }
  if (error instanceof z.ZodError) {
    return new VigilError(
      'bad_input',
      error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
    );
  }
  const fastifyError = error as Partial<FastifyError>;
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new VigilError(
        'bad_input',
        `body: expected valid JSON (${fastifyError.message ?? 'parse error'})`,
      );
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new VigilError('bad_input', `body: larger than the ${BODY_LIMIT} byte limit`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new VigilError('bad_input', 'body: expected Content-Type application/json');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new VigilError('bad_input', 'body: Content-Length does not match the body');
  }
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode < 500) {
    return new VigilError('bad_input', fastifyError.message ?? 'bad request');
  }
  return storeError(error);
}
