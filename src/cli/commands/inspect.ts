import type { Command } from 'commander';
import { parseFlagDuration } from '../../core/duration.js';
import { EXECUTION_VERDICTS, STATUSES } from '../../core/types.js';
import type { ExecutionVerdict, Status } from '../../core/types.js';
import { BadInputError, VigilError } from '../../errors.js';
import { executionJson, iso, remediationJson } from '../../present.js';
import type { ExecutionStore } from '../../ports/execution-store.js';
import type { CliIo, GlobalOptions } from '../context.js';
import { withStore } from '../context.js';
import { describeExecution, relative, table } from '../format.js';

function oneOf<T extends string>(
  name: string,
  allowed: readonly T[],
  value: string | undefined,
): T | undefined {
  if (value === undefined) return undefined;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new BadInputError([
    `${name}: expected one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`,
  ]);
}

function count(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) {
    throw new BadInputError([
      `${name}: expected a whole number 1-10000, got ${JSON.stringify(value)}`,
    ]);
  }
  return n;
}

export function inspectCommands(program: Command, io: CliIo): void {
  // Looking never changes the database: these work on a file they may not write.
  const readStore = <T>(command: Command, fn: (store: ExecutionStore) => Promise<T>) =>
    withStore(io, command.optsWithGlobals<GlobalOptions>(), fn, { access: 'read' });
  program
    .command('ls')
    .description('list executions, newest first')
    .option('--status <status>', `one of ${STATUSES.join(', ')}`)
    .option('--kind <kind>', 'of this job type only, e.g. nightly-backup')
    .option('--owner <owner>', 'run by this worker / agent / host only')
    .option('--parent <id>', 'children of this workflow run')
    .option('--limit <n>', 'at most this many (default 50)')
    .option('--json', 'print JSON')
    .action(
      async (
        options: {
          status?: string;
          kind?: string;
          owner?: string;
          parent?: string;
          limit?: string;
          json?: boolean;
        },
        command: Command,
      ) => {
        const status = oneOf<Status>('--status', STATUSES, options.status);
        const limit = count('--limit', options.limit, 50);
        await readStore(command, async (store) => {
          const page = await store.list({
            status,
            kind: options.kind,
            owner: options.owner,
            parentId: options.parent,
            limit,
          });
          if (options.json) {
            io.out(
              JSON.stringify(
                { items: page.items.map(executionJson), nextCursor: page.nextCursor },
                null,
                2,
              ),
            );
            return;
          }
          if (page.items.length === 0) {
            io.out('no executions');
            return;
          }
          const now = io.clock.now();
          io.out(
            table([
              ['ID', 'KIND', 'OWNER', 'STATUS', 'ATTEMPT', 'STARTED', 'DEADLINE', 'REASON'],
              ...page.items.map((e) => [
                e.id,
                e.kind,
                e.owner ?? '-',
                e.status,
                String(e.attempt),
                relative(e.startedAt, now),
                relative(e.deadlineAt, now),
                e.reason ?? '',
              ]),
            ]),
          );
          if (page.nextCursor) io.out(`(more: raise --limit to see them)`);
        });
      },
    );

  program
    .command('show')
    .description('show one execution')
    .argument('<id>')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { json?: boolean }, command: Command) => {
      await readStore(command, async (store) => {
        const execution = await store.get(id);
        if (!execution) throw new VigilError('not_found', `execution ${id} not found`);
        io.out(
          options.json
            ? JSON.stringify(executionJson(execution), null, 2)
            : describeExecution(execution, io.clock.now()),
        );
      });
    });

  program
    .command('history')
    .description('the audit trail: every decision the watchdog took, with its evidence')
    .option('--since <duration>', 'how far back, e.g. 2h or 7d', '24h')
    .option('--verdict <verdict>', `one of ${EXECUTION_VERDICTS.join(', ')}`)
    .option('--execution <id>', 'decisions about this execution only')
    .option('--include-dry-run', 'include the decisions of dry runs')
    .option('--notifications', 'the notifications sent instead, with their delivery outcome')
    .option('--status <status>', 'with --notifications: pending, delivered or failed')
    .option('--channel <name>', 'with --notifications: one channel only')
    .option('--limit <n>', 'at most this many (default 100)')
    .option('--json', 'print JSON')
    .action(
      async (
        options: {
          since: string;
          verdict?: string;
          execution?: string;
          includeDryRun?: boolean;
          notifications?: boolean;
          status?: string;
          channel?: string;
          limit?: string;
          json?: boolean;
        },
        command: Command,
      ) => {
        const since = parseFlagDuration(options.since);
        if (!since.ok) throw new BadInputError([`--since: ${since.error}`]);
        const verdict = oneOf<ExecutionVerdict>('--verdict', EXECUTION_VERDICTS, options.verdict);
        const limit = count('--limit', options.limit, 100);
        await readStore(command, async (store) => {
          if (!options.notifications && (options.status ?? options.channel) !== undefined) {
            throw new BadInputError([
              `${options.status !== undefined ? '--status' : '--channel'}: only with --notifications`,
            ]);
          }
          if (options.notifications) {
            const { printNotificationHistory } = await import('./notifications.js');
            return printNotificationHistory(io, store, {
              sinceMs: since.ms,
              sinceText: options.since,
              status: options.status,
              channel: options.channel,
              limit,
              json: options.json ?? false,
            });
          }
          const items = await store.listRemediations({
            since: io.clock.now() - since.ms,
            verdict,
            executionId: options.execution,
            includeDryRun: options.includeDryRun ?? false,
            limit,
          });
          if (options.json) {
            io.out(JSON.stringify({ items: items.map(remediationJson) }, null, 2));
            return;
          }
          if (items.length === 0) {
            io.out(`no decisions in the last ${options.since}`);
            return;
          }
          io.out(
            table([
              ['AT', 'EXECUTION', 'VERDICT', 'ACTION', 'OUTCOME', 'REASON'],
              ...items.map((r) => [
                iso(r.at) ?? '',
                `${r.executionId}#${r.attempt}`,
                r.verdict,
                r.dryRun ? `${r.action} (dry run)` : r.action,
                r.outcome,
                r.reason,
              ]),
            ]),
          );
        });
      },
    );

  program
    .command('migrate')
    .description('bring the database schema up to date')
    .action(async (_options: unknown, command: Command) => {
      await withStore(
        io,
        command.optsWithGlobals<GlobalOptions>(),
        async (store) => {
          const applied = await store.migrate();
          io.out(
            applied.length > 0
              ? `applied ${applied.join(', ')} on ${store.description}`
              : `schema already up to date on ${store.description}`,
          );
        },
        { migrate: false },
      );
    });
}
