import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { parseDuration } from '../core/duration.js';
import type { Execution, JsonValue } from '../core/types.js';
import { BadInputError, VigilError } from '../errors.js';
import { executionJson, iso, remediationJson, slotHoldJson, sweepReportJson } from '../present.js';
import type { Beat, HeartbeatResult, ReportOutcome } from '../ports/ledger-store.js';
import { lostBeat } from '../core/lost-beat.js';
import { executionNotFound, parseInput } from '../runtime/ledger.js';
import type { Service } from '../runtime/service.js';
import type { Clock } from '../ports.js';
import type { AuditStore } from '../ports/audit-store.js';
import type { ReadStore } from '../ports/read-store.js';
import { parseRegistration } from './registration-input.js';
import { idSchema, schemas } from './schemas.js';
import type { Metrics } from './metrics.js';

export interface RoutesOptions {
  service: Service;
  store: ReadStore & Pick<AuditStore, 'latestSweep' | 'listRemediations'>;
  clock: Clock;
  metrics: Metrics;
}

/** The /v1 API (docs/api.md). */
export async function registerRoutes(app: FastifyInstance, options: RoutesOptions): Promise<void> {
  const { service, store, clock, metrics } = options;
  const { ledger } = service;
  const body = <T extends z.ZodType>(schema: T, request: FastifyRequest) =>
    parseInput(schema, request.body ?? {}, 'body');
  const idOf = (request: FastifyRequest) =>
    parseInput(idSchema, (request.params as { id: string }).id, 'id');
  /**
   * Loads an execution the caller may touch. Another owner's answers 404 with the very body a
   * missing one gets, so a runner token cannot learn which ids exist or who owns them.
   */
  const owned = async (request: FastifyRequest, id: string, prefix = ''): Promise<Execution> => {
    const execution = await store.get(id);
    if (!execution || !request.caller.canSee(execution.owner)) {
      throw executionNotFound(id, prefix);
    }
    return execution;
  };

  /**
   * A `slot_taken` answer names the holder only when the caller may see it: a runner learns that
   * another owner holds the slot, not which execution (ids and owners do not leak).
   */
  const withHolderInScope = async (request: FastifyRequest, error: unknown): Promise<unknown> => {
    if (!(error instanceof VigilError) || error.code !== 'slot_taken') return error;
    const holder = (error.details as { holder?: { executionId?: string } } | undefined)?.holder;
    const execution = holder?.executionId ? await store.get(holder.executionId) : undefined;
    if (execution && request.caller.canSee(execution.owner)) return error;
    return new VigilError('slot_taken', error.message, { holder: null });
  };

  app.post('/v1/executions', async (request, reply) => {
    const input = parseRegistration(request.body ?? {}, 'body');
    const { caller } = request;
    if (!caller.isAdmin) {
      if (input.owner !== undefined && input.owner !== null)
        caller.mustOwn(input.owner, 'a new execution');
      input.owner = caller.owner;
      // A child of another owner's workflow could fail that workflow by failing itself.
      if (input.parentId !== undefined && input.parentId !== null) {
        await owned(request, input.parentId, 'parentId: ');
      }
    }
    const execution = await ledger.registerParsed(input);
    return reply.status(201).send(executionJson(execution));
  });

  app.get('/v1/executions', async (request) => {
    const query = parseInput(schemas.list, request.query, 'query');
    const { caller } = request;
    if (caller.role === 'runner') {
      if (query.owner !== undefined) caller.mustOwn(query.owner, 'listing by owner');
      query.owner = caller.owner ?? undefined;
    }
    const page = await store.list({ ...query, limit: query.limit ?? 50 });
    return { items: page.items.map(executionJson), nextCursor: page.nextCursor };
  });

  app.get('/v1/executions/:id', async (request) =>
    executionJson(await owned(request, idOf(request))),
  );

  app.post('/v1/executions/:id/start', async (request) => {
    const id = idOf(request);
    const { attempt } = body(schemas.start, request);
    await owned(request, id);
    const started = await ledger.start(id, attempt);
    return executionJson(started);
  });

  app.post('/v1/executions/:id/heartbeat', async (request) => {
    const id = idOf(request);
    const beat = body(schemas.heartbeat, request);
    if (!request.caller.isAdmin) await owned(request, id);
    const outcome = await ledger.beat({ id, ...beat });
    metrics.heartbeats.inc({ outcome: outcome.kind });
    if (outcome.kind === 'lost') {
      const { lost } = outcome;
      if (lost.status === null) throw executionNotFound(id);
      throw new VigilError(
        'lost_ownership',
        `execution ${id} attempt ${beat.attempt} is no longer running: ${lost.reason}`,
        { status: lost.status, reason: lost.reason },
      );
    }
    return { deadlineAt: iso(outcome.deadlineAt) };
  });

  app.post('/v1/heartbeats', async (request) => {
    const { beats } = body(schemas.heartbeats, request);
    const hidden = new Set<Beat>();
    if (!request.caller.isAdmin) {
      const owners = await store.ownersOf(beats.map((b) => b.id));
      for (const beat of beats) {
        if (owners.has(beat.id) && !request.caller.canSee(owners.get(beat.id) ?? null)) {
          hidden.add(beat);
        }
      }
    }
    const written = await ledger.heartbeat(beats.filter((b) => !hidden.has(b)));
    const result = withHidden(beats, hidden, written);
    metrics.heartbeats.inc({ outcome: 'ok' }, result.ok.length);
    if (result.lost.length > 0) metrics.heartbeats.inc({ outcome: 'lost' }, result.lost.length);
    return { ok: result.ok.map((b) => b.id), lost: result.lost };
  });

  app.post('/v1/executions/:id/complete', async (request) => {
    const id = idOf(request);
    const { attempt, result } = body(schemas.complete, request);
    await owned(request, id);
    return reported(await ledger.complete(id, attempt, result));
  });

  app.post('/v1/executions/:id/fail', async (request) => {
    const id = idOf(request);
    const { attempt, error, retryable } = body(schemas.fail, request);
    await owned(request, id);
    return reported(await ledger.fail(id, attempt, error, retryable ?? false));
  });

  app.post('/v1/executions/:id/cancel', async (request) => {
    const id = idOf(request);
    const { reason } = body(schemas.cancel, request);
    request.caller.mustBeAdmin();
    return executionJson(await ledger.cancel(id, reason));
  });

  app.post('/v1/executions/:id/slots', async (request) => {
    const id = idOf(request);
    const input = body(schemas.acquireSlot, request);
    await owned(request, id);
    const held = await service.slots.acquire(id, input).catch(async (error: unknown) => {
      throw await withHolderInScope(request, error);
    });
    return { slot: held.slot, attempt: held.attempt, expiresAt: iso(held.expiresAt) };
  });

  app.get('/v1/executions/:id/slots', async (request) => {
    const id = idOf(request);
    await owned(request, id);
    return { items: (await service.slots.list(id)).map(slotHoldJson) };
  });

  app.delete('/v1/executions/:id/slots/:slot', async (request) => {
    const id = idOf(request);
    const slot = parseInput(schemas.slotName, (request.params as { slot: string }).slot, 'slot');
    const { attempt } = parseInput(schemas.releaseSlot, request.query, 'query');
    await owned(request, id);
    return service.slots.release(id, slot, attempt);
  });

  app.post('/v1/sweeps', async (request) => {
    const { dryRun } = body(schemas.sweep, request);
    request.caller.mustBeAdmin();
    const result = await service.sweep({ dryRun: dryRun ?? false });
    if (result.kind === 'skipped') {
      throw new VigilError('sweep_in_progress', 'skipped: another sweep is in progress');
    }
    return sweepReportJson(result.report);
  });

  app.get('/v1/sweeps/latest', async (request) => {
    request.caller.mustReadAll();
    const report = await store.latestSweep();
    if (!report) throw new VigilError('not_found', 'no sweep has run yet');
    return sweepReportJson(report);
  });

  app.get('/v1/remediations', async (request) => {
    request.caller.mustReadAll();
    const query = parseInput(schemas.remediations, request.query, 'query');
    const items = await store.listRemediations({
      since: query.since === undefined ? undefined : sinceToMs(query.since, clock.now()),
      verdict: query.verdict,
      executionId: query.executionId,
      limit: query.limit ?? 100,
    });
    return { items: items.map(remediationJson) };
  });
}

