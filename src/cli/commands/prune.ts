import { hostname } from 'node:os';
import type { Command } from 'commander';
import { formatDuration } from '../../core/duration.js';
import type { PruneReport } from '../../runtime/retention.js';
import type { CliIo, GlobalOptions } from '../context.js';
import { withStore } from '../context.js';
import { table } from '../format.js';

export function pruneCommand(program: Command, io: CliIo, done: (code: number) => void): void {
  program
    .command('prune')
    .description(
      'delete what has outlived retention: (ended executions, the audit, sweep reports, sent notifications, …)',
    )
    .option('--dry-run', 'count what would be deleted, delete nothing')
    .option('--json', 'print the report as JSON')
    .action(async (options: { dryRun?: boolean; json?: boolean }, command: Command) => {
      const global = command.optsWithGlobals<GlobalOptions>();
      const { Pruner } = await import('../../runtime/retention.js');
      await withStore(io, global, async (store, config) => {
        const pruner = new Pruner({
          store,
          settings: config.retention,
          clock: io.clock,
          holder: `cli:${hostname()}:${String(process.pid)}`,
        });
        const report = await pruner.pass(options.dryRun ?? false);
        if (options.json) io.out(JSON.stringify(report, null, 2));
        else io.out(describe(report, config.retention.keepMs));
        done(0);
      });
    });
}

function describe(report: PruneReport, keepMs: Readonly<Record<string, number | null>>): string {
  if (report.tables === null) return 'skipped: another process is pruning';
  const rows = Object.entries(keepMs).map(([name, keep]) => {
    const done = report.tables?.find((t) => t.table === name);
    return [
      name,
      keep === null ? 'forever' : formatDuration(keep),
      done ? new Date(done.before).toISOString() : '-',
      done ? String(done.rows) : '-',
    ];
  });
  const header = ['TABLE', 'KEEP', 'BEFORE', report.dryRun ? 'WOULD DELETE' : 'DELETED'];
  const total = report.tables.reduce((sum, t) => sum + t.rows, 0);
  const summary = report.dryRun
    ? `Would delete ${String(total)} rows (dry run: nothing was deleted)`
    : `Deleted ${String(total)} rows`;
  return `${table([header, ...rows])}\n\n${summary}`;
}
