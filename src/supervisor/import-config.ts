/**
 * `vigil proc import`: a heartbeat-file supervisor's JSON configuration translated one to one into
 * a `processes:` section of vigil.yaml. The source looks like
 *
 *   {"consecutive_failures_threshold": 2, "processes": {"my_server": {"timeout_seconds": 300,
 *    "heartbeat_path": "…", "enabled": true, "commands": {"start": "…", "clear_db": "…"},
 *    "recovery_actions": ["kill", "clear_db", "start"]}}}
 *
 * and its processes write {process_key, pid, timestamp, status, iteration}. Whatever has no exact
 * counterpart is refused with the key that holds it, so an import never half-applies a meaning.
 */
import { isAbsolute } from 'node:path';
import { BadInputError } from '../errors.js';

/** The heartbeat those processes write, as `heartbeatFormat` says it. */
export const IMPORTED_HEARTBEAT_FORMAT = Object.freeze({
  name: 'process_key',
  pid: 'pid',
  at: 'timestamp',
  startedAt: false,
  status: 'status',
  seq: 'iteration',
  // A Python writer dates its beat with time.time() or datetime.isoformat(): both are accepted,
  // and neither can be taken for the other.
  time: Object.freeze(['epoch-seconds', 'iso']),
  // The original never judged the status: no status value means failure.
  errorStatuses: Object.freeze([]),
});

export interface ImportedProcesses {
  /** name → its entry under `processes:` in vigil.yaml. */
  processes: Record<string, Record<string, unknown>>;
  /** display names, by process, to keep as comments. */
  displayNames: Record<string, string>;
  /** What was left out on purpose, and why. */
  notes: string[];
}

const TOP_KEYS = new Set(['log_level', 'db_path', 'consecutive_failures_threshold', 'processes']);
const PROCESS_KEYS = new Set([
  'display_name',
  'timeout_seconds',
  'heartbeat_path',
  'enabled',
  'commands',
  'recovery_actions',
]);
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const BUILT_IN = new Set(['kill', 'start']);

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);
const show = (v: unknown) => JSON.stringify(v) ?? 'nothing';

/** Translates the parsed JSON; throws BadInputError listing every key it cannot translate. */
export function importProcessConfig(raw: unknown): ImportedProcesses {
  const problems: string[] = [];
  const notes: string[] = [];
  const processes: ImportedProcesses['processes'] = {};
  const displayNames: Record<string, string> = {};
  if (!isObject(raw)) {
    throw new BadInputError([`(top level): expected a JSON object, got ${show(raw)}`]);
  }
  for (const key of Object.keys(raw)) {
    if (!TOP_KEYS.has(key)) {
      problems.push(
        `${key}: no counterpart in Vigil; expected only ${[...TOP_KEYS].join(', ')}, got ${show(raw[key])}`,
      );
    }
  }
  const threshold = raw.consecutive_failures_threshold ?? 2;
  if (!Number.isInteger(threshold) || (threshold as number) < 1 || (threshold as number) > 100) {
    problems.push(
      `consecutive_failures_threshold: expected an integer from 1 to 100, got ${show(threshold)}`,
    );
  }
  if (raw.log_level !== undefined) {
    notes.push('log_level: left out (Vigil has its own logging)');
  }
  if (raw.db_path !== undefined) {
    notes.push(
      `db_path: left out (Vigil keeps the state and the audit in its own store; the old history is not copied)`,
    );
  }
  if (!isObject(raw.processes)) {
    problems.push(`processes: expected an object of name → process, got ${show(raw.processes)}`);
    throw new BadInputError(problems);
  }
  for (const [name, entry] of Object.entries(raw.processes)) {
    const at = `processes.${name}`;
    if (!NAME.test(name)) {
      problems.push(
        `${at}: expected a name of letters, digits, _ . - (at most 64), got ${show(name)}`,
      );
      continue;
    }
    if (!isObject(entry)) {
      problems.push(`${at}: expected an object, got ${show(entry)}`);
      continue;
    }
    const translated = translateProcess(at, entry, problems, notes);
    if (entry.enabled === false) {
      notes.push(
        `${at}: enabled is false: left out, so Vigil neither checks nor starts it (add it back to supervise it)`,
      );
      continue;
    }
    if (translated === null) continue;
    if (typeof entry.display_name === 'string' && entry.display_name !== name) {
      displayNames[name] = entry.display_name;
    }
    processes[name] = { ...translated, unhealthyAfter: threshold };
  }
  if (problems.length > 0) throw new BadInputError(problems);
  return { processes, displayNames, notes };
}

