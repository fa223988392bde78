/** The `schedules:` section of vigil.yaml: work that must start on a cron or a period, by name. */
import * as z from 'zod';
import type { ScheduleSpec, Timing } from '../core/schedule-times.js';
import { dueTimes } from './cron.js';
import { boundedDuration } from '../shared/config-schemas.js';
import { describeIssue } from '../shared/config-issues.js';

export const SCHEDULE_DEFAULTS = Object.freeze({
  /**
   * A run may start up to 5 minutes after its due time. Cron daemons start on the minute, but a
   * busy host, a queue in front of the job or a container pull delays the start; alerting on
   * those (a false "missed") teaches people to ignore the alert, the worse mistake. Longer only
   * delays the alert for a job that truly did not run.
   */
  graceMs: 5 * 60_000,
  tz: 'UTC',
});

export const scheduleSchema = z
  .strictObject({
    cron: z.string().min(1).optional(),
    tz: z.string().min(1).optional(),
    every: boundedDuration(1_000, 366 * 86_400_000, '1s and 366d').optional(),
    grace: boundedDuration(0, 7 * 86_400_000, '0s and 7d').optional(),
    kind: z.string().min(1).optional(),
    owner: z.string().min(1).optional(),
    table: z.string().min(1).optional(),
  })
  .superRefine((schedule, ctx) => {
    if ((schedule.cron === undefined) === (schedule.every === undefined)) {
      ctx.addIssue({
        code: 'custom',
        message: `expected exactly one of "cron" or "every", got ${schedule.cron === undefined ? 'neither' : 'both'}`,
      });
    }
    if (schedule.tz !== undefined && schedule.cron === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['tz'],
        message: 'expected "tz" only beside "cron" ("every" periods do not depend on a zone)',
      });
    }
  });

export const schedulesSchema = z.record(
  z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/, 'expected a name of letters, digits, _ . -'),
  scheduleSchema,
);

/** What a schedule needs to know of the mapped tables (`tables:`): their names, kinds, owners. */
export type TablesForSchedules = Readonly<
  Record<string, { readonly kind: string; readonly owner: string | null }>
>;

/**
 * Resolves the validated schedules with their defaults. Adds to `problems` what the schema cannot
 * see: an invalid cron expression or time zone, a table that is not mapped.
 */
export function resolveSchedules(
  raw: z.infer<typeof schedulesSchema> | undefined,
  problems: string[],
  tables: TablesForSchedules = {},
): Record<string, ScheduleSpec> {
  const specs: Record<string, ScheduleSpec> = {};
  for (const [name, schedule] of Object.entries(raw ?? {})) {
    const resolved = resolveSchedule(name, schedule, tables, { source: 'config', since: null });
    if (resolved.ok) specs[name] = resolved.spec;
    else problems.push(...resolved.problems.map((p) => `schedules.${name}.${p}`));
  }
  return specs;
}

/**
 * One validated schedule with its defaults, or its problems, each naming its key (`cron: …`,
 * `table: …`) relative to the schedule.
 */
export function resolveSchedule(
  name: string,
  schedule: z.infer<typeof scheduleSchema>,
  tables: TablesForSchedules,
  origin: Pick<ScheduleSpec, 'source' | 'since'>,
): { ok: true; spec: ScheduleSpec } | { ok: false; problems: string[] } {
  const timing: Timing =
    schedule.cron !== undefined
      ? { kind: 'cron', cron: schedule.cron, tz: schedule.tz ?? SCHEDULE_DEFAULTS.tz }
      : { kind: 'every', everyMs: schedule.every ?? 0 };
  const problems = tableProblems(schedule, tables);
  const built = dueTimes(timing);
  if (!built.ok) {
    const key = timing.kind === 'cron' && /time zone/.test(built.error) ? 'tz' : 'cron';
    problems.unshift(`${key}: ${built.error}`);
  }
  if (!built.ok || problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    spec: {
      name,
      timing,
      graceMs: schedule.grace ?? SCHEDULE_DEFAULTS.graceMs,
      counts: {
        // With a table, ledger executions count only of the table's kind: its owner alone would
        // let any job of that owner stand in for the table's rows.
        kind:
          schedule.kind ??
          (schedule.table === undefined ? null : (tableOf(tables, schedule.table)?.kind ?? null)),
        owner: schedule.owner ?? null,
        table: schedule.table ?? null,
      },
      times: built.times,
      ...origin,
    },
  };
}

/**
 * A counted table must be mapped; and since `kind` and `owner` select among the rows as among
 * ledger executions, a kind other than the table's, or an owner where the table maps no owner
 * column, would make sure no row ever counts: refused rather than left to miss every due time.
 */
function tableProblems(
  schedule: z.infer<typeof scheduleSchema>,
  tables: TablesForSchedules,
): string[] {
  if (schedule.table === undefined) return [];
  const table = tableOf(tables, schedule.table);
  if (table === undefined) {
    const known = Object.keys(tables).join(', ') || 'none';
    return [
      `table: expected the name of a mapped table under "tables:" (${known}), got ${JSON.stringify(schedule.table)}`,
    ];
  }
  const problems: string[] = [];
  if (schedule.kind !== undefined && schedule.kind !== table.kind) {
    problems.push(
      `kind: expected ${JSON.stringify(table.kind)} (the kind of table ${schedule.table}'s rows) or no kind, got ${JSON.stringify(schedule.kind)}`,
    );
  }
  if (schedule.owner !== undefined && table.owner === null) {
    problems.push(
      `owner: expected no owner: table ${schedule.table} maps no owner column (tables.${schedule.table}.owner), got ${JSON.stringify(schedule.owner)}`,
    );
  }
  return problems;
}

/** The mapped table of that name: own keys only (`toString` is not a table). */
function tableOf(tables: TablesForSchedules, name: string): TablesForSchedules[string] | undefined {
  return Object.hasOwn(tables, name) ? tables[name] : undefined;
}

/** A timing as one string: a schedule whose timing changes is judged again from then on. */
export function timingKey(timing: Timing): string {
  return timing.kind === 'cron' ? `cron:${timing.tz}:${timing.cron}` : `every:${timing.everyMs}`;
}

/**
 * A schedule given as data (a request body, a stored definition): checked with the same schema
 * and rules as vigil.yaml's. Each problem names its key under `prefix` (`body.cron: expected …,
 * got …`; `body: …` for the schedule as a whole).
 */
export function parseSchedule(
  name: string,
  body: unknown,
  tables: TablesForSchedules,
  origin: Pick<ScheduleSpec, 'source' | 'since'>,
  prefix: string,
): { ok: true; spec: ScheduleSpec } | { ok: false; problems: string[] } {
  const at = (path: string) => (path === '' ? prefix : `${prefix}.${path}`);
  if (!schedulesSchema.keyType.safeParse(name).success) {
    return {
      ok: false,
      problems: [
        `name: expected a name of letters, digits, _ . - (at most 100), got ${JSON.stringify(name)}`,
      ],
    };
  }
  const parsed = scheduleSchema.safeParse(body);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map(
        (issue) => `${at(issue.path.join('.'))}: ${describeIssue(issue, body, scheduleSchema)}`,
      ),
    };
  }
  const resolved = resolveSchedule(name, parsed.data, tables, origin);
  if (resolved.ok) return resolved;
  return { ok: false, problems: resolved.problems.map((problem) => `${prefix}.${problem}`) };
}
