/**
 * The configuration the engine (src/runtime/) and the sources read, as plain data: limits and
 * policy, the sweep's settings and the owners' thresholds. The whole configuration (src/config.ts)
 * extends it; the engine never sees the sections only adapters use.
 */
import type { PolicyConfig } from '../core/policy.js';
import type { Silence } from '../core/silence.js';
import type { OwnerAgents } from './owner-agents.js';
import type { RetentionTable } from './retention-store.js';

export interface SweepSettings {
  intervalMs: number;
  batchSize: number;
  leaseMs: number;
  escalateAfter: number;
  /** How often every running execution of an owner with a registry is checked against it. */
  reconcileIntervalMs: number;
}

/** How long each kind of record is kept (`retention:`); null keeps it forever. */
export interface RetentionSettings {
  keepMs: Readonly<Record<RetentionTable, number | null>>;
  /** How often a pass prunes what has aged out. */
  intervalMs: number;
  /** Rows per delete statement. */
  batchSize: number;
}

export interface EngineConfig extends PolicyConfig {
  sweep: SweepSettings;
  /** Owners' registries and stop endpoints, the breaker and unknown-owner alerts (src/owners/). */
  ownerAgents: OwnerAgents;
  retention: RetentionSettings;
  /** Maintenance windows of vigil.yaml (`silences:`), beside those kept in the store. */
  silences?: readonly Silence[] | undefined;
}
