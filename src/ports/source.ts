/**
 * The `Source` port: anywhere executions live that Vigil can watch (its own ledger, another app's
 * tables, an HTTP list of operations). A source yields the items due a look and ends the ones the
 * pipeline decides to end; the pipeline (runtime) decides, records and emits, so every source is
 * audited, counted and announced the same way.
 */
import type { GateTarget } from '../core/silence.js';
import type { EngineConfig } from './engine-config.js';
import type { Clock } from './clock.js';
import type { DecisionOutcome, SourceError, StepRecord, Subject } from './audit-store.js';

import type { VigilEvent } from './events.js';
import type { RowOwners } from './row-owners.js';

/** Emits an event at once (see `Source.apply`). */
export type Announce = (event: VigilEvent) => void;

/** What a source is given for one pass (a sweep, or one check of an operation list). */
export interface SourceContext {
  /** The pass's `now`: every judgement of this pass is taken at this moment. */
  now: number;
  /** For the moment a write lands (`completed_at = now`). */
  clock: Clock;
  dryRun: boolean;
  /** The sweep the audit rows belong to; null for a check outside sweeps (an operation list). */
  sweepId: string | null;
}

/** A sweep's context: sources swept beside the ledger resolve limits and policies from config. */
export interface SweepContext extends SourceContext {
  config: EngineConfig;
  /** The owners of mapped rows (tables with `reconcile`); absent outside a sweeper. */
  rowOwners?: RowOwners | undefined;
}

/** What `apply` did with one decision: a value the pipeline records, tallies and emits. */
export interface Applied {
  subject: Subject;
  outcome: DecisionOutcome;
  steps: StepRecord[];
  /**
   * Whether the decision gets an audit row; `written` when the source wrote it itself, in the
   * transaction of the end (the ledger).
   */
  audit: boolean | 'written';
  /** The audit row's id when taken while deciding, so rows keep the order decisions were taken in. */
  id?: string | undefined;
  /** Appended to the audit row's reason (the report lists the decision's own). */
  note?: string | undefined;
  /** Counted in the sweep's tally and listed in its report (an operation list keeps no tally). */
  tally?: boolean | undefined;
  /** Announced once the audit is recorded (`execution:remediated`, `execution:dead`, …). */
  events: VigilEvent[];
}

/** One step of `load`: a page of items, or a part of the source that could not be read. */
export type SourcePage<Item> =
  { kind: 'page'; items: readonly Item[] } | { kind: 'problem'; error: SourceError };

/** A decision about one item, or why it could not be made (counted as failed). */
export type Judged<Item, Decision> =
  | { item: Item; decision: Decision }
  | { item: Item; failed: { executionId: string; attempt: number; reason: string } };

/**
 * Anything that yields overdue items and ends them. `load` reads (it may do I/O, and sees what
 * `apply` did to earlier pages); `decide` is pure and delegates to `core/`; `apply` acts and
 * returns what it did, one `Applied` per decision it acted on (or left alone). A source isolates
 * its own failures: a part that cannot be read is yielded as a `problem` and the rest is swept.
 */
export interface Source<
  Item = unknown,
  Decision = unknown,
  Context extends SourceContext = SweepContext,
> {
  readonly name: string;
  load(context: Context): AsyncIterable<SourcePage<Item>>;
  decide(item: Item, context: Context): Judged<Item, Decision>;
  /**
   * Acts on a page's decisions. `announce` emits at once what must be known before the action
   * lands (an execution found stuck, before a slow stop request).
   */
  apply(
    judged: readonly { item: Item; decision: Decision }[],
    context: Context,
    announce: Announce,
  ): Promise<Applied[]>;
  /**
   * What a decision would destroy (stop, end, retry, cancel), as maintenance windows and the pause
   * match it, with the audit subject of the decision; null when it changes nothing. The pipeline
   * holds back a matched decision instead of handing it to `apply`. A source without it is never
   * held back.
   */
  destructive?(
    item: Item,
    decision: Decision,
    context: Context,
  ): { target: GateTarget; subject: Subject } | null;
  /**
   * Leaves held-back items as they are; `until` is when the window holding one ends (null for the
   * pause). The ledger moves their deadlines so the scheduler does not spin on them.
   */
  hold?(
    held: readonly { item: Item; decision: Decision; until: number | null }[],
    context: Context,
  ): Promise<void>;
  /** Releases connections. */
  close(): Promise<void>;
}

/** A problem with one source, named by its configuration key (`tables.interactions.status.column`). */
export class SourceProblem extends Error {
  override readonly name = 'SourceProblem';
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
  }
}