/**
 * The batch's answer with the beats outside the caller's scope reported as the store reports an
 * id it does not have, each list still in the order the beats came.
 */
function withHidden(beats: Beat[], hidden: Set<Beat>, written: HeartbeatResult): HeartbeatResult {
  if (hidden.size === 0) return written;
  const ok = [...written.ok];
  const lost = [...written.lost];
  const result: HeartbeatResult = { ok: [], lost: [] };
  for (const beat of beats) {
    if (hidden.has(beat)) {
      result.lost.push(lostBeat(beat, undefined));
      continue;
    }
    const landed = ok[0]?.id === beat.id ? ok.shift() : undefined;
    // The store answers each beat it was given; one it did not answer is lost, as the batcher says.
    if (landed) result.ok.push(landed);
    else result.lost.push(lost.shift() ?? { id: beat.id, status: null, reason: 'no answer' });
  }
  return result;
}

/** A runner's report: the execution, or 409 with it when it had already ended. */
function reported(outcome: ReportOutcome): Record<string, JsonValue> {
  switch (outcome.kind) {
    case 'ended':
      return executionJson(outcome.execution);
    case 'not_found':
      throw new VigilError('not_found', 'execution not found');
    case 'no_such_attempt':
      throw new VigilError(
        'lost_ownership',
        `execution ${outcome.execution.id} has no such attempt; it is on attempt ${outcome.execution.attempt}`,
        {
          status: outcome.execution.status,
          reason: `it is on attempt ${outcome.execution.attempt}`,
        },
      );
    case 'late': {
      const e = outcome.execution;
      throw new VigilError(
        'already_ended',
        `execution ${e.id} was already ended by the watchdog (${e.reason ?? e.status}); ${lateFate(outcome)}`,
        { execution: e, lateResultKept: !outcome.conflict },
      );
    }
    case 'already_ended': {
      const e = outcome.execution;
      throw new VigilError('already_ended', `execution ${e.id} had already ended (${e.status})`, {
        execution: e,
      });
    }
  }
}

/** What became of a late report, truthfully: kept, or not kept because another was kept first. */
function lateFate(outcome: { conflict: boolean }): string {
  return outcome.conflict
    ? 'a different late result of this attempt was kept first, so this report was NOT kept'
    : 'the report is kept as lateResult';
}

/** `since` is an ISO time or a duration back from now ("24h"). */
export function sinceToMs(since: string, now: number): number {
  const duration = parseDuration(since);
  if (duration.ok) return now - duration.ms;
  const at = Date.parse(since);
  if (Number.isNaN(at) || !/^\d{4}-\d{2}-\d{2}/.test(since)) {
    throw new BadInputError([
      `query.since: expected an ISO time or a duration like "24h", got ${JSON.stringify(since)}`,
    ]);
  }
  return at;
}
