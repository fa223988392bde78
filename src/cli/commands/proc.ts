import type { Command } from 'commander';
import type { ProcessVerdict } from '../../core/process-health.js';
import { BadInputError } from '../../errors.js';
import { iso, processStatusJson, recoveryJson } from '../../present.js';
import type { CheckResult, OperatorResult } from '../../supervisor/supervisor.js';
import type { Supervisor } from '../../supervisor/supervisor.js';
import type { CliIo, GlobalOptions } from '../context.js';
import { withStore } from '../context.js';
import { relative, table } from '../format.js';
import { procImportCommand } from './proc-import.js';

type Done = (code: number) => void;

/** `vigil proc check|status|on|off|restart|stop-all|start-all [NAME]`: supervised processes. */
export function procCommands(program: Command, io: CliIo, done: Done): void {
  const proc = program
    .command('proc')
    .description('supervised processes (processes: in vigil.yaml)')
    .addHelpText(
      'after',
      `
Exit codes: 0 ok; 1 a recovery step failed; 2 bad usage or configuration; 3 store unreachable.
From cron: * * * * * cd /srv/app && npx vigil proc check`,
    );

  const withSupervisor = async <T>(
    command: Command,
    name: string | undefined,
    fn: (supervisor: Supervisor, names: string[]) => Promise<T>,
  ) => {
    const [{ Supervisor }, { EventBus }, { gateReader }] = await Promise.all([
      import('../../supervisor/supervisor.js'),
      import('../../runtime/events.js'),
      import('../../runtime/gate.js'),
    ]);
    return withStore(io, command.optsWithGlobals<GlobalOptions>(), async (store, config) => {
      const supervisor = new Supervisor({
        store,
        processes: config.processes,
        clock: io.clock,
        events: new EventBus(),
        gate: gateReader(store, config.silences),
      });
      if (name !== undefined && !supervisor.config(name)) {
        throw new BadInputError([
          `NAME: no process named ${JSON.stringify(name)} in ${config.source} (configured: ${supervisor.names.join(', ') || 'none'})`,
        ]);
      }
      return fn(supervisor, name === undefined ? supervisor.names : [name]);
    });
  };

  proc
    .command('check')
    .argument('[name]', 'only this process')
    .description('check each process now and recover the ones unhealthy N checks in a row')
    .option('--json', 'print the results as JSON')
    .action(async (name: string | undefined, options: { json?: boolean }, command: Command) => {
      await withSupervisor(command, name, async (supervisor, names) => {
        const results = await supervisor.checkAll(names);
        io.out(
          options.json
            ? JSON.stringify({ items: results.map(checkJson) }, null, 2)
            : checkTable(results),
        );
        const failed = results.some((r) => r.action === 'recovery_failed' || r.action === 'error');
        done(failed ? 1 : 0);
      });
    });

  proc
    .command('status')
    .argument('[name]', 'only this process, with its recent recoveries')
    .description('what the last check found, restarts, backoff (changes nothing)')
    .option('--json', 'print the status as JSON')
    .action(async (name: string | undefined, options: { json?: boolean }, command: Command) => {
      await withSupervisor(command, name, async (supervisor, names) => {
        const items = (await supervisor.status()).filter((s) => names.includes(s.name));
        const recoveries = name === undefined ? [] : await supervisor.recoveries(name, 10);
        if (options.json) {
          io.out(
            JSON.stringify(
              {
                items: items.map((s) => ({ ...processStatusJson(s), health: health(s.verdict) })),
                ...(name === undefined ? {} : { recoveries: recoveries.map(recoveryJson) }),
              },
              null,
              2,
            ),
          );
          return;
        }
        const now = io.clock.now();
        io.out(
          table([
            ['NAME', 'STATE', 'VERDICT', 'PID', 'UNHEALTHY', 'RESTARTS', 'CHECKED', 'REASON'],
            ...items.map((s) => [
              s.name,
              !s.enabled ? 'off' : s.gaveUp ? 'gave up' : 'on',
              s.verdict ?? '-',
              s.pid === null ? '-' : String(s.pid),
              String(s.consecutiveUnhealthy),
              String(s.restarts) +
                (s.nextRestartAt !== null ? ` (next ${relative(s.nextRestartAt, now)})` : ''),
              relative(s.lastCheckAt, now),
              s.reason ?? '',
            ]),
          ]),
        );
        if (recoveries.length > 0) {
          io.out('\nRecent recoveries:');
          for (const r of recoveries) {
            io.out(`${iso(r.at)}  ${r.trigger}  ${r.outcome}  ${r.reason}`);
            for (const step of r.steps)
              io.out(`    ${step.step}: ${step.outcome} (${step.ms} ms) ${step.detail}`);
          }
        }
      });
    });

  const operator = (
    verb: string,
    description: string,
    act: (supervisor: Supervisor, name: string) => Promise<OperatorResult>,
    { all = false }: { all?: boolean } = {},
  ) =>
    proc
      .command(verb)
      .argument(all ? '[name]' : '<name>', all ? 'only this process' : 'the process')
      .description(description)
      .option('--json', 'print the results as JSON')
      .action(async (name: string | undefined, options: { json?: boolean }, command: Command) => {
        await withSupervisor(command, name, async (supervisor, names) => {
          const results: OperatorResult[] = [];
          for (const each of names) results.push(await act(supervisor, each));
          io.out(
            options.json
              ? JSON.stringify({ items: results.map(operatorJson) }, null, 2)
              : results.map((r) => `${r.name}: ${r.ok ? 'ok' : 'FAILED'}: ${r.detail}`).join('\n'),
          );
          done(results.every((r) => r.ok) ? 0 : 1);
        });
      });

  operator('on', 'supervise it again and start it unless it runs', (s, n) => s.on(n));
  operator('off', 'stop it and keep it stopped until "on" (sticky)', (s, n) => s.off(n));
  operator('restart', 'run its recovery pipeline now; clears backoff and give-up', (s, n) =>
    s.restart(n),
  );
  operator('stop-all', '"off" for every process', (s, n) => s.off(n), { all: true });
  operator('start-all', '"on" for every process', (s, n) => s.on(n), { all: true });

  procImportCommand(proc, io, done);

  for (const command of proc.commands) {
    command.exitOverride().configureOutput({
      writeOut: (text) => io.out(text.trimEnd()),
      writeErr: (text) => io.err(text.trimEnd()),
    });
  }
}

