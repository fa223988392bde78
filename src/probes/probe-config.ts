/** The `probes:` section of vigil.yaml: HTTP health endpoints, name → probe. */
import * as z from 'zod';
import type { BodyExpectation, Expectation, StatusExpectation } from '../core/probe.js';
import { DEFAULT_EXPECTATION } from '../core/probe.js';
import {
  boundedDuration,
  checked,
  headersSchema,
  httpUrlSchema,
} from '../shared/config-schemas.js';

export const PROBE_DEFAULTS = Object.freeze({
  intervalMs: 10_000,
  /**
   * Half the default interval: a hung endpoint fails its check before the next one is due. A
   * shorter interval does not shorten it — checks never overlap, the next one simply waits.
   */
  timeoutMs: 5_000,
  /**
   * Three failed checks in a row before a probe is failing: one or two lost checks (a GC pause, a
   * load balancer reloading) are not an outage, and a false alarm — or a restart of a healthy
   * service by a wired recovery pipeline — is the worse mistake. The cost is detection after
   * about interval × 3 (30 s by default).
   */
  failures: 3,
  /** One passed check recovers: a service that answers as expected is up. */
  successes: 1,
});

/** One probe, resolved with its defaults. */
export interface ProbeSpec {
  name: string;
  url: string;
  intervalMs: number;
  timeoutMs: number;
  expect: Expectation;
  failures: number;
  successes: number;
  /** A supervised process whose recovery pipeline a failing probe should trigger. */
  process: string | null;
  headers: Readonly<Record<string, string>>;
}

/** `200`, `"2xx"`, or a list of them. */
export const statusExpectationSchema = checked<StatusExpectation>((value) => {
  const items = Array.isArray(value) ? value : [value];
  const codes: number[] = [];
  const classes: number[] = [];
  for (const item of items) {
    if (typeof item === 'number' && Number.isInteger(item) && item >= 100 && item <= 599) {
      codes.push(item);
    } else if (typeof item === 'string' && /^[1-5]xx$/i.test(item)) {
      classes.push(Number(item[0]));
    } else if (typeof item === 'string' && /^[1-5]\d\d$/.test(item)) {
      codes.push(Number(item));
    } else {
      return {
        ok: false,
        error: `expected an HTTP status (200), a class ("2xx") or a list of them, got ${JSON.stringify(value)}`,
      };
    }
  }
  if (items.length === 0) {
    return { ok: false, error: 'expected at least one HTTP status, got an empty list' };
  }
  return { ok: true, value: { codes, classes } };
});

/** A substring, or `/regex/flags`. */
export const bodyExpectationSchema = checked<BodyExpectation>((value) => {
  if (typeof value !== 'string' || value === '') {
    return {
      ok: false,
      error: `expected a substring or a /regular expression/, got ${JSON.stringify(value)}`,
    };
  }
  const regex = /^\/(.+)\/([a-z]*)$/s.exec(value);
  if (!regex) return { ok: true, value: { kind: 'substring', text: value } };
  const [, source = '', flags = ''] = regex;
  try {
    new RegExp(source, flags);
  } catch (error) {
    const cause = (error as Error).message.split(': ').pop() ?? '';
    return {
      ok: false,
      error: `expected a valid regular expression, got ${JSON.stringify(value)} (${cause})`,
    };
  }
  return { ok: true, value: { kind: 'regex', source, flags } };
});

export const probeSchema = z.strictObject({
  url: httpUrlSchema,
  interval: boundedDuration(100, 86_400_000, '100ms and 24h').optional(),
  timeout: boundedDuration(1, 600_000, '1ms and 10m').optional(),
  expect: z
    .strictObject({
      status: statusExpectationSchema.optional(),
      body: bodyExpectationSchema.optional(),
    })
    .optional(),
  failures: z.number().int().min(1).max(1_000).optional(),
  successes: z.number().int().min(1).max(1_000).optional(),
  process: z.string().min(1).optional(),
  headers: headersSchema.optional(),
});

export const probesSchema = z.record(z.string().min(1), probeSchema);

/** Resolves one validated probe with its defaults. */
export function resolveProbe(name: string, probe: z.infer<typeof probeSchema>): ProbeSpec {
  return {
    name,
    url: probe.url,
    intervalMs: probe.interval ?? PROBE_DEFAULTS.intervalMs,
    timeoutMs: probe.timeout ?? PROBE_DEFAULTS.timeoutMs,
    expect: {
      status: probe.expect?.status ?? DEFAULT_EXPECTATION.status,
      body: probe.expect?.body ?? null,
    },
    failures: probe.failures ?? PROBE_DEFAULTS.failures,
    successes: probe.successes ?? PROBE_DEFAULTS.successes,
    process: probe.process ?? null,
    headers: probe.headers ?? {},
  };
}

/** Resolves each validated probe with its defaults. */
export function resolveProbes(
  raw: z.infer<typeof probesSchema> | undefined,
): Record<string, ProbeSpec> {
  return Object.fromEntries(
    Object.entries(raw ?? {}).map(([name, probe]) => [name, resolveProbe(name, probe)]),
  );
}
