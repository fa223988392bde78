import type { Command } from 'commander';
import { formatDuration } from '../../core/duration.js';
import type { ScheduleSpec } from '../../core/schedule-times.js';
import type { Config } from '../../config.js';
import type { ScheduleStore } from '../../ports/schedule-store.js';
import type { CliIo, GlobalOptions } from '../context.js';
import { scheduleWriteCommands } from './schedule-write.js';
import { withStore } from '../context.js';
import { relative, table } from '../format.js';

/**
 * `vigil schedules`: each schedule (of `schedules:`, and those defined through the API) with its
 * next due time, last start and state; `vigil schedules set|rm` defines and deletes schedules in
 * the database, as `PUT` and `DELETE /v1/schedules/NAME` do (a running service follows at its next
 * pass).
 */
export function schedulesCommand(program: Command, io: CliIo): void {
  const schedules = program
    .command('schedules')
    .description(
      'schedules (schedules: in vigil.yaml, and those defined through the API): next due time, last start seen, state',
    )
    .option('--json', 'print the schedules as JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      const [{ scheduleJson }, { scheduleStatuses }] = await Promise.all([
        import('../../http/schedule-routes.js'),
        import('../../runtime/schedule-watch.js'),
      ]);
      await withStore(
        io,
        command.optsWithGlobals<GlobalOptions>(),
        async (store, config) => {
          const now = io.clock.now();
          const statuses = await scheduleStatuses(
            await allSpecs(config, store.schedules(), io),
            store.schedules(),
            now,
          );
          if (options.json) {
            io.out(JSON.stringify({ items: statuses.map(scheduleJson) }, null, 2));
            return;
          }
          if (statuses.length === 0) {
            io.out(
              `no schedules under "schedules:" in ${config.source}, none defined through the API`,
            );
            return;
          }
          io.out(
            table([
              ['NAME', 'SOURCE', 'WHEN', 'GRACE', 'STATE', 'NEXT DUE', 'LAST START'],
              ...statuses.map((s) => [
                s.spec.name,
                s.spec.source,
                when(s.spec),
                formatDuration(s.spec.graceMs),
                s.state,
                relative(s.nextDueAt, now),
                relative(s.lastStartAt, now),
              ]),
            ]),
          );
        },
        { access: 'read' },
      );
    });
  scheduleWriteCommands(schedules, io);
}

/** vigil.yaml's schedules, then those defined through the API (a stored one in error is left out). */
async function allSpecs(config: Config, store: ScheduleStore, io: CliIo): Promise<ScheduleSpec[]> {
  const { apiScheduleSpecs } = await import('../../app/schedules.js');
  const api = await apiScheduleSpecs(config, store, (error, where) =>
    io.err(`vigil: ${where}: ${(error as Error).message}`),
  )();
  const configured = Object.values(config.schedules);
  return [...configured, ...api.filter((spec) => !Object.hasOwn(config.schedules, spec.name))];
}

function when(spec: ScheduleSpec): string {
  const { timing } = spec;
  return timing.kind === 'cron'
    ? `${timing.cron} (${timing.tz})`
    : `every ${formatDuration(timing.everyMs)}`;
}
