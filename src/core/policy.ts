/**
 * An execution's limits and policy from the configuration: its own, else its kind's, else its
 * owner's, else the defaults. Plain data in, plain data out, so the ledger, the sweep and the
 * mapped tables resolve them the same way.
 */
import { resolveLimits } from './limits.js';
import type { Limits, PartialLimits, Policy, RetryPolicy } from './types.js';

/** Retry settings written for one kind; each one absent falls back to the default's. */
export interface RetryOverride {
  maxAttempts?: number | undefined;
  backoff?: number | undefined;
  maxBackoff?: number | undefined;
}

export interface KindPolicy {
  limits: PartialLimits;
  dispatchGraceMs: number | undefined;
  retry: RetryOverride | undefined;
}

export interface OwnerPolicy {
  limits: PartialLimits;
  dispatchGraceMs: number | undefined;
}

/** The parts of the configuration that limits and policies are resolved from. */
export interface PolicyConfig {
  defaults: { limits: PartialLimits; dispatchGraceMs: number; retry: RetryPolicy };
  kinds: Readonly<Record<string, KindPolicy>>;
  owners: Readonly<Record<string, OwnerPolicy>>;
}

/** `over`'s retry settings, each absent one taken from `base`. */
export function mergeRetry(base: RetryPolicy, over: RetryOverride | undefined): RetryPolicy {
  return {
    maxAttempts: over?.maxAttempts ?? base.maxAttempts,
    backoffMs: over?.backoff ?? base.backoffMs,
    maxBackoffMs: over?.maxBackoff ?? base.maxBackoffMs,
  };
}

/** Resolves an execution's limits: its own → its kind's → its owner's → the configured default. */
export function limitsFor(
  config: PolicyConfig,
  execution: { kind: string; owner: string | null; limits?: PartialLimits | undefined },
): Limits {
  return resolveLimits({
    execution: execution.limits,
    kind: config.kinds[execution.kind]?.limits,
    owner: execution.owner === null ? undefined : config.owners[execution.owner]?.limits,
    defaults: config.defaults.limits,
  }).limits;
}

/** The policy the core applies to one execution. */
export function policyFor(
  config: PolicyConfig,
  execution: { kind: string; owner: string | null },
): Policy {
  const kind = config.kinds[execution.kind];
  const owner = execution.owner === null ? undefined : config.owners[execution.owner];
  return {
    dispatchGraceMs:
      kind?.dispatchGraceMs ?? owner?.dispatchGraceMs ?? config.defaults.dispatchGraceMs,
    retry: mergeRetry(config.defaults.retry, kind?.retry),
  };
}
