/** Zod schemas shared by the `probes:` and `operations:` sections of vigil.yaml. */
import * as z from 'zod';
import { parseDuration } from '../core/duration.js';

/** A schema that checks an unknown value and says what was expected and what arrived. */
export function checked<T>(
  check: (value: unknown) => { ok: true; value: T } | { ok: false; error: string },
) {
  return z.unknown().transform((value, ctx): T => {
    const result = check(value);
    if (result.ok) return result.value;
    ctx.addIssue({ code: 'custom', message: result.error });
    return z.NEVER;
  });
}

const got = (value: unknown) => JSON.stringify(value) ?? String(value);

/** An absolute http:// or https:// URL. */
export const httpUrlSchema = checked((value) => {
  if (typeof value === 'string' && isHttpUrl(value)) return { ok: true, value };
  if (value === undefined) {
    return { ok: false, error: 'required: expected an http:// or https:// URL, got nothing' };
  }
  return { ok: false, error: `expected an http:// or https:// URL, got ${got(value)}` };
});

export function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** A duration bounded to [min, max] milliseconds, the bounds named in the error. */
export function boundedDuration(minMs: number, maxMs: number, bounds: string) {
  return checked((value) => {
    if (value === undefined) {
      return { ok: false, error: `required: expected a duration between ${bounds}, got nothing` };
    }
    const parsed = parseDuration(value);
    if (!parsed.ok) return parsed;
    if (parsed.ms < minMs || parsed.ms > maxMs) {
      return { ok: false, error: `expected a duration between ${bounds}, got ${got(value)}` };
    }
    return { ok: true, value: parsed.ms };
  });
}

/** HTTP headers sent with each request (e.g. an Authorization header). */
export const headersSchema = z.record(z.string().min(1), z.string());
