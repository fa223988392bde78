/**
 * How Vigil talks to each owner, as resolved from `owners:` (src/owners/config.ts parses it): where
 * its registry of running executions is, how to ask it to stop one, when to call it unreachable,
 * and its breaker. The owner client (src/owners/) uses all of it; the sweep reads the thresholds.
 */
import type { PathSegment } from '../core/json-path.js';
import type { BreakerRule } from '../core/owner-breaker.js';

/** Where the ids are in a registry's answer: the array, then the id in each item (parsed). */
export interface IdsPath {
  text: string;
  /** Where the array is. */
  array: readonly PathSegment[];
  /** Where the id is in each item; empty when the items are the ids. */
  item: readonly PathSegment[];
}

export interface RegistrySpec {
  /** URL template: `{owner}` is replaced by the owner's name (URL-encoded). */
  url: string;
  ids: IdsPath;
  recentlyCompleted: IdsPath | null;
  timeoutMs: number;
  headers: Readonly<Record<string, string>>;
}

export interface TerminateSpec {
  /** URL template with `{owner}` and `{id}` (both URL-encoded). */
  url: string;
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  timeoutMs: number;
  headers: Readonly<Record<string, string>>;
}

/** How Vigil talks to one owner, resolved with its defaults and the `*` entry. */
export interface OwnerAgentSpec {
  registry: RegistrySpec | null;
  terminate: TerminateSpec | null;
  unreachableAfter: number;
  breaker: BreakerRule;
}

export interface OwnerAgents {
  /** Owners named in `owners:` that have a registry or a stop endpoint (their own or from `*`). */
  named: Readonly<Record<string, OwnerAgentSpec>>;
  /** From the `*` entry: applies to every other owner. Null without one. */
  any: OwnerAgentSpec | null;
}

/** The name of the entry whose templates apply to every owner without its own. */
export const ANY_OWNER = '*';

/** How Vigil talks to `owner`: its own entry, else the `*` entry; null when neither exists. */
export function agentFor(agents: OwnerAgents, owner: string | null): OwnerAgentSpec | null {
  if (owner === null) return null;
  return agents.named[owner] ?? agents.any;
}
