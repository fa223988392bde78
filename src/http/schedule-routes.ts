import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Vigil } from '../app/vigil.js';
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

/** `GET /v1/schedules` and the pings of cron jobs that never register an execution. */
export function registerScheduleRoutes(
  app: FastifyInstance,
  { vigil, store, clock }: { vigil: Vigil; store: StoreAdmin; clock: Clock },
): void {
  const watch = vigil.schedules;
  const specOf = (name: string): ScheduleSpec => {
    const spec = watch.specs.find((s) => s.name === name);
    if (spec) return spec;
    const known = watch.specs.map((s) => s.name).join(', ') || 'none';
    throw new VigilError(
      'not_found',
      `no schedule named ${JSON.stringify(name)} under "schedules:" (configured: ${known})`,
    );
  };

  app.get('/v1/schedules', async (request) => {
    request.caller.mustReadAll();
    return { items: (await watch.status()).map(scheduleJson) };
  });

  const ping = (path: string, kind: PingKind) =>
    app.post<{ Params: { name: string } }>(path, async (request) => {
      const spec = specOf(request.params.name);
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
  return {
    '/v1/schedules': {
      get: {
        summary: 'Schedules (schedules: in vigil.yaml) with their state and next due time',
        responses: {
          '200': {
            description:
              '{items: [{name, cron, tz, everyMs, graceMs, counts, state, nextDueAt, lastJudgedDueAt, lastStartAt, recent: [{dueAt, verdict, count, firstDueAt, lastStartAt, lateStartAt, judgedAt}]}]}',
          },
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
