import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { constants, hostname } from 'node:os';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { parseFlagDuration } from '../../core/duration.js';
import { BadInputError } from '../../errors.js';
import { VigilClient } from '../../sdk/client.js';
import {
  VigilApiError,
  VigilConnectionError,
  isAlreadyEnded,
  isLostOwnership,
  lostOwnershipOf,
} from '../../sdk/errors.js';
import type { Execution } from '../../sdk/types.js';
import type { CliIo } from '../context.js';

interface ExecOptions {
  kind?: string;
  timeout?: string;
  heartbeat: string;
  id?: string;
  owner?: string;
  schedule?: string;
}

/** Signals `vigil exec` passes on to the command's process group. */
const FORWARDED: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

/**
 * How long a command Vigil has ended gets between SIGTERM and SIGKILL: enough to flush and exit
 * cleanly, short because Vigil has already recorded the execution as ended — its work is wasted
 * from here on, and a process still holding the job's resources is the worse outcome.
 */
const KILL_GRACE_MS = 2_000;

export function execCommand(program: Command, io: CliIo, done: (code: number) => void): void {
  program
    .command('exec')
    .description(
      "run a command as an execution: registered with a running Vigil (VIGIL_URL), heartbeated while it runs, ended with its exit status; exits with the command's exit code",
    )
    .usage('[options] -- CMD [ARGS...]')
    .argument('<command...>', 'the command and its arguments (after --)')
    .option('--kind <kind>', "job type (default: the command's basename)")
    .option(
      '--timeout <duration>',
      'run limit, e.g. 2h (default: the run limit configured for the kind, 15m unless set)',
    )
    .option('--heartbeat <duration>', 'heartbeat limit', '30s')
    .option('--id <id>', 'the execution id (default: generated)')
    .option('--owner <owner>', 'worker / agent / host that runs it')
    .option(
      '--schedule <name>',
      'a schedule (under "schedules:", or defined through the API) this run counts for: pings its start, then its success or failure',
    )
    .addHelpText(
      'after',
      `
The command runs in its own process group with VIGIL_EXECUTION_ID and
VIGIL_ATTEMPT set. SIGTERM, SIGINT and SIGHUP are passed on to the group.

When Vigil ends the execution (run limit, cancel), the group gets SIGTERM,
then SIGKILL ${KILL_GRACE_MS / 1_000} s later.

Exit code: the command's (128 + n when killed by signal n); 3 when Vigil
cannot be reached; 2 for bad usage.

Example: vigil exec --kind nightly-backup --timeout 2h -- ./backup.sh --full`,
    )
    .action(async (command: string[], options: ExecOptions) => {
      done(await execute(io, command, options));
    });
}

function durationOption(name: string, text: string): number {
  const parsed = parseFlagDuration(text, { positive: true });
  if (!parsed.ok) throw new BadInputError([`${name}: ${parsed.error}`]);
  return parsed.ms;
}

async function execute(io: CliIo, argv: string[], options: ExecOptions): Promise<number> {
  const [file, ...args] = argv;
  if (file === undefined || file === '') {
    throw new BadInputError(['expected a command after --, e.g. vigil exec -- ./backup.sh']);
  }
  const heartbeat = durationOption('--heartbeat', options.heartbeat);
  const run =
    options.timeout === undefined ? undefined : durationOption('--timeout', options.timeout);
  const say = (text: string) => io.err(`vigil exec: ${text}`);

  // Signals are taken from the start, so that one arriving while the execution is being
  // registered is not the death of `vigil exec` with the execution left running.
  const signals = new SignalRelay();
  try {
    const client = new VigilClient({ env: io.env, onError: () => undefined });
    if (options.schedule !== undefined) {
      const refused = await pingStart(client, options.schedule, say);
      if (refused !== null) return refused;
    }
    let execution: Execution;
    try {
      execution = await client.register({
        ...(options.id === undefined ? {} : { id: options.id }),
        kind: options.kind ?? basename(file),
        ...(options.owner === undefined ? {} : { owner: options.owner }),
        limits: { heartbeat, ...(run === undefined ? {} : { run }) },
        metadata: {
          command: basename(file),
          host: hostname(),
          pid: process.pid,
          ...(options.schedule === undefined ? {} : { schedule: options.schedule }),
        },
      });
    } catch (error) {
      if (error instanceof VigilConnectionError) {
        say(`${error.message} (set VIGIL_URL to where vigil serve listens)`);
        return 3;
      }
      if (error instanceof VigilApiError) {
        say(`could not register the execution: ${error.message}`);
        return [400, 401, 403].includes(error.status) ? 2 : 1;
      }
      throw error;
    }
    const early = signals.received;
    let exitCode: number;
    if (early !== null) {
      const reason = `stopped by ${early} before the command started`;
      say(reason);
      await report(client, execution, { kind: 'fail', error: reason }, false, say);
      exitCode = signalExitCode(early);
    } else {
      exitCode = await supervise({ io, client, execution, file, args, say, signals });
    }
    if (options.schedule !== undefined) await pingEnd(client, options.schedule, exitCode, say);
    return exitCode;
  } finally {
    signals.close();
  }
}