function translateProcess(
  at: string,
  entry: Record<string, unknown>,
  problems: string[],
  notes: string[],
): Record<string, unknown> | null {
  const before = problems.length;
  for (const key of Object.keys(entry)) {
    if (!PROCESS_KEYS.has(key)) {
      problems.push(
        `${at}.${key}: no counterpart in Vigil; expected only ${[...PROCESS_KEYS].join(', ')}, got ${show(entry[key])}`,
      );
    }
  }
  if (entry.enabled !== undefined && typeof entry.enabled !== 'boolean') {
    problems.push(`${at}.enabled: expected true or false, got ${show(entry.enabled)}`);
  }
  if (entry.display_name !== undefined && typeof entry.display_name !== 'string') {
    problems.push(`${at}.display_name: expected a string, got ${show(entry.display_name)}`);
  }
  const path = entry.heartbeat_path;
  if (typeof path !== 'string' || path.trim() === '') {
    problems.push(
      `${at}.heartbeat_path: expected the path of the heartbeat file, got ${show(path)}`,
    );
  }
  const timeout = entry.timeout_seconds;
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) {
    problems.push(
      `${at}.timeout_seconds: expected a number of seconds above zero, got ${show(timeout)}`,
    );
  }
  const commands = entry.commands ?? {};
  const named: Record<string, string> = {};
  let start: string | null = null;
  if (!isObject(commands)) {
    problems.push(
      `${at}.commands: expected an object of action → shell command, got ${show(commands)}`,
    );
  } else {
    for (const [action, command] of Object.entries(commands)) {
      if (typeof command !== 'string' || command.trim() === '') {
        problems.push(`${at}.commands.${action}: expected a shell command, got ${show(command)}`);
      } else if (action === 'kill') {
        problems.push(
          `${at}.commands.kill: "kill" is built in (SIGTERM, then SIGKILL, to the heartbeat's pid); a kill command cannot replace it, got ${show(command)}`,
        );
      } else if (action === 'start') {
        if (/&\s*$/.test(command)) {
          problems.push(
            `${at}.commands.start: expected a command that keeps running in the foreground (Vigil starts it detached and watches it), got one ending in "&": ${show(command)}`,
          );
        }
        // Cron ran the original with SHELL=/bin/bash so that start lines may `source` a file;
        // Vigil runs a shell line with /bin/sh, so such a line keeps bash.
        start = command;
      } else if (!NAME.test(action)) {
        problems.push(
          `${at}.commands: expected action names of letters, digits, _ . -, got ${show(action)}`,
        );
      } else {
        // The original calls every cleanup script with --force, so it never waits for a prompt.
        named[action] = `${command} --force`;
      }
    }
  }
  const actions = entry.recovery_actions ?? ['kill', 'start'];
  const recovery: unknown[] = [];
  if (!Array.isArray(actions) || actions.length === 0) {
    problems.push(
      `${at}.recovery_actions: expected a non-empty list of action names, got ${show(actions)}`,
    );
  } else {
    actions.forEach((action, i) => {
      if (typeof action !== 'string') {
        problems.push(`${at}.recovery_actions.${i}: expected an action name, got ${show(action)}`);
      } else if (action === 'start' && start === null) {
        problems.push(
          `${at}.recovery_actions.${i}: "start" needs commands.start, which is not set`,
        );
      } else if (BUILT_IN.has(action)) {
        recovery.push(action);
      } else if (!(action in named)) {
        problems.push(
          `${at}.recovery_actions.${i}: names no command: expected one of kill, start${Object.keys(
            named,
          )
            .map((n) => `, ${n}`)
            .join('')}, got ${show(action)}`,
        );
      } else {
        recovery.push({ run: action });
      }
    });
    const startAt = actions.indexOf('start');
    if (startAt !== -1 && startAt !== actions.length - 1) {
      problems.push(
        `${at}.recovery_actions: expected "start" last (after a failed start the original stops, Vigil would go on), got ${show(actions)}`,
      );
    }
  }
  if (problems.length > before) return null;
  if (!isAbsolute(path as string)) {
    notes.push(`${at}.heartbeat_path: relative, so Vigil takes it from vigil.yaml's directory`);
  }
  return {
    heartbeatFile: path,
    heartbeatFormat: IMPORTED_HEARTBEAT_FORMAT,
    heartbeat: Number.isInteger(timeout)
      ? `${timeout as number}s`
      : `${Math.round((timeout as number) * 1_000)}ms`,
    ...(start === null
      ? {}
      : { start: { command: /\bsource\s/.test(start) ? ['/bin/bash', '-c', start] : start } }),
    ...(Object.keys(named).length > 0 ? { commands: named } : {}),
    recovery,
  };
}
