import type { Command } from 'commander';
import { parseFlagDuration } from '../../core/duration.js';
import type { JsonValue, PartialLimits } from '../../core/types.js';
import { BadInputError, VigilError } from '../../errors.js';
import { executionJson } from '../../present.js';
import type { ReportOutcome } from '../../ports/ledger-store.js';
import type { Ledger } from '../../runtime/ledger.js';
import type { CliIo, GlobalOptions } from '../context.js';
import { withStore } from '../context.js';

function jsonOption(name: string, text: string | undefined): JsonValue | undefined {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    throw new BadInputError([`${name}: expected JSON, got ${JSON.stringify(text)}`]);
  }
}

function attemptOption(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw new BadInputError([
      `--attempt: expected a whole number from 1, got ${JSON.stringify(text)}`,
    ]);
  return n;
}

/** The limits given as flags, in milliseconds; a problem names the flag, not the config key. */
function limitFlags(options: Record<string, string | boolean | undefined>): PartialLimits {
  const limits: PartialLimits = {};
  const problems: string[] = [];
  for (const name of ['run', 'heartbeat', 'progress', 'queue'] as const) {
    const text = options[name];
    if (typeof text !== 'string') continue;
    const parsed = parseFlagDuration(text, { positive: true });
    if (parsed.ok) limits[name] = parsed.ms;
    else problems.push(`--${name}: ${parsed.error}`);
  }
  if (problems.length > 0) throw new BadInputError(problems);
  return limits;
}

/** The flag of each field of a registration, for errors that name what the user typed. */
const REGISTER_FLAGS: Record<string, string> = {
  id: '--id',
  kind: '--kind',
  owner: '--owner',
  parentId: '--parent',
  metadata: '--metadata',
};

/** Runs `fn`; its bad-input problems name the flag (`--parent`), not the field (`parentId`). */
async function namingFlags<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (!(error instanceof BadInputError)) throw error;
    throw new BadInputError(
      error.problems.map((problem) =>
        problem.replace(/^(\w+)(?=[.:])/, (field) => REGISTER_FLAGS[field] ?? field),
      ),
    );
  }
}

/**
 * Commands that write to the ledger directly, with or without a running service: a cron job can
 * register its own run, beat while it works and report how it ended.
 */