/** Pings a schedule's start; answers the exit code to stop with when Vigil refused it. */
async function pingStart(
  client: VigilClient,
  schedule: string,
  say: (text: string) => void,
): Promise<number | null> {
  try {
    await client.pingSchedule(schedule, 'start');
    return null;
  } catch (error) {
    if (error instanceof VigilConnectionError) {
      say(`${error.message} (set VIGIL_URL to where vigil serve listens)`);
      return 3;
    }
    if (error instanceof VigilApiError) {
      say(`--schedule: ${error.message}`);
      return [400, 401, 403, 404].includes(error.status) ? 2 : 1;
    }
    throw error;
  }
}

/** Pings a schedule's success or failure. Never throws: the exit code is the command's. */
async function pingEnd(
  client: VigilClient,
  schedule: string,
  exitCode: number,
  say: (text: string) => void,
): Promise<void> {
  try {
    if (exitCode === 0) await client.pingSchedule(schedule, 'success');
    else await client.pingSchedule(schedule, 'fail', `exit code ${exitCode}`);
  } catch (error) {
    say(`could not tell schedule ${schedule} how the run ended: ${messageOf(error)}`);
  }
}

/**
 * SIGTERM, SIGINT and SIGHUP passed on to the command's process group. The command runs in a
 * group of its own, so a Ctrl-C at the terminal reaches `vigil exec` alone unless passed on.
 */
class SignalRelay {
  /** The first signal received, if any. */
  received: NodeJS.Signals | null = null;
  private group: number | null = null;
  private readonly forward = (signal: NodeJS.Signals) => {
    this.received ??= signal;
    if (this.group !== null) signalGroup(this.group, signal);
  };

  constructor() {
    for (const signal of FORWARDED) process.on(signal, this.forward);
  }

  /** From now on, signals go to this process group. */
  relayTo(pgid: number): void {
    this.group = pgid;
  }

  close(): void {
    for (const signal of FORWARDED) process.off(signal, this.forward);
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the whole group is gone.
  }
}

const signalExitCode = (signal: NodeJS.Signals) => 128 + (constants.signals[signal] ?? 0);

interface Supervision {
  io: CliIo;
  client: VigilClient;
  execution: Execution;
  file: string;
  args: string[];
  say: (text: string) => void;
  signals: SignalRelay;
}

