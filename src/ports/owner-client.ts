import type { TerminationOutcome } from '../core/decide.js';
import type { Execution, OwnerObservation } from '../core/types.js';

/** Owners that run executions: asked what they run, and asked to stop work. */
export interface OwnerClient {
  /** Asks every owner of these executions what it runs (one request per owner, in parallel). */
  observe(
    executions: readonly Execution[],
    now: number,
  ): Promise<(e: Execution) => OwnerObservation>;
  canTerminate(execution: Execution): boolean;
  terminate(execution: Execution): Promise<TerminationOutcome>;
  /**
   * What this owner's registry answered at the last `observe` that asked it; undefined for an
   * owner without a registry. The sweep's breaker and unknown-owner count read it.
   */
  answered?(owner: string): RegistryAnswer | undefined;
}

/** One owner registry's answer: how many executions it listed as running, or why it is unknown. */
export type RegistryAnswer =
  { kind: 'listed'; at: number; listed: number } | { kind: 'unknown'; at: number; cause: string };

/** For sources whose owners expose no registry and no stop endpoint (the ledger alone). */
export const noOwners: OwnerClient = {
  observe: () => Promise.resolve(() => ({ kind: 'untracked' })),
  canTerminate: () => false,
  terminate: () => Promise.resolve({ kind: 'failed', cause: 'owner offers no way to terminate' }),
};
