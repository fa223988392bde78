/**
 * The owners of another app's rows (a mapped table with `reconcile`), as the table source sees
 * them: asked what they run, guarded by the breaker, asked to stop work. The engine implements it
 * with the same owner client, breaker and stop backoff as Vigil's own executions
 * (src/runtime/table-owners.ts) and hands it to sources in the sweep's context.
 */
import type { Decision } from '../core/decide.js';
import type { Execution, OwnerObservation } from '../core/types.js';
import type { StepRecord } from './audit-store.js';
import type { VigilEvent } from './events.js';

/** Emits an event at once (the same as a source's `Announce`). */
type Announce = (event: VigilEvent) => void;

/** A row as its owner knows it: the execution (`table:id`) and the id the owner uses for it. */
export interface OwnedRow {
  execution: Execution;
  agentId: string;
}

export interface RowOwners {
  /**
   * Starts one sweep over one table's rows. `countRunning` counts the table's running rows per
   * owner: the breaker weighs what a sweep would orphan against it.
   */
  begin(
    table: string,
    sweep: { now: number; dryRun: boolean },
    countRunning: (owners: readonly string[]) => Promise<Map<string, number>>,
  ): RowOwnerSweep;
}

/** Whether a stop was confirmed, or the row stays running (to be asked again after a backoff). */
export type RowStop =
  | { kind: 'stopped'; note: string; step: StepRecord }
  | { kind: 'left_running'; audit: boolean; step: StepRecord | null };

export interface RowOwnerSweep {
  /**
   * Asks the owners of a page of rows what they run (one request per owner, in parallel). Rows
   * past a limit are always asked about; the others once per reconcile interval. Rows not asked
   * about are absent from the answer (judged by their limits alone).
   */
  observe(rows: readonly OwnedRow[]): Promise<Map<string, OwnerObservation>>;
  /** The owner offers a way to stop work. */
  canTerminate(owner: string | null): boolean;
  /** The breaker, before a page's actions: per decision, why it pauses (null: go ahead). */
  guard(decisions: readonly Decision[]): Promise<(string | null)[]>;
  /** Whether an earlier stop of this row failed (a retry is not announced as news again). */
  isRetry(decision: Decision): boolean;
  /** Asks the row's owner to stop its work; a failed stop is retried after a growing backoff. */
  stop(row: OwnedRow, decision: Decision, announce: Announce): Promise<RowStop>;
  /** Folds the sweep into each owner's memory: unknown counts, `owner:unreachable`, breakers. */
  finish(): void;
}
