import type { FastifyInstance } from 'fastify';
import * as z from 'zod';
import { deleteSchedule, putSchedule } from '../app/schedules.js';
import type { Vigil } from '../app/vigil.js';
import type { Config } from '../config.js';
import type { ScheduleSpec } from '../core/schedule-times.js';
import { VigilError } from '../errors.js';
import type { Clock } from '../ports.js';
import type { PingKind } from '../ports/schedule-store.js';
import type { StoreAdmin } from '../ports/store-admin.js';
import { iso } from '../present.js';
import type { ScheduleStatus } from '../runtime/schedule-watch.js';

const pingBody = z
  .strictObject({ message: z.string().max(1_000).optional() })
  .nullish()
  .transform((body) => body ?? {});

/**
 * `GET /v1/schedules`, schedules defined through the API (`PUT`, `DELETE /v1/schedules/:name`),
 * and the pings of cron jobs that never register an execution.
 */
export function registerScheduleRoutes(
  app: FastifyInstance,
  {
    vigil,
    store,
    clock,
    config,
  }: { vigil: Vigil; store: StoreAdmin; clock: Clock; config: Config },
): void {
  const watch = vigil.schedules;
  const specOf = async (name: string): Promise<ScheduleSpec> => {
    const specs = await watch.load();
    const spec = specs.find((s) => s.name === name);
    if (spec) return spec;
    const known = specs.map((s) => s.name).join(', ') || 'none';
    throw new VigilError(
      'not_found',
      `no schedule named ${JSON.stringify(name)} in "schedules:" or defined through the API (known: ${known})`,
    );
  };

  app.get('/v1/schedules', async (request) => {
    request.caller.mustReadAll();
    return { items: (await watch.status()).map(scheduleJson) };
  });

  app.put<{ Params: { name: string } }>('/v1/schedules/:name', async (request, reply) => {
    request.caller.mustBeAdmin();
    const { name } = request.params;
    const now = clock.now();
    const { created } = await putSchedule(
      config,
      store.schedules(),
      name,
      request.body ?? {},
      now,
      'body',
    );
    watch.changed();
    const status = (await watch.status()).find((s) => s.spec.name === name);
    return reply.status(created ? 201 : 200).send(status ? scheduleJson(status) : { name });
  });

  app.delete<{ Params: { name: string } }>('/v1/schedules/:name', async (request) => {
    request.caller.mustBeAdmin();
    const { name } = request.params;
    await deleteSchedule(config, store.schedules(), name);
    watch.changed();
    return { name, deleted: true };
  });

  const ping = (path: string, kind: PingKind) =>
    app.post<{ Params: { name: string } }>(path, async (request) => {
      const spec = await specOf(request.params.name);
      // A runner token may ping the schedules counted by its owner; the admin token any.
      if (!request.caller.isAdmin)
        request.caller.mustOwn(spec.counts.owner, `schedule ${spec.name}`);
      const { message } = pingBody.parse(request.body);
      const at = clock.now();
      await store.schedules().recordPing(spec.name, kind, at);
      if (kind === 'fail') {
        vigil.service.events.emit({
          type: 'schedule:failed',
          at,
          schedule: spec.name,
          reason: message ?? 'the run reported a failure',
        });
      }
      // A run that starts after a miss is late: noticed now rather than at the next pass.
      void watch.pass();
      return { schedule: spec.name, ping: kind, at: iso(at) };
    });
  ping('/v1/schedules/:name/ping', 'success');
  ping('/v1/schedules/:name/start', 'start');
  ping('/v1/schedules/:name/fail', 'fail');
}

