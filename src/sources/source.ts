import type { Config } from '../config.js';
import type { Clock, ExecutionStore, SourceError, SweepDecision } from '../ports.js';
import type { EventSink } from '../ports/events.js';

/** What a source is given for one sweep. */
export interface SourceSweepContext {
  /** The sweep's `now`: every judgement of this sweep is taken at this moment. */
  now: number;
  /** For the moment a write lands (`completed_at = now`). */
  clock: Clock;
  dryRun: boolean;
  sweepId: string;
  config: Config;
  events: EventSink;
  /** Vigil's own store, for the audit. */
  store: ExecutionStore;
}

/** What a source found and did in one sweep, merged into the sweep report. */
export interface SourceSweepResult {
  examined: number;
  decisions: SweepDecision[];
  counts: Record<string, number>;
  /** Problems that kept part of the source from being swept, each naming its configuration key. */
  errors: SourceError[];
}

/**
 * Somewhere other than Vigil's ledger that executions live: another app's tables, an HTTP list.
 * The sweeper calls each source after the ledger. A source isolates its own failures: one broken
 * table is reported in `errors` and the rest are still swept.
 */
export interface Source {
  readonly name: string;
  sweep(context: SourceSweepContext): Promise<SourceSweepResult>;
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
