import type { Command } from 'commander';
import type { CliIo, GlobalOptions } from '../context.js';
import type { ProbeOptions } from './probe-specs.js';

export { PROBE_EXIT } from './probe-output.js';

const collect = (value: string, previous: string[]) => [...previous, value];

export function probeCommand(program: Command, io: CliIo, done: (code: number) => void): void {
  program
    .command('probe')
    .description(
      'watch a health endpoint and operations (from the flags, or probes: and operations: in vigil.yaml); with --exit-on-failure exit 1 when failing, 2 when an operation is stuck, 3 when the watchdog itself fails',
    )
    .argument('[url]', 'the health endpoint (http:// or https://); without it, vigil.yaml is read')
    .option('--interval <duration>', 'time between checks (default 10s)')
    .option('--timeout <duration>', 'longest wait for an answer (default 5s, at most the interval)')
    .option(
      '--failures <n>',
      'consecutive failed checks before the endpoint is failing (default 3)',
    )
    .option('--successes <n>', 'consecutive passed checks to recover (default 1)')
    .option(
      '--expect-status <codes>',
      'accepted statuses, comma-separated: 200,204 or 2xx (default 2xx)',
    )
    .option('--expect-body <text>', 'a substring the body must contain, or /regex/flags')
    .option(
      '--exit-on-failure',
      'exit 1 when the endpoint is failing, 2 when an operation is stuck, 3 on an internal error',
    )
    .option('--once', 'check everything once and exit: 0 healthy, 1 failing, 2 stuck')
    .option('--json', 'print one JSON object per check and per event')
    .option('--operations <url>', 'also watch this list of operations for stuck ones')
    .option(
      '--operation-url <template>',
      'read each operation from its own URL, {id} being its id (with --operation-id)',
    )
    .option(
      '--operation-id <id>',
      'watch only this operation (repeatable)',
      collect,
      [] as string[],
    )
    .option(
      '--items <path>',
      'where the array is in the answer, e.g. $.data.operations (default $)',
    )
    .option('--id <field>', 'id field of each operation (default id)')
    .option('--status <field>', 'status field of each operation (default status)')
    .option('--last-update <field>', 'last-update field: ISO time or epoch s/ms (default: none)')
    .option(
      '--running <values>',
      'status values meaning running, comma-separated (default running)',
    )
    .option('--limit <duration>', 'longest time a running operation may go without a state change')
    .action(async (url: string | undefined, given: ProbeOptions, command: Command) => {
      // The schemas and the watchers are loaded when the command runs, not when `vigil` starts.
      const [{ specsFromConfig, specsFromFlags }, { checkOnce, watch }] = await Promise.all([
        import('./probe-specs.js'),
        import('./probe-watch.js'),
      ]);
      const { probes, sources } =
        url === undefined
          ? specsFromConfig(io, command.optsWithGlobals<GlobalOptions>(), given)
          : specsFromFlags(url, given);
      const options = {
        json: given.json ?? false,
        exitOnFailure: given.exitOnFailure ?? false,
        once: given.once ?? false,
      };
      done(
        options.once
          ? await checkOnce(io, probes, sources, options)
          : await watch(io, probes, sources, options),
      );
    });
}
