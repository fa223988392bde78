/**
 * The agent side of `owners:` in vigil.yaml: per owner name (or `*` for every owner), where its
 * registry of running executions is, how to ask it to stop one, when to call it unreachable and
 * when to pause destructive actions for it (the breaker).
 */
import * as z from 'zod';
import type { BreakerRule } from '../core/owner-breaker.js';
import { boundedDuration, checked, headersSchema, isHttpUrl } from '../shared/config-schemas.js';
import type {
  OwnerAgentSpec,
  OwnerAgents,
  RegistrySpec,
  TerminateSpec,
} from '../ports/owner-agents.js';
import { ANY_OWNER } from '../ports/owner-agents.js';
import { parseIdsPath } from './registry-path.js';

export const OWNER_DEFAULTS = Object.freeze({
  /** A registry answers from memory; 5 s is long for that and short enough to keep a sweep moving. */
  timeoutMs: 5_000,
  terminateMethod: 'POST' as const,
  /**
   * Sweeps in a row an owner must be unknown before `owner:unreachable` goes out: one failed
   * request is a blip (a restart, a slow GC), three in a row is an outage worth a person's time.
   */
  unreachableAfter: 3,
  breaker: Object.freeze<BreakerRule>({ maxOrphanShare: 0.5, minRunning: 5 }),
});

export { ANY_OWNER, agentFor } from '../ports/owner-agents.js';
export type {
  OwnerAgentSpec,
  OwnerAgents,
  RegistrySpec,
  TerminateSpec,
} from '../ports/owner-agents.js';

const idsPathSchema = checked((value) => {
  const parsed = parseIdsPath(value);
  return parsed.ok ? { ok: true, value: parsed.path } : parsed;
});

/** A URL template whose placeholders are among `allowed`; it must be http(s) once filled in. */
function templateSchema(allowed: readonly string[], required: readonly string[]) {
  const names = allowed.map((p) => `{${p}}`).join(' and ');
  return checked((value) => {
    const expected = `expected an http(s) URL template (placeholders ${names})`;
    if (typeof value !== 'string') {
      return { ok: false, error: `${expected}, got ${JSON.stringify(value) ?? 'nothing'}` };
    }
    const unknown = [...value.matchAll(/\{([^}]*)\}/g)]
      .map((m) => m[1] ?? '')
      .filter((p) => !allowed.includes(p));
    if (unknown.length > 0) {
      return { ok: false, error: `${expected}, got unknown placeholder {${unknown[0]}}` };
    }
    const missing = required.filter((p) => !value.includes(`{${p}}`));
    if (missing.length > 0) {
      return {
        ok: false,
        error: `${expected} containing {${missing[0]}}, got ${JSON.stringify(value)}`,
      };
    }
    if (!isHttpUrl(value.replaceAll(/\{[^}]*\}/g, 'x'))) {
      return { ok: false, error: `${expected}, got ${JSON.stringify(value)}` };
    }
    return { ok: true, value };
  });
}

const timeout = boundedDuration(1, 600_000, '1ms and 10m');

/** The keys these add to each entry of `owners:` (beside `limits` and `dispatchGrace`). */
export const ownerAgentFields = {
  registry: z
    .strictObject({
      url: templateSchema(['owner'], []),
      ids: idsPathSchema,
      recentlyCompleted: idsPathSchema.optional(),
      timeout: timeout.optional(),
      headers: headersSchema.optional(),
    })
    .optional(),
  terminate: z
    .strictObject({
      url: templateSchema(['owner', 'id'], ['id']),
      method: z.enum(['POST', 'PUT', 'PATCH', 'DELETE']).optional(),
      timeout: timeout.optional(),
      headers: headersSchema.optional(),
    })
    .optional(),
  unreachableAfter: z.number().int().min(1).max(1_000).optional(),
  breaker: z
    .strictObject({
      maxOrphanShare: z.number().min(0).max(1).optional(),
      minRunning: z.number().int().min(1).optional(),
    })
    .optional(),
};

type OwnerEntry = z.infer<z.ZodObject<typeof ownerAgentFields>> & {
  limits?: unknown;
  dispatchGrace?: unknown;
};

/**
 * Resolves the validated `owners:` entries. Adds to `problems` what the schema cannot see: a
 * template shared by every owner (`*`) must name `{owner}`, and `*` gives no limits.
 */
export function resolveOwnerAgents(
  raw: Readonly<Record<string, OwnerEntry>> | undefined,
  problems: string[],
): OwnerAgents {
  const entries = raw ?? {};
  const anyEntry = entries[ANY_OWNER];
  if (anyEntry) {
    for (const key of ['limits', 'dispatchGrace'] as const) {
      if (anyEntry[key] !== undefined) {
        problems.push(
          `owners.*.${key}: the "*" entry gives registry and terminate templates only; put limits for every owner under defaults.${key}`,
        );
      }
    }
    for (const key of ['registry', 'terminate'] as const) {
      const url = anyEntry[key]?.url;
      if (url !== undefined && !url.includes('{owner}')) {
        problems.push(
          `owners.*.${key}.url: a template for every owner must contain {owner}, got ${JSON.stringify(url)}`,
        );
      }
    }
  }
  const any = anyEntry ? resolveEntry(anyEntry, null) : null;
  const named: Record<string, OwnerAgentSpec> = {};
  for (const [name, entry] of Object.entries(entries)) {
    if (name === ANY_OWNER) continue;
    const spec = resolveEntry(entry, any);
    if (spec.registry || spec.terminate) named[name] = spec;
  }
  return { named, any: any && (any.registry || any.terminate) ? any : null };
}

function resolveEntry(entry: OwnerEntry, base: OwnerAgentSpec | null): OwnerAgentSpec {
  const registry: RegistrySpec | null = entry.registry
    ? {
        url: entry.registry.url,
        ids: entry.registry.ids,
        recentlyCompleted: entry.registry.recentlyCompleted ?? null,
        timeoutMs: entry.registry.timeout ?? OWNER_DEFAULTS.timeoutMs,
        headers: entry.registry.headers ?? {},
      }
    : (base?.registry ?? null);
  const terminate: TerminateSpec | null = entry.terminate
    ? {
        url: entry.terminate.url,
        method: entry.terminate.method ?? OWNER_DEFAULTS.terminateMethod,
        timeoutMs: entry.terminate.timeout ?? OWNER_DEFAULTS.timeoutMs,
        headers: entry.terminate.headers ?? {},
      }
    : (base?.terminate ?? null);
  const breaker = base?.breaker ?? OWNER_DEFAULTS.breaker;
  return {
    registry,
    terminate,
    unreachableAfter:
      entry.unreachableAfter ?? base?.unreachableAfter ?? OWNER_DEFAULTS.unreachableAfter,
    breaker: {
      maxOrphanShare: entry.breaker?.maxOrphanShare ?? breaker.maxOrphanShare,
      minRunning: entry.breaker?.minRunning ?? breaker.minRunning,
    },
  };
}

/** Fills a URL template; each value is URL-encoded. */
export function fillTemplate(template: string, values: Readonly<Record<string, string>>): string {
  return template.replaceAll(/\{(owner|id)\}/g, (_, key: string) =>
    encodeURIComponent(values[key] ?? ''),
  );
}
