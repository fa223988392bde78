import { z } from 'zod';
import { parseDuration } from './core/duration.js';

/** A duration: milliseconds, or a string such as "30s", "15m", "2h". */
export const durationSchema = z.unknown().transform((value, ctx) => {
  const parsed = parseDuration(value);
  if (parsed.ok) return parsed.ms;
  ctx.addIssue({ code: 'custom', message: parsed.error });
  return z.NEVER;
});

/** A limit: a duration, or null for "no limit". */
export const limitSchema = z.unknown().transform((value, ctx): number | null => {
  if (value === null) return null;
  const parsed = parseDuration(value);
  if (parsed.ok) return parsed.ms;
  ctx.addIssue({ code: 'custom', message: `${parsed.error} (or null for no limit)` });
  return z.NEVER;
});

export const limitsSchema = z.strictObject({
  run: limitSchema.optional(),
  heartbeat: limitSchema.optional(),
  progress: limitSchema.optional(),
  queue: limitSchema.optional(),
});