/** A schedule as the API shows it. */
export function scheduleJson(status: ScheduleStatus) {
  const { spec } = status;
  return {
    name: spec.name,
    source: spec.source,
    cron: spec.timing.kind === 'cron' ? spec.timing.cron : null,
    tz: spec.timing.kind === 'cron' ? spec.timing.tz : null,
    everyMs: spec.timing.kind === 'every' ? spec.timing.everyMs : null,
    graceMs: spec.graceMs,
    counts: spec.counts,
    state: status.state,
    nextDueAt: iso(status.nextDueAt),
    lastJudgedDueAt: iso(status.lastJudgedDueAt),
    lastStartAt: iso(status.lastStartAt),
    recent: status.recent.map((v) => ({
      dueAt: iso(v.dueAt),
      verdict: v.verdict,
      count: v.evidence.count,
      firstDueAt: iso(v.evidence.firstDueAt),
      lastStartAt: iso(v.evidence.lastStartAt),
      lateStartAt: iso(v.lateStartAt),
      judgedAt: iso(v.judgedAt),
    })),
  };
}

/** The OpenAPI paths of these routes, merged into the document by openapi.ts. */
export function scheduleRoutesOpenApi(): Record<string, unknown> {
  const errors = {
    '401': { description: 'missing or invalid token' },
    '403': { description: 'not allowed for this token' },
  };
  const pingOp = (summary: string) => ({
    post: {
      summary,
      parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
      requestBody: {
        required: false,
        content: {
          'application/json': {
            schema: { type: 'object', properties: { message: { type: 'string' } } },
          },
        },
      },
      responses: {
        '200': { description: '{schedule, ping, at}' },
        '404': { description: 'not_found: no such schedule' },
        ...errors,
      },
    },
  });
  const name = [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }];
  const duration = { type: 'string', description: 'a duration with its unit: 30s, 10m, 2h' };
  return {
    '/v1/schedules': {
      get: {
        summary:
          'Schedules (schedules: in vigil.yaml, and those defined through the API) with their state and next due time',
        responses: {
          '200': {
            description:
              '{items: [{name, source: config|api, cron, tz, everyMs, graceMs, counts: {kind, owner, table}, state, nextDueAt, lastJudgedDueAt, lastStartAt, recent: [{dueAt, verdict, count, firstDueAt, lastStartAt, lateStartAt, judgedAt}]}]}',
          },
          ...errors,
        },
      },
    },
    '/v1/schedules/{name}': {
      put: {
        summary:
          'Define or replace a schedule (the keys of vigil.yaml); a new or retimed one is judged from its next due time on',
        parameters: name,
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                additionalProperties: false,
                properties: {
                  cron: {
                    type: 'string',
                    description: 'a cron expression (exactly one of cron, every)',
                  },
                  tz: { type: 'string', description: 'IANA time zone of cron; default UTC' },
                  every: duration,
                  grace: duration,
                  kind: { type: 'string' },
                  owner: { type: 'string' },
                  table: { type: 'string', description: 'a mapped table under tables:' },
                },
              },
            },
          },
        },
        responses: {
          '200': { description: 'replaced: the schedule as GET /v1/schedules shows it' },
          '201': { description: 'created: the schedule as GET /v1/schedules shows it' },
          '400': {
            description: 'bad_input: each problem names its key (body.cron: expected …, got …)',
          },
          '409': { description: 'invalid_transition: the schedule is defined in vigil.yaml' },
          ...errors,
        },
      },
      delete: {
        summary: 'Delete a schedule defined through the API (its verdicts stay until retention)',
        parameters: name,
        responses: {
          '200': { description: '{name, deleted: true}' },
          '404': { description: 'not_found: no schedule of that name defined through the API' },
          '409': { description: 'invalid_transition: the schedule is defined in vigil.yaml' },
          ...errors,
        },
      },
    },
    '/v1/schedules/{name}/ping': pingOp('A run of the schedule happened (counts as a start)'),
    '/v1/schedules/{name}/start': pingOp('A run of the schedule starts now'),
    '/v1/schedules/{name}/fail': pingOp(
      'A run of the schedule failed (counts as a start; announces schedule:failed)',
    ),
  };
}
