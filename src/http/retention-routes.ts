import type { FastifyInstance } from 'fastify';
import * as z from 'zod';
import { iso } from '../present.js';
import type { PruneReport } from '../runtime/retention.js';
import { parseInput } from '../runtime/ledger.js';
import type { Service } from '../runtime/service.js';

const pruneBody = z.strictObject({ dryRun: z.boolean().optional() });

function reportJson(report: PruneReport) {
  return {
    dryRun: report.dryRun,
    skipped: report.tables === null,
    tables: (report.tables ?? []).map((t) => ({
      table: t.table,
      before: iso(t.before),
      rows: t.rows,
    })),
  };
}

/**
 * `GET /v1/retention`: how long each kind of record is kept, what this process pruned, its last
 * pass, whether one is under way, and whether this caller may run one (admin and viewer tokens:
 * the dashboard offers its prune buttons by `canPrune`). `POST /v1/retention/prune`: a pass now
 * (`{"dryRun": true}` only counts); admin only.
 */
export function registerRetentionRoutes(app: FastifyInstance, service: Service): void {
  app.get('/v1/retention', async (request) => {
    request.caller.mustReadAll();
    const { settings, totals, lastPass } = service.pruner;
    return {
      keepMs: settings.keepMs,
      intervalMs: settings.intervalMs,
      batchSize: settings.batchSize,
      prunedSinceStart: totals,
      lastPass: lastPass && { at: iso(lastPass.at), ...reportJson(lastPass.report) },
      running: service.pruneUnderWay,
      canPrune: request.caller.isAdmin,
    };
  });
  app.post('/v1/retention/prune', async (request) => {
    request.caller.mustBeAdmin();
    const body = parseInput(pruneBody, request.body ?? {}, 'body');
    return reportJson(await service.prune(body.dryRun ?? false));
  });
}

export function retentionRoutesOpenApi(): Record<string, unknown> {
  const errors = {
    '401': { description: 'missing or invalid token' },
    '403': { description: 'not allowed for this token (admin only)' },
    '503': { description: 'store_unavailable' },
  };
  return {
    '/v1/retention': {
      get: {
        summary: 'How long each kind of record is kept, and what was pruned',
        responses: {
          '200': {
            description:
              '{keepMs: {executions, remediations, sweeps, notifications, processRecoveries, scheduleVerdicts, schedulePings, silences} (ms; null: forever), intervalMs, batchSize, prunedSinceStart (rows per table), lastPass: {at, dryRun, skipped, tables} or null, running (a pass under way in this process), canPrune (whether this token may run one: admin)}',
          },
          ...errors,
        },
      },
    },
    '/v1/retention/prune': {
      post: {
        summary: 'Run a retention pass now ({"dryRun": true} only counts)',
        requestBody: {
          required: false,
          content: {
            'application/json': { schema: z.toJSONSchema(pruneBody, { io: 'input' }) },
          },
        },
        responses: {
          '200': { description: '{dryRun, skipped, tables: [{table, before, rows}]}' },
          '400': { description: 'bad_input, naming the field' },
          ...errors,
        },
      },
    },
  };
}
