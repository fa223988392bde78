import type { FastifyInstance } from 'fastify';
import * as z from 'zod';
import type { StatsKey } from '../core/stats-query.js';
import {
  DEFAULT_STATS_LIMIT,
  MAX_STATS_LIMIT,
  parseStatsBy,
  statsKeyName,
  statsWindow,
} from '../core/stats-query.js';
import { BadInputError } from '../errors.js';
import type { Clock } from '../ports.js';
import type { ReadStore, Stats, StatsGroup } from '../ports/read-store.js';
import { parseInput } from '../runtime/ledger.js';

export { DEFAULT_STATS_LIMIT, MAX_STATS_LIMIT } from '../core/stats-query.js';

export const statsQuerySchema = z.strictObject({
  since: z.string().max(100).optional(),
  from: z.string().max(100).optional(),
  to: z.string().max(100).optional(),
  by: z.string().max(300).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_STATS_LIMIT).optional(),
});

/** What a stats request asks for, resolved at `now`; errors name the field under `prefix`. */
export function statsRequest(
  input: { since?: string; from?: string; to?: string; by?: string; limit?: number },
  now: number,
  name: (field: string) => string,
): { from: number; to: number; by: StatsKey[]; limit: number } {
  const window = statsWindow(input, now);
  if (!window.ok) throw new BadInputError([`${name(window.field)}: ${window.error}`]);
  const by = parseStatsBy(input.by ?? 'kind');
  if (!by.ok) throw new BadInputError([`${name('by')}: ${by.error}`]);
  return {
    from: window.from,
    to: window.to,
    by: by.keys,
    limit: input.limit ?? DEFAULT_STATS_LIMIT,
  };
}

/** The JSON of a stats answer: each group's key by name, durations in ms. */
export function statsJson(stats: Stats, request: { from: number; to: number; by: StatsKey[] }) {
  const names = request.by.map(statsKeyName);
  return {
    from: new Date(request.from).toISOString(),
    to: new Date(request.to).toISOString(),
    by: names,
    totalStuck: stats.totalStuck,
    totalGroups: stats.totalGroups,
    groups: stats.groups.map((group: StatsGroup) => ({
      key: Object.fromEntries(names.map((n, i) => [n, group.key[i] ?? null])),
      stuck: group.stuck,
      verdicts: group.verdicts,
      ended: group.ended,
      retried: group.retried,
      deadLettered: group.deadLettered,
      leftAlone: group.leftAlone,
      failed: group.failed,
      ranMs: group.ran,
      lateMs: group.late,
    })),
  };
}

/**
 * `GET /v1/stats`: who gets stuck most often. Stuck detections in the audit over a window (`since`,
 * default 24h, or `from`/`to`), grouped `by` kind, owner, source, verdict or `label:NAME`, most
 * first. A runner token sees only its owner's decisions.
 */
export function registerStatsRoutes(
  app: FastifyInstance,
  options: {
    store: Pick<ReadStore, 'stats'>;
    clock: Clock;
    config: { tables: Readonly<Record<string, { labels: readonly string[] }>> };
  },
): void {
  // The labels mapped tables keep with their decisions: what else the answer can be grouped by.
  const labels = [
    ...new Set(Object.values(options.config.tables).flatMap((table) => table.labels)),
  ].sort();
  app.get('/v1/stats', async (request) => {
    const query = parseInput(statsQuerySchema, request.query, 'query');
    const resolved = statsRequest(query, options.clock.now(), (field) => `query.${field}`);
    const { caller } = request;
    const stats = await options.store.stats({
      ...resolved,
      owner: caller.isAdmin ? undefined : (caller.owner ?? undefined),
    });
    return { ...statsJson(stats, resolved), labels };
  });
}
