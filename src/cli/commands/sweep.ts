import type { Command } from 'commander';
import { sweepReportJson } from '../../present.js';
import type { SweepReport } from '../../ports/audit-store.js';
import type { CliIo, GlobalOptions } from '../context.js';
import { withStore } from '../context.js';
import { table } from '../format.js';

export function sweepCommand(program: Command, io: CliIo, done: (code: number) => void): void {
  program
    .command('sweep')
    .description('run one sweep now (cron mode): judge overdue executions and remediate them')
    .option('--dry-run', 'decide and report what a sweep would do, change nothing')
    .option('--json', 'print the sweep report as JSON')
    .action(async (options: { dryRun?: boolean; json?: boolean }, command: Command) => {
      const global = command.optsWithGlobals<GlobalOptions>();
      const { sweepOnce } = await import('../../app/sweep.js');
      await withStore(io, global, async (store, config) => {
        const result = await sweepOnce({
          store,
          config,
          clock: io.clock,
          dryRun: options.dryRun ?? false,
          cwd: io.cwd,
          warn: (message) => io.err(`vigil: ${message}`),
          onError: (error, where) =>
            io.err(`vigil: ${where}: ${error instanceof Error ? error.message : String(error)}`),
        });
        if (result.kind === 'skipped') {
          io.out(
            options.json
              ? JSON.stringify({ skipped: result.reason })
              : 'skipped: another sweep is running',
          );
          return done(0);
        }
        io.out(
          options.json
            ? JSON.stringify(sweepReportJson(result.report), null, 2)
            : summarize(result.report),
        );
        done(result.report.counts.failed ? 1 : 0);
      });
    });
}

/** The human summary: what was examined, each action with id, verdict and reason, then totals. */
export function summarize(report: SweepReport): string {
  const lines: string[] = [];
  const mode = report.dryRun ? ' (dry run: nothing was changed)' : '';
  lines.push(
    `Examined ${report.examined} overdue execution${report.examined === 1 ? '' : 's'} at ${new Date(report.startedAt).toISOString()}${mode}`,
  );
  if (report.decisions.length > 0) {
    lines.push('');
    lines.push(
      table([
        ['ID', 'VERDICT', report.dryRun ? 'WOULD' : 'ACTION', 'OUTCOME', 'REASON'],
        ...report.decisions.map((d) => [d.executionId, d.verdict, d.action, d.outcome, d.reason]),
      ]),
    );
  }
  if (report.sourceErrors && report.sourceErrors.length > 0) {
    lines.push('');
    lines.push('Not swept:');
    for (const error of report.sourceErrors) lines.push(`  ${error.key}: ${error.message}`);
  }
  const { remediated = 0, skipped = 0, failed = 0, ...verdicts } = report.counts;
  const byVerdict = Object.entries(verdicts)
    .map(([verdict, n]) => `${verdict} ${n}`)
    .join(', ');
  lines.push('');
  lines.push(
    `${report.dryRun ? 'Would remediate' : 'Remediated'} ${remediated}, skipped ${skipped}, failed ${failed}${byVerdict ? ` (${byVerdict})` : ''}`,
  );
  return lines.join('\n');
}