export function ledgerCommands(program: Command, io: CliIo): void {
  // The ledger (and its schemas) is loaded when a command runs, not when `vigil` starts.
  const withLedger = async <T>(command: Command, fn: (ledger: Ledger) => Promise<T>) => {
    const { Ledger } = await import('../../runtime/ledger.js');
    return withStore(io, command.optsWithGlobals<GlobalOptions>(), (store, config) =>
      fn(new Ledger(store, config, io.clock)),
    );
  };
  const attemptOf = async (ledger: Ledger, id: string, given: string | undefined) =>
    attemptOption(given) ?? (await ledger.get(id)).attempt;
  const print = (outcome: ReportOutcome, json: boolean | undefined) => {
    if (outcome.kind === 'not_found') throw new VigilError('not_found', 'execution not found');
    if (outcome.kind === 'no_such_attempt') {
      throw new VigilError(
        'lost_ownership',
        `execution ${outcome.execution.id} has no such attempt; it is on attempt ${outcome.execution.attempt}`,
      );
    }
    if (outcome.kind === 'already_ended' || outcome.kind === 'late') {
      const e = outcome.execution;
      throw new VigilError(
        'already_ended',
        `execution ${e.id} had already ended (${e.status}${e.reason ? `: ${e.reason}` : ''})${outcome.kind !== 'late' ? '' : outcome.conflict ? '; a different late result of this attempt was kept first, so this report was NOT kept' : '; this report is kept as its late result'}`,
      );
    }
    io.out(
      json
        ? JSON.stringify(executionJson(outcome.execution), null, 2)
        : `${outcome.execution.id} ${outcome.execution.status}`,
    );
  };

  program
    .command('register')
    .description('register an execution (prints its id); e.g. a cron job registering its own run')
    .requiredOption('--kind <kind>', 'job type, e.g. nightly-backup (required)')
    .option('--id <id>', 'its id (default: generated)')
    .option('--owner <owner>', 'worker / agent / host that runs it')
    .option('--parent <id>', 'the workflow run it belongs to')
    .option('--queued', 'register it as queued rather than running')
    .option('--run <duration>', 'run limit, e.g. 2h')
    .option('--heartbeat <duration>', 'heartbeat limit, e.g. 2m')
    .option('--progress <duration>', 'progress limit')
    .option('--queue <duration>', 'queue limit')
    .option('--metadata <json>', 'a JSON object kept with it')
    .option('--json', 'print the execution as JSON')
    .action(async (options: Record<string, string | boolean | undefined>, command: Command) => {
      const limits = limitFlags(options);
      await withLedger(command, async (ledger) => {
        const execution = await namingFlags(() =>
          ledger.register({
            id: options.id,
            kind: options.kind,
            owner: options.owner,
            parentId: options.parent,
            status: options.queued ? 'queued' : 'running',
            limits,
            metadata: jsonOption('--metadata', options.metadata as string | undefined),
          }),
        );
        io.out(options.json ? JSON.stringify(executionJson(execution), null, 2) : execution.id);
      });
    });

  program
    .command('start')
    .description('mark a queued execution as running')
    .argument('<id>')
    .option('--attempt <n>', 'the attempt being started (default: the current one)')
    .action(async (id: string, options: { attempt?: string }, command: Command) => {
      await withLedger(command, async (ledger) => {
        const started = await ledger.start(id, await attemptOf(ledger, id, options.attempt));
        io.out(`${started.id} running (attempt ${started.attempt})`);
      });
    });

  program
    .command('beat')
    .description('record a heartbeat (and optionally progress) for a running execution')
    .argument('<id>')
    .option('--attempt <n>', 'the attempt beating (default: the current one)')
    .option('--progress <marker>', 'a progress marker; counts against the progress limit')
    .action(
      async (id: string, options: { attempt?: string; progress?: string }, command: Command) => {
        await withLedger(command, async (ledger) => {
          const attempt = await attemptOf(ledger, id, options.attempt);
          const { lost } = await ledger.heartbeat([{ id, attempt, progress: options.progress }]);
          const gone = lost[0];
          if (gone)
            throw new VigilError(
              'lost_ownership',
              `execution ${id} is no longer running this attempt: ${gone.reason}`,
            );
          io.out(`${id} beat`);
        });
      },
    );

  program
    .command('complete')
    .description('report that an execution succeeded')
    .argument('<id>')
    .option('--attempt <n>', 'the attempt that succeeded (default: the current one)')
    .option('--result <json>', 'its result, as JSON')
    .option('--json', 'print the execution as JSON')
    .action(
      async (
        id: string,
        options: { attempt?: string; result?: string; json?: boolean },
        command: Command,
      ) => {
        const result = jsonOption('--result', options.result);
        await withLedger(command, async (ledger) => {
          print(
            await ledger.complete(id, await attemptOf(ledger, id, options.attempt), result),
            options.json,
          );
        });
      },
    );

  program
    .command('fail')
    .description('report that an execution failed')
    .argument('<id>')
    .option('--attempt <n>', 'the attempt that failed (default: the current one)')
    .option('--error <text>', 'what went wrong', 'failed')
    .option('--retryable', "retry it under its kind's retry policy")
    .option('--json', 'print the execution as JSON')
    .action(
      async (
        id: string,
        options: { attempt?: string; error: string; retryable?: boolean; json?: boolean },
        command: Command,
      ) => {
        await withLedger(command, async (ledger) => {
          print(
            await ledger.fail(
              id,
              await attemptOf(ledger, id, options.attempt),
              options.error,
              options.retryable ?? false,
            ),
            options.json,
          );
        });
      },
    );

  program
    .command('cancel')
    .description('cancel an execution (as an operator)')
    .argument('<id>')
    .option('--reason <text>', 'why')
    .action(async (id: string, options: { reason?: string }, command: Command) => {
      await withLedger(command, async (ledger) => {
        const cancelled = await ledger.cancel(id, options.reason);
        io.out(`${cancelled.id} ${cancelled.status}`);
      });
    });
}
