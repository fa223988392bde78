import type { FastifyInstance } from 'fastify';
import * as z from 'zod';
import { parseDuration } from '../core/duration.js';
import { BadInputError } from '../errors.js';
import { executionJson, iso } from '../present.js';
import type { Clock } from '../ports.js';
import type { ReadStore } from '../ports/read-store.js';
import { parseInput } from '../runtime/ledger.js';
import { sinceToMs } from './routes.js';

/** More bars than this cannot be drawn legibly, and would make the query answer grow unbounded. */
export const MAX_BUCKETS = 500;
const DEFAULT_SINCE = '24h';
/** Widths the default bucket is chosen from: the smallest giving at most 48 bars. */
const NICE_BUCKETS_MS = [1, 5, 15, 30, 60, 180, 360, 720, 1_440, 10_080].map((m) => m * 60_000);

export const summaryQuerySchema = z.strictObject({
  since: z.string().max(100).optional(),
  bucket: z.string().max(100).optional(),
  dueSoon: z.coerce.number().int().min(0).max(500).optional(),
});

/**
 * `GET /v1/summary`: what the dashboard shows at a glance. Executions by status, remediations by
 * verdict since `since` (an ISO time or a duration back from now, default 24h), the same as a
 * timeline of `bucket`-wide bars, and the open executions nearest their deadline.
 */
export function registerSummaryRoutes(
  app: FastifyInstance,
  options: { store: Pick<ReadStore, 'summary'>; clock: Clock },
): void {
  app.get('/v1/summary', async (request) => {
    request.caller.mustReadAll();
    const query = parseInput(summaryQuerySchema, request.query, 'query');
    const now = options.clock.now();
    const { since, bucketMs } = window(query, now);
    const summary = await options.store.summary({
      since,
      now,
      bucketMs,
      dueSoonLimit: query.dueSoon ?? 50,
    });
    return {
      now: iso(now),
      since: iso(since),
      bucketMs,
      statuses: summary.statuses,
      verdicts: summary.verdicts,
      timeline: summary.timeline.map((b) => ({ start: iso(b.start), counts: b.counts })),
      dueSoon: summary.dueSoon.map(executionJson),
    };
  });
}

function window(
  query: z.output<typeof summaryQuerySchema>,
  now: number,
): { since: number; bucketMs: number } {
  const since = sinceToMs(query.since ?? DEFAULT_SINCE, now);
  if (since >= now) {
    throw new BadInputError([
      `query.since: expected a moment in the past, got ${JSON.stringify(query.since)}`,
    ]);
  }
  const span = now - since;
  if (query.bucket === undefined) {
    const bucketMs =
      NICE_BUCKETS_MS.find((ms) => span / ms <= 48) ?? Math.ceil(span / 48 / 60_000) * 60_000;
    return { since, bucketMs };
  }
  const bucket = parseDuration(query.bucket);
  if (!bucket.ok) throw new BadInputError([`query.bucket: ${bucket.error}`]);
  if (bucket.ms < 1_000) {
    throw new BadInputError([
      `query.bucket: expected at least 1s, got ${JSON.stringify(query.bucket)}`,
    ]);
  }
  const buckets = Math.ceil(span / bucket.ms);
  if (buckets > MAX_BUCKETS) {
    throw new BadInputError([
      `query.bucket: ${JSON.stringify(query.bucket)} makes ${buckets} buckets since ${iso(since)}; at most ${MAX_BUCKETS}`,
    ]);
  }
  return { since, bucketMs: bucket.ms };
}
