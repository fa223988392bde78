/**
 * Silences, maintenance windows and the pause over HTTP: `POST/GET /v1/silences`,
 * `DELETE /v1/silences/:id` (expire), `GET /v1/pause`, `POST /v1/pause`, `POST /v1/resume`. The
 * admin changes them; a viewer reads them (runner tokens neither).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import * as z from 'zod';
import type { PauseState, Silence } from '../core/silence.js';
import { stateOf } from '../core/silence.js';
import { checkSilence } from '../core/silence-input.js';
import type { JsonValue } from '../core/types.js';
import { BadInputError, VigilError } from '../errors.js';
import type { Clock } from '../ports.js';
import type { StoreAdmin } from '../ports/store-admin.js';
import { iso } from '../present.js';
import { parseInput } from '../runtime/ledger.js';

export const silencesQuery = z.strictObject({
  /** Also those that have ended (expired or past their end), newest first. */
  all: z.enum(['true', 'false']).optional(),
  limit: z.coerce.number().int().min(1).max(1_000).optional(),
});

export const pauseBody = z.strictObject({
  by: z.string().min(1).max(200).optional(),
  comment: z.string().max(2_000).optional(),
});

/** A silence as the API shows it, with whether it is active now. */
export function silenceJson(s: Silence, now: number): Record<string, JsonValue> {
  return {
    id: s.id,
    matchers: s.matchers as Record<string, string[]>,
    startsAt: iso(s.startsAt),
    endsAt: iso(s.endsAt),
    createdBy: s.createdBy,
    comment: s.comment,
    maintenance: s.maintenance,
    createdAt: iso(s.createdAt),
    expiredAt: iso(s.expiredAt),
    origin: s.origin,
    state: stateOf(s, now),
  };
}

export function pauseJson(state: PauseState | null): Record<string, JsonValue> {
  return state
    ? { paused: true, since: iso(state.since), by: state.by, comment: state.comment }
    : { paused: false, since: null, by: null, comment: null };
}

export function registerSilenceRoutes(
  app: FastifyInstance,
  options: {
    store: Pick<StoreAdmin, 'silences'>;
    clock: Clock;
    config: { silences?: readonly Silence[] | undefined };
  },
): void {
  const silences = options.store.silences();
  const configured = options.config.silences ?? [];

  app.post('/v1/silences', async (request, reply) => {
    request.caller.mustBeAdmin();
    const now = options.clock.now();
    const checked = checkSilence(request.body ?? {}, now);
    if (!checked.ok) throw new BadInputError(checked.errors.map((e) => `body.${e}`));
    const silence: Silence = {
      ...checked.value,
      id: randomUUID(),
      createdAt: now,
      expiredAt: null,
      origin: 'store',
    };
    await silences.createSilence(silence);
    return reply.status(201).send(silenceJson(silence, now));
  });

  app.get('/v1/silences', async (request) => {
    request.caller.mustReadAll();
    const query = parseInput(silencesQuery, request.query, 'query');
    const now = options.clock.now();
    const all = query.all === 'true';
    const stored = await silences.listSilences({
      activeAt: all ? undefined : now,
      limit: query.limit ?? 100,
    });
    const fromFile = configured.filter((s) => all || s.endsAt > now);
    return { items: [...fromFile, ...stored].map((s) => silenceJson(s, now)) };
  });

  app.delete('/v1/silences/:id', async (request) => {
    request.caller.mustBeAdmin();
    const { id } = request.params as { id: string };
    const now = options.clock.now();
    if (configured.some((s) => s.id === id)) {
      throw new VigilError(
        'invalid_transition',
        `silence ${id} comes from vigil.yaml: remove it there (expected the id of a silence created through the API or the CLI)`,
      );
    }
    const expired = await silences.expireSilence(id, now);
    if (!expired) throw new VigilError('not_found', `no silence ${JSON.stringify(id)}`);
    return silenceJson(expired, now);
  });

  app.get('/v1/pause', async (request) => {
    request.caller.mustReadAll();
    return pauseJson(await silences.pauseState());
  });

  app.post('/v1/pause', async (request) => {
    request.caller.mustBeAdmin();
    const input = parseInput(pauseBody, request.body ?? {}, 'body');
    const state = await silences.pause({
      since: options.clock.now(),
      by: input.by ?? 'api',
      comment: input.comment ?? '',
    });
    return pauseJson(state);
  });

  app.post('/v1/resume', async (request) => {
    request.caller.mustBeAdmin();
    const ended = await silences.resume();
    return { ...pauseJson(null), resumed: ended !== null };
  });
}

/** The OpenAPI paths of these routes, merged into the document by openapi.ts. */
export function silenceRoutesOpenApi(
  json: (schema: z.ZodType) => unknown,
  query: (schema: z.ZodObject) => unknown[],
): Record<string, unknown> {
  const errors = {
    '400': { description: 'bad_input, naming the field' },
    '401': { description: 'missing or invalid token' },
    '403': { description: 'not allowed for this token' },
    '503': { description: 'store_unavailable' },
  };
  const pause = {
    description: '{paused, since, by, comment}',
  };
  return {
    '/v1/silences': {
      post: {
        summary:
          'Create a silence (mutes notifications) or, with maintenance: true, a maintenance window (also holds back destructive actions)',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['matchers', 'createdBy', 'comment'],
                properties: {
                  matchers: {
                    type: 'object',
                    description: 'kind, owner, source, verdict: each a string or a list of strings',
                  },
                  startsAt: { description: 'ISO-8601 time or ms since the epoch; default now' },
                  endsAt: { description: 'ISO-8601 time or ms since the epoch' },
                  duration: { description: 'instead of endsAt: "2h", or milliseconds' },
                  createdBy: { type: 'string' },
                  comment: { type: 'string' },
                  maintenance: { type: 'boolean', default: false },
                },
              },
            },
          },
        },
        responses: { '201': { description: 'the silence' }, ...errors },
      },
      get: {
        summary: 'Silences not ended yet (all=true: every one), newest first',
        parameters: query(silencesQuery),
        responses: { '200': { description: '{items}' }, ...errors },
      },
    },
    '/v1/silences/{id}': {
      delete: {
        summary: 'Expire a silence now',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {
          '200': { description: 'the silence, ended' },
          '404': { description: 'not_found' },
          '409': { description: 'invalid_transition: a window of vigil.yaml' },
          ...errors,
        },
      },
    },
    '/v1/pause': {
      get: { summary: 'Whether Vigil is paused', responses: { '200': pause, ...errors } },
      post: {
        summary: 'Pause: observe only, no destructive action anywhere, until resumed',
        requestBody: {
          required: false,
          content: { 'application/json': { schema: json(pauseBody) } },
        },
        responses: { '200': pause, ...errors },
      },
    },
    '/v1/resume': {
      post: {
        summary: 'Resume after a pause',
        responses: { '200': { description: '{paused: false, resumed}' }, ...errors },
      },
    },
  };
}
