/**
 * `vigil proc import FILE [--write]`: a heartbeat-file supervisor's JSON configuration as the
 * `processes:` section of vigil.yaml — printed, or added to vigil.yaml with --write. The
 * translation (proc-import-run.ts) is loaded when the command runs.
 */
import type { Command } from 'commander';
import type { CliIo, GlobalOptions } from '../context.js';

type Done = (code: number) => void;

export function procImportCommand(proc: Command, io: CliIo, done: Done): void {
  proc
    .command('import')
    .argument('<file>', 'the JSON configuration of a heartbeat-file supervisor')
    .description('translate a heartbeat-file supervisor JSON config into processes: (vigil.yaml)')
    .option('--write', 'add the processes to vigil.yaml (or --config) instead of printing them')
    .addHelpText(
      'after',
      `
Translates consecutive_failures_threshold, and per process heartbeat_path, timeout_seconds,
enabled, commands and recovery_actions ([kill, clear_db, start] → [kill, {run: clear_db}, start]).
Anything without an exact counterpart is refused, naming its key; nothing is written then.`,
    )
    .action(async (file: string, options: { write?: boolean }, command: Command) => {
      const { importProcesses } = await import('./proc-import-run.js');
      importProcesses(io, file, options, command.optsWithGlobals<GlobalOptions>());
      done(0);
    });
}