/** Runs the command, beats while it runs, ends its process group when Vigil ends it, reports. */
async function supervise(s: Supervision): Promise<number> {
  const { client, execution, file, say } = s;
  const { id, attempt } = execution;
  let child: ChildProcess;
  try {
    child = spawn(file, s.args, {
      cwd: s.io.cwd,
      env: { ...s.io.env, VIGIL_EXECUTION_ID: id, VIGIL_ATTEMPT: String(attempt) },
      stdio: 'inherit',
      // Its own process group, so that it and everything it starts can be signalled at once.
      detached: true,
    });
  } catch (error) {
    return spawnFailed(s, error);
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null } | Error>(
    (resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', (error) => resolve(error));
    },
  );
  const pgid = child.pid;
  if (pgid === undefined) return spawnFailed(s, await exited);
  s.signals.relayTo(pgid);

  // Ended by Vigil: SIGTERM now, SIGKILL after the grace period to whatever is left of the group.
  const ending: { lost: boolean; killAt: number; killTimer?: NodeJS.Timeout } = {
    lost: false,
    killAt: 0,
  };
  const terminate = (why: { status: string | null; reason: string }) => {
    ending.lost = true;
    say(
      `Vigil ended execution ${id}${why.status ? ` (${why.status})` : ''}: ${why.reason}; stopping ${basename(file)} (process group ${pgid})`,
    );
    signalGroup(pgid, 'SIGTERM');
    ending.killAt = Date.now() + KILL_GRACE_MS;
    ending.killTimer = setTimeout(() => signalGroup(pgid, 'SIGKILL'), KILL_GRACE_MS);
  };

  // Beats from this thread: `vigil exec` does nothing CPU-bound. Every third of the heartbeat
  // limit, and at least every second so that a run limit or a cancel reaches the command within
  // about a second of Vigil deciding it.
  const intervalMs = Math.max(
    100,
    Math.min(1_000, Math.floor((execution.limits.heartbeat ?? 3_000) / 3)),
  );
  let beatTimer: NodeJS.Timeout | undefined;
  let isRunning = true;
  let isFailing = false;
  const beat = async () => {
    try {
      await client.heartbeat(id, { attempt });
      isFailing = false;
    } catch (error) {
      if (!isRunning) return;
      if (isLostOwnership(error)) return terminate(lostOwnershipOf(id, error));
      if (error instanceof VigilApiError && error.code === 'not_found') {
        return terminate({ status: null, reason: error.message });
      }
      // Vigil unreachable: the command goes on; Vigil judges the silence by its own rules.
      if (!isFailing) say(`heartbeat failed (the command goes on): ${messageOf(error)}`);
      isFailing = true;
    }
    if (isRunning) beatTimer = setTimeout(() => void beat(), intervalMs);
  };
  beatTimer = setTimeout(() => void beat(), intervalMs);

  const ended = await exited;
  isRunning = false;
  clearTimeout(beatTimer);
  if (ending.lost) {
    // The command has exited; wait for the rest of its group, killing what is left at the deadline.
    while (isGroupAlive(pgid) && Date.now() < ending.killAt) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    clearTimeout(ending.killTimer);
    if (isGroupAlive(pgid)) signalGroup(pgid, 'SIGKILL');
  }
  if (ended instanceof Error) return spawnFailed(s, ended);

  const exitCode = ended.signal ? signalExitCode(ended.signal) : (ended.code ?? 1);
  await report(
    client,
    execution,
    exitCode === 0
      ? { kind: 'complete' }
      : {
          kind: 'fail',
          error: ended.signal ? `killed by ${ended.signal}` : `exit code ${exitCode}`,
        },
    ending.lost,
    say,
  );
  return exitCode;
}

/** Reports how the command ended. Never throws: the exit code is the command's whatever happens. */
async function report(
  client: VigilClient,
  execution: Execution,
  outcome: { kind: 'complete' } | { kind: 'fail'; error: string },
  isExpectedLate: boolean,
  say: (text: string) => void,
): Promise<void> {
  const { id, attempt } = execution;
  try {
    if (outcome.kind === 'complete') {
      await client.complete(id, { attempt, result: { exitCode: 0 } });
    } else {
      await client.fail(id, { attempt, error: outcome.error });
    }
  } catch (error) {
    if (isAlreadyEnded(error)) {
      // After Vigil ended it, the report is expected to arrive late (it is kept as lateResult).
      if (isExpectedLate) return;
      const now = error.execution;
      say(
        `execution ${id} had already ended${now ? ` (${now.status}${now.reason ? `: ${now.reason}` : ''})` : ''}; the command's result is kept as its late result`,
      );
    } else {
      say(`could not report how execution ${id} ended: ${messageOf(error)}`);
    }
  }
}

/** The command could not be started: 127 when not found, 126 otherwise (as a shell would). */
async function spawnFailed(s: Supervision, error: unknown): Promise<number> {
  const code = (error as NodeJS.ErrnoException).code;
  const message = `cannot run ${s.file}: ${messageOf(error)}`;
  s.say(message);
  await report(s.client, s.execution, { kind: 'fail', error: message }, false, s.say);
  return code === 'ENOENT' ? 127 : 126;
}

/**
 * Whether any process of the group is still running. Zombies do not count: once the command has
 * exited, the children it left are re-parented and reaped by init in its own time, and
 * `kill(-pgid, 0)` would keep answering for them. Where /proc is missing, that answer is all there is.
 */
export function isGroupAlive(pgid: number): boolean {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') return true;
  }
  return false;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
