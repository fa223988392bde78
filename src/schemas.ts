import * as z from 'zod';
import { parseDuration } from './core/duration.js';

/** A duration: milliseconds, or a string such as "30s", "15m", "2h". */
export const durationSchema = z.unknown().transform((value, ctx) => {
  const parsed = parseDuration(value);
  if (parsed.ok) return parsed.ms;
  ctx.addIssue({ code: 'custom', message: parsed.error });
  return z.NEVER;
});

/**
 * A limit: a duration above zero, or null for "no limit". Zero is refused: an execution with a
 * limit of zero is overdue the moment it is registered, which nobody means; "no limit" is null.
 */
export const limitSchema = z.unknown().transform((value, ctx): number | null => {
  if (value === null) return null;
  const parsed = parseDuration(value);
  const negative =
    (typeof value === 'number' && value < 0) ||
    (typeof value === 'string' && value.trim().startsWith('-'));
  if (negative || (parsed.ok && parsed.ms === 0)) {
    ctx.addIssue({
      code: 'custom',
      message: `expected a limit above zero (a duration like "30s", or null for no limit), got ${JSON.stringify(value)}`,
    });
    return z.NEVER;
  }
  if (parsed.ok) return parsed.ms;
  ctx.addIssue({
    code: 'custom',
    message: parsed.error.replace(/, got /, ' (or null for no limit), got '),
  });
  return z.NEVER;
});

export const limitsSchema = z.strictObject({
  run: limitSchema.optional(),
  heartbeat: limitSchema.optional(),
  progress: limitSchema.optional(),
  queue: limitSchema.optional(),
});
