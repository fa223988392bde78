/**
 * `vigil silence add|ls|expire`, `vigil pause`, `vigil resume`: silences, maintenance windows and
 * the pause, written directly to the database (a running service sees them at its next sweep).
 */
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { parseFlagDuration } from '../../core/duration.js';
import { parseIsoWithZone } from '../../core/iso-time.js';
import type { Silence } from '../../core/silence.js';
import { formatMatchers, parseMatchers, stateOf } from '../../core/silence.js';
import { checkSilence } from '../../core/silence-input.js';
import { BadInputError, VigilError } from '../../errors.js';
import { iso } from '../../present.js';
import type { CliIo, GlobalOptions } from '../context.js';
import { withStore } from '../context.js';
import { table } from '../format.js';

interface AddOptions {
  match: string[];
  for?: string | undefined;
  until?: string | undefined;
  starts?: string | undefined;
  comment?: string | undefined;
  by?: string | undefined;
  maintenance?: boolean | undefined;
  json?: boolean | undefined;
}

const collect = (value: string, previous: string[]) => [...previous, value];

function time(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseIsoWithZone(text);
  if (ms === undefined) {
    throw new BadInputError([
      `${flag}: expected an ISO-8601 time with its zone (2026-12-24T22:00:00Z), got ${JSON.stringify(text)}`,
    ]);
  }
  return ms;
}

/** The silence the flags describe, checked like a request body. */
function silenceFrom(options: AddOptions, io: CliIo): Silence {
  let matchers;
  try {
    matchers = parseMatchers(options.match);
  } catch (error) {
    throw new BadInputError([`--match: ${(error as Error).message}`]);
  }
  if (options.for !== undefined && options.until !== undefined) {
    throw new BadInputError(['--for: expected --for or --until, not both, got both']);
  }
  const now = io.clock.now();
  const body: Record<string, unknown> = {
    matchers,
    startsAt: time('--starts', options.starts),
    endsAt: time('--until', options.until),
    createdBy: options.by ?? io.env.USER ?? 'cli',
    comment: options.comment,
    maintenance: options.maintenance ?? false,
  };
  if (options.for !== undefined) {
    const parsed = parseFlagDuration(options.for, { positive: true });
    if (!parsed.ok) throw new BadInputError([`--for: ${parsed.error}`]);
    body.duration = parsed.ms;
  }
  if (options.for === undefined && options.until === undefined) {
    throw new BadInputError(['--for: required: expected --for 2h or --until TIME, got nothing']);
  }
  for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
  const checked = checkSilence(body, now);
  if (!checked.ok) throw new BadInputError(checked.errors.map(toFlag));
  return { ...checked.value, id: randomUUID(), createdAt: now, expiredAt: null, origin: 'store' };
}

/** A problem named by its body key, named by its flag instead. */
function toFlag(error: string): string {
  const flags: Record<string, string> = {
    matchers: '--match',
    startsAt: '--starts',
    endsAt: '--until',
    duration: '--for',
    createdBy: '--by',
    comment: '--comment',
  };
  const key = error.slice(0, error.indexOf(':')).split('.')[0] ?? '';
  return flags[key] ? `${flags[key]}${error.slice(error.indexOf(':'))}` : error;
}

export function silenceCommands(program: Command, io: CliIo): void {
  const silence = program
    .command('silence')
    .description('silences (mute notifications) and maintenance windows (also hold back actions)');

  silence
    .command('add')
    .description('create a silence; with --maintenance, a maintenance window')
    .option(
      '--match <key=value>',
      'kind=, owner=, source=, verdict= (repeatable; a,b for any of)',
      collect,
      [],
    )
    .option('--for <duration>', 'how long, from its start (2h)')
    .option('--until <time>', 'when it ends (ISO-8601 with zone)')
    .option('--starts <time>', 'when it starts (default: now)')
    .option('--comment <text>', 'why (required)')
    .option('--by <name>', 'who (default: $USER)')
    .option('--maintenance', 'also hold back stops, ends, retries, slot releases and recoveries')
    .option('--json', 'print the silence as JSON')
    .action(async (options: AddOptions, command: Command) => {
      const created = silenceFrom(options, io);
      const { silenceJson } = await import('../../http/silence-routes.js');
      await withStore(io, command.optsWithGlobals<GlobalOptions>(), async (store) => {
        await store.silences().createSilence(created);
      });
      io.out(
        options.json ? JSON.stringify(silenceJson(created, io.clock.now()), null, 2) : created.id,
      );
    });

  silence
    .command('ls')
    .description('silences not ended yet, newest first')
    .option('--all', 'also those that have ended')
    .option('--json', 'print JSON')
    .action(async (options: { all?: boolean; json?: boolean }, command: Command) => {
      const { silenceJson } = await import('../../http/silence-routes.js');
      await withStore(
        io,
        command.optsWithGlobals<GlobalOptions>(),
        async (store, config) => {
          const now = io.clock.now();
          const stored = await store
            .silences()
            .listSilences({ activeAt: options.all ? undefined : now, limit: 1_000 });
          const shown = [...config.silences, ...stored].filter(
            (s) => options.all || s.endsAt > now,
          );
          if (options.json)
            return io.out(
              JSON.stringify({ items: shown.map((s) => silenceJson(s, now)) }, null, 2),
            );
          if (shown.length === 0) return io.out('no silences');
          io.out(
            table([
              ['ID', 'STATE', 'TYPE', 'MATCHERS', 'STARTS', 'ENDS', 'BY', 'COMMENT'],
              ...shown.map((s) => [
                s.id,
                stateOf(s, now),
                s.maintenance ? 'maintenance' : 'silence',
                formatMatchers(s.matchers),
                iso(s.startsAt) ?? '',
                iso(s.endsAt) ?? '',
                s.createdBy,
                s.comment,
              ]),
            ]),
          );
        },
        { access: 'read' },
      );
    });

  silence
    .command('expire <id>')
    .description('end a silence now')
    .action(async (id: string, _options: unknown, command: Command) => {
      await withStore(io, command.optsWithGlobals<GlobalOptions>(), async (store, config) => {
        if (config.silences.some((s) => s.id === id)) {
          throw new BadInputError([`ID: ${id} comes from ${config.source}: remove it there`]);
        }
        const expired = await store.silences().expireSilence(id, io.clock.now());
        if (!expired) throw new VigilError('not_found', `no silence ${JSON.stringify(id)}`);
        io.out(`${id} expired at ${iso(expired.endsAt) ?? ''}`);
      });
    });

  program
    .command('pause')
    .description(
      'observe only: no destructive action anywhere until "vigil resume" (kept in the store)',
    )
    .option('--comment <text>', 'why')
    .option('--by <name>', 'who (default: $USER)')
    .action(async (options: { comment?: string; by?: string }, command: Command) => {
      await withStore(io, command.optsWithGlobals<GlobalOptions>(), async (store) => {
        const state = await store.silences().pause({
          since: io.clock.now(),
          by: options.by ?? io.env.USER ?? 'cli',
          comment: options.comment ?? '',
        });
        io.out(
          `paused since ${iso(state.since) ?? ''} by ${state.by}${state.comment ? `: ${state.comment}` : ''}`,
        );
      });
    });

  program
    .command('resume')
    .description('end the pause: the next sweep acts on what is still stuck')
    .action(async (_options: unknown, command: Command) => {
      await withStore(io, command.optsWithGlobals<GlobalOptions>(), async (store) => {
        const ended = await store.silences().resume();
        io.out(ended ? 'resumed' : 'not paused');
      });
    });
}
