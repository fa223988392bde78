import type { Command } from 'commander';
import { formatDuration } from '../../core/duration.js';
import { DEFAULT_STATS_LIMIT, MAX_STATS_LIMIT, statsKeyName } from '../../core/stats-query.js';
import { BadInputError } from '../../errors.js';
import type { StatsDurations, StatsGroup } from '../../ports/read-store.js';
import type { CliIo, GlobalOptions } from '../context.js';
import { withStore } from '../context.js';
import { table } from '../format.js';

interface StatsOptions {
  since?: string;
  from?: string;
  to?: string;
  by: string;
  limit?: string;
  json?: boolean;
}

/**
 * `vigil stats`: which kinds, owners, sources or labels get stuck most often, from the audit.
 * Read-only like `vigil ls`: it never migrates nor writes the database.
 */
export function statsCommand(program: Command, io: CliIo): void {
  program
    .command('stats')
    .description('who gets stuck most often: stuck detections over a window, grouped and counted')
    .option('--since <duration>', 'how far back, e.g. 24h or 7d, or an ISO time (default 24h)')
    .option('--from <time>', 'from this ISO time instead of --since')
    .option('--to <time>', 'up to this ISO time (default now)')
    .option('--by <keys>', 'kind, owner, source, verdict, label:NAME, with commas', 'kind')
    .option(
      '--limit <n>',
      `the top n groups, 1-${MAX_STATS_LIMIT} (default ${DEFAULT_STATS_LIMIT})`,
    )
    .option('--json', 'print JSON (the answer of GET /v1/stats)')
    .action(async (options: StatsOptions, command: Command) => {
      const { statsJson, statsRequest } = await import('../../http/stats-routes.js');
      const request = statsRequest(
        { ...options, limit: limitOf(options.limit) },
        io.clock.now(),
        (field) => `--${field}`,
      );
      await withStore(
        io,
        command.optsWithGlobals<GlobalOptions>(),
        async (store) => {
          const stats = await store.stats(request);
          if (options.json) {
            io.out(JSON.stringify(statsJson(stats, request), null, 2));
            return;
          }
          const window = `${new Date(request.from).toISOString()} to ${new Date(request.to).toISOString()}`;
          if (stats.groups.length === 0) {
            io.out(`no stuck executions from ${window}`);
            return;
          }
          io.out(
            table([
              [
                ...request.by.map((key) => statsKeyName(key).toUpperCase()),
                'STUCK',
                'ENDED',
                'RETRIED',
                'DEAD',
                'LEFT',
                'FAILED',
                'RAN p50/p95/max',
                'LATE p50/p95/max',
                'VERDICTS',
              ],
              ...stats.groups.map((group) => row(group)),
            ]),
          );
          const shown =
            stats.totalGroups > stats.groups.length
              ? `; top ${stats.groups.length} of ${stats.totalGroups} groups`
              : '';
          io.out(`\n${stats.totalStuck} stuck from ${window}${shown}`);
        },
        { access: 'read' },
      );
    });
}

function row(group: StatsGroup): string[] {
  return [
    ...group.key.map((value) => value ?? '-'),
    String(group.stuck),
    String(group.ended),
    String(group.retried),
    String(group.deadLettered),
    String(group.leftAlone),
    String(group.failed),
    durations(group.ran),
    durations(group.late),
    Object.entries(group.verdicts)
      .map(([verdict, n]) => `${verdict} ${n}`)
      .join(', '),
  ];
}

const durations = (d: StatsDurations): string =>
  [d.p50, d.p95, d.max].map((ms) => (ms === null ? '-' : formatDuration(ms))).join(' / ');

function limitOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > MAX_STATS_LIMIT) {
    throw new BadInputError([
      `--limit: expected a whole number 1-${MAX_STATS_LIMIT}, got ${JSON.stringify(value)}`,
    ]);
  }
  return n;
}
