/**
 * `vigil schedules set|rm`: schedules defined in the database, checked and stored exactly as
 * `PUT` and `DELETE /v1/schedules/NAME` do; a running service (every replica) follows at its next
 * pass. Schedules of vigil.yaml are refused: the file decides those.
 */
import type { Command } from 'commander';
import { BadInputError } from '../../errors.js';
import type { CliIo, GlobalOptions } from '../context.js';
import { withStore } from '../context.js';

interface SetOptions {
  cron?: string | undefined;
  tz?: string | undefined;
  every?: string | undefined;
  grace?: string | undefined;
  kind?: string | undefined;
  owner?: string | undefined;
  table?: string | undefined;
  json?: boolean | undefined;
}

const KEYS = ['cron', 'tz', 'every', 'grace', 'kind', 'owner', 'table'] as const;

export function scheduleWriteCommands(schedules: Command, io: CliIo): void {
  schedules
    .command('set <name>')
    .description('define or replace a schedule in the database (the keys of vigil.yaml)')
    .option('--cron <expression>', "a cron expression ('0 3 * * *'); or --every")
    .option('--tz <zone>', 'the cron expression’s IANA time zone (default UTC)')
    .option('--every <duration>', 'a period (10m); or --cron')
    .option('--grace <duration>', 'how late a run may start and still be on time (default 5m)')
    .option('--kind <kind>', 'ledger executions (and table rows) of this kind count as runs')
    .option('--owner <owner>', 'ledger executions (and table rows) of this owner count as runs')
    .option('--table <name>', 'the rows of this mapped table (tables:) count as runs')
    .option('--json', 'print the schedule as JSON')
    .action(async (name: string, options: SetOptions, command: Command) => {
      const body: Record<string, string> = {};
      for (const key of KEYS) {
        const value = options[key];
        if (value !== undefined) body[key] = value;
      }
      const { putSchedule } = await import('../../app/schedules.js');
      await withStore(io, command.optsWithGlobals<GlobalOptions>(), async (store, config) => {
        const now = io.clock.now();
        const { created, spec } = await putSchedule(
          config,
          store.schedules(),
          name,
          body,
          now,
          'body',
        ).catch((error: unknown) => {
          throw error instanceof BadInputError
            ? new BadInputError(error.problems.map(toFlag))
            : error;
        });
        // --json may be taken by `vigil schedules` itself, which has the same option.
        if (!command.optsWithGlobals<SetOptions>().json) {
          io.out(`${created ? 'created' : 'replaced'} schedule ${name}`);
          return;
        }
        const [{ scheduleJson }, { scheduleStatuses }] = await Promise.all([
          import('../../http/schedule-routes.js'),
          import('../../runtime/schedule-watch.js'),
        ]);
        const [status] = await scheduleStatuses([spec], store.schedules(), now);
        if (status) io.out(JSON.stringify(scheduleJson(status), null, 2));
      });
    });

  schedules
    .command('rm <name>')
    .description('delete a schedule defined in the database (its verdicts stay until retention)')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, _options: unknown, command: Command) => {
      const { deleteSchedule } = await import('../../app/schedules.js');
      await withStore(io, command.optsWithGlobals<GlobalOptions>(), async (store, config) => {
        await deleteSchedule(config, store.schedules(), name);
      });
      const { json } = command.optsWithGlobals<{ json?: boolean }>();
      io.out(json ? JSON.stringify({ name, deleted: true }) : `deleted schedule ${name}`);
    });
}

/** A problem named by its body key (`body.cron: …`), named by its flag instead (`--cron: …`). */
function toFlag(problem: string): string {
  const match = /^body(?:\.(\w+))?: /.exec(problem);
  if (!match) return problem;
  const flag = match[1] === undefined ? '--cron/--every' : `--${match[1]}`;
  return `${flag}: ${problem.slice(match[0].length)}`;
}
