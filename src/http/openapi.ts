import * as z from 'zod';
import { batchRoutesOpenApi } from './batch-routes.js';
import { claimRoutesOpenApi } from './claim-routes.js';
import { probeRoutesOpenApi } from './probe-routes.js';
import { scheduleRoutesOpenApi } from './schedule-routes.js';
import { ownerRoutesOpenApi } from './owner-routes.js';
import { retentionRoutesOpenApi } from './retention-routes.js';
import { silenceRoutesOpenApi } from './silence-routes.js';
import { notificationsQuery } from './notifications.js';
import { schemas } from './schemas.js';
import { statsQuerySchema } from './stats-routes.js';
import { summaryQuerySchema } from './summary-routes.js';

const json = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });

/** The OpenAPI document of the HTTP API, generated from the same schemas the routes validate with. */
export function openApiDocument(): Record<string, unknown> {
  const withBody = (summary: string, schema: z.ZodType, responses: Record<string, string>) => ({
    summary,
    requestBody: {
      // A body whose fields are all optional may be left out.
      required: !schema.safeParse({}).success,
      content: { 'application/json': { schema: json(schema) } },
    },
    responses: describe(responses),
  });
  const describe = (responses: Record<string, string>) =>
    Object.fromEntries(
      Object.entries(responses).map(([status, description]) => [status, { description }]),
    );
  const idParam = [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }];
  const errors = {
    '400': 'bad_input, naming the field',
    '401': 'unauthorized: missing or invalid token',
    '403':
      'forbidden: not allowed for this token (a runner on an admin route, a viewer on a write)',
    '503': 'store_unavailable',
  };
  /** Routes on one execution: a runner token asking for another owner's gets 404 too. */
  const notFound = { '404': "not_found (also another owner's execution, for a runner token)" };
  const open = (summary: string, responses: Record<string, string>) => ({
    summary,
    security: [],
    responses: describe(responses),
  });
  return {
    openapi: '3.1.0',
    info: {
      title: 'Vigil',
      version: '1',
      description:
        'A watchdog for stuck work. Errors are {"error": {"code", "message"}}; see docs/api.md.',
    },
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description:
            "VIGIL_TOKEN (admin): everything. A viewer token (auth.viewers): every GET, no write (403). A runner token (auth.runners): its own owner's executions, and GET /v1/events about them.",
        },
      },
    },
    security: [{ bearer: [] }],
    paths: {
      ...probeRoutesOpenApi(),
      ...scheduleRoutesOpenApi(),
      ...ownerRoutesOpenApi(),
      ...retentionRoutesOpenApi(),
      ...claimRoutesOpenApi(withBody, errors),
      ...batchRoutesOpenApi(withBody, errors),
      ...silenceRoutesOpenApi(json, queryParameters),
      '/v1/executions': {
        post: withBody('Register an execution', schemas.create, {
          '201': 'the execution',
          '409': 'already_exists',
          ...errors,
        }),
        get: {
          summary: 'List executions, newest first',
          parameters: queryParameters(schemas.list),
          responses: describe({ '200': '{items, nextCursor}', ...errors }),
        },
      },
      '/v1/executions/{id}': {
        get: {
          summary: 'One execution',
          parameters: idParam,
          responses: describe({ '200': 'the execution', ...notFound, ...errors }),
        },
      },
      '/v1/executions/{id}/slots': {
        post: {
          parameters: idParam,
          ...withBody(
            'Take a named capacity slot or queue entry for this attempt',
            schemas.acquireSlot,
            {
              '200': '{slot, attempt, expiresAt}',
              '409': 'slot_taken {holder}, or lost_ownership when the attempt is not open',
              ...notFound,
              ...errors,
            },
          ),
        },
        get: {
          summary: 'The slots this execution holds or held, and how each was released',
          parameters: idParam,
          responses: describe({ '200': '{items}', ...notFound, ...errors }),
        },
      },
      '/v1/executions/{id}/slots/{slot}': {
        delete: {
          summary: 'Give a slot back before the attempt ends (query: attempt)',
          parameters: [
            ...idParam,
            { name: 'slot', in: 'path', required: true, schema: { type: 'string' } },
            { name: 'attempt', in: 'query', required: true, schema: { type: 'integer' } },
          ],
          responses: describe({ '200': '{released}', ...notFound, ...errors }),
        },
      },
      '/v1/executions/{id}/start': {
        post: {
          parameters: idParam,
          ...withBody('queued → running', schemas.start, {
            '200': 'the execution',
            '409': 'invalid_transition',
            ...notFound,
            ...errors,
          }),
        },
      },
      '/v1/executions/{id}/heartbeat': {
        post: {
          parameters: idParam,
          ...withBody('Heartbeat (with progress: also a progress report)', schemas.heartbeat, {
            '200': '{deadlineAt}',
            '409': 'lost_ownership {status, reason}: the runner must stop',
            ...notFound,
            ...errors,
          }),
        },
      },
      '/v1/heartbeats': {
        post: withBody('Many heartbeats in one request', schemas.heartbeats, {
          '200': '{ok: [id], lost: [{id, status, reason}]}',
          ...errors,
        }),
      },
      '/v1/executions/{id}/complete': {
        post: {
          parameters: idParam,
          ...withBody('Report success', schemas.complete, {
            '200': 'the execution',
            '409':
              'already_ended {execution}; a report after the watchdog ended it is kept as lateResult',
            ...notFound,
            ...errors,
          }),
        },
      },
      '/v1/executions/{id}/fail': {
        post: {
          parameters: idParam,
          ...withBody('Report failure', schemas.fail, {
            '200': 'the execution',
            '409': 'already_ended {execution}',
            ...notFound,
            ...errors,
          }),
        },
      },
      '/v1/executions/{id}/cancel': {
        post: {
          parameters: idParam,
          ...withBody('Cancel (operator)', schemas.cancel, {
            '200': 'the execution',
            '409': 'already_ended',
            ...notFound,
            ...errors,
          }),
        },
      },
      '/v1/sweeps': {
        post: withBody('Sweep now', schemas.sweep, {
          '200': 'SweepReport',
          '409': 'sweep_in_progress',
          ...errors,
        }),
      },
      '/v1/sweeps/latest': {
        get: {
          summary: 'The latest sweep report',
          responses: describe({
            '200': 'SweepReport',
            '404': 'not_found: no sweep yet',
            ...errors,
          }),
        },
      },
      '/v1/remediations': {
        get: {
          summary: 'The audit trail',
          parameters: queryParameters(schemas.remediations),
          responses: describe({ '200': '{items}', ...errors }),
        },
      },
      '/v1/notifications': {
        get: {
          summary: 'Notifications and their delivery outcome, newest first',
          parameters: queryParameters(notificationsQuery),
          responses: describe({ '200': '{items}', ...errors }),
        },
      },
      '/v1/summary': {
        get: {
          summary:
            'The dashboard overview: executions by status, remediations by verdict and per bucket since `since`, the open executions nearest their deadline',
          parameters: queryParameters(summaryQuerySchema),
          responses: describe({
            '200':
              '{now, since, bucketMs, statuses, verdicts, timeline: [{start, counts}], dueSoon: [Execution]}',
            ...errors,
          }),
        },
      },
      '/v1/stats': {
        get: {
          summary:
            'Who gets stuck most often: stuck detections over a window (`since`, default 24h, or `from`/`to`), grouped `by` kind, owner, source, verdict or label:NAME; a runner token sees its owner only',
          parameters: queryParameters(statsQuerySchema),
          responses: describe({
            '200':
              '{from, to, by, totalStuck, totalGroups, groups: [{key, stuck, verdicts, ended, retried, deadLettered, leftAlone, failed, ranMs: {p50, p95, max}, lateMs: {p50, p95, max}}], labels: the label names mapped tables keep}',
            ...errors,
          }),
        },
      },
      '/v1/events': {
        get: {
          summary: 'Server-sent events',
          description:
            "Admin and viewer tokens: every event. A runner token: only execution:* events of its own owner's executions.",
          responses: describe({ '200': 'text/event-stream', ...errors }),
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics',
          responses: describe({ '200': 'text/plain', ...errors }),
        },
      },
      '/v1/processes': {
        get: {
          summary: 'Supervised processes and what their last check found',
          responses: describe({
            '200':
              '{items: [{name, enabled, verdict, evidence, pid, consecutiveUnhealthy, restarts, lastCheckAt, nextRestartAt, gaveUp}]}',
            ...errors,
          }),
        },
      },
      '/healthz': {
        get: open('Health of the watchdog itself (no token needed)', {
          '200':
            '{status: "ok", lastSweepAt, lastSweepAgeMs, storeReachable, database: {up, error}, slots: {up, error, store}, paused, …}',
          '503':
            '{status: "unhealthy", …}: no sweep has succeeded for three intervals, or a store is unreachable (`database` and `slots` say which)',
        }),
      },
      '/openapi.json': {
        get: {
          summary: 'This document (any valid token)',
          responses: describe({ '200': 'the OpenAPI document', '401': errors['401'] }),
        },
      },
      '/v1/whoami': {
        get: {
          summary:
            'What the token asking may do (any valid token): role admin, viewer or runner, and the owner a runner token is bound to',
          responses: describe({ '200': '{role, owner}', '401': errors['401'] }),
        },
      },
      '/': { get: open('The dashboard (no token needed)', { '200': 'text/html' }) },
      '/index.html': { get: open('The dashboard (no token needed)', { '200': 'text/html' }) },
      '/assets/{file}': {
        get: {
          ...open("The dashboard's scripts and styles (no token needed)", {
            '200': 'the file',
            '404': 'not_found',
          }),
          parameters: [{ name: 'file', in: 'path', required: true, schema: { type: 'string' } }],
        },
      },
    },
  };
}

function queryParameters(schema: z.ZodObject): unknown[] {
  return Object.entries(schema.shape).map(([name, field]) => ({
    name,
    in: 'query',
    required: false,
    schema: json(field as z.ZodType),
  }));
}
