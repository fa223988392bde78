/** The `schedules:` section of vigil.yaml: work that must start on a cron or a period, by name. */
import { z } from 'zod';
import type { ScheduleSpec, Timing } from '../core/schedule-times.js';
import { dueTimes } from './cron.js';
import { boundedDuration } from '../shared/config-schemas.js';

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

/**
 * Resolves the validated schedules with their defaults. Adds to `problems` what the schema cannot
 * see: an invalid cron expression or time zone.
 */
export function resolveSchedules(
  raw: z.infer<typeof schedulesSchema> | undefined,
  problems: string[],
): Record<string, ScheduleSpec> {
  const specs: Record<string, ScheduleSpec> = {};
  for (const [name, schedule] of Object.entries(raw ?? {})) {
    const timing: Timing =
      schedule.cron !== undefined
        ? { kind: 'cron', cron: schedule.cron, tz: schedule.tz ?? SCHEDULE_DEFAULTS.tz }
        : { kind: 'every', everyMs: schedule.every ?? 0 };
    const built = dueTimes(timing);
    if (!built.ok) {
      const key = timing.kind === 'cron' && /time zone/.test(built.error) ? 'tz' : 'cron';
      problems.push(`schedules.${name}.${key}: ${built.error}`);
      continue;
    }
    specs[name] = {
      name,
      timing,
      graceMs: schedule.grace ?? SCHEDULE_DEFAULTS.graceMs,
      counts: {
        kind: schedule.kind ?? null,
        owner: schedule.owner ?? null,
      },
      times: built.times,
    };
  }
  return specs;
}