/**
 * A verdict in the upper-case vocabulary of heartbeat-file supervisors (HEALTHY, TIMED_OUT,
 * NO_HEARTBEAT, STALE_PID, and ERROR_STATUS for the one they lack): the same words, so scripts
 * that matched those states keep matching.
 */
const health = (verdict: ProcessVerdict | null): string | null =>
  verdict === null ? null : verdict.toUpperCase();

function checkJson(r: CheckResult) {
  return {
    name: r.name,
    verdict: r.verdict,
    health: health(r.verdict),
    reason: r.reason,
    action: r.action,
    why: r.why,
    recovery: r.recovery && recoveryJson(r.recovery),
  };
}

function operatorJson(r: OperatorResult) {
  return {
    name: r.name,
    ok: r.ok,
    detail: r.detail,
    recovery: r.recovery && recoveryJson(r.recovery),
  };
}

function checkTable(results: CheckResult[]): string {
  if (results.length === 0) return 'no processes configured (processes: in vigil.yaml)';
  const lines = [
    table([
      ['NAME', 'VERDICT', 'ACTION', 'WHY', 'REASON'],
      ...results.map((r) => [r.name, r.verdict ?? '-', r.action, r.why, r.reason]),
    ]),
  ];
  for (const r of results) {
    for (const step of r.recovery?.steps ?? []) {
      lines.push(`  ${r.name} ${step.step}: ${step.outcome} (${step.ms} ms) ${step.detail}`);
    }
  }
  return lines.join('\n');
}
