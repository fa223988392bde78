import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import type { ErrorCode } from '../errors.js';
import { isVigilError } from '../errors.js';
import { systemClock } from '../runtime/clock.js';
import { storeError } from '../stores/store-error.js';
import { PROBE_EXIT } from './commands/probe-output.js';
import type { CliIo } from './context.js';

/** Exit codes of the public contract. */
export const EXIT = { ok: 0, failed: 1, usage: 2, storeUnavailable: 3 } as const;

/** Error codes → exit codes, in one place. */
const EXIT_BY_CODE: Record<ErrorCode, number> = {
  bad_input: EXIT.usage,
  bad_config: EXIT.usage,
  not_found: EXIT.usage,
  already_exists: EXIT.failed,
  already_ended: EXIT.failed,
  lost_ownership: EXIT.failed,
  invalid_transition: EXIT.failed,
  sweep_in_progress: EXIT.ok,
  slot_taken: EXIT.failed,
  store_unavailable: EXIT.storeUnavailable,
  unauthorized: EXIT.usage,
  forbidden: EXIT.usage,
};

/**
 * Commands whose every own failure ends with one code, whatever the error: `vigil probe` is a
 * container's health watchdog, where 1 and 2 say the watched service is failing or stuck, so the
 * watchdog's own failure (bad flags or configuration, an internal error) must not read as either.
 */
const FAILURE_EXIT_BY_COMMAND: Readonly<Record<string, number>> = {
  probe: PROBE_EXIT.watchdogFailed,
};

/** Adds a group of commands to the program. */
type Registrar = (program: Command, io: CliIo, done: (code: number) => void) => void;

/**
 * Every command, by the module that defines it (in the order `vigil --help` lists them), loaded
 * when it runs: `vigil beat` loads the ledger's commands and not the others' modules, nor the
 * parts of Node they use (child processes, worker threads, readline). `vigil --help`, `help`, and
 * a name that is no command load them all, so help and commander's suggestions are the same.
 */
export const COMMAND_GROUPS: readonly {
  names: readonly string[];
  load: () => Promise<Registrar>;
}[] = [
  { names: ['serve'], load: async () => (await import('./commands/serve.js')).serveCommand },
  { names: ['sweep'], load: async () => (await import('./commands/sweep.js')).sweepCommand },
  {
    names: ['ls', 'show', 'history', 'migrate'],
    load: async () => (await import('./commands/inspect.js')).inspectCommands,
  },
  { names: ['stats'], load: async () => (await import('./commands/stats.js')).statsCommand },
  { names: ['demo'], load: async () => (await import('./commands/demo.js')).demoCommand },
  {
    names: ['register', 'start', 'beat', 'complete', 'fail', 'cancel'],
    load: async () => (await import('./commands/ledger.js')).ledgerCommands,
  },
  { names: ['exec'], load: async () => (await import('./commands/exec.js')).execCommand },
  { names: ['proc'], load: async () => (await import('./commands/proc.js')).procCommands },
  { names: ['probe'], load: async () => (await import('./commands/probe.js')).probeCommand },
  { names: ['prune'], load: async () => (await import('./commands/prune.js')).pruneCommand },
  {
    names: ['silence', 'pause', 'resume'],
    load: async () => (await import('./commands/silence.js')).silenceCommands,
  },
  {
    names: ['schedules'],
    load: async () => (await import('./commands/schedules.js')).schedulesCommand,
  },
];

/** The command named in the arguments: the first word that is not a global option or its value. */
function commandName(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--config' || arg === '--db') i++;
    else if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

const version = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

export const defaultIo = (): CliIo => ({
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  env: process.env,
  cwd: process.cwd(),
  clock: systemClock,
});

/**
 * Runs the CLI with these arguments and returns the exit code. The only place that decides how
 * the process ends, so every command is testable in-process.
 */
export async function runMain(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = new Command('vigil')
    .description('Vigil: a watchdog for stuck work')
    .version(version)
    .option('--config <file>', 'configuration file (default: vigil.yaml in the working directory)')
    .option(
      '--db <url>',
      'database URL, overrides VIGIL_DATABASE_URL (sqlite:PATH or postgres://…)',
    )
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.out(text.trimEnd()),
      writeErr: (text) => io.err(text.trimEnd()),
    })
    .showHelpAfterError('(run vigil --help for usage)');
  const done = (code: number) => {
    exitCode = code;
  };
  const named = commandName(argv);
  const group = COMMAND_GROUPS.find((candidate) => candidate.names.includes(named ?? ''));
  // `vigil --version` needs no command; help and a name that is no command need them all.
  const onlyVersion = argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V');
  const needed = group ? [group] : onlyVersion ? [] : COMMAND_GROUPS;
  const registrars = await Promise.all(needed.map((g) => g.load()));
  for (const register of registrars) register(program, io, done);
  for (const command of program.commands) {
    command.exitOverride().configureOutput({
      writeOut: (text) => io.out(text.trimEnd()),
      writeErr: (text) => io.err(text.trimEnd()),
    });
  }

  const failureExit = FAILURE_EXIT_BY_COMMAND[commandName(argv) ?? ''];
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version end with code 0; anything else commander rejects is bad usage.
      return error.exitCode === 0 ? EXIT.ok : (failureExit ?? EXIT.usage);
    }
    const known = isVigilError(error) ? error : storeError(error);
    if (known) {
      io.err(`vigil: ${known.message}`);
      return failureExit ?? EXIT_BY_CODE[known.code];
    }
    io.err(
      `vigil: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    return failureExit ?? EXIT.failed;
  }
}
