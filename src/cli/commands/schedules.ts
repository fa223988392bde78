import type { Command } from 'commander';
import { formatDuration } from '../../core/duration.js';
import type { ScheduleSpec } from '../../core/schedule-times.js';
import type { CliIo, GlobalOptions } from '../context.js';
import { withStore } from '../context.js';
import { relative, table } from '../format.js';

/** `vigil schedules`: each schedule of `schedules:` with its next due time, last start and state. */
export function schedulesCommand(program: Command, io: CliIo): void {
  program
    .command('schedules')
    .description('schedules (schedules: in vigil.yaml): next due time, last start seen, state')
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
            Object.values(config.schedules),
            store.schedules(),
            now,
          );
          if (options.json) {
            io.out(JSON.stringify({ items: statuses.map(scheduleJson) }, null, 2));
            return;
          }
          if (statuses.length === 0) {
            io.out(`no schedules under "schedules:" in ${config.source}`);
            return;
          }
          io.out(
            table([
              ['NAME', 'WHEN', 'GRACE', 'STATE', 'NEXT DUE', 'LAST START'],
              ...statuses.map((s) => [
                s.spec.name,
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
}

function when(spec: ScheduleSpec): string {
  const { timing } = spec;
  return timing.kind === 'cron'
    ? `${timing.cron} (${timing.tz})`
    : `every ${formatDuration(timing.everyMs)}`;
}
